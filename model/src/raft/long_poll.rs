//! Long-polled fetches: a leader holds an observer's fetch that has nothing new for it (no
//! entries past its log end, no high watermark past its own) until the high watermark
//! moves, the fetch's wait runs out, or the leader is no longer the leader of the fetch's
//! epoch; then it answers as it would have at once. Observers (brokers) thus hear of each
//! commit within one round trip instead of polling the leader many times a second.

use super::directory::DirectoryId;
use super::message::FetchResult;
use super::node::{Payload, RaftNode};
use super::output::RaftOutput;
use super::role::Role;
use crate::ids::{LeaderEpoch, Millis, NodeId, Offset};

/// A fetch the leader holds, with what it needs to answer it later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ParkedFetch {
    pub replica: NodeId,
    pub directory: DirectoryId,
    pub epoch: LeaderEpoch,
    pub fetch_offset: Offset,
    pub last_fetched_epoch: LeaderEpoch,
    /// The fetcher's high watermark: a leader's above it is news.
    pub high_watermark: Offset,
    pub deadline_ms: Millis,
}

impl<T: Payload> RaftNode<T> {
    /// Whether a fetch answer tells a fetcher whose high watermark is `fetcher_hw`
    /// nothing it does not know.
    pub(super) fn nothing_new(result: &FetchResult<T>, fetcher_hw: Offset) -> bool {
        match result {
            FetchResult::Entries {
                entries,
                high_watermark,
            } => entries.is_empty() && high_watermark.is_none_or(|hw| hw <= fetcher_hw),
            FetchResult::Diverging { .. } | FetchResult::Error(_) => false,
        }
    }

    /// Answers the held fetches that have news, whose wait ran out, or whose epoch this
    /// node no longer leads. Runs after every input.
    pub(super) fn complete_parked_fetches(&mut self, now: Millis, out: &mut Vec<RaftOutput<T>>) {
        if self.parked.is_empty() {
            return;
        }
        let leading = match &self.role {
            Role::Leader(leader) => Some((self.quorum.epoch, leader.high_watermark)),
            _ => None,
        };
        for fetch in std::mem::take(&mut self.parked) {
            let holds = leading.is_some_and(|(epoch, hw)| {
                epoch == fetch.epoch
                    && now < fetch.deadline_ms
                    && hw.is_none_or(|hw| hw <= fetch.high_watermark)
            });
            if holds {
                self.parked.push(fetch);
            } else {
                let asked = (fetch.fetch_offset, fetch.last_fetched_epoch);
                let wait = (0, fetch.high_watermark);
                let replica = (fetch.replica, fetch.directory);
                self.on_fetch_request(replica, fetch.epoch, asked, wait, now, out);
            }
        }
    }

    /// When the first held fetch's wait runs out.
    pub(super) fn next_parked_deadline(&self) -> Option<Millis> {
        self.parked.iter().map(|f| f.deadline_ms).min()
    }
}

//! Pull-based replication (KIP-595): followers and observers fetch from the leader; the
//! leader fences stale and future epochs, finds where a follower's log diverges from its
//! own, counts voters' fetch offsets towards the high watermark (a voter's only from its
//! original disk), and answers with entries.

use super::config::RaftVariant;
use super::directory::DirectoryId;
use super::long_poll::ParkedFetch;
use super::message::{FetchResult, RaftError, RaftMessage};
use super::node::{Payload, RaftNode};
use super::output::{RaftEvent, RaftOutput};
use super::role::Role;
use crate::effect::DiskOp;
use crate::ids::{LeaderEpoch, Millis, NodeId, Offset};

impl<T: Payload> RaftNode<T> {
    /// A fetch from this node's log end.
    pub(super) fn fetch_request(&self) -> RaftMessage<T> {
        RaftMessage::FetchRequest {
            epoch: self.quorum.epoch,
            fetch_offset: self.log.end(),
            last_fetched_epoch: self.log.last_epoch(),
            replica_id: self.id,
            replica_directory: self.directory,
            max_wait_ms: self.fetch_max_wait_ms(),
            high_watermark: self.high_watermark,
        }
    }

    /// How long this node's fetches may wait at the leader: a voter's never do, since
    /// they are also its liveness signal to check-quorum.
    pub(super) fn fetch_max_wait_ms(&self) -> Millis {
        if self.is_voter() {
            0
        } else {
            self.config.fetch_max_wait_ms
        }
    }

    /// How long a fetch in flight may go unanswered before it is sent again.
    pub(super) fn fetch_answer_timeout_ms(&self) -> Millis {
        self.config
            .request_timeout_ms
            .saturating_add(self.fetch_max_wait_ms())
    }

    /// Sends a follower's next fetch if it is due: none in flight and the interval passed,
    /// or the one in flight went unanswered for a request timeout.
    pub(super) fn send_due_fetch(&mut self, now: Millis, out: &mut Vec<RaftOutput<T>>) {
        let timeout_ms = self.fetch_answer_timeout_ms();
        let Role::Follower(follower) = &mut self.role else {
            return;
        };
        let due = match follower.in_flight_since_ms {
            Some(sent_ms) => now >= sent_ms.saturating_add(timeout_ms),
            None => now >= follower.next_fetch_ms,
        };
        if due {
            follower.in_flight_since_ms = Some(now);
            let to = follower.leader;
            out.push(RaftOutput::Send {
                to,
                msg: self.fetch_request(),
            });
        }
    }

    pub(super) fn on_fetch_request(
        &mut self,
        (replica, directory): (NodeId, DirectoryId),
        epoch: LeaderEpoch,
        (fetch_offset, last_fetched_epoch): (Offset, LeaderEpoch),
        (max_wait_ms, fetcher_hw): (Millis, Offset),
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        let error = if epoch < self.quorum.epoch {
            Some(RaftError::FencedLeaderEpoch)
        } else if epoch > self.quorum.epoch {
            Some(RaftError::UnknownLeaderEpoch)
        } else if !self.is_leader() {
            Some(RaftError::NotLeader)
        } else {
            None
        };
        let result = match error {
            Some(error) => FetchResult::Error(error),
            None => {
                let voter = self.config.is_voter_key(replica, directory);
                self.serve_fetch((replica, voter), fetch_offset, last_fetched_epoch, now, out)
            }
        };
        if max_wait_ms > 0 && Self::nothing_new(&result, fetcher_hw) {
            self.parked.push(ParkedFetch {
                replica,
                directory,
                epoch,
                fetch_offset,
                last_fetched_epoch,
                high_watermark: fetcher_hw,
                deadline_ms: now.saturating_add(max_wait_ms),
            });
            return;
        }
        let msg = RaftMessage::FetchResponse {
            epoch: self.quorum.epoch,
            leader: self.leader_id(),
            fetch_offset,
            last_fetched_epoch,
            result,
        };
        out.push(RaftOutput::Send { to: replica, msg });
    }

    /// The leader's answer to a fetch of its epoch.
    fn serve_fetch(
        &mut self,
        (replica, voter): (NodeId, bool),
        fetch_offset: Offset,
        last_fetched_epoch: LeaderEpoch,
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) -> FetchResult<T> {
        // The follower's log is a prefix of ours if our log holds its last epoch up to at
        // least its fetch offset; otherwise we name the largest epoch we share and where
        // it ends in our log (an empty log matches anything).
        let diverging = if fetch_offset == Offset(0) {
            None
        } else {
            match self.log.end_offset_for(last_fetched_epoch) {
                Some((epoch, end)) if epoch == last_fetched_epoch && end >= fetch_offset => None,
                Some(shared) => Some(shared),
                None => Some((LeaderEpoch(0), Offset(0))),
            }
        };
        let Role::Leader(leader) = &mut self.role else {
            return FetchResult::Error(RaftError::NotLeader);
        };
        if let Some((epoch, end_offset)) = diverging {
            leader.record_fetch(replica, voter, None, now);
            return FetchResult::Diverging { epoch, end_offset };
        }
        leader.record_fetch(replica, voter, Some(fetch_offset), now);
        self.advance_leader_high_watermark(out);
        let to = Offset(
            fetch_offset
                .0
                .saturating_add(self.config.max_fetch_entries as u64),
        );
        let high_watermark = match &self.role {
            Role::Leader(leader) => leader.high_watermark,
            _ => None,
        };
        FetchResult::Entries {
            entries: self.log.slice(fetch_offset, to).to_vec(),
            high_watermark,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_fetch_response(
        &mut self,
        from: NodeId,
        epoch: LeaderEpoch,
        leader: Option<NodeId>,
        asked: (Offset, LeaderEpoch),
        result: FetchResult<T>,
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        let before = self.leader();
        self.observe_epoch(epoch, leader, now, out);
        // An error that named a new leader has done its work: the new follower fetches.
        let moved = self.leader() != before;
        if moved && matches!(result, FetchResult::Error(_)) {
            return;
        }
        let config = &self.config;
        let current = epoch == self.quorum.epoch
            && matches!(&self.role, Role::Follower(f) if f.leader == from);
        if !current {
            // Not from the leader this node follows. An observer looking for the leader got
            // no useful hint: it asks another voter soon.
            if let Role::Unattached { next_discovery_ms } = &mut self.role {
                *next_discovery_ms =
                    (*next_discovery_ms).min(now.saturating_add(config.fetch_interval_ms));
            }
            return;
        }
        if asked != (self.log.end(), self.log.last_epoch()) {
            return; // a late or duplicated answer to an earlier fetch
        }
        let (fetch_timeout_ms, interval_ms) = (config.fetch_timeout_ms, config.fetch_interval_ms);
        // A successful answer (entries or a divergence) proves the leader alive; an error
        // does not, so it leaves the fetch deadline running.
        let (next_fetch_ms, success) = match result {
            FetchResult::Error(_) => (now.saturating_add(interval_ms), false),
            FetchResult::Diverging { epoch, end_offset } => {
                let before = self.log.end();
                let to = match self.log.end_offset_for(epoch) {
                    Some((local, end)) if local == epoch => end.min(end_offset),
                    Some((_, end)) => end,
                    None => Offset(0),
                };
                self.truncate_to(to, out);
                // An answer that cuts nothing would make the next one alike: do not spin.
                let next_ms = if self.log.end() < before {
                    now
                } else {
                    now.saturating_add(interval_ms)
                };
                (next_ms, true)
            }
            FetchResult::Entries {
                entries,
                high_watermark,
            } => {
                if entries.iter().any(|e| e.epoch > self.quorum.epoch) {
                    out.push(RaftOutput::Note(format!(
                        "{}: ignores a fetch answer with entries past epoch {}",
                        self.id, self.quorum.epoch.0
                    )));
                    return;
                }
                let got = !entries.is_empty();
                if let Err(reason) = self.append(entries, out) {
                    out.push(RaftOutput::Note(format!(
                        "{}: ignores a fetch answer: {reason}",
                        self.id
                    )));
                    return;
                }
                if let Some(leader_hw) = high_watermark {
                    self.raise_high_watermark(leader_hw.min(self.log.end()), out);
                }
                // A caught-up follower waits; one that got entries asks for more at once, as
                // does one whose fetch already waited at the leader.
                let next_ms = if got || self.fetch_max_wait_ms() > 0 {
                    now
                } else {
                    now.saturating_add(interval_ms)
                };
                (next_ms, true)
            }
        };
        if let Role::Follower(follower) = &mut self.role {
            follower.in_flight_since_ms = None;
            follower.next_fetch_ms = next_fetch_ms;
            if success {
                follower.fetch_deadline_ms = now.saturating_add(fetch_timeout_ms);
            }
        }
    }

    /// Cuts a divergent suffix. Below the high watermark this removes committed entries:
    /// the correct protocol never asks for that (asserted in debug builds), and a broken
    /// variant that does is reported.
    pub(super) fn truncate_to(&mut self, to: Offset, out: &mut Vec<RaftOutput<T>>) {
        if to >= self.log.end() {
            return;
        }
        if to < self.high_watermark {
            debug_assert!(
                self.config.variant != RaftVariant::Correct,
                "{}: truncation to {to} below the high watermark {}",
                self.id,
                self.high_watermark
            );
            let (node, high_watermark) = (self.id, self.high_watermark);
            let event = RaftEvent::TruncatedBelowHighWatermark {
                node,
                to,
                high_watermark,
            };
            self.report(event, out);
            self.high_watermark = to;
        }
        if let Some(cut) = self.log.truncate(to) {
            out.push(RaftOutput::Disk(cut));
            out.push(RaftOutput::Disk(DiskOp::Fsync {
                path: super::log::LOG_PATH.to_string(),
            }));
        }
        self.report(RaftEvent::Truncated { node: self.id, to }, out);
        out.push(RaftOutput::Note(format!(
            "{}: truncates its log to {to}",
            self.id
        )));
    }
}

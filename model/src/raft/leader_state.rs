//! What a leader knows about its epoch: how far each voter and observer has replicated
//! (from their fetches), who has acknowledged the leadership, and the high watermark rule.

use super::config::{RaftConfig, RaftVariant};
use crate::ids::{Millis, NodeId, Offset};
use std::collections::BTreeMap;

/// One replica's progress as the leader sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaProgress {
    /// The fetch offset of its last valid fetch: everything below is on its disk.
    pub end_offset: Option<Offset>,
    pub last_fetch_ms: Millis,
}

/// The leader's state for its epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderState {
    /// The log end when this leader was elected, where its LeaderChange entry goes.
    pub epoch_start_offset: Offset,
    /// The high watermark this leader established, once a majority holds an entry of its
    /// epoch; until then fetch answers carry none.
    pub high_watermark: Option<Offset>,
    /// Every voter but the leader.
    voters: BTreeMap<NodeId, ReplicaProgress>,
    observers: BTreeMap<NodeId, ReplicaProgress>,
    /// Voters that have not acknowledged this epoch (by a BeginQuorumEpoch answer or a
    /// fetch), with when each is told again.
    unacknowledged: BTreeMap<NodeId, Millis>,
}

impl LeaderState {
    /// A leader elected at `now`, its log ending at `log_end`. Every voter gets a fetch
    /// time of `now`, so the check-quorum clock starts with the epoch.
    pub fn new(config: &RaftConfig, me: NodeId, log_end: Offset, now: Millis) -> LeaderState {
        let others: Vec<NodeId> = config.voter_ids().filter(|v| *v != me).collect();
        let progress = ReplicaProgress {
            end_offset: None,
            last_fetch_ms: now,
        };
        LeaderState {
            epoch_start_offset: log_end,
            high_watermark: None,
            voters: others.iter().map(|v| (*v, progress)).collect(),
            observers: BTreeMap::new(),
            unacknowledged: others
                .into_iter()
                .map(|v| (v, now.saturating_add(config.request_timeout_ms)))
                .collect(),
        }
    }

    /// Records a fetch from `replica`; `end_offset` is `None` when the fetch diverged. Only
    /// a fetch from a voter on its original disk (`voter`) counts towards the high
    /// watermark and check-quorum: a voter whose disk was replaced fetches as an observer.
    pub fn record_fetch(
        &mut self,
        replica: NodeId,
        voter: bool,
        end_offset: Option<Offset>,
        now: Millis,
    ) {
        self.unacknowledged.remove(&replica);
        let progress = match self.voters.get_mut(&replica).filter(|_| voter) {
            Some(progress) => progress,
            None => self.observers.entry(replica).or_insert(ReplicaProgress {
                end_offset: None,
                last_fetch_ms: now,
            }),
        };
        progress.last_fetch_ms = progress.last_fetch_ms.max(now);
        if end_offset.is_some() {
            progress.end_offset = end_offset;
        }
    }

    pub fn acknowledge(&mut self, voter: NodeId) {
        self.unacknowledged.remove(&voter);
    }

    /// Voters to tell (again) about this epoch: not acknowledged, and due. They are told
    /// again after another `request_timeout_ms`.
    pub fn due_begin_epoch(&mut self, now: Millis, request_timeout_ms: Millis) -> Vec<NodeId> {
        let mut due = Vec::new();
        for (voter, next_ms) in &mut self.unacknowledged {
            if *next_ms <= now {
                *next_ms = now.saturating_add(request_timeout_ms);
                due.push(*voter);
            }
        }
        due
    }

    /// All unacknowledged voters, told now (the first BeginQuorumEpoch) and again after
    /// `request_timeout_ms`.
    pub fn tell_all(&mut self, now: Millis, request_timeout_ms: Millis) -> Vec<NodeId> {
        let next_ms = now.saturating_add(request_timeout_ms);
        self.unacknowledged.values_mut().for_each(|t| *t = next_ms);
        self.unacknowledged.keys().copied().collect()
    }

    /// The BeginQuorumEpoch to `voter` failed (a disconnect): if it has not acknowledged,
    /// it is told again by `at_ms`.
    pub fn tell_again_by(&mut self, voter: NodeId, at_ms: Millis) {
        if let Some(next_ms) = self.unacknowledged.get_mut(&voter) {
            *next_ms = (*next_ms).min(at_ms);
        }
    }

    pub fn next_begin_epoch_ms(&self) -> Option<Millis> {
        self.unacknowledged.values().min().copied()
    }

    /// When the check-quorum condition fails unless more fetches arrive: the time at
    /// which fewer than a majority of voters will have fetched within `window_ms`. `None`
    /// for a single voter, which is a majority by itself.
    pub fn check_quorum_deadline(&self, config: &RaftConfig, window_ms: Millis) -> Option<Millis> {
        let needed = config.majority() - 1;
        if needed == 0 {
            return None;
        }
        let mut times: Vec<Millis> = self.voters.values().map(|p| p.last_fetch_ms).collect();
        times.sort_unstable_by(|a, b| b.cmp(a));
        times.get(needed - 1).map(|t| t.saturating_add(window_ms))
    }

    /// The high watermark the replicas support, if it may be the leader's: the largest
    /// offset that a majority of voters (the leader, with `log_end`, included) have on
    /// disk, and only once it is past the start of this epoch, so that an entry of an
    /// older epoch is never committed by counting replicas (Raft's figure 8; Kafka's
    /// LeaderState checks the same against its epoch start offset).
    pub fn supported_high_watermark(&self, config: &RaftConfig, log_end: Offset) -> Option<Offset> {
        if config.variant == RaftVariant::CommitWithoutMajority {
            return Some(log_end);
        }
        let mut ends: Vec<Offset> = self
            .voters
            .values()
            .map(|p| p.end_offset.unwrap_or(Offset(0)).min(log_end))
            .collect();
        ends.push(log_end);
        ends.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = *ends.get(config.majority() - 1)?;
        (candidate > self.epoch_start_offset).then_some(candidate)
    }

    /// The progress of every replica that fetched, voters first, for traces and tests.
    pub fn progress(&self, replica: NodeId) -> Option<ReplicaProgress> {
        self.voters
            .get(&replica)
            .or_else(|| self.observers.get(&replica))
            .copied()
    }
}

//! The manual commit mode (a service's own `poll` and `commitSync`): the member hands the
//! application each poll's records as they arrive and commits only the offsets the
//! application names, one commit at a time, never on its own.

use super::GroupMember;
use crate::effect::{ObservedRecord, Output};
use crate::group::Generation;
use crate::ids::{Millis, Offset, TopicPartition};

/// Why an application's commit was not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManualCommitRefused {
    /// Outside a generation, or without a coordinator: Kafka's commitSync fails the same
    /// way (`RebalanceInProgressException`, `CommitFailedException`, a coordinator
    /// lookup that times out).
    NotInGeneration,
    /// Another commit is in flight: two in flight could be applied in either order.
    CommitInFlight,
    /// None of the offsets is of a partition the member owns now.
    NotOwned,
}

impl std::fmt::Display for ManualCommitRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ManualCommitRefused::NotInGeneration => "not in a generation of the group",
            ManualCommitRefused::CommitInFlight => "another commit is in flight",
            ManualCommitRefused::NotOwned => "no partition named is owned",
        })
    }
}

impl GroupMember {
    /// What was polled since the last call, poll by poll, with the generation it was
    /// polled in, for the application (which records each record's `process` as it hands
    /// it on). Records of partitions given up since were dropped with them.
    pub fn take_polled(&mut self) -> Vec<(TopicPartition, Generation, Vec<ObservedRecord>)> {
        let polls = std::mem::take(&mut self.txn_ready);
        polls
            .into_iter()
            .filter(|item| self.owned.contains(&item.tp))
            .map(|item| (item.tp, item.generation, item.records))
            .collect()
    }

    /// The application commits `offsets` (each the next offset to read) in the member's
    /// generation; partitions it no longer owns are left out. Its outcome is the history's
    /// `commit` ok or fail.
    pub fn commit_manually(
        &mut self,
        now: Millis,
        offsets: Vec<(TopicPartition, Offset)>,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) -> Result<u64, ManualCommitRefused> {
        if !self.commits.is_empty() {
            return Err(ManualCommitRefused::CommitInFlight);
        }
        if self.rejoin_needed || self.join.is_some() || self.sync.is_some() {
            return Err(ManualCommitRefused::NotInGeneration);
        }
        let offsets: Vec<_> = offsets
            .into_iter()
            .filter(|(tp, _)| self.owned.contains(tp))
            .collect();
        if offsets.is_empty() {
            return Err(ManualCommitRefused::NotOwned);
        }
        self.send_commit(now, offsets, last_correlation_id, out)
            .ok_or(ManualCommitRefused::NotInGeneration)
    }

    /// Whether a commit is in flight (its ok or fail is still to come).
    pub fn commit_in_flight(&self) -> bool {
        !self.commits.is_empty()
    }
}

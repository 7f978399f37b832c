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

#[cfg(test)]
mod tests {
    use super::super::{CommitMode, GroupMember, MemberConfig};
    use super::ManualCommitRefused;
    use crate::effect::{Observation, ObservedRecord, Output};
    use crate::group::{Generation, MemberId};
    use crate::ids::{BrokerId, Offset, TopicPartition};

    fn tp(partition: u32) -> TopicPartition {
        TopicPartition::new("orders", partition)
    }

    /// A manual member in generation 3 owning orders-0, with a coordinator.
    fn member() -> GroupMember {
        let config = MemberConfig {
            commit_mode: CommitMode::Manual,
            process_ms: 0,
            ..MemberConfig::default()
        };
        let mut member =
            GroupMember::new(config, "svc-1".into(), vec!["orders".into()], 30_000, 100);
        member.member_id = Some(MemberId("svc-1-1".into()));
        member.generation = Some(Generation(3));
        member.rejoin_needed = false;
        member.coordinator = Some(BrokerId(1));
        member.owned.insert(tp(0));
        member
    }

    fn poll(member: &mut GroupMember, offsets: std::ops::Range<u64>, out: &mut Vec<Output>) {
        let records = offsets
            .clone()
            .map(|offset| ObservedRecord {
                topic: "orders".into(),
                partition: 0,
                offset,
                key: None,
                value: 100 + offset,
            })
            .collect();
        let mut correlation = 0;
        member.polled(
            0,
            tp(0),
            records,
            Offset(offsets.end),
            &mut correlation,
            out,
        );
        member.process_due(0, &mut correlation, out);
    }

    fn commits(out: &[Output]) -> usize {
        out.iter()
            .filter(|o| matches!(o, Output::Observe(Observation::CommitInvoke(_))))
            .count()
    }

    #[test]
    fn polls_go_to_the_application_and_nothing_is_committed_on_its_own() {
        let mut m = member();
        let mut out = Vec::new();
        poll(&mut m, 0..3, &mut out);
        poll(&mut m, 3..5, &mut out);
        assert_eq!(commits(&out), 0, "a manual member never commits by itself");
        let polls = m.take_polled();
        assert_eq!(polls.len(), 2);
        assert_eq!(polls[0].1, Generation(3));
        assert_eq!(polls[1].2.len(), 2);
        assert!(m.take_polled().is_empty(), "each poll is handed over once");
    }

    #[test]
    fn the_application_commits_what_it_names_one_commit_at_a_time() {
        let mut m = member();
        let (mut out, mut correlation) = (Vec::new(), 0);
        let offsets = vec![(tp(0), Offset(3)), (tp(1), Offset(9))];
        m.commit_manually(0, offsets.clone(), &mut correlation, &mut out)
            .expect("sent");
        let Some(Output::Observe(Observation::CommitInvoke(commit))) = out.first() else {
            panic!("a commit: {out:?}");
        };
        assert_eq!(
            commit.offsets,
            vec![(tp(0), Offset(3))],
            "a partition not owned is left out"
        );
        assert_eq!(
            m.commit_manually(0, offsets, &mut correlation, &mut out),
            Err(ManualCommitRefused::CommitInFlight)
        );
    }

    #[test]
    fn outside_a_generation_or_owning_nothing_named_the_commit_is_refused() {
        let (mut out, mut correlation) = (Vec::new(), 0);
        let mut m = member();
        assert_eq!(
            m.commit_manually(0, vec![(tp(1), Offset(1))], &mut correlation, &mut out),
            Err(ManualCommitRefused::NotOwned)
        );
        m.rejoin_needed = true;
        assert_eq!(
            m.commit_manually(0, vec![(tp(0), Offset(1))], &mut correlation, &mut out),
            Err(ManualCommitRefused::NotInGeneration)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn a_revoked_partitions_polls_are_not_handed_over() {
        let mut m = member();
        let mut out = Vec::new();
        poll(&mut m, 0..3, &mut out);
        m.owned.remove(&tp(0));
        assert!(m.take_polled().is_empty());
    }
}

//! LeaderCompleteness: when a broker becomes leader, its log holds every record of the
//! committed prefix (same offset, same value). Records retention deleted (below where the
//! replicas' justified log starts reached: `retention.rs`) are not asked for.
//!
//! Source: Raft's Leader Completeness (Ongaro and Ousterhout, figure 3: a committed entry is
//! in the log of every later leader), which Kafka gets from electing only ISR members (clean
//! election) together with StrongIsr. KIP-101 and KIP-279 fixed the truncation bugs that broke
//! it, and KIP-966 (eligible leader replicas) closes the case of an ISR member that lost
//! un-fsynced records. hachikuji/kafka-specification's `KafkaReplication.tla` calls the
//! committed prefix what a leader exposes below its high watermark. Unclean election, or a
//! power loss meeting asynchronous flush, excuses it.

use super::committed::CommittedPrefix;
use super::replica::Replica;
use super::{Breach, Rule};
use crate::checkers::AnomalyKind;
use kafka_model::ids::BrokerId;

pub(crate) const RULE: Rule = Rule {
    kind: AnomalyKind::LeaderCompleteness,
    excusable: true,
    promise: "under clean election a new leader holds every committed record",
};

/// `broker` just became leader with log `replica`: compares it with the committed prefix
/// from where it was last verified (kept in the replica, lowered when its log is cut), above
/// what retention deleted (`retained_below`).
pub(crate) fn check(
    broker: BrokerId,
    replica: &mut Replica,
    committed: &CommittedPrefix,
    retained_below: u64,
) -> Option<Breach> {
    let from = replica.committed_verified.max(retained_below);
    for (offset, record) in committed.records_from(from) {
        let held = replica.get(offset).copied();
        if held.map(|r| r.value) == Some(record.value) {
            continue;
        }
        replica.committed_verified = offset;
        let (what, mut values) = match held {
            Some(other) => (
                format!("holds value {} there", other.value),
                vec![other.value],
            ),
            None if offset < replica.log_start => (
                format!("its log starts at {}", replica.log_start),
                Vec::new(),
            ),
            None => (format!("its log ends at {}", replica.log_end()), Vec::new()),
        };
        values.insert(0, record.value);
        let when = committed
            .committed_at(offset)
            .map(|g| format!(" (committed by {} at history index {})", g.leader, g.index))
            .unwrap_or_default();
        return Some(Breach {
            detail: format!(
                "{broker} became leader without committed value {} at offset {offset}{when}: \
                 {what}",
                record.value
            ),
            values,
            skip: None,
        });
    }
    replica.committed_verified = committed.end();
    None
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use crate::checkers::{AnomalyKind, Promises, Verdict};

    /// b2, outside the ISR, has only the first of two committed records when the controller
    /// elects it anyway; b3, which has both, then takes over, so the final log is complete.
    fn an_incomplete_replica_elected(promises: Promises) -> Run {
        let mut run = Run::new(promises);
        run.change(Some(1), &[1, 3], 1, 1)
            .lead(1, 1, &[1, 3], 0)
            .follow(2, 1, 1)
            .follow(3, 1, 1);
        run.append(1, 0, &[(1, 1), (2, 1)])
            .append(3, 0, &[(1, 1), (2, 1)])
            .append(2, 0, &[(1, 1)]);
        run.at(3).hw(1, 2).hw(3, 2);
        run.change(Some(2), &[2, 3], 2, 2)
            .at(4)
            .lead(2, 2, &[2, 3], 1);
        run.change(Some(3), &[3], 3, 3).lead(3, 3, &[3], 2);
        run
    }

    #[test]
    fn complete_new_leaders_pass_and_deleted_records_are_not_asked_for() {
        let mut run = healthy(Promises::default());
        // b3 restarts with offsets below 2 deleted by retention, then leads.
        run.retain(3, 2)
            .recover(3, 2, &[(4, 2), (5, 2)])
            .change(Some(3), &[2, 3], 3, 4)
            .lead(3, 3, &[2, 3], 4);
        assert_eq!(run.finish(), vec![]);
    }

    #[test]
    fn a_leader_whose_log_start_no_retention_reported_breaks_it() {
        let mut run = healthy(Promises::default());
        run.recover(3, 2, &[(4, 2), (5, 2)])
            .change(Some(3), &[2, 3], 3, 4)
            .at(9)
            .lead(3, 3, &[2, 3], 4);
        let found = run.finish();
        // The final log lacks them too, so the end-of-run validations say so as well.
        assert_eq!(
            kinds(&found),
            vec![
                AnomalyKind::ConsistentRead,
                super::RULE.kind,
                AnomalyKind::CommittedRecordLost
            ],
            "{found:?}"
        );
        assert!(found.iter().all(|a| a.verdict == Verdict::Violation));
        assert_eq!(
            found[1].detail,
            "t/0: b3 became leader without committed value 1 at offset 0 (committed by b1 at \
             history index 0): its log starts at 2"
        );
    }

    #[test]
    fn a_leader_missing_a_committed_record_breaks_it() {
        let found = an_incomplete_replica_elected(Promises::default()).finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        assert_eq!((found[0].verdict, found[0].index), (Verdict::Violation, 4));
        assert_eq!(found[0].values, vec![2]);
        assert_eq!(
            found[0].detail,
            "t/0: b2 became leader without committed value 2 at offset 1 (committed by b1 at \
             history index 3): its log ends at 1"
        );
    }

    #[test]
    fn a_missing_committed_record_is_allowed_after_the_unclean_election_that_lost_it() {
        let found = an_incomplete_replica_elected(unclean()).finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Allowed);
        // b2 was not in the ISR [b1, b3] the controller chose it from.
        assert!(found[0].why.contains("unclean"), "{}", found[0].why);
        let chain: Vec<String> = found[0].chain.iter().map(|l| l.to_string()).collect();
        assert!(
            chain[0].contains("elected b2") && chain[0].contains("unclean"),
            "{chain:?}"
        );
        assert!(chain[1].contains("b2 became leader"), "{chain:?}");
    }

    #[test]
    fn a_deposed_leader_taking_up_an_old_epoch_late_is_not_asked_for_newer_commits() {
        // b2 was elected for epoch 2 while paused; the controller moved on to b3 in epoch 3,
        // which committed a record; b2 wakes up and takes up epoch 2 without it.
        let mut run = Run::new(Promises::default());
        run.change(Some(1), &[1, 2, 3], 1, 1)
            .lead(1, 1, &[1, 2, 3], 0)
            .follow(3, 1, 1);
        run.append(1, 0, &[(1, 1)]).append(3, 0, &[(1, 1)]);
        run.change(Some(2), &[2, 3], 2, 2)
            .change(Some(3), &[3], 3, 3)
            .lead(3, 3, &[3], 1);
        run.append(3, 1, &[(2, 3)]).at(3).hw(3, 2);
        run.at(4).lead(2, 2, &[2, 3], 0);
        let found = run.finish();
        assert!(
            !kinds(&found).contains(&super::RULE.kind),
            "a deposed leader is not a new leader: {found:?}"
        );
    }
}

//! NoCommittedRecordLostGlobally (kind `CommittedRecordLost`): at the end of the run, every
//! record of the committed prefix is in the final log of the partition's current leader (the
//! broker the controller's last PartitionChange names), at its offset. Partitions without a
//! leader are skipped: the liveness phase reports those. Records below the offset retention
//! reached (as the replicas reported it, never past their high watermarks: see
//! `retention.rs`) were deleted by retention and are not asked for; a record gone below a
//! log start that no retention justifies is lost like any other.
//!
//! Source: Kafka's durability promise (docs, "Replication": a committed message will not be
//! lost as long as one in-sync replica remains), stated over the whole cluster the way
//! Kafka's RaftEventSimulationTest validates its logs after a run, and as the cluster-level
//! counterpart of Jepsen's `lost-write`. Unclean election, or a power loss meeting
//! asynchronous flush, excuses it.

use super::committed::CommittedPrefix;
use super::replica::Replica;
use super::retention::Retained;
use super::{Breach, Rule};
use crate::checkers::AnomalyKind;
use kafka_model::ids::BrokerId;

pub(crate) const RULE: Rule = Rule {
    kind: AnomalyKind::CommittedRecordLost,
    excusable: true,
    promise: "Kafka promises a committed record (below a leader's high watermark) is never \
              lost",
};

/// How many lost values an anomaly lists; the detail gives the count.
const VALUES_LISTED_MAX: usize = 16;

/// `leader`'s final log `replica` against the committed prefix, above what retention
/// deleted.
pub(crate) fn check(
    leader: BrokerId,
    replica: &Replica,
    committed: &CommittedPrefix,
    retained: &Retained,
) -> Option<Breach> {
    let retained_below = retained.below_as_of(u64::MAX);
    let mut lost = committed
        .entries_from(retained_below)
        .filter(|(offset, record)| {
            record.is_none() || replica.get(*offset).map(|r| r.value) != record.map(|r| r.value)
        });
    let (offset, record) = lost.next()?;
    let rest: Vec<Option<u64>> = lost.map(|(_, r)| r.map(|r| r.value)).collect();
    let held = match replica.get(offset) {
        Some(other) => format!("{leader} holds value {} there", other.value),
        None if offset < replica.log_start => {
            format!("{leader}'s log starts at {}", replica.log_start)
        }
        None => format!("{leader}'s log ends at {}", replica.log_end()),
    };
    let when = committed
        .committed_at(offset)
        .map(|g| format!(" (committed by {} at history index {})", g.leader, g.index))
        .unwrap_or_default();
    let what = match record {
        Some(record) => format!("value {}", record.value),
        None => "deleted before it was committed".to_string(),
    };
    let why = match retained.unjustified_above(offset) {
        Some(rise) => format!(
            "; retention reached only offset {retained_below}, but {} raised its log start \
             to {} past its high watermark {} (history index {})",
            rise.broker, rise.log_start, rise.high_watermark, rise.index
        ),
        None => String::new(),
    };
    let values: Vec<u64> = std::iter::once(record.map(|r| r.value))
        .chain(rest.iter().copied())
        .flatten()
        .take(VALUES_LISTED_MAX)
        .collect();
    Some(Breach {
        detail: format!(
            "{} committed record(s) missing from final leader {leader}'s log; the first, \
             {what} at offset {offset}{when}: {held}{why}",
            1 + rest.len(),
        ),
        values,
        skip: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use crate::checkers::{Promises, Verdict};

    /// The leader, b1, cuts its own log below its high watermark and stays leader.
    fn the_leader_drops_a_committed_record(promises: Promises) -> Run {
        let mut run = started(promises);
        run.truncate(1, 1);
        run.poll("consumer-1", &[]);
        run
    }

    #[test]
    fn a_final_leader_holding_every_committed_record_passes() {
        let mut run = healthy(Promises::default());
        // Uncommitted records may go: b2 appends one and truncates it before any HW covers it.
        run.append(2, 4, &[(60, 2)]).truncate(2, 4);
        assert_eq!(run.finish(), vec![]);
    }

    #[test]
    fn a_committed_record_missing_from_the_final_leader_breaks_it() {
        let found = the_leader_drops_a_committed_record(Promises::default()).finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        // Found at the end of the run: the last history index.
        assert_eq!((found[0].verdict, found[0].index), (Verdict::Violation, 1));
        assert_eq!(
            found[0].detail,
            "t/0: 1 committed record(s) missing from final leader b1's log; the first, value \
             2 at offset 1 (committed by b1 at history index 0): b1's log ends at 1"
        );
    }

    #[test]
    fn a_lost_committed_record_stays_a_violation_under_unclean_election_when_no_unclean_election_explains_it(
    ) {
        let found = the_leader_drops_a_committed_record(unclean()).finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        // The flag alone excuses nothing: no unclean election happened in this run.
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert!(found[0].excusable && found[0].chain.is_empty());
    }
}

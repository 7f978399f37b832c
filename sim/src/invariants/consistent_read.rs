//! ConsistentRead: at the end of the run, every record a consumer polled is at its offset in
//! the final log of the partition's current leader (the broker the controller's last
//! PartitionChange names). A polled value found at another offset, or nowhere, is the
//! anomaly. Partitions without a leader, and offsets retention deleted (below where the
//! replicas' justified log starts reached: `retention.rs`), are skipped.
//!
//! Source: Jepsen's Kafka workload (jepsen.tests.kafka; "Jepsen: Kafka 3.x"): a read must
//! not be of a record that later vanishes or moves (`inconsistent-offsets`, `lost-write`),
//! here checked against the replicas rather than only other readers. Kafka promises it under
//! clean election, since consumers read only below the high watermark; unclean election, or
//! a power loss meeting asynchronous flush, excuses it.

use super::replica::Replica;
use super::{Breach, Rule};
use crate::checkers::AnomalyKind;
use crate::history::{History, OpType, Operation};
use kafka_model::ids::{BrokerId, TopicPartition};
use std::collections::BTreeMap;

pub(crate) const RULE: Rule = Rule {
    kind: AnomalyKind::ConsistentRead,
    excusable: true,
    promise: "under clean election no consumer reads a record that later disappears",
};

/// One record a consumer polled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Read<'a> {
    pub consumer: &'a str,
    pub offset: u64,
    pub value: u64,
    /// History index of the poll.
    pub index: u64,
}

/// Every polled record, per partition, in history order.
pub(crate) fn reads(history: &History) -> BTreeMap<TopicPartition, Vec<Read<'_>>> {
    let mut by_partition: BTreeMap<TopicPartition, Vec<Read<'_>>> = BTreeMap::new();
    for entry in &history.entries {
        let (OpType::Ok, Operation::Poll(poll)) = (entry.op_type, &entry.op) else {
            continue;
        };
        for record in &poll.records {
            let tp = TopicPartition::new(record.topic.as_str(), record.partition);
            by_partition.entry(tp).or_default().push(Read {
                consumer: &entry.process,
                offset: record.offset,
                value: record.value,
                index: entry.index,
            });
        }
    }
    by_partition
}

/// `reads` against `leader`'s final log `replica`, above `retained_below`: the first read
/// it contradicts, with the history index of its poll.
pub(crate) fn check(
    reads: &[Read<'_>],
    leader: BrokerId,
    replica: &Replica,
    retained_below: u64,
) -> Option<(u64, Breach)> {
    let mut bad = reads.iter().filter(|read| {
        read.offset >= retained_below
            && replica.get(read.offset).map(|r| r.value) != Some(read.value)
    });
    let first = bad.next()?;
    let others = bad.count();
    let there = match replica.get(first.offset) {
        Some(other) => format!("holds value {} there", other.value),
        None if first.offset < replica.log_start => {
            format!(
                "starts at {}, which no retention justifies,",
                replica.log_start
            )
        }
        None => format!("ends at {}", replica.log_end()),
    };
    // Values are unique per run, so a value found elsewhere is the same record, moved.
    let elsewhere = match replica.records.iter().position(|r| r.value == first.value) {
        Some(i) => format!("has it at offset {}", replica.log_start + i as u64),
        None => "has it nowhere".to_string(),
    };
    let more = if others > 0 {
        format!(" ({others} more such read(s))")
    } else {
        String::new()
    };
    Some((
        first.index,
        Breach {
            detail: format!(
                "{} read value {} at offset {}, but final leader {leader}'s log {there} and \
                 {elsewhere}{more}",
                first.consumer, first.value, first.offset
            ),
            values: vec![first.value],
            skip: None,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use crate::checkers::{Promises, Verdict};

    /// The leader b1 serves a record above its high watermark; b2 takes over without it.
    fn a_read_of_a_record_that_vanishes(promises: Promises) -> Run {
        let mut run = started(promises);
        run.append(1, 2, &[(3, 1)]);
        run.poll("consumer-1", &[(0, 1), (1, 2), (2, 3)]);
        run.change(Some(2), &[2, 3], 2, 2)
            .lead(2, 2, &[2, 3], 2)
            .follow(3, 2, 2);
        run.append(2, 2, &[(4, 2)]).append(3, 2, &[(4, 2)]);
        run.hw(2, 3).hw(3, 3);
        run
    }

    #[test]
    fn reads_found_in_the_final_leaders_log_pass() {
        let found = healthy(Promises::default()).finish();
        assert_eq!(found, vec![]);
    }

    #[test]
    fn a_read_record_missing_from_the_final_log_breaks_it() {
        let found = a_read_of_a_record_that_vanishes(Promises::default()).finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        // Where it shows: the poll that read it (invoke at 0, ok at 1).
        assert_eq!((found[0].verdict, found[0].index), (Verdict::Violation, 1));
        assert_eq!(
            found[0].detail,
            "t/0: consumer-1 read value 3 at offset 2, but final leader b2's log holds value \
             4 there and has it nowhere"
        );
    }

    #[test]
    fn a_read_record_at_another_offset_breaks_it() {
        let mut run = started(Promises::default());
        run.poll("consumer-1", &[(1, 2), (2, 2)]);
        let found = run.finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        assert_eq!(
            found[0].detail,
            "t/0: consumer-1 read value 2 at offset 2, but final leader b1's log ends at 2 \
             and has it at offset 1"
        );
    }

    #[test]
    fn a_vanished_read_stays_a_violation_under_unclean_election_when_no_unclean_election_explains_it(
    ) {
        let found = a_read_of_a_record_that_vanishes(unclean()).finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        // The flag alone excuses nothing: no unclean election happened in this run.
        assert_eq!(found[0].verdict, Verdict::Violation);
        // Its chain, if any, tells of a clean election that left the record behind.
        assert!(found[0].excusable);
        assert!(found[0].chain.iter().all(|l| !l.what.contains("unclean")));
    }
}

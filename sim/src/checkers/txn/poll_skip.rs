//! poll-skip (in a topic transactions wrote to): a consumer's successive reads of a
//! partition, in one assignment, skipped a record its isolation level returns. The kind
//! is `poll-skip`, the plain checker's, which leaves such topics to this one: there
//! transaction markers (and aborted records, under read_committed) sit between records,
//! so an offset gap alone shows nothing.
//!
//! Source: `poll-skip+nonmonotonic-cases` of Jepsen's Kafka workload
//! (jepsen.tests.kafka), which compares reads by their dense index in the version order.
//! Here, as for int-poll-skip, the skip is shown by a record known at an offset between
//! the two reads (or between the `assign` and the first read) that the reader's isolation
//! returns. Two reads inside one transaction are int-poll-skip's. Kafka promises a
//! consumer reads its partition without gaps, unless a loss cut the record (the excuse
//! pass decides).

use super::super::view::name;
use super::super::{Anomaly, AnomalyKind, Promises};
use super::index::{isolation_name, TxnIndex};
use std::collections::BTreeSet;

pub fn check(index: &TxnIndex<'_>, promises: &Promises) -> Vec<Anomaly> {
    let topics: BTreeSet<&str> = index
        .txns
        .iter()
        .flat_map(|txn| txn.value.sends().map(|s| s.topic.as_str()))
        .collect();
    let mut anomalies = Vec::new();
    for ((reader, partition), spans) in &index.spans {
        if !topics.contains(partition.0) {
            continue;
        }
        for span in spans {
            // (where it came from, the first offset it must read next, the txn it read in)
            let mut before = span.assigned.map(|s| (format!("assign at {s}"), s, None));
            for read in span.reads.iter().map(|at| &index.reads[*at]) {
                if let Some((after, next, txn)) = before.take() {
                    let inside_one = txn.is_some() && txn == read.txn;
                    let skipped =
                        index.skipped(*partition, next..read.offset, read.isolation, None);
                    if !inside_one && !skipped.is_empty() {
                        let listed: Vec<String> =
                            skipped.iter().map(|(o, v)| format!("{v}@{o}")).collect();
                        let anomaly = Anomaly::new(
                            AnomalyKind::PollSkip,
                            promises.unless_loss_excused(
                                "Kafka promises a consumer reads its partition without gaps",
                            ),
                            format!(
                                "{reader} ({}) read {} offset {} (value {}) after {after}, \
                                 skipping {}",
                                isolation_name(read.isolation),
                                name(partition),
                                read.offset,
                                read.value,
                                listed.join(", ")
                            ),
                            skipped.iter().map(|(_, v)| *v).collect(),
                            read.index,
                        );
                        let offsets = skipped.iter().map(|(o, _)| *o).collect();
                        anomalies.push(anomaly.unless_loss_explains().involving(
                            partition.0,
                            partition.1,
                            offsets,
                        ));
                    }
                }
                let after = format!("offset {}", read.offset);
                before = Some((after, read.offset + 1, read.txn));
            }
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use super::*;
    use crate::checkers::Verdict;
    use crate::history::{History, OpType};

    fn found(h: &History) -> Vec<Anomaly> {
        check(&TxnIndex::of(h), &Promises::default())
    }

    /// Committed 1@0, `middle` 2@1 (its marker at 2), committed 3@4 (markers at 3, 5);
    /// a read_uncommitted reader read all; `c1` reads 0 and then 4 at `isolation`.
    fn history(middle: OpType, isolation: kafka_model::txn::IsolationLevel) -> History {
        let mut h = History::default();
        txn(&mut h, ("p1", "tx-1", 0), OpType::Ok, vec![send(1, 0, 0)]);
        txn(&mut h, ("p1", "tx-1", 1), middle, vec![send(2, 0, 1)]);
        txn(&mut h, ("p1", "tx-1", 2), OpType::Ok, vec![send(3, 0, 4)]);
        read(&mut h, "c0", &[(0, 0, 1), (0, 1, 2), (0, 4, 3)], RU);
        assign(&mut h, "c1", 0, 0);
        read(&mut h, "c1", &[(0, 0, 1)], isolation);
        read(&mut h, "c1", &[(0, 4, 3)], isolation);
        h
    }

    #[test]
    fn skipping_a_committed_record_in_a_transactional_topic_is_a_poll_skip() {
        let found = found(&history(OpType::Ok, RC));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].kind, found[0].verdict),
            (AnomalyKind::PollSkip, Verdict::Violation)
        );
        assert!(
            found[0].detail.contains("skipping 2@1"),
            "{}",
            found[0].detail
        );
        assert_eq!(found[0].index, 12);
    }

    #[test]
    fn markers_and_read_committeds_skipped_aborted_records_are_no_skip() {
        assert_eq!(found(&history(OpType::Fail, RC)), vec![]);
        assert_eq!(found(&history(OpType::Fail, RU)).len(), 1);
        // The plain checker, on offsets alone, would cry wolf: it leaves the topic here.
        let plain =
            crate::checkers::poll_skip::check(&history(OpType::Fail, RC), &Promises::default());
        assert_eq!(plain, vec![]);
    }

    #[test]
    fn an_assign_past_a_record_read_first_elsewhere_is_a_skip_from_the_assign() {
        let mut h = history(OpType::Ok, RC);
        assign(&mut h, "c2", 0, 0);
        read(&mut h, "c2", &[(0, 1, 2)], RC);
        let found = found(&h);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[1].detail.contains("after assign at 0, skipping 1@0"),
            "{}",
            found[1].detail
        );
    }
}

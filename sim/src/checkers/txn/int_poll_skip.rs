//! int-poll-skip: inside one transaction, two successive reads of a partition skipped a
//! record the consumer's isolation level returns.
//!
//! Source: `int-poll-skip+nonmonotonic-cases` of Jepsen's Kafka workload
//! (jepsen.tests.kafka). Jepsen compares read values by their dense index in the version
//! order; Kafka's offsets have holes (transaction markers, and aborted records under
//! read_committed), so here a skip is shown by a record known to be at an offset between
//! the two reads: read there by some consumer, or written there by a durable write
//! (acks=all, or a committed transaction). It counts only if the reader's isolation
//! returns it: read_uncommitted every record; read_committed those of committed
//! transactions and plain sends (never an aborted or unknown transaction's, nor the
//! reader's own transaction's). As in Jepsen, a partition the process was assigned anew
//! during the transaction (a seek, a rebalance) is not judged. A consumer's position
//! moves through a partition without a gap, so a skip breaks Kafka's promise unless the
//! skipped record was lost (the excuse pass decides).

use super::super::view::name;
use super::super::{Anomaly, AnomalyKind, Promises};
use super::index::{isolation_name, Read, TxnIndex};
use std::collections::BTreeMap;

pub fn check(index: &TxnIndex<'_>, promises: &Promises) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for (id, txn) in index.txns.iter().enumerate() {
        let mut by_partition: BTreeMap<_, Vec<&Read<'_>>> = BTreeMap::new();
        for read in index.reads.iter().filter(|r| r.txn == Some(id)) {
            by_partition.entry(read.partition).or_default().push(read);
        }
        for (partition, reads) in by_partition {
            let from = txn.invoke_index.unwrap_or(0);
            if index.assigned_between(txn.process, partition, from, txn.index) {
                continue;
            }
            for pair in reads.windows(2) {
                let (before, after) = (pair[0], pair[1]);
                if after.offset <= before.offset {
                    continue;
                }
                let between = before.offset + 1..after.offset;
                let skipped = index.skipped(partition, between, after.isolation, Some(id));
                if skipped.is_empty() {
                    continue;
                }
                let listed: Vec<String> = skipped
                    .iter()
                    .map(|(offset, value)| format!("{value}@{offset}"))
                    .collect();
                let anomaly = Anomaly::new(
                    AnomalyKind::IntPollSkip,
                    promises.unless_loss_excused(
                        "a consumer reads a partition in offset order: it skips no record \
                         its isolation level returns",
                    ),
                    format!(
                        "{} ({}) polled {} offset {} then {} in one transaction, skipping {}",
                        txn.name(),
                        isolation_name(after.isolation),
                        name(&partition),
                        before.offset,
                        after.offset,
                        listed.join(", ")
                    ),
                    skipped.iter().map(|(_, value)| *value).collect(),
                    txn.index,
                );
                let offsets = skipped.iter().map(|(offset, _)| *offset).collect();
                anomalies.push(anomaly.unless_loss_explains().involving(
                    partition.0,
                    partition.1,
                    offsets,
                ));
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

    /// tx-1 writes 1, 2, 3 at offsets 0, 1, 2 of partition 0 with `outcome`; tx-2 polls
    /// offsets 0 and 2 at `isolation`.
    fn history(outcome: OpType, isolation: kafka_model::txn::IsolationLevel) -> History {
        let mut h = History::default();
        txn(&mut h, ("p1", "tx-1", 0), OpType::Ok, vec![send(1, 0, 0)]);
        txn(&mut h, ("p1", "tx-1", 1), outcome, vec![send(2, 0, 1)]);
        txn(&mut h, ("p1", "tx-1", 2), OpType::Ok, vec![send(3, 0, 3)]); // a marker at 2
        read(&mut h, "c1", &[(0, 0, 1), (0, 1, 2), (0, 3, 3)], RU);
        let polls = vec![poll(&[(0, 0, 1)], isolation), poll(&[(0, 3, 3)], isolation)];
        txn(&mut h, ("p2", "tx-2", 0), OpType::Ok, polls);
        h
    }

    #[test]
    fn a_transaction_skipping_a_committed_record_is_a_violation() {
        let found = found(&history(OpType::Ok, RC));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::IntPollSkip);
        assert_eq!(
            (found[0].verdict, &found[0].values),
            (Verdict::Violation, &vec![2])
        );
        assert!(found[0].excusable && found[0].detail.contains("skipping 2@1"));
    }

    #[test]
    fn read_committed_skips_an_aborted_record_and_markers_but_read_uncommitted_may_not() {
        assert_eq!(found(&history(OpType::Fail, RC)), vec![]);
        assert_eq!(found(&history(OpType::Info, RC)), vec![]);
        assert_eq!(found(&history(OpType::Fail, RU)).len(), 1);
    }

    #[test]
    fn contiguous_reads_or_a_seek_between_them_are_not_skips() {
        let mut h = History::default();
        txn(
            &mut h,
            ("p1", "tx-1", 0),
            OpType::Ok,
            vec![send(1, 0, 0), send(2, 0, 1)],
        );
        let polls = vec![poll(&[(0, 0, 1)], RC), poll(&[(0, 1, 2)], RC)];
        txn(&mut h, ("p2", "tx-2", 0), OpType::Ok, polls);
        assert_eq!(found(&h), vec![]);
        let mut h = History::default();
        txn(
            &mut h,
            ("p1", "tx-1", 0),
            OpType::Ok,
            vec![send(1, 0, 0), send(2, 0, 1)],
        );
        txn(&mut h, ("p1", "tx-1", 1), OpType::Ok, vec![send(3, 0, 2)]);
        let polls = vec![poll(&[(0, 0, 1)], RC), poll(&[(0, 2, 3)], RC)];
        begin(&mut h, ("p2", "tx-2", 0), &polls);
        assign(&mut h, "p2", 0, 2);
        end(&mut h, ("p2", "tx-2", 0), OpType::Ok, polls);
        assert_eq!(found(&h), vec![]);
    }
}

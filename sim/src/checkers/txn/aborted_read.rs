//! g1a (aborted read): a consumer read a value whose transaction aborted (`fail`).
//!
//! Source: `g1a-cases` of Jepsen's Kafka workload (jepsen.tests.kafka), Adya's G1a: a
//! read of a write that is known to have failed. Kafka writes an aborted transaction's
//! records to the log and marks them with an abort marker: read_uncommitted returns them,
//! read_committed promises never to (it skips them by the fetch's aborted transactions
//! list). A transaction whose outcome is unknown (`info`) may have committed: reading it
//! is no anomaly here.

use super::super::view::name;
use super::super::{Anomaly, AnomalyKind};
use super::index::{by_isolation, isolation_name, Outcome, TxnIndex};
use std::collections::BTreeSet;

pub fn check(index: &TxnIndex<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    // One anomaly per (reading entry, aborted transaction).
    let mut reported: BTreeSet<(u64, usize)> = BTreeSet::new();
    for read in &index.reads {
        let Some((id, writer)) = index.txn_writer(read.value) else {
            continue;
        };
        if writer.outcome != Outcome::Aborted || !reported.insert((read.index, id)) {
            continue;
        }
        let verdict = by_isolation(
            read.isolation,
            "read_uncommitted reads aborted transactions",
            "read_committed: Kafka promises an aborted transaction's records are never returned",
        );
        let values: Vec<u64> = index
            .reads
            .iter()
            .filter(|r| r.index == read.index && index.txn_writer(r.value).map(|w| w.0) == Some(id))
            .map(|r| r.value)
            .collect();
        anomalies.push(Anomaly::new(
            AnomalyKind::G1a,
            verdict,
            format!(
                "{} ({}) read value {} at {} offset {}, written by {}, which aborted ({})",
                read.process,
                isolation_name(read.isolation),
                read.value,
                name(&read.partition),
                read.offset,
                writer.name(),
                writer.value.error.as_deref().unwrap_or("fail"),
            ),
            values,
            read.index,
        ));
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use super::*;
    use crate::checkers::Verdict;
    use crate::history::{History, OpType};

    fn history(outcome: OpType, isolation: kafka_model::txn::IsolationLevel) -> History {
        let mut h = History::default();
        txn(
            &mut h,
            ("p1", "tx-1", 0),
            outcome,
            vec![send(1, 0, 0), send(2, 0, 1)],
        );
        read(&mut h, "c1", &[(0, 0, 1), (0, 1, 2)], isolation);
        h
    }

    fn found(h: &History) -> Vec<Anomaly> {
        check(&TxnIndex::of(h))
    }

    #[test]
    fn a_read_committed_read_of_an_aborted_transaction_is_a_violation() {
        let found = found(&history(OpType::Fail, RC));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].kind, found[0].verdict),
            (AnomalyKind::G1a, Verdict::Violation)
        );
        assert_eq!((found[0].index, &found[0].values), (3, &vec![1, 2]));
        assert!(
            found[0].detail.contains("tx-1 epoch 0"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn read_uncommitted_may_read_aborted_transactions() {
        let found = found(&history(OpType::Fail, RU));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Allowed);
    }

    #[test]
    fn the_same_reads_of_a_committed_or_unknown_transaction_are_fine() {
        assert_eq!(found(&history(OpType::Ok, RC)), vec![]);
        assert_eq!(found(&history(OpType::Info, RC)), vec![]);
    }

    #[test]
    fn a_transactions_own_poll_of_an_aborted_write_counts_too() {
        let mut h = History::default();
        txn(&mut h, ("p1", "tx-1", 0), OpType::Fail, vec![send(1, 0, 0)]);
        let polled = vec![poll(&[(0, 0, 1)], RC), send(5, 1, 0)];
        txn(&mut h, ("p2", "tx-2", 0), OpType::Ok, polled);
        let found = found(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].verdict == Verdict::Violation && found[0].detail.starts_with("p2"));
    }
}

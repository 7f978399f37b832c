//! duplicate (of a transaction's write): a value a transaction sent is at two or more
//! (partition, offset) positions of committed data: committed transactions' reported
//! offsets and read_committed reads. The kind is `duplicate`, the plain checker's, which
//! leaves the values transactions wrote to this one (`super::transactional_values`).
//!
//! Source: `duplicate-cases` of Jepsen's Kafka workload (jepsen.tests.kafka), which counts
//! every read. Exactly-once, as Kafka defines it (a transactional id, read_committed
//! consumers), promises each committed record once; an aborted attempt's copy of a value
//! that a consume-transform-produce loop sends again after the abort is in the log too,
//! and read_uncommitted readers see it, so aborted and read_uncommitted positions are not
//! counted. A second committed position is a second write, unless a loss rewrote the
//! offsets (the excuse pass).

use super::super::view::{name, Partition};
use super::super::{Anomaly, AnomalyKind, Promises};
use super::index::{TxnIndex, Writer};
use kafka_model::txn::IsolationLevel;
use std::collections::BTreeMap;

/// Where a value was first seen at a position: the history index, and by which process.
type FirstSeen<'a> = (u64, &'a str);

pub fn check(index: &TxnIndex<'_>, promises: &Promises) -> Vec<Anomaly> {
    // value -> position -> first history index it was seen there, and by whom
    let mut positions: BTreeMap<u64, BTreeMap<(Partition<'_>, u64), FirstSeen<'_>>> =
        BTreeMap::new();
    for write in &index.writes {
        // A transaction's write is durable once it committed.
        if let (Writer::Txn(id), true) = (write.writer, write.durable) {
            let txn = &index.txns[id];
            let seen = (txn.index, txn.process);
            let at = positions.entry(write.value).or_default();
            at.entry((write.partition, write.offset)).or_insert(seen);
        }
    }
    for read in &index.reads {
        if read.isolation != IsolationLevel::ReadCommitted || index.txn_writer(read.value).is_none()
        {
            continue;
        }
        let at = positions.entry(read.value).or_default();
        let first = at
            .entry((read.partition, read.offset))
            .or_insert((read.index, read.process));
        first.0 = first.0.min(read.index);
    }
    let mut anomalies = Vec::new();
    for (value, at) in positions {
        if at.len() < 2 {
            continue;
        }
        let mut first_seen: Vec<_> = at.into_iter().collect();
        first_seen.sort_by_key(|(_, (seen, _))| *seen);
        let places: Vec<String> = first_seen
            .iter()
            .map(|((p, o), (_, by))| format!("{} offset {o} ({by})", name(p)))
            .collect();
        let writer = index
            .txn_writer(value)
            .map(|(_, t)| t.name())
            .unwrap_or_default();
        let mut anomaly = Anomaly::new(
            AnomalyKind::Duplicate,
            promises.unless_loss_excused(
                "exactly-once: a transactional producer is idempotent, each send lands once",
            ),
            format!("value {value} of {writer} is at {}", places.join(", ")),
            vec![value],
            first_seen[1].1 .0,
        )
        .unless_loss_explains();
        for ((p, o), _) in &first_seen {
            anomaly = anomaly.involving(p.0, p.1, vec![*o]);
        }
        anomalies.push(anomaly);
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

    fn history(second_offset: u64) -> History {
        let mut h = History::default();
        txn(&mut h, ("p1", "tx-1", 0), OpType::Ok, vec![send(1, 0, 0)]);
        read(&mut h, "c1", &[(0, 0, 1)], RC);
        read(&mut h, "c2", &[(0, second_offset, 1)], RC);
        h
    }

    #[test]
    fn a_transactions_value_at_a_second_offset_is_a_duplicate() {
        let found = found(&history(4));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].kind, found[0].verdict),
            (AnomalyKind::Duplicate, Verdict::Violation)
        );
        assert_eq!(found[0].index, 5);
        assert!(
            found[0].detail.contains("t/0 offset 4 (c2)"),
            "{}",
            found[0].detail
        );
        // Reported once: the plain checker leaves a transaction's value to this one.
        let plain = crate::checkers::duplicate::check(&history(4), &Promises::default());
        assert_eq!(plain, vec![]);
    }

    #[test]
    fn the_same_value_read_where_it_was_written_is_no_duplicate() {
        assert_eq!(found(&history(0)), vec![]);
    }

    #[test]
    fn an_aborted_attempts_copy_is_no_duplicate_of_committed_data() {
        let mut h = History::default();
        txn(&mut h, ("p1", "tx-1", 0), OpType::Fail, vec![send(1, 0, 0)]);
        txn(&mut h, ("p1", "tx-1", 1), OpType::Ok, vec![send(1, 0, 2)]);
        read(&mut h, "c1", &[(0, 0, 1), (0, 2, 1)], RU);
        read(&mut h, "c2", &[(0, 2, 1)], RC);
        assert_eq!(found(&h), vec![]);
        // Read at two offsets by a read_committed reader: a duplicate.
        read(&mut h, "c2", &[(0, 0, 1)], RC);
        assert_eq!(found(&h).len(), 1);
    }

    #[test]
    fn plain_values_are_the_plain_checkers() {
        let mut h = History::default();
        plain_send(&mut h, "p1", 1, "all", 0, 0);
        read(&mut h, "c1", &[(0, 3, 1)], RC);
        txn(&mut h, ("p2", "tx-2", 0), OpType::Ok, vec![send(2, 1, 0)]);
        assert_eq!(found(&h), vec![]);
        let plain = crate::checkers::duplicate::check(&h, &Promises::default());
        assert_eq!(plain.len(), 1, "{plain:?}");
    }
}

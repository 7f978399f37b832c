//! torn-transaction: a reader saw some but not all of a committed transaction's writes,
//! though it read past every one of them.
//!
//! Source: the torn transactions of "Jepsen: Bufstream 0.1.0" (a commit marker that
//! commits part of a transaction). A read_committed reader reads each partition in offset
//! order up to the last stable offset, and a committed transaction's records are all
//! below it once any is: so a reader that, for each partition the transaction wrote, read
//! an offset above the transaction's write there (in an assignment that started at or
//! below it) must have seen every write. It saw some (anywhere) and missed others: torn.
//! A read_uncommitted reader is promised no atomicity (its miss is lost-write's matter):
//! allowed. A missed record that a loss cut (the excuse pass decides) explains it.

use super::super::view::name;
use super::super::{Anomaly, AnomalyKind, Promises, Verdict};
use super::index::{isolation_name, Outcome, TxnIndex, Write, Writer};
use kafka_model::txn::IsolationLevel;
use std::collections::BTreeSet;

/// What a reader shows of one write: seen (at this history index) or read past without
/// it (at this index, at this isolation).
enum Shown {
    Seen(u64),
    Missed(u64, IsolationLevel),
}

fn shown(index: &TxnIndex<'_>, reader: &str, txn: usize, write: &Write<'_>) -> Option<Shown> {
    let theirs = |r: &&super::index::Read<'_>| r.process == reader && r.txn != Some(txn);
    if let Some(read) = index
        .reads
        .iter()
        .filter(theirs)
        .find(|r| r.value == write.value)
    {
        return Some(Shown::Seen(read.index));
    }
    let spans = index.spans.get(&(reader, write.partition))?;
    spans.iter().find_map(|span| {
        let reads: Vec<_> = span.reads.iter().map(|at| &index.reads[*at]).collect();
        let start = span.assigned.or(reads.first().map(|r| r.offset))?;
        if start > write.offset {
            return None;
        }
        let past = reads.iter().find(|r| r.offset > write.offset)?;
        Some(Shown::Missed(past.index, past.isolation))
    })
}

pub fn check(index: &TxnIndex<'_>, promises: &Promises) -> Vec<Anomaly> {
    let readers: BTreeSet<&str> = index.spans.keys().map(|(reader, _)| *reader).collect();
    let mut anomalies = Vec::new();
    for (id, txn) in index.txns.iter().enumerate() {
        if txn.outcome != Outcome::Committed {
            continue;
        }
        let writes: Vec<&Write<'_>> = index
            .writes
            .iter()
            .filter(|w| w.writer == Writer::Txn(id))
            .collect();
        if writes.len() < 2 {
            continue;
        }
        for reader in &readers {
            let shows: Option<Vec<Shown>> =
                writes.iter().map(|w| shown(index, reader, id, w)).collect();
            let Some(shows) = shows else {
                continue;
            };
            let missed: Vec<(&Write<'_>, u64, IsolationLevel)> = writes
                .iter()
                .zip(&shows)
                .filter_map(|(w, s)| match s {
                    Shown::Missed(at, isolation) => Some((*w, *at, *isolation)),
                    Shown::Seen(_) => None,
                })
                .collect();
            if missed.is_empty() || missed.len() == writes.len() {
                continue;
            }
            let shown_at = shows.iter().map(|s| match s {
                Shown::Seen(at) | Shown::Missed(at, _) => *at,
            });
            let at = shown_at.max().unwrap_or(txn.index);
            let isolation = if missed.iter().all(|m| m.2 == IsolationLevel::ReadCommitted) {
                IsolationLevel::ReadCommitted
            } else {
                IsolationLevel::ReadUncommitted
            };
            let verdict = match isolation {
                IsolationLevel::ReadCommitted => promises.unless_loss_excused(
                    "read_committed: Kafka promises a committed transaction is seen whole",
                ),
                IsolationLevel::ReadUncommitted => (
                    Verdict::Allowed,
                    "read_uncommitted is promised no atomicity",
                ),
            };
            let listed: Vec<String> = missed
                .iter()
                .map(|(w, _, _)| {
                    format!("{} at {} offset {}", w.value, name(&w.partition), w.offset)
                })
                .collect();
            let mut anomaly = Anomaly::new(
                AnomalyKind::TornTransaction,
                verdict,
                format!(
                    "{reader} ({}) read past all {} writes of {} but saw only {}: missed {}",
                    isolation_name(isolation),
                    writes.len(),
                    txn.name(),
                    writes.len() - missed.len(),
                    listed.join(", ")
                ),
                missed.iter().map(|(w, _, _)| w.value).collect(),
                at,
            )
            .unless_loss_explains();
            for (w, _, _) in &missed {
                anomaly = anomaly.involving(w.partition.0, w.partition.1, vec![w.offset]);
            }
            anomalies.push(anomaly);
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use super::*;
    use crate::history::{History, OpType};

    fn found(h: &History) -> Vec<Anomaly> {
        check(&TxnIndex::of(h), &Promises::default())
    }

    /// tx-1 writes 1 at t/0 offset 0 and 2 at t/1 offset 0; tx-2 writes 3 after each. The
    /// reader reads partition 0 whole and, of partition 1, `p1`.
    fn history(p1: &[(u32, u64, u64)], isolation: kafka_model::txn::IsolationLevel) -> History {
        let mut h = History::default();
        txn(
            &mut h,
            ("p1", "tx-1", 0),
            OpType::Ok,
            vec![send(1, 0, 0), send(2, 1, 0)],
        );
        txn(
            &mut h,
            ("p2", "tx-2", 0),
            OpType::Ok,
            vec![send(3, 0, 2), send(4, 1, 2)],
        );
        assign(&mut h, "c1", 1, 0);
        read(&mut h, "c1", &[(0, 0, 1), (0, 2, 3)], isolation);
        read(&mut h, "c1", p1, isolation);
        h
    }

    #[test]
    fn reading_past_both_writes_seeing_one_is_a_torn_transaction() {
        let found = found(&history(&[(1, 2, 4)], RC));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::TornTransaction);
        assert_eq!(
            (found[0].verdict, &found[0].values),
            (Verdict::Violation, &vec![2])
        );
        assert!(found[0].excusable && found[0].detail.contains("tx-1 epoch 0"));
        let found = super::check(
            &TxnIndex::of(&history(&[(1, 2, 4)], RU)),
            &Promises::default(),
        );
        assert_eq!(found[0].verdict, Verdict::Allowed);
    }

    #[test]
    fn a_whole_transaction_or_a_reader_not_yet_past_it_is_not_torn() {
        assert_eq!(found(&history(&[(1, 0, 2), (1, 2, 4)], RC)), vec![]);
        assert_eq!(found(&history(&[], RC)), vec![]);
    }
}

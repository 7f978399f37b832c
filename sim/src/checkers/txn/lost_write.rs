//! lost-write (of a committed transaction): a committed transaction's write is gone from
//! a consumer's final view of its partition. The kind is `lost-write`, the plain
//! checker's (`checkers::lost_write`): the same loss, of a transaction's write rather than
//! a plain send's, so reports and expectations name one kind.
//!
//! Source: `lost-write-cases` of Jepsen's Kafka workload (jepsen.tests.kafka), which
//! counts `ok` transactions' writes (and `info` ones seen, which this leaves to the
//! other checks). As the plain checker: the final view of a partition is each reader's
//! last assignment of it; the write of v at (p, o) is lost if some reader's last
//! assignment started at or below o and read another value at o, or an offset above o,
//! but never v at o. Either isolation level returns a committed record below what it
//! read, and a transactional producer writes with acks=all: Kafka promises it survives,
//! unless a loss the configuration allows (async flush, unclean election) cut it.

use super::super::view::name;
use super::super::{Anomaly, AnomalyKind, Promises};
use super::index::{Outcome, Read, Span, TxnIndex, Writer};

/// Where `span` shows that `value` is not at `offset`: the history index and what it read.
fn misses(index: &TxnIndex<'_>, span: &Span, offset: u64, value: u64) -> Option<(u64, String)> {
    let reads: Vec<&Read<'_>> = span.reads.iter().map(|at| &index.reads[*at]).collect();
    let start = span.assigned.or(reads.first().map(|r| r.offset))?;
    if start > offset || reads.iter().any(|r| r.offset == offset && r.value == value) {
        return None;
    }
    if let Some(other) = reads.iter().find(|r| r.offset == offset) {
        return Some((other.index, format!("read value {} there", other.value)));
    }
    let past = reads.iter().find(|r| r.offset > offset)?;
    Some((past.index, format!("read on to offset {}", past.offset)))
}

pub fn check(index: &TxnIndex<'_>, promises: &Promises) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for write in &index.writes {
        let Writer::Txn(id) = write.writer else {
            continue;
        };
        let txn = &index.txns[id];
        if txn.outcome != Outcome::Committed {
            continue;
        }
        let evidence = index
            .spans
            .iter()
            .filter(|((_, partition), _)| *partition == write.partition)
            .filter_map(|((reader, _), spans)| {
                let last = spans.last()?;
                misses(index, last, write.offset, write.value).map(|m| (m, *reader))
            })
            .min_by_key(|((at, _), _)| *at);
        let Some(((at, what), reader)) = evidence else {
            continue;
        };
        let anomaly = Anomaly::new(
            AnomalyKind::LostWrite,
            promises.unless_loss_excused(
                "a committed transaction's writes survive: its producer writes with acks=all",
            ),
            format!(
                "{} committed value {} at {} offset {}, but {reader}'s last assignment {what} \
                 without it",
                txn.name(),
                write.value,
                name(&write.partition),
                write.offset,
            ),
            vec![write.value],
            at,
        );
        anomalies.push(anomaly.unless_loss_explains().involving(
            write.partition.0,
            write.partition.1,
            vec![write.offset],
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

    fn found(h: &History) -> Vec<Anomaly> {
        check(&TxnIndex::of(h), &Promises::default())
    }

    fn history(outcome: OpType, read_back: &[(u32, u64, u64)]) -> History {
        let mut h = History::default();
        txn(
            &mut h,
            ("p1", "tx-1", 0),
            outcome,
            vec![send(1, 0, 0), send(2, 0, 1)],
        );
        plain_send(&mut h, "p2", 3, "all", 0, 3);
        assign(&mut h, "c1", 0, 0);
        read(&mut h, "c1", read_back, RC);
        h
    }

    #[test]
    fn a_committed_write_read_past_in_the_last_assignment_is_lost() {
        let lost = found(&history(OpType::Ok, &[(0, 0, 1), (0, 3, 3)]));
        assert_eq!(lost.len(), 1, "{lost:?}");
        assert_eq!(
            (lost[0].kind, lost[0].verdict),
            (AnomalyKind::LostWrite, Verdict::Violation)
        );
        assert_eq!((lost[0].values.clone(), lost[0].excusable), (vec![2], true));
        assert!(
            lost[0].detail.contains("read on to offset 3"),
            "{}",
            lost[0].detail
        );
        let other = found(&history(OpType::Ok, &[(0, 0, 1), (0, 1, 7)]));
        assert!(
            other[0].detail.contains("read value 7 there"),
            "{}",
            other[0].detail
        );
    }

    #[test]
    fn a_read_whole_or_an_uncommitted_transaction_loses_nothing() {
        assert_eq!(
            found(&history(OpType::Ok, &[(0, 0, 1), (0, 1, 2), (0, 3, 3)])),
            vec![]
        );
        assert_eq!(found(&history(OpType::Fail, &[(0, 3, 3)])), vec![]);
        assert_eq!(found(&history(OpType::Info, &[(0, 3, 3)])), vec![]);
    }
}

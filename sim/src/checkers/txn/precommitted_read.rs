//! precommitted-read: a consumer read a transaction's write before that transaction could
//! have committed.
//!
//! Source: `precommitted-read-cases` of Jepsen's Kafka workload (jepsen.tests.kafka): a
//! transaction that polled its own writes. In Kafka's model a transaction's records are
//! invisible to every read_committed poller until it commits, so a transaction cannot
//! read its own sends at read_committed (at read_uncommitted it may).
//!
//! The second form, from the time of the history: a read_committed poll that completed
//! before its writer's commit was even sent. The history has no separate commit-invoke
//! entry; the commit is sent after the transaction's invoke, so a poll completed strictly
//! before the writer's invoke (`time_ms`, global simulated time) read it before its commit
//! was sent. That bound never cries wolf (a poll completed between the invoke and the
//! commit's answer may have come after the commit) and catches only the gross case.

use super::super::view::name;
use super::super::{Anomaly, AnomalyKind, Verdict};
use super::index::{by_isolation, isolation_name, Read, TxnIndex};
use kafka_model::txn::IsolationLevel;

pub fn check(index: &TxnIndex<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for read in &index.reads {
        let Some((id, writer)) = index.txn_writer(read.value) else {
            continue;
        };
        if read.txn == Some(id) {
            let verdict = by_isolation(
                read.isolation,
                "read_uncommitted reads open transactions, its own too",
                "read_committed: a transaction's records are invisible until it commits",
            );
            let detail = format!(
                "{} ({}) polled {}, its own write, inside the transaction",
                writer.name(),
                isolation_name(read.isolation),
                position(read),
            );
            anomalies.push(Anomaly::new(
                AnomalyKind::PrecommittedRead,
                verdict,
                detail,
                vec![read.value],
                read.index,
            ));
            continue;
        }
        let before_invoke = writer.invoke_ms.is_some_and(|invoke| read.time_ms < invoke);
        if read.isolation == IsolationLevel::ReadCommitted && before_invoke {
            let detail = format!(
                "{} (read_committed) read {} at {} ms, before {} began at {} ms",
                read.process,
                position(read),
                read.time_ms,
                writer.name(),
                writer.invoke_ms.unwrap_or_default(),
            );
            anomalies.push(Anomaly::new(
                AnomalyKind::PrecommittedRead,
                (
                    Verdict::Violation,
                    "read_committed: a transaction's records are invisible until it commits",
                ),
                detail,
                vec![read.value],
                read.index,
            ));
        }
    }
    anomalies
}

fn position(read: &Read<'_>) -> String {
    format!(
        "value {} at {} offset {}",
        read.value,
        name(&read.partition),
        read.offset
    )
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use super::*;
    use crate::history::{History, OpType};

    fn found(h: &History) -> Vec<Anomaly> {
        check(&TxnIndex::of(h))
    }

    fn own_read(isolation: kafka_model::txn::IsolationLevel, own: bool) -> History {
        let mut h = History::default();
        txn(&mut h, ("p0", "tx-0", 0), OpType::Ok, vec![send(9, 0, 0)]);
        let polled = if own { 1 } else { 9 };
        let offset = if own { 1 } else { 0 };
        let mops = vec![send(1, 0, 1), poll(&[(0, offset, polled)], isolation)];
        txn(&mut h, ("p1", "tx-1", 0), OpType::Ok, mops);
        h
    }

    #[test]
    fn a_transaction_reading_its_own_write_at_read_committed_is_a_violation() {
        let found = found(&own_read(RC, true));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::PrecommittedRead);
        assert_eq!((found[0].verdict, found[0].index), (Verdict::Violation, 3));
        assert_eq!(found_verdicts(&own_read(RU, true)), vec![Verdict::Allowed]);
    }

    #[test]
    fn reading_another_committed_transaction_is_fine() {
        assert_eq!(found(&own_read(RC, false)), vec![]);
    }

    fn found_verdicts(h: &History) -> Vec<Verdict> {
        found(h).iter().map(|a| a.verdict).collect()
    }

    #[test]
    fn a_read_committed_poll_done_before_its_writer_began_is_a_violation() {
        let mut h = History::default();
        read(&mut h, "c1", &[(0, 0, 1)], RC); // ok at time 1
        txn(&mut h, ("p1", "tx-1", 0), OpType::Ok, vec![send(1, 0, 0)]); // invoked at 2
        let found = found(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert!(
            found[0].detail.contains("at 1 ms, before tx-1"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn a_poll_after_the_writer_began_or_at_read_uncommitted_is_not_judged_by_time() {
        let mut h = History::default();
        begin(&mut h, ("p1", "tx-1", 0), &[send(1, 0, 0)]);
        read(&mut h, "c1", &[(0, 0, 1)], RC); // during the transaction: maybe committed
        end(&mut h, ("p1", "tx-1", 0), OpType::Ok, vec![send(1, 0, 0)]);
        assert_eq!(found(&h), vec![]);
        let mut h = History::default();
        read(&mut h, "c1", &[(0, 0, 1)], RU);
        txn(&mut h, ("p1", "tx-1", 0), OpType::Ok, vec![send(1, 0, 0)]);
        assert_eq!(found(&h), vec![]);
    }
}

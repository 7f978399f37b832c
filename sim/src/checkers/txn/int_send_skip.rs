//! int-send-skip: a committed transaction's successive sends to a partition landed with
//! another writer's record between them.
//!
//! Source: `int-send-skip+nonmonotonic-cases` of Jepsen's Kafka workload
//! (jepsen.tests.kafka). As for int-poll-skip, offsets have holes (markers), so the skip is
//! shown by a record known at an offset between the two sends (read there, or written
//! there durably) that is not the transaction's own. Kafka keeps one transactional id's
//! transactions apart (they run one at a time: a new epoch fences the old), so a record
//! of the same transactional id in between is a violation; the records of other
//! transactional ids and of plain producers interleave with a transaction's by design
//! (Kafka's maintainers' answer to "Jepsen: Bufstream 0.1.0"): allowed.

use super::super::view::name;
use super::super::{Anomaly, AnomalyKind, Verdict};
use super::index::{Outcome, TxnIndex, Writer};
use std::collections::BTreeMap;

pub fn check(index: &TxnIndex<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for (id, txn) in index.txns.iter().enumerate() {
        if txn.outcome != Outcome::Committed {
            continue;
        }
        let mut by_partition: BTreeMap<_, Vec<u64>> = BTreeMap::new();
        for send in txn.value.sends() {
            if let (Some(p), Some(o)) = (send.partition, send.offset) {
                by_partition
                    .entry((send.topic.as_str(), p))
                    .or_default()
                    .push(o);
            }
        }
        for (partition, offsets) in by_partition {
            for pair in offsets.windows(2) {
                let (before, after) = (pair[0], pair[1]);
                // (value, writer's name, same transactional id)
                let others: Vec<(u64, String, bool)> = index
                    .known_between(partition, before, after)
                    .into_values()
                    .flatten()
                    .filter_map(|value| match index.writer_of.get(&value) {
                        Some(Writer::Txn(other)) if *other == id => None,
                        Some(Writer::Txn(other)) => {
                            let other = &index.txns[*other];
                            let same = other.transactional_id == txn.transactional_id;
                            Some((value, other.name(), same))
                        }
                        Some(Writer::Plain) | None => Some((value, "a plain send".into(), false)),
                    })
                    .collect();
                if others.is_empty() {
                    continue;
                }
                let verdict = if others.iter().any(|(_, _, same)| *same) {
                    (
                        Verdict::Violation,
                        "transactions of one transactional id never interleave",
                    )
                } else {
                    (
                        Verdict::Allowed,
                        "Kafka interleaves other producers' records with a transaction's",
                    )
                };
                let listed: Vec<String> = others
                    .iter()
                    .map(|(value, writer, _)| format!("{value} of {writer}"))
                    .collect();
                anomalies.push(Anomaly::new(
                    AnomalyKind::IntSendSkip,
                    verdict,
                    format!(
                        "{} sent to {} offsets {before} then {after}, with {} between",
                        txn.name(),
                        name(&partition),
                        listed.join(", ")
                    ),
                    others.iter().map(|(value, _, _)| *value).collect(),
                    txn.index,
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
    use crate::history::{History, OpType};

    fn found(h: &History) -> Vec<Anomaly> {
        check(&TxnIndex::of(h))
    }

    /// tx-1 epoch 0 sends 1 and 2 to offsets 0 and 2 (or 0 and 1), `between` writes 9 at 1.
    fn history(between: By<'_>, gap: bool) -> History {
        let mut h = History::default();
        let second = if gap { 2 } else { 1 };
        begin(
            &mut h,
            ("p1", "tx-1", 0),
            &[send(1, 0, 0), send(2, 0, second)],
        );
        if gap {
            txn(&mut h, between, OpType::Fail, vec![send(9, 0, 1)]);
            read(&mut h, "c1", &[(0, 1, 9)], RU);
        }
        end(
            &mut h,
            ("p1", "tx-1", 0),
            OpType::Ok,
            vec![send(1, 0, 0), send(2, 0, second)],
        );
        h
    }

    #[test]
    fn another_transactional_ids_record_between_a_transactions_sends_is_allowed() {
        let found = found(&history(("p2", "tx-2", 0), true));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].kind, found[0].verdict),
            (AnomalyKind::IntSendSkip, Verdict::Allowed)
        );
        assert_eq!(found[0].values, vec![9]);
    }

    #[test]
    fn the_same_transactional_ids_record_between_them_is_a_violation() {
        let found = found(&history(("p9", "tx-1", 1), true));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert!(
            found[0].detail.contains("9 of tx-1 epoch 1"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn adjacent_sends_or_a_bare_offset_gap_are_no_skip() {
        assert_eq!(found(&history(("p2", "tx-2", 0), false)), vec![]);
        let mut h = History::default();
        txn(
            &mut h,
            ("p1", "tx-1", 0),
            OpType::Ok,
            vec![send(1, 0, 0), send(2, 0, 2)],
        );
        assert_eq!(found(&h), vec![]);
    }
}

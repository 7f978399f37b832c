//! `hanging-transaction`: a read_committed consumer still held at a partition's last
//! stable offset, below its high watermark, when the liveness phase ends with every
//! producer finished. A transaction is open there that no producer and no coordinator
//! is left to end (KIP-890's hanging transaction; in Kafka an operator aborts it with
//! KIP-664's tools). Kafka promises none after a heal: every transaction commits or
//! aborts, by its producer, by a successor's InitProducerId or by the coordinator's
//! timeout. Only a lost commit or abort marker on that partition, or a lost
//! `__transaction_state` entry of a transactional id that wrote to it, explains one (a
//! power loss with async flush); the excuse pass looks for such a loss.

use super::{Anomaly, AnomalyKind, LossScope, Verdict};
use crate::history::{History, Operation};
use crate::liveness_phase::HangingTransaction;
use std::collections::BTreeSet;

/// Why a hanging transaction is a violation.
const PROMISE: &str = "every transaction ends once the cluster heals (by its producer, a \
                       successor's InitProducerId or the coordinator's timeout), so a \
                       read_committed consumer reaches the high watermark";

/// One anomaly per consumer and partition held, at the end of the history.
pub fn check(hanging: &[HangingTransaction], history: &History) -> Vec<Anomaly> {
    let end = history.entries.len() as u64;
    hanging
        .iter()
        .map(|h| {
            let tp = &h.held.tp;
            let detail = format!(
                "{} waits at the last stable offset {} of {tp}, below its high watermark {}, \
                 {}ms after the heal, with every producer done",
                h.consumer, h.held.last_stable_offset.0, h.held.high_watermark.0, h.after_heal_ms
            );
            let mut anomaly = Anomaly::new(
                AnomalyKind::HangingTransaction,
                (Verdict::Violation, PROMISE),
                detail,
                Vec::new(),
                end,
            )
            .unless_loss_explains();
            anomaly.scope.push(LossScope::TxnMarkers {
                topic: tp.topic.clone(),
                partition: tp.partition,
            });
            for id in writers_of(history, &tp.topic, tp.partition) {
                anomaly.scope.push(LossScope::TxnState {
                    transactional_id: id,
                });
            }
            anomaly
        })
        .collect()
}

/// The transactional ids whose transactions sent to the partition, or to its topic where
/// the send's partition is unknown (a send that never completed).
fn writers_of(history: &History, topic: &str, partition: u32) -> BTreeSet<String> {
    history
        .entries
        .iter()
        .filter_map(|entry| match &entry.op {
            Operation::Txn(txn) => Some(txn),
            _ => None,
        })
        .filter(|txn| {
            txn.sends()
                .any(|s| s.topic == topic && s.partition.is_none_or(|p| p == partition))
        })
        .map(|txn| txn.transactional_id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::Promises;
    use crate::excuse::{apply, StatePartitions};
    use crate::history::{Mop, OpType, SendValue, TxnValue};
    use crate::invariants::losses::{LossCause, LossLedger, LostRecords};
    use kafka_model::consumer::HeldPartition;
    use kafka_model::ids::{BrokerId, Offset, TopicPartition};
    use kafka_model::txn::MARKER_VALUE_BIT;

    fn held(partition: u32) -> HangingTransaction {
        HangingTransaction {
            consumer: "consumer-1".into(),
            held: HeldPartition {
                tp: TopicPartition::new("tasks", partition),
                last_stable_offset: Offset(4),
                high_watermark: Offset(9),
            },
            after_heal_ms: 30_000,
        }
    }

    fn history_with_txn(partition: u32) -> History {
        let mut history = History::default();
        let send = SendValue {
            topic: "tasks".into(),
            key: None,
            value: 7,
            acks: "all".into(),
            partition: Some(partition),
            offset: Some(4),
            error: None,
        };
        let txn = TxnValue {
            transactional_id: "tx-1".into(),
            producer_epoch: Some(0),
            mops: vec![Mop::Send(send)],
            group: None,
            offsets: Vec::new(),
            error: None,
        };
        history.push(10, "producer-1", OpType::Ok, Operation::Txn(txn));
        history
    }

    fn loss(topic: &str, partition: u32, value: u64) -> LostRecords {
        LostRecords {
            tp: TopicPartition::new(topic, partition),
            broker: BrokerId(1),
            records: vec![(4, value)],
            cause: LossCause::PowerLoss,
            chain: Vec::new(),
        }
    }

    fn async_flush() -> Promises {
        Promises {
            async_flush: true,
            ..Promises::default()
        }
    }

    const STATE: StatePartitions = StatePartitions {
        offsets_topic: 1,
        txn_state_topic: 1,
    };

    #[test]
    fn a_held_consumer_is_a_violation_naming_the_partition_and_its_writers() {
        let anomalies = check(&[held(1)], &history_with_txn(1));
        assert_eq!(anomalies.len(), 1);
        let anomaly = &anomalies[0];
        assert_eq!(anomaly.kind, AnomalyKind::HangingTransaction);
        assert_eq!(anomaly.verdict, Verdict::Violation);
        assert!(anomaly.detail.contains("tasks-1"), "{}", anomaly.detail);
        assert!(anomaly.scope.contains(&LossScope::TxnState {
            transactional_id: "tx-1".into()
        }));
        // A transaction that wrote elsewhere is not a writer of this partition.
        let elsewhere = check(&[held(1)], &history_with_txn(0));
        assert!(!elsewhere[0]
            .scope
            .iter()
            .any(|s| matches!(s, LossScope::TxnState { .. })));
    }

    #[test]
    fn only_a_lost_marker_on_the_partition_or_its_writers_state_excuses_it() {
        let history = history_with_txn(1);
        let excused_by = |lost: LostRecords| {
            let mut ledger = LossLedger::default();
            ledger.losses.push(lost);
            let mut anomalies = check(&[held(1)], &history);
            apply(&mut anomalies, &ledger, &async_flush(), STATE);
            anomalies[0].verdict
        };
        assert_eq!(
            excused_by(loss("tasks", 1, MARKER_VALUE_BIT | 3)),
            Verdict::Allowed
        );
        let state_topic = kafka_model::txn::TRANSACTION_STATE_TOPIC;
        assert_eq!(excused_by(loss(state_topic, 0, 5)), Verdict::Allowed);
        // A marker lost on another partition, or a data record lost here, explains nothing.
        assert_eq!(
            excused_by(loss("tasks", 0, MARKER_VALUE_BIT | 3)),
            Verdict::Violation
        );
        assert_eq!(excused_by(loss("tasks", 1, 3)), Verdict::Violation);
    }
}

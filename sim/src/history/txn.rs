//! The transactional operation of the history: one Kafka transaction of a transactional
//! producer (`f` "txn"), with its sends and, for a consume-transform-produce loop, the
//! polls it made and the offsets it committed with it, in Jepsen's transactional shape.
//!
//! One ok line (an `invoke` line carries the planned sends, no positions, no offsets):
//!
//! ```json
//! {"index":9,"time_ms":40,"process":"txn-producer-1","type":"ok","f":"txn","value":{"transactional_id":"tx-1","producer_epoch":0,"mops":[{"f":"poll","records":[{"topic":"in","partition":0,"offset":3,"key":null,"value":7}],"isolation":"read_committed"},{"f":"send","topic":"out","key":null,"value":70,"acks":"all","partition":1,"offset":12}],"group":"g","offsets":[{"topic":"in","partition":0,"offset":4}]}}
//! ```
//!
//! The types: `invoke` when the transaction begins; `ok` once EndTxn(commit) succeeded
//! (the sends carry the partition and offset they were written at); `fail` when it is
//! definitely not committed (aborted, or refused before any write could commit); `info`
//! when nobody knows (the commit's answer was lost, the producer crashed or was fenced
//! mid-commit).

use super::{CommittedOffset, SendValue};
use kafka_model::effect::ObservedRecord;
use kafka_model::txn::IsolationLevel;
use serde::{Deserialize, Serialize};

/// The value of a `txn` operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnValue {
    pub transactional_id: String,
    /// The producer's epoch, known once InitProducerId answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_epoch: Option<u16>,
    /// The micro-operations, in program order.
    #[serde(default)]
    pub mops: Vec<Mop>,
    /// The group whose offsets the transaction commits (sendOffsetsToTransaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offsets: Vec<CommittedOffset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One micro-operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "lowercase")]
pub enum Mop {
    /// A record sent inside the transaction.
    Send(SendValue),
    /// What a poll inside the transaction returned, in order. `isolation` is the
    /// consumer's `isolation.level` (absent: read_uncommitted, Kafka's default).
    Poll {
        #[serde(default)]
        records: Vec<ObservedRecord>,
        #[serde(default, skip_serializing_if = "is_read_uncommitted")]
        isolation: IsolationLevel,
    },
}

/// For `skip_serializing_if`: Kafka's default isolation is left out, so a history with no
/// transactions reads and writes as it did before isolation was recorded.
pub fn is_read_uncommitted(isolation: &IsolationLevel) -> bool {
    *isolation == IsolationLevel::ReadUncommitted
}

impl TxnValue {
    /// The sends, in program order.
    pub fn sends(&self) -> impl Iterator<Item = &SendValue> {
        self.mops.iter().filter_map(|mop| match mop {
            Mop::Send(send) => Some(send),
            Mop::Poll { .. } => None,
        })
    }

    /// The records polled, in program order, each with its poll's isolation.
    pub fn polled(&self) -> impl Iterator<Item = (&ObservedRecord, IsolationLevel)> {
        self.mops.iter().flat_map(|mop| {
            let (records, isolation): (&[ObservedRecord], IsolationLevel) = match mop {
                Mop::Poll { records, isolation } => (records, *isolation),
                Mop::Send(_) => (&[], IsolationLevel::ReadUncommitted),
            };
            records.iter().map(move |record| (record, isolation))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{History, HistoryEntry, OpType, Operation, PollValue};
    use super::*;

    fn committed() -> TxnValue {
        TxnValue {
            transactional_id: "tx-1".into(),
            producer_epoch: Some(0),
            mops: vec![
                Mop::Poll {
                    records: vec![ObservedRecord {
                        topic: "in".into(),
                        partition: 0,
                        offset: 3,
                        key: None,
                        value: 7,
                    }],
                    isolation: IsolationLevel::ReadCommitted,
                },
                Mop::Send(SendValue {
                    topic: "out".into(),
                    key: None,
                    value: 70,
                    acks: "all".into(),
                    partition: Some(1),
                    offset: Some(12),
                    error: None,
                }),
            ],
            group: Some("g".into()),
            offsets: vec![CommittedOffset {
                topic: "in".into(),
                partition: 0,
                offset: 4,
            }],
            error: None,
        }
    }

    #[test]
    fn a_txn_line_has_the_documented_shape_and_round_trips() {
        let mut history = History::default();
        for _ in 0..9 {
            history.push(
                0,
                "x",
                OpType::Invoke,
                Operation::Poll(PollValue::default()),
            );
        }
        history.push(
            40,
            "txn-producer-1",
            OpType::Ok,
            Operation::Txn(committed()),
        );
        let line = serde_json::to_string(&history.entries[9]).unwrap();
        let documented = include_str!("txn.rs")
            .lines()
            .find(|l| l.starts_with("//! {\"index\":9"))
            .unwrap()
            .trim_start_matches("//! ");
        assert_eq!(line, documented);
        let back: HistoryEntry = serde_json::from_str(&line).unwrap();
        assert_eq!(back, history.entries[9]);
    }

    #[test]
    fn polls_keep_todays_shape_unless_read_committed() {
        let plain = Operation::Poll(PollValue::default());
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"f":"poll","value":{"records":[]}}"#
        );
        let read_committed = Operation::Poll(PollValue {
            isolation: IsolationLevel::ReadCommitted,
            ..PollValue::default()
        });
        let line = serde_json::to_string(&read_committed).unwrap();
        assert_eq!(
            line,
            r#"{"f":"poll","value":{"records":[],"isolation":"read_committed"}}"#
        );
        assert_eq!(
            serde_json::from_str::<Operation>(&line).unwrap(),
            read_committed
        );
        // A line written before isolation was recorded reads as read_uncommitted.
        let old: Operation =
            serde_json::from_str(r#"{"f":"poll","value":{"records":[]}}"#).unwrap();
        assert_eq!(old, plain);
    }

    #[test]
    fn an_invoke_with_planned_sends_only_round_trips_and_bad_input_is_an_error() {
        let mut planned = committed();
        planned.mops.remove(0);
        planned.offsets.clear();
        planned.group = None;
        planned.producer_epoch = None;
        let line = serde_json::to_string(&Operation::Txn(planned.clone())).unwrap();
        assert!(
            !line.contains("offsets") && !line.contains("epoch"),
            "{line}"
        );
        assert_eq!(
            serde_json::from_str::<Operation>(&line).unwrap(),
            Operation::Txn(planned)
        );
        let bad = r#"{"f":"txn","value":{"transactional_id":"t","mops":[{"f":"peek"}]}}"#;
        assert!(serde_json::from_str::<Operation>(bad).is_err());
    }
}

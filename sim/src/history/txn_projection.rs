//! The transactional part of the projection: a producer's transaction becomes one `txn`
//! operation, invoked when it begins (with the sends its application planned) and
//! completed when the producer learns its end (with where each send was written). A
//! consume-transform-produce loop reports what it polled just before it begins: the polls
//! come first in the transaction's micro-operations, as in Jepsen's.

use super::txn::{Mop, TxnValue};
use super::{CommittedOffset, OpType, Operation, SendValue};
use kafka_model::effect::TxnObservation;
use kafka_model::ids::TopicPartition;
use kafka_model::producer::TxnOutcome;
use std::collections::BTreeMap;

/// Each process's open transaction, as its `invoke` left it.
#[derive(Clone, Debug, Default)]
pub struct TxnProjection {
    open: BTreeMap<String, TxnValue>,
    /// What each process polled for the transaction it is about to begin.
    polled: BTreeMap<String, Vec<Mop>>,
}

impl TxnProjection {
    /// The history operation for one transaction step of `process`, if it makes one
    /// (sending offsets only completes the open transaction's value).
    pub fn project(
        &mut self,
        process: &str,
        observation: TxnObservation,
        acks: &str,
    ) -> Option<(OpType, Operation)> {
        match observation {
            TxnObservation::Begin {
                transactional_id,
                producer_epoch,
                sends,
            } => {
                let polls = self.polled.remove(process).unwrap_or_default();
                let mops = polls
                    .into_iter()
                    .chain(sends.into_iter().map(|s| {
                        Mop::Send(SendValue {
                            topic: s.topic,
                            key: s.key,
                            value: s.value,
                            acks: acks.to_string(),
                            partition: None,
                            offset: None,
                            error: None,
                        })
                    }))
                    .collect();
                let value = TxnValue {
                    transactional_id,
                    producer_epoch,
                    mops,
                    group: None,
                    offsets: Vec::new(),
                    error: None,
                };
                self.open.insert(process.to_string(), value.clone());
                Some((OpType::Invoke, Operation::Txn(value)))
            }
            TxnObservation::Polled { records, isolation } => {
                // Jepsen's order: the transaction's polls, then its sends.
                self.polled
                    .entry(process.to_string())
                    .or_default()
                    .push(Mop::Poll { records, isolation });
                None
            }
            TxnObservation::Offsets { group, offsets } => {
                let open = self.open.get_mut(process)?;
                open.group = Some(group);
                open.offsets = offsets
                    .into_iter()
                    .map(|(tp, offset)| CommittedOffset {
                        topic: tp.topic,
                        partition: tp.partition,
                        offset: offset.0,
                    })
                    .collect();
                None
            }
            TxnObservation::End { outcome, error } => {
                let mut value = self.open.remove(process)?;
                value.error = error;
                let op_type = match outcome {
                    TxnOutcome::Committed => OpType::Ok,
                    TxnOutcome::Aborted => OpType::Fail,
                    TxnOutcome::Unknown => OpType::Info,
                };
                Some((op_type, Operation::Txn(value)))
            }
        }
    }

    /// A send of `process` was acknowledged at `tp`/`offset`: if it belongs to the open
    /// transaction, its micro-operation learns where it went.
    pub fn acknowledged(
        &mut self,
        process: &str,
        value: u64,
        tp: &TopicPartition,
        offset: Option<u64>,
    ) {
        let Some(open) = self.open.get_mut(process) else {
            return;
        };
        for mop in &mut open.mops {
            if let Mop::Send(send) = mop {
                if send.value == value {
                    send.partition = Some(tp.partition);
                    send.offset = offset;
                }
            }
        }
    }
}

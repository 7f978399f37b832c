//! The history as a projection of the event log: each client observation becomes one
//! history entry in Jepsen's shape, completed with what the client said earlier (a send's
//! topic and key, which its acknowledgement does not repeat).

use super::txn_projection::TxnProjection;
use super::{
    AssignValue, AssignmentValue, CommitValue, CommittedOffset, HighWatermarkSeen, History, OpType,
    Operation, PartitionRef, PollValue, ProcessValue, SendValue, OFFSET_OUT_OF_RANGE,
};
use kafka_model::effect::{CommitObservation, Observation};
use kafka_model::ids::TopicPartition;
use kafka_model::txn::IsolationLevel;
use std::collections::BTreeMap;

/// Builds the history from the clients' observations, as they happen.
#[derive(Clone, Debug, Default)]
pub struct HistoryProjection {
    pub history: History,
    /// `acks` as the history writes it, on every send.
    acks: String,
    /// Topic and key of every value sent, to complete the history's `ok` entries.
    sends: BTreeMap<u64, (String, Option<String>)>,
    /// Each transactional producer's open transaction.
    txn: TxnProjection,
    /// Each consumer's isolation level, as its polls said.
    isolation: BTreeMap<String, IsolationLevel>,
}

impl HistoryProjection {
    pub fn new(acks: String) -> Self {
        HistoryProjection {
            acks,
            ..HistoryProjection::default()
        }
    }

    fn isolation_of(&self, process: &str) -> IsolationLevel {
        self.isolation.get(process).copied().unwrap_or_default()
    }

    /// The index the next entry will get (where the history stands now).
    pub fn next_index(&self) -> u64 {
        self.history.entries.len() as u64
    }

    fn send(&self, value: u64) -> SendValue {
        let (topic, key) = self.sends.get(&value).cloned().unwrap_or_default();
        SendValue {
            topic,
            key,
            value,
            acks: self.acks.clone(),
            partition: None,
            offset: None,
            error: None,
        }
    }

    /// Adds `process`'s observation at `time_ms` and returns its history index, if it
    /// made an entry (offsets sent to a transaction only complete the transaction's).
    pub fn project(
        &mut self,
        time_ms: u64,
        process: &str,
        observation: Observation,
    ) -> Option<u64> {
        let (op_type, op) = match observation {
            Observation::SendInvoke { topic, key, value } => {
                self.sends.insert(value, (topic, key));
                (OpType::Invoke, Operation::Send(self.send(value)))
            }
            Observation::SendOk { value, tp, offset } => {
                self.txn
                    .acknowledged(process, value, &tp, offset.map(|o| o.0));
                let mut send = self.send(value);
                send.partition = Some(tp.partition);
                send.offset = offset.map(|o| o.0);
                (OpType::Ok, Operation::Send(send))
            }
            Observation::SendFail { value, error } => {
                let mut send = self.send(value);
                send.error = Some(error);
                (OpType::Fail, Operation::Send(send))
            }
            Observation::SendInfo { value, error } => {
                let mut send = self.send(value);
                send.error = Some(error);
                (OpType::Info, Operation::Send(send))
            }
            Observation::PollInvoke { isolation, .. } => {
                self.isolation.insert(process.to_string(), isolation);
                let invoke = PollValue {
                    isolation,
                    ..poll(None)
                };
                (OpType::Invoke, Operation::Poll(invoke))
            }
            Observation::PollOk {
                records,
                high_watermarks,
            } => (
                OpType::Ok,
                Operation::Poll(PollValue {
                    records,
                    high_watermarks: high_watermarks
                        .into_iter()
                        .map(|(tp, hw)| HighWatermarkSeen {
                            topic: tp.topic,
                            partition: tp.partition,
                            high_watermark: hw.0,
                        })
                        .collect(),
                    error: None,
                    isolation: self.isolation_of(process),
                }),
            ),
            Observation::PollFail { error } => {
                let fail = PollValue {
                    isolation: self.isolation_of(process),
                    ..poll(Some(error))
                };
                (OpType::Fail, Operation::Poll(fail))
            }
            Observation::Assign { tp, offset, reason } => (
                OpType::Ok,
                Operation::Assign(AssignValue {
                    topic: tp.topic,
                    partition: tp.partition,
                    offset: offset.0,
                    reason,
                    from: None,
                    auto_offset_reset: None,
                }),
            ),
            Observation::OffsetReset {
                tp,
                from,
                to,
                policy,
            } => (
                OpType::Ok,
                Operation::Assign(AssignValue {
                    topic: tp.topic,
                    partition: tp.partition,
                    offset: to.0,
                    reason: OFFSET_OUT_OF_RANGE.to_string(),
                    from: Some(from.0),
                    auto_offset_reset: Some(format!("{policy:?}").to_lowercase()),
                }),
            ),
            Observation::GroupAssignment {
                group,
                member,
                generation,
                partitions,
            } => (
                OpType::Ok,
                Operation::Assignment(AssignmentValue {
                    group,
                    member,
                    generation,
                    partitions: partitions.into_iter().map(partition_ref).collect(),
                }),
            ),
            Observation::CommitInvoke(commit) => (OpType::Invoke, commit_op(commit, None)),
            Observation::CommitOk(commit) => (OpType::Ok, commit_op(commit, None)),
            Observation::CommitFail { commit, error } => {
                (OpType::Fail, commit_op(commit, Some(error)))
            }
            Observation::Process {
                group,
                member,
                generation,
                records,
            } => (
                OpType::Ok,
                Operation::Process(ProcessValue {
                    group,
                    member,
                    generation,
                    records,
                }),
            ),
            Observation::Refused(refusal) => super::refusal::project(refusal),
            Observation::Txn(txn) => self.txn.project(process, txn, &self.acks)?,
        };
        let index = self.next_index();
        self.history.push(time_ms, process, op_type, op);
        Some(index)
    }
}

fn poll(error: Option<String>) -> PollValue {
    PollValue {
        records: Vec::new(),
        high_watermarks: Vec::new(),
        error,
        isolation: IsolationLevel::default(),
    }
}

fn partition_ref(tp: TopicPartition) -> PartitionRef {
    PartitionRef {
        topic: tp.topic,
        partition: tp.partition,
    }
}

fn commit_op(commit: CommitObservation, error: Option<String>) -> Operation {
    Operation::Commit(CommitValue {
        group: commit.group,
        member: commit.member,
        generation: commit.generation,
        offsets: commit
            .offsets
            .into_iter()
            .map(|(tp, offset)| CommittedOffset {
                topic: tp.topic,
                partition: tp.partition,
                offset: offset.0,
            })
            .collect(),
        error,
    })
}

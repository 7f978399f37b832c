//! Turning a client's observation into a history entry and a trace line.

use super::{World, WorldState};
use crate::history::{
    AssignValue, AssignmentValue, CommitValue, CommittedOffset, HighWatermarkSeen, OpType,
    Operation, PartitionRef, PollValue, ProcessValue, SendValue, OFFSET_OUT_OF_RANGE,
};
use kafka_model::effect::{CommitObservation, Observation};
use kafka_model::ids::{NodeId, Offset, TopicPartition};

impl World {
    /// Turns a client's observation into a history entry (and a trace line).
    pub fn observe(&self, node: NodeId, observation: Observation) {
        let now = World::now_ms();
        let process = self.name(node);
        let mut state = self.lock();
        let state = &mut *state;
        let send = |state: &WorldState, value: u64| {
            let (topic, key) = state.sends.get(&value).cloned().unwrap_or_default();
            SendValue {
                topic,
                key,
                value,
                acks: self.acks.clone(),
                partition: None,
                offset: None,
                error: None,
            }
        };
        let (op_type, op) = match observation {
            Observation::SendInvoke { topic, key, value } => {
                state.sends.insert(value, (topic, key));
                state
                    .trace
                    .record(now, process, format_args!("send v{value}"));
                (OpType::Invoke, Operation::Send(send(state, value)))
            }
            Observation::SendOk { value, tp, offset } => {
                let mut v = send(state, value);
                v.partition = Some(tp.partition);
                v.offset = offset.map(|o| o.0);
                match offset {
                    Some(o) => {
                        state
                            .trace
                            .record(now, process, format_args!("ok v{value} {tp}@{}", o.0))
                    }
                    None => state
                        .trace
                        .record(now, process, format_args!("ok v{value} {tp}")),
                }
                (OpType::Ok, Operation::Send(v))
            }
            Observation::SendFail { value, error } => {
                state
                    .trace
                    .record(now, process, format_args!("fail v{value}: {error}"));
                let mut v = send(state, value);
                v.error = Some(error);
                (OpType::Fail, Operation::Send(v))
            }
            Observation::SendInfo { value, error } => {
                state
                    .trace
                    .record(now, process, format_args!("info v{value}: {error}"));
                let mut v = send(state, value);
                v.error = Some(error);
                (OpType::Info, Operation::Send(v))
            }
            Observation::PollInvoke { .. } => (
                OpType::Invoke,
                Operation::Poll(PollValue {
                    records: Vec::new(),
                    high_watermarks: Vec::new(),
                    error: None,
                }),
            ),
            Observation::PollOk {
                records,
                high_watermarks,
            } => {
                if !records.is_empty() {
                    let first = &records[0];
                    state.trace.record(
                        now,
                        process,
                        format_args!(
                            "poll {} records, first {}-{}@{}",
                            records.len(),
                            first.topic,
                            first.partition,
                            first.offset
                        ),
                    );
                }
                (
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
                    }),
                )
            }
            Observation::PollFail { error } => {
                state
                    .trace
                    .record(now, process, format_args!("poll failed: {error}"));
                (
                    OpType::Fail,
                    Operation::Poll(PollValue {
                        records: Vec::new(),
                        high_watermarks: Vec::new(),
                        error: Some(error),
                    }),
                )
            }
            Observation::Assign { tp, offset, reason } => {
                state.trace.record(
                    now,
                    process,
                    format_args!("assign {tp}@{} ({reason})", offset.0),
                );
                (
                    OpType::Ok,
                    Operation::Assign(AssignValue {
                        topic: tp.topic,
                        partition: tp.partition,
                        offset: offset.0,
                        reason,
                        from: None,
                        auto_offset_reset: None,
                    }),
                )
            }
            Observation::OffsetReset {
                tp,
                from,
                to,
                policy,
            } => {
                let policy = format!("{policy:?}").to_lowercase();
                state.trace.record(
                    now,
                    process,
                    format_args!(
                        "assign {tp}@{} ({OFFSET_OUT_OF_RANGE} at {}, auto.offset.reset={policy})",
                        to.0, from.0
                    ),
                );
                (
                    OpType::Ok,
                    Operation::Assign(AssignValue {
                        topic: tp.topic,
                        partition: tp.partition,
                        offset: to.0,
                        reason: OFFSET_OUT_OF_RANGE.to_string(),
                        from: Some(from.0),
                        auto_offset_reset: Some(policy),
                    }),
                )
            }
            Observation::GroupAssignment {
                group,
                member,
                generation,
                partitions,
            } => {
                state.trace.record(
                    now,
                    process,
                    format_args!(
                        "{group} generation {generation}: {member} owns [{}]",
                        partitions
                            .iter()
                            .map(|tp| tp.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                (
                    OpType::Ok,
                    Operation::Assignment(AssignmentValue {
                        group,
                        member,
                        generation,
                        partitions: partitions.into_iter().map(partition_ref).collect(),
                    }),
                )
            }
            Observation::CommitInvoke(commit) => (OpType::Invoke, commit_op(commit, None)),
            Observation::CommitOk(commit) => {
                state.trace.record(
                    now,
                    process,
                    format_args!("commit ok {}", offsets_text(&commit.offsets)),
                );
                (OpType::Ok, commit_op(commit, None))
            }
            Observation::CommitFail { commit, error } => {
                state.trace.record(
                    now,
                    process,
                    format_args!("commit {} failed: {error}", offsets_text(&commit.offsets)),
                );
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
        };
        state.history.push(now, process, op_type, op);
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

/// "tasks-0@12, tasks-1@40", for the trace.
fn offsets_text(offsets: &[(TopicPartition, Offset)]) -> String {
    offsets
        .iter()
        .map(|(tp, o)| format!("{tp}@{}", o.0))
        .collect::<Vec<_>>()
        .join(", ")
}

//! The broker's produce path: appending as leader (refusing acks=all below
//! `min.insync.replicas`), answering acks=0/1 at once, and holding acks=all requests in the
//! purgatory until the high watermark passes them. A transactional produce may first wait
//! for KIP-890's verification (`txn_markers.rs`).

use super::Broker;
use crate::config::{Acks, ProduceAnswer, SpuriousErrorCode};
use crate::effect::{DiskOp, Output};
use crate::ids::{Millis, NodeId, Offset, TopicPartition};
use crate::partition::{Appended, Partition};
use crate::protocol::{ErrorCode, Message};
use crate::purgatory::{DelayedProduce, Standing, WaitingPartition};
use crate::record::RecordBatch;
use crate::txn::TransactionalId;
use std::collections::BTreeMap;

/// How a batch comes to the append: needing no verification, verified with this guard, or
/// refused by its verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admission {
    Plain,
    Verified(u64),
    Refused(ErrorCode),
}

/// How an acks=all write through `last` stands on this broker.
pub(super) fn write_standing(
    partitions: &BTreeMap<TopicPartition, Partition>,
    min_insync: usize,
    tp: &TopicPartition,
    last: Offset,
) -> Standing {
    let Some(p) = partitions.get(tp).filter(|p| p.is_leader()) else {
        return Standing::Failed(ErrorCode::NotLeaderOrFollower);
    };
    if p.high_watermark() <= last {
        return Standing::Waiting;
    }
    match p.replica().leader_isr() {
        Some((isr, _)) if isr.len() >= min_insync => Standing::Committed,
        _ => Standing::Failed(ErrorCode::NotEnoughReplicasAfterAppend),
    }
}

impl Broker {
    pub(super) fn complete_delayed_produces(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.expire_verifications(now, out);
        self.complete_marker_writes(now, out);
        if self.purgatory.is_empty() {
            return;
        }
        let min_insync = self.config.min_insync_replicas;
        let partitions = &self.partitions;
        let done = self.purgatory.complete(now, |tp, last| {
            write_standing(partitions, min_insync, tp, last)
        });
        let spurious = self.config.spurious_error;
        for mut completed in done {
            if spurious.is_some_and(|s| {
                s.strikes(
                    SpuriousErrorCode::NotEnoughReplicasAfterAppend,
                    completed.correlation_id,
                )
            }) {
                // A deliberately broken broker: the ISR committed these batches, and it
                // answers as if the ISR had shrunk below min.insync.replicas meanwhile.
                for (_, result) in completed.results.iter_mut().filter(|(_, r)| r.is_ok()) {
                    *result = Err(ErrorCode::NotEnoughReplicasAfterAppend);
                }
            }
            out.push(Output::Send {
                to: completed.to,
                message: Message::ProduceResponse {
                    correlation_id: completed.correlation_id,
                    results: completed.results,
                },
            });
        }
    }
    /// A ProduceRequest, as the dispatch hands it over.
    pub(super) fn on_produce(
        &mut self,
        now: Millis,
        from: NodeId,
        request: Message,
        out: &mut Vec<Output>,
    ) {
        if let Message::ProduceRequest {
            correlation_id,
            acks,
            timeout_ms,
            transactional_id,
            batches,
        } = request
        {
            self.produce(
                now,
                from,
                correlation_id,
                acks,
                timeout_ms,
                transactional_id,
                batches,
                out,
            );
        }
    }

    /// A produce request: its transactional batches verified first (KIP-890) when the
    /// broker verifies and their producer has no transaction open on the partition.
    #[allow(clippy::too_many_arguments)]
    fn produce(
        &mut self,
        now: Millis,
        from: NodeId,
        correlation_id: u64,
        acks: Acks,
        timeout_ms: u64,
        transactional_id: Option<TransactionalId>,
        batches: Vec<(TopicPartition, RecordBatch)>,
        out: &mut Vec<Output>,
    ) {
        let verify = self.config.verify_transactional_produce;
        if verify && batches.iter().any(|(tp, b)| self.needs_verification(tp, b)) {
            if let Some(id) = transactional_id {
                self.hold_for_verification(
                    now,
                    from,
                    correlation_id,
                    acks,
                    timeout_ms,
                    id,
                    batches,
                    out,
                );
                return;
            }
        }
        let admitted = batches
            .into_iter()
            .map(|(tp, batch)| {
                // Without a transactional id the leader cannot verify a transactional
                // batch: it is refused (Kafka refuses such a request outright).
                let admission = if verify && self.needs_verification(&tp, &batch) {
                    Admission::Refused(ErrorCode::InvalidTxnState)
                } else {
                    Admission::Plain
                };
                (tp, batch, admission)
            })
            .collect();
        self.produce_admitted(now, from, correlation_id, acks, timeout_ms, admitted, out);
    }

    /// Appends a produce request's batches as admitted, and answers it (acks=0/1) or holds
    /// it in the purgatory (acks=all).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn produce_admitted(
        &mut self,
        now: Millis,
        from: NodeId,
        correlation_id: u64,
        acks: Acks,
        timeout_ms: u64,
        batches: Vec<(TopicPartition, RecordBatch, Admission)>,
        out: &mut Vec<Output>,
    ) {
        let first_output = out.len();
        let mut waiting = Vec::with_capacity(batches.len());
        for (tp, batch, admission) in batches {
            let spurious = self.spurious_produce_error(&tp, correlation_id, acks, &batch);
            let result = match (admission, spurious) {
                (Admission::Refused(error), _) | (_, Some(error)) => Err(error),
                // A client may not write markers: only a leader asked by a coordinator does.
                _ if batch.is_control() => Err(ErrorCode::InvalidTxnState),
                (Admission::Plain, None) => self.append(&tp, acks, batch, out),
                (Admission::Verified(guard), None) => {
                    let check_sequences = self.config.check_producer_sequences;
                    self.append_admitted(&tp, acks, batch, Some(guard), check_sequences, out)
                }
            };
            waiting.push(WaitingPartition {
                tp,
                result,
                decided: false,
            });
        }
        self.maybe_wake_followers(now, out);
        match acks {
            Acks::None => {}
            Acks::Leader => out.push(Output::Send {
                to: from,
                message: Message::ProduceResponse {
                    correlation_id,
                    results: waiting
                        .into_iter()
                        .map(|p| (p.tp, p.result.map(|a| a.base)))
                        .collect(),
                },
            }),
            Acks::All => {
                self.purgatory.add(DelayedProduce {
                    from,
                    correlation_id,
                    deadline_ms: now + timeout_ms,
                    partitions: waiting,
                });
                self.complete_delayed_produces(now, out);
            }
        }
        answer_early(self.config.answer_produce, &mut out[first_output..]);
        self.answer_parked(
            |broker, fetch| broker.has_news_for_consumer(&fetch.partitions, fetch.isolation),
            out,
        );
    }
    /// The error a deliberately broken broker (`spurious_error`) answers this batch with,
    /// whatever its state, if this request is one it strikes.
    fn spurious_produce_error(
        &self,
        tp: &TopicPartition,
        correlation_id: u64,
        acks: Acks,
        batch: &RecordBatch,
    ) -> Option<ErrorCode> {
        let spurious = self.config.spurious_error?;
        self.partitions.get(tp).filter(|p| p.is_leader())?;
        let stamped = batch.producer.is_some();
        let strikes = |code| spurious.strikes(code, correlation_id);
        if acks == Acks::All && strikes(SpuriousErrorCode::NotEnoughReplicas) {
            Some(ErrorCode::NotEnoughReplicas)
        } else if stamped && strikes(SpuriousErrorCode::OutOfOrderSequence) {
            Some(ErrorCode::OutOfOrderSequence)
        } else if stamped && strikes(SpuriousErrorCode::InvalidProducerEpoch) {
            Some(ErrorCode::InvalidProducerEpoch)
        } else {
            None
        }
    }

    /// Appends one partition's batch as its leader.
    pub(super) fn append(
        &mut self,
        tp: &TopicPartition,
        acks: Acks,
        batch: RecordBatch,
        out: &mut Vec<Output>,
    ) -> Result<Appended, ErrorCode> {
        let check_sequences = self.config.check_producer_sequences;
        self.append_admitted(tp, acks, batch, None, check_sequences, out)
    }

    /// As `append`, saying whether the batch's sequence is checked: a batch the broker
    /// writes itself for a producer (a TxnOffsetCommit) has none.
    pub(super) fn append_with(
        &mut self,
        tp: &TopicPartition,
        acks: Acks,
        batch: RecordBatch,
        check_sequences: bool,
        out: &mut Vec<Output>,
    ) -> Result<Appended, ErrorCode> {
        self.append_admitted(tp, acks, batch, None, check_sequences, out)
    }

    /// Appends one partition's batch as its leader (a verified one only if its guard
    /// still holds).
    fn append_admitted(
        &mut self,
        tp: &TopicPartition,
        acks: Acks,
        batch: RecordBatch,
        verified: Option<u64>,
        check_sequences: bool,
        out: &mut Vec<Output>,
    ) -> Result<Appended, ErrorCode> {
        let Some(partition) = self.partitions.get_mut(tp).filter(|p| p.is_leader()) else {
            return Err(if self.image.partitions.contains_key(tp) {
                ErrorCode::NotLeaderOrFollower
            } else {
                ErrorCode::UnknownTopicOrPartition
            });
        };
        if acks == Acks::All {
            let isr_size = partition
                .replica()
                .leader_isr()
                .map_or(0, |(isr, _)| isr.len());
            if isr_size < self.config.min_insync_replicas {
                out.push(Output::Note(format!(
                    "refuse {tp}: ISR of {isr_size} is below min.insync.replicas {}",
                    self.config.min_insync_replicas
                )));
                return Err(ErrorCode::NotEnoughReplicas);
            }
        }
        match verified {
            Some(guard) => partition.append_verified_as_leader(batch, guard, check_sequences, out),
            None => partition.append_as_leader(batch, check_sequences, out),
        }
    }
}

/// A deliberately broken broker's order of one produce's outputs: its answers move ahead of
/// the disk operations they should follow (the fsyncs, or every write), keeping the
/// relative order of everything else.
fn answer_early(answer: ProduceAnswer, outputs: &mut [Output]) {
    let overtaken = |output: &Output| match (answer, output) {
        (ProduceAnswer::AfterFlush, _) => false,
        (ProduceAnswer::BeforeFlush, Output::Disk(op)) => matches!(op, DiskOp::Fsync { .. }),
        (ProduceAnswer::BeforeWrite, Output::Disk(_)) => true,
        _ => false,
    };
    let Some(first_overtaken) = outputs.iter().position(overtaken) else {
        return;
    };
    let is_answer = |output: &Output| {
        matches!(
            output,
            Output::Send {
                message: Message::ProduceResponse { .. },
                ..
            }
        )
    };
    // A stable partition of the tail: answers first, then the rest in order.
    let tail = &mut outputs[first_overtaken..];
    let mut answers_seen = 0;
    for index in 0..tail.len() {
        if is_answer(&tail[index]) {
            tail[answers_seen..=index].rotate_right(1);
            answers_seen += 1;
        }
    }
}

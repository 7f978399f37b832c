//! A partition leader's side of transactions: the commit and abort markers a transaction
//! coordinator asks it to write (appended as acks=all writes, answered once replicated), and
//! KIP-890 part 1: a transactional produce whose producer has no transaction open on the
//! partition is held while the leader asks the coordinator whether the partition is in the
//! producer's transaction, then appended or refused by the answer.

use super::produce::{write_standing, Admission};
use super::Broker;
use crate::config::Acks;
use crate::effect::Output;
use crate::group::OFFSETS_TOPIC;
use crate::ids::{LeaderEpoch, Millis, NodeId, Offset, ProducerEpoch, ProducerId, TopicPartition};
use crate::protocol::{ErrorCode, Message};
use crate::purgatory::{DelayedProduce, Purgatory, WaitingPartition};
use crate::record::{ControlMarker, ProducerStamp, Record, RecordBatch, TxnPart};
use crate::txn::{
    txn_coordinator_partition, MarkerResults, TransactionalId, TxnMarker, TxnRequest, TxnResponse,
    MARKER_VALUE_BIT, TRANSACTION_STATE_TOPIC,
};
use std::collections::BTreeMap;

/// A produce request held for KIP-890's verification.
#[derive(Clone, Debug)]
struct HeldProduce {
    from: NodeId,
    correlation_id: u64,
    acks: Acks,
    timeout_ms: u64,
    /// Each batch, with the guard of its verification if it needs one.
    batches: Vec<(TopicPartition, RecordBatch, Option<u64>)>,
    /// The correlation id of the verification sent to the coordinator.
    verification_id: u64,
    coordinator: NodeId,
    deadline_ms: Millis,
}

/// One WriteTxnMarkers request waiting for its markers to be replicated: who asked, and
/// the producer and outcome of each waiting partition, in the purgatory's order.
#[derive(Clone, Debug)]
struct MarkerRequest {
    to: NodeId,
    correlation_id: u64,
    owners: Vec<(ProducerId, bool)>,
}

/// What a leader keeps for transactions between messages.
#[derive(Clone, Debug, Default)]
pub(super) struct LeaderTxnWork {
    held: Vec<HeldProduce>,
    /// Marker writes waiting for the high watermark, keyed by an id of this broker's.
    markers: Purgatory,
    marker_requests: BTreeMap<u64, MarkerRequest>,
    marker_requests_issued: u64,
    markers_written: u64,
}

impl LeaderTxnWork {
    pub(super) fn next_deadline(&self) -> Option<Millis> {
        let held = self.held.iter().map(|h| h.deadline_ms).min();
        [held, self.markers.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }
}

/// How a verification's refusal reaches the producer, as Kafka 3.6's ReplicaManager and
/// AddPartitionsToTxnManager translate it: a fenced producer's epoch is invalid, and the
/// coordinator's retriable errors become NOT_ENOUGH_REPLICAS, which every client retries
/// without a metadata refresh.
fn produce_error_for(verification_error: ErrorCode) -> ErrorCode {
    match verification_error {
        ErrorCode::ProducerFenced => ErrorCode::InvalidProducerEpoch,
        ErrorCode::NotCoordinator
        | ErrorCode::CoordinatorNotAvailable
        | ErrorCode::CoordinatorLoadInProgress
        | ErrorCode::ConcurrentTransactions
        | ErrorCode::NetworkException => ErrorCode::NotEnoughReplicas,
        other => other,
    }
}

impl Broker {
    /// Whether `batch` must be verified before it is appended to `tp`: a transactional
    /// batch whose producer has no transaction open on the partition this broker leads.
    pub(super) fn needs_verification(&self, tp: &TopicPartition, batch: &RecordBatch) -> bool {
        let (Some(TxnPart::Data), Some(stamp)) = (batch.txn, batch.producer) else {
            return false;
        };
        self.partitions
            .get(tp)
            .filter(|p| p.is_leader())
            .is_some_and(|p| !p.has_open_txn(stamp.producer_id))
    }

    /// The broker leading the transaction state partition of `id`, if the metadata names
    /// one.
    fn txn_coordinator_of(&self, id: &TransactionalId) -> Option<NodeId> {
        let partitions = self
            .image
            .partitions
            .keys()
            .filter(|tp| tp.topic == TRANSACTION_STATE_TOPIC)
            .count() as u32;
        if partitions == 0 {
            return None;
        }
        let state_tp = TopicPartition::new(
            TRANSACTION_STATE_TOPIC,
            txn_coordinator_partition(id, partitions),
        );
        self.image
            .partitions
            .get(&state_tp)?
            .leader
            .map(|b| b.node())
    }

    /// Holds a produce whose transactional batches need verification and asks the
    /// coordinator; with no coordinator known, the batches are refused at once (Kafka's
    /// COORDINATOR_NOT_AVAILABLE, translated).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn hold_for_verification(
        &mut self,
        now: Millis,
        from: NodeId,
        correlation_id: u64,
        acks: Acks,
        timeout_ms: u64,
        transactional_id: TransactionalId,
        batches: Vec<(TopicPartition, RecordBatch)>,
        out: &mut Vec<Output>,
    ) {
        let needing: Vec<bool> = batches
            .iter()
            .map(|(tp, batch)| self.needs_verification(tp, batch))
            .collect();
        let Some(coordinator) = self.txn_coordinator_of(&transactional_id) else {
            let admitted = batches
                .into_iter()
                .zip(needing)
                .map(|((tp, batch), needs)| {
                    let admission = if needs {
                        Admission::Refused(produce_error_for(ErrorCode::CoordinatorNotAvailable))
                    } else {
                        Admission::Plain
                    };
                    (tp, batch, admission)
                })
                .collect();
            self.produce_admitted(now, from, correlation_id, acks, timeout_ms, admitted, out);
            return;
        };
        let mut stamp = None;
        let mut partitions = Vec::new();
        let mut held_batches = Vec::with_capacity(batches.len());
        for ((tp, batch), needs) in batches.into_iter().zip(needing) {
            let guard = match (needs, batch.producer) {
                (true, Some(s)) => {
                    stamp.get_or_insert(s);
                    partitions.push(tp.clone());
                    self.partitions
                        .get_mut(&tp)
                        .map(|p| p.start_verification(s.producer_id))
                }
                _ => None,
            };
            held_batches.push((tp, batch, guard));
        }
        let stamp = stamp.expect("a batch needs verification");
        self.last_correlation_id += 1;
        let verification_id = self.last_correlation_id;
        out.push(Output::Note(format!(
            "verify producer {} of {transactional_id} on {} before appending",
            stamp.producer_id.0,
            partitions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
        out.push(Output::Send {
            to: coordinator,
            message: Message::TxnRequest {
                correlation_id: verification_id,
                request: TxnRequest::AddPartitions {
                    transactional_id,
                    producer_id: stamp.producer_id,
                    producer_epoch: stamp.producer_epoch,
                    partitions,
                    verify_only: true,
                },
            },
        });
        self.txn_work.held.push(HeldProduce {
            from,
            correlation_id,
            acks,
            timeout_ms,
            batches: held_batches,
            verification_id,
            coordinator,
            deadline_ms: now + self.config.inter_broker_request_timeout_ms,
        });
    }

    /// A transaction coordinator's answer to this leader's verification of a produce.
    pub(super) fn on_txn_verified(
        &mut self,
        now: Millis,
        from: NodeId,
        correlation_id: u64,
        response: TxnResponse,
        out: &mut Vec<Output>,
    ) {
        let TxnResponse::AddPartitions { results } = response else {
            return;
        };
        let Some(at) = self
            .txn_work
            .held
            .iter()
            .position(|h| h.verification_id == correlation_id && h.coordinator == from)
        else {
            return; // an answer to a verification that timed out
        };
        let held = self.txn_work.held.remove(at);
        let verdict = |tp: &TopicPartition| {
            results
                .iter()
                .find(|(t, _)| t == tp)
                .map_or(Err(ErrorCode::InvalidTxnState), |(_, r)| *r)
        };
        let admitted = held
            .batches
            .into_iter()
            .map(|(tp, batch, guard)| {
                let admission = match guard {
                    None => Admission::Plain,
                    Some(guard) => match verdict(&tp) {
                        Ok(()) => Admission::Verified(guard),
                        Err(error) => Admission::Refused(produce_error_for(error)),
                    },
                };
                (tp, batch, admission)
            })
            .collect();
        self.produce_admitted(
            now,
            held.from,
            held.correlation_id,
            held.acks,
            held.timeout_ms,
            admitted,
            out,
        );
    }

    /// Answers the held produces whose verification went unanswered past its timeout.
    pub(super) fn expire_verifications(&mut self, now: Millis, out: &mut Vec<Output>) {
        if self.txn_work.held.iter().all(|h| h.deadline_ms > now) {
            return;
        }
        let (expired, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.txn_work.held)
            .into_iter()
            .partition(|h| h.deadline_ms <= now);
        self.txn_work.held = waiting;
        for held in expired {
            let admitted = held
                .batches
                .into_iter()
                .map(|(tp, batch, guard)| {
                    let admission = match guard {
                        None => Admission::Plain,
                        Some(_) => Admission::Refused(ErrorCode::RequestTimedOut),
                    };
                    (tp, batch, admission)
                })
                .collect();
            self.produce_admitted(
                now,
                held.from,
                held.correlation_id,
                held.acks,
                held.timeout_ms,
                admitted,
                out,
            );
        }
    }

    /// WriteTxnMarkers: append each marker to its partition as an acks=all write.
    pub(super) fn on_write_txn_markers(
        &mut self,
        now: Millis,
        from: NodeId,
        correlation_id: u64,
        markers: Vec<TxnMarker>,
        out: &mut Vec<Output>,
    ) {
        let mut owners = Vec::new();
        let mut waiting = Vec::new();
        for marker in &markers {
            for tp in &marker.partitions {
                let result = self.write_marker(now, tp, marker, out);
                owners.push((marker.producer_id, marker.commit));
                waiting.push(WaitingPartition {
                    tp: tp.clone(),
                    result,
                    decided: false,
                });
            }
        }
        self.maybe_wake_followers(now, out);
        self.txn_work.marker_requests_issued += 1;
        let id = self.txn_work.marker_requests_issued;
        self.txn_work.markers.add(DelayedProduce {
            from,
            correlation_id: id,
            deadline_ms: now + self.config.inter_broker_request_timeout_ms,
            partitions: waiting,
        });
        self.txn_work.marker_requests.insert(
            id,
            MarkerRequest {
                to: from,
                correlation_id,
                owners,
            },
        );
        self.complete_marker_writes(now, out);
    }

    /// Appends one marker as `tp`'s leader, refusing as an acks=all produce is refused.
    fn write_marker(
        &mut self,
        now: Millis,
        tp: &TopicPartition,
        marker: &TxnMarker,
        out: &mut Vec<Output>,
    ) -> Result<crate::partition::Appended, ErrorCode> {
        let min_insync = self.config.min_insync_replicas;
        let Some(partition) = self.partitions.get_mut(tp).filter(|p| p.is_leader()) else {
            return Err(ErrorCode::NotLeaderOrFollower);
        };
        let isr_size = partition
            .replica()
            .leader_isr()
            .map_or(0, |(isr, _)| isr.len());
        if isr_size < min_insync {
            return Err(ErrorCode::NotEnoughReplicas);
        }
        self.txn_work.markers_written += 1;
        let value = MARKER_VALUE_BIT
            | (u64::from(self.id.0) << 48)
            | (u64::from(self.incarnation) << 32)
            | self.txn_work.markers_written;
        let batch = marker_batch(
            marker.producer_id,
            marker.producer_epoch,
            ControlMarker {
                commit: marker.commit,
                coordinator_epoch: marker.coordinator_epoch,
            },
            value,
            now,
        );
        partition.append_marker_as_leader(batch, out)
    }

    /// Answers the WriteTxnMarkers requests whose every marker is decided; a replicated
    /// marker on an offsets partition completes the producer's transactional offsets.
    pub(super) fn complete_marker_writes(&mut self, now: Millis, out: &mut Vec<Output>) {
        if self.txn_work.markers.is_empty() {
            return;
        }
        let min_insync = self.config.min_insync_replicas;
        let partitions = &self.partitions;
        let done = self.txn_work.markers.complete(now, |tp, last| {
            write_standing(partitions, min_insync, tp, last)
        });
        for completed in done {
            let Some(request) = self
                .txn_work
                .marker_requests
                .remove(&completed.correlation_id)
            else {
                continue;
            };
            let mut results: MarkerResults = Vec::new();
            for ((tp, result), (producer, commit)) in
                completed.results.into_iter().zip(request.owners)
            {
                if result.is_ok() && tp.topic == OFFSETS_TOPIC {
                    self.txn_offsets_completed(now, tp.partition, producer, commit, out);
                }
                let result = result.map(|_| ());
                match results.iter_mut().find(|(p, _)| *p == producer) {
                    Some((_, per_partition)) => per_partition.push((tp, result)),
                    None => results.push((producer, vec![(tp, result)])),
                }
            }
            out.push(Output::Send {
                to: request.to,
                message: Message::WriteTxnMarkersResponse {
                    correlation_id: request.correlation_id,
                    results,
                },
            });
        }
    }
}

/// A control batch: one record carrying `value`, the producer's stamp with no sequence.
pub(crate) fn marker_batch(
    producer_id: ProducerId,
    producer_epoch: ProducerEpoch,
    marker: ControlMarker,
    value: u64,
    now: Millis,
) -> RecordBatch {
    RecordBatch {
        base_offset: Offset(0),
        leader_epoch: LeaderEpoch(0),
        producer: Some(ProducerStamp {
            producer_id,
            producer_epoch,
            base_sequence: 0,
        }),
        txn: Some(TxnPart::Marker(marker)),
        records: vec![Record {
            key: None,
            value,
            timestamp_ms: now,
        }],
    }
}

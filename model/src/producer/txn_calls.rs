//! The transaction manager's requests, one at a time and in Kafka's order (find the
//! coordinator, initialize, add partitions and offsets, commit the offsets to the group,
//! end the transaction), and what each answer, timeout or disconnect does to it.

use super::transactions::{TransactionManager, TxnEvent, TxnOutcome, TxnPhase};
use crate::effect::Output;
use crate::group::{GroupError, GroupRequest, GroupResponse};
use crate::ids::{BrokerId, Millis, NodeId, TopicPartition};
use crate::metadata_client::{InFlight, MetadataClient};
use crate::protocol::{ErrorCode, Message};
use crate::txn::{TxnInit, TxnRequest, TxnResponse};

/// A request of the transaction manager's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Call {
    FindCoordinator,
    InitProducerId,
    AddPartitions(Vec<TopicPartition>),
    AddOffsets,
    FindGroupCoordinator,
    TxnOffsetCommit,
    EndTxn(bool),
}

/// What the manager needs of the producer to take its next step.
pub struct TxnCtx<'a> {
    pub now: Millis,
    pub request_timeout_ms: u64,
    pub retry_backoff_ms: u64,
    /// Some batch of the transaction is queued or in flight: EndTxn waits for it.
    pub batches_incomplete: bool,
    pub metadata: &'a mut MetadataClient,
    pub next_correlation_id: &'a mut u64,
}

impl TransactionManager {
    /// Times out the request in flight, then sends the next one if nothing waits.
    pub fn poll(&mut self, ctx: TxnCtx<'_>, out: &mut Vec<Output>) -> Vec<TxnEvent> {
        let mut events = Vec::new();
        if let Some((sent, call)) = self.in_flight.clone() {
            if !sent.timed_out(ctx.now, ctx.request_timeout_ms) {
                return events;
            }
            self.in_flight = None;
            events.extend(self.failed(
                ctx.now,
                call,
                ErrorCode::RequestTimedOut,
                ctx.retry_backoff_ms,
            ));
        }
        if ctx.now < self.not_before_ms || matches!(self.phase, TxnPhase::Fatal(_)) {
            return events;
        }
        let Some(call) = self.next_call(ctx.batches_incomplete, &mut events) else {
            return events;
        };
        let to = match call {
            Call::FindCoordinator | Call::FindGroupCoordinator => ctx.metadata.next_bootstrap(),
            Call::TxnOffsetCommit => self
                .offsets
                .as_ref()
                .and_then(|o| o.group_coordinator)
                .expect("next_call checked"),
            _ => self.coordinator.expect("next_call checked"),
        };
        *ctx.next_correlation_id += 1;
        let correlation_id = *ctx.next_correlation_id;
        let message = self.request(correlation_id, &call);
        self.in_flight = Some((
            InFlight {
                correlation_id,
                to: to.node(),
                sent_ms: ctx.now,
            },
            call,
        ));
        out.push(Output::Send {
            to: to.node(),
            message,
        });
        events
    }

    /// The next request in Kafka's priority order, or an end decided without one.
    fn next_call(&mut self, batches_incomplete: bool, events: &mut Vec<TxnEvent>) -> Option<Call> {
        let coordinator_known = self.coordinator.is_some();
        match self.phase {
            TxnPhase::Initializing if !coordinator_known => return Some(Call::FindCoordinator),
            TxnPhase::Initializing => return Some(Call::InitProducerId),
            TxnPhase::InTransaction | TxnPhase::Committing | TxnPhase::Aborting => {}
            TxnPhase::Ready | TxnPhase::Fatal(_) => return None,
        }
        let aborting = self.phase == TxnPhase::Aborting;
        let offsets = self.offsets.as_ref();
        let wants_coordinator = !self.to_add.is_empty()
            || offsets.is_some_and(|o| !o.added)
            || self.phase != TxnPhase::InTransaction;
        if wants_coordinator && !coordinator_known {
            return Some(Call::FindCoordinator);
        }
        if !aborting && !self.to_add.is_empty() {
            return Some(Call::AddPartitions(self.to_add.iter().cloned().collect()));
        }
        if let Some(o) = offsets.filter(|o| !o.committed && !aborting) {
            return Some(if !o.added {
                Call::AddOffsets
            } else if o.group_coordinator.is_none() {
                Call::FindGroupCoordinator
            } else {
                Call::TxnOffsetCommit
            });
        }
        let commit = match self.phase {
            TxnPhase::Committing => true,
            TxnPhase::Aborting => false,
            _ => return None,
        };
        if batches_incomplete {
            return None;
        }
        // Nothing reached the coordinator: the transaction ends here (Kafka sends no
        // EndTxn for a transaction that never added a partition).
        if self.added.is_empty() && !self.offsets.as_ref().is_some_and(|o| o.added) {
            let outcome = if commit {
                TxnOutcome::Committed
            } else {
                TxnOutcome::Aborted
            };
            events.extend(self.ended(outcome));
            // An abort that needs a new epoch goes on to InitProducerId at once: nothing
            // else would wake the manager to send it.
            return self.next_call(batches_incomplete, events);
        }
        self.commit_sent |= commit;
        Some(Call::EndTxn(commit))
    }

    fn request(&self, correlation_id: u64, call: &Call) -> Message {
        let (producer_id, producer_epoch) = self.identity.unwrap_or_default();
        let transactional_id = self.id.clone();
        let txn = |request| Message::TxnRequest {
            correlation_id,
            request,
        };
        let offsets = self.offsets.as_ref();
        match call {
            Call::FindCoordinator => Message::FindTxnCoordinatorRequest {
                correlation_id,
                transactional_id,
            },
            Call::InitProducerId => Message::InitProducerIdRequest {
                correlation_id,
                transactional: Some(TxnInit {
                    transactional_id,
                    transaction_timeout_ms: self.timeout_ms,
                }),
            },
            Call::AddPartitions(partitions) => txn(TxnRequest::AddPartitions {
                transactional_id,
                producer_id,
                producer_epoch,
                partitions: partitions.clone(),
                verify_only: false,
            }),
            Call::AddOffsets => txn(TxnRequest::AddOffsets {
                transactional_id,
                producer_id,
                producer_epoch,
                group: offsets.expect("offsets to add").group.clone(),
            }),
            Call::FindGroupCoordinator => Message::FindCoordinatorRequest {
                correlation_id,
                group: offsets.expect("offsets to commit").group.clone(),
            },
            Call::TxnOffsetCommit => {
                let o = offsets.expect("offsets to commit");
                Message::GroupRequest {
                    correlation_id,
                    request: GroupRequest::TxnOffsetCommit {
                        group: o.group.clone(),
                        transactional_id,
                        producer_id,
                        producer_epoch,
                        generation: o.generation,
                        member: o.member.clone(),
                        offsets: o.offsets.clone(),
                    },
                }
            }
            Call::EndTxn(commit) => txn(TxnRequest::EndTxn {
                transactional_id,
                producer_id,
                producer_epoch,
                commit: *commit,
            }),
        }
    }

    /// An answer for the manager, if `message` is one; `None` leaves it to the producer.
    pub fn on_message(
        &mut self,
        now: Millis,
        message: &Message,
        retry_backoff_ms: u64,
    ) -> Option<Vec<TxnEvent>> {
        let correlation_id = match message {
            Message::FindTxnCoordinatorResponse { correlation_id, .. }
            | Message::InitProducerIdResponse { correlation_id, .. }
            | Message::TxnResponse { correlation_id, .. }
            | Message::FindCoordinatorResponse { correlation_id, .. }
            | Message::GroupResponse { correlation_id, .. } => *correlation_id,
            _ => return None,
        };
        let (sent, call) = self.in_flight.clone()?;
        if sent.correlation_id != correlation_id {
            // A late answer to a request given up on: ignored, as Kafka's client does.
            return Some(Vec::new());
        }
        self.in_flight = None;
        let backoff = retry_backoff_ms;
        Some(match (call, message) {
            (Call::FindCoordinator, Message::FindTxnCoordinatorResponse { result, .. }) => {
                match result {
                    Ok(broker) => self.coordinator = Some(*broker),
                    Err(_) => self.not_before_ms = now + backoff,
                }
                Vec::new()
            }
            (Call::InitProducerId, Message::InitProducerIdResponse { result, .. }) => {
                match result {
                    Ok((producer_id, epoch)) => {
                        self.identity = Some((*producer_id, *epoch));
                        self.phase = TxnPhase::Ready;
                        vec![TxnEvent::Identity(*producer_id, *epoch)]
                    }
                    Err(error) => self.failed(now, Call::InitProducerId, *error, backoff),
                }
            }
            (
                Call::AddPartitions(_),
                Message::TxnResponse {
                    response: TxnResponse::AddPartitions { results },
                    ..
                },
            ) => {
                let mut events = Vec::new();
                let mut retry = None;
                for (tp, result) in results {
                    match result {
                        Ok(()) => {
                            self.to_add.remove(tp);
                            self.added.insert(tp.clone());
                        }
                        Err(error) => retry = Some(*error),
                    }
                }
                if let Some(error) = retry {
                    events.extend(self.failed(
                        now,
                        Call::AddPartitions(Vec::new()),
                        error,
                        backoff,
                    ));
                }
                events
            }
            (
                Call::AddOffsets,
                Message::TxnResponse {
                    response: TxnResponse::AddOffsets { result },
                    ..
                },
            ) => match result {
                Ok(()) => {
                    if let Some(o) = self.offsets.as_mut() {
                        o.added = true;
                    }
                    Vec::new()
                }
                Err(error) => self.failed(now, Call::AddOffsets, *error, backoff),
            },
            (Call::FindGroupCoordinator, Message::FindCoordinatorResponse { result, .. }) => {
                match (result, self.offsets.as_mut()) {
                    (Ok(broker), Some(o)) => o.group_coordinator = Some(*broker),
                    _ => self.not_before_ms = now + backoff,
                }
                Vec::new()
            }
            (
                Call::TxnOffsetCommit,
                Message::GroupResponse {
                    response: GroupResponse::TxnOffsetCommit { results, .. },
                    ..
                },
            ) => {
                let error = results.iter().find_map(|(_, r)| r.err());
                self.offsets_answered(now, error, backoff)
            }
            (
                Call::EndTxn(commit),
                Message::TxnResponse {
                    response: TxnResponse::EndTxn { result },
                    ..
                },
            ) => match result {
                Ok(()) => self.ended(if commit {
                    TxnOutcome::Committed
                } else {
                    TxnOutcome::Aborted
                }),
                Err(error) => self.failed(now, Call::EndTxn(commit), *error, backoff),
            },
            // An answer of the wrong kind for the request: treated as lost.
            (call, _) => self.failed(now, call, ErrorCode::RequestTimedOut, backoff),
        })
    }

    fn offsets_answered(
        &mut self,
        now: Millis,
        error: Option<GroupError>,
        backoff_ms: u64,
    ) -> Vec<TxnEvent> {
        let Some(o) = self.offsets.as_mut() else {
            return Vec::new();
        };
        match error {
            None => {
                o.committed = true;
                Vec::new()
            }
            Some(error) if error.needs_coordinator_lookup() => {
                o.group_coordinator = None;
                self.not_before_ms = now + backoff_ms;
                Vec::new()
            }
            Some(error) if error.is_retriable() => {
                self.not_before_ms = now + backoff_ms;
                Vec::new()
            }
            // CommitFailedException: the member left the generation; only an abort is left.
            Some(error) => self.abortable_error(format!("TxnOffsetCommit refused: {error}")),
        }
    }

    /// A request failed with `error` (or timed out): retry it, find the coordinator again,
    /// or give up on the transaction or the producer, as Kafka's handlers do.
    fn failed(
        &mut self,
        now: Millis,
        call: Call,
        error: ErrorCode,
        backoff_ms: u64,
    ) -> Vec<TxnEvent> {
        self.not_before_ms = now + backoff_ms;
        if call == Call::FindGroupCoordinator || call == Call::TxnOffsetCommit {
            if let Some(o) = self.offsets.as_mut() {
                o.group_coordinator = None;
            }
            return Vec::new();
        }
        if let Call::EndTxn(commit) = call {
            if error == ErrorCode::InvalidProducerIdMapping {
                return self.ended_unknown_to_coordinator(commit);
            }
            // Any other failure leaves a commit's fate open: no answer, a broker that is no
            // longer the coordinator, or CONCURRENT_TRANSACTIONS (an earlier attempt is
            // being written).
            self.commit_uncertain |= commit;
        }
        match error {
            ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch => self.fatal(format!(
                "{error}: a newer instance of {} took over",
                self.id
            )),
            ErrorCode::InvalidProducerIdMapping => self.require_epoch_bump(),
            _ if error.needs_coordinator_lookup() => {
                self.coordinator = None;
                Vec::new()
            }
            _ if error.is_retriable() => Vec::new(),
            _ => self.fatal(error.to_string()),
        }
    }

    /// The connection to `peer` closed: a request in flight to it failed.
    pub fn on_disconnected(
        &mut self,
        now: Millis,
        peer: NodeId,
        retry_backoff_ms: u64,
    ) -> Vec<TxnEvent> {
        match self.in_flight.clone() {
            Some((sent, call)) if sent.went_to(peer) => {
                self.in_flight = None;
                self.failed(now, call, ErrorCode::NetworkException, retry_backoff_ms)
            }
            _ => Vec::new(),
        }
    }

    /// The broker the manager sends to, for a test to answer as.
    pub fn coordinator(&self) -> Option<BrokerId> {
        self.coordinator
    }
}

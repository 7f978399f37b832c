//! The producer client: partitions records (murmur2 by key, sticky without), batches them
//! per partition, sends at most `max.in.flight.requests.per.connection` requests per broker,
//! retries, and with idempotence stamps batches with producer id, epoch and sequence.

use crate::config::{Acks, ProducerConfig};
use crate::effect::{Observation, Output};
use crate::ids::{BrokerId, Millis, NodeId, TopicPartition};
use crate::metadata_client::{InFlight, MetadataClient};
use crate::partitioner::{partition_for_key, StickyPartitioner};
use crate::producer_batch::ProducerBatch;
use crate::producer_sequences::ProducerSequences;
use crate::protocol::{ErrorCode, Message};
use crate::reach::RarePath;
use crate::record::{Record, TxnPart};
use crate::txn::TransactionalId;
use std::collections::{BTreeMap, VecDeque};

mod answers;
#[cfg(test)]
mod tests;
mod transactions;
mod txn_api;
mod txn_calls;
#[cfg(test)]
mod txn_lost_state_tests;
#[cfg(test)]
mod txn_test_broker;
#[cfg(test)]
mod txn_tests;

pub use transactions::{TransactionManager, TxnEvent, TxnOutcome, TxnPhase};

/// A record the application handed to `send` before its partition was known.
#[derive(Clone, Debug)]
struct PendingRecord {
    topic: String,
    key: Option<String>,
    value: u64,
    created_ms: Millis,
    random: u64,
}

#[derive(Clone, Debug)]
struct InFlightRequest {
    broker: BrokerId,
    sent_ms: Millis,
    batches: Vec<ProducerBatch>,
}

/// The producer state machine.
#[derive(Clone, Debug)]
pub struct Producer {
    config: ProducerConfig,
    /// `enable.idempotence` as the client resolved it (KIP-679).
    idempotent: bool,
    /// `delivery.timeout.ms` as the client resolved it (KIP-91).
    delivery_timeout_ms: Millis,
    metadata: MetadataClient,
    partition_counts: BTreeMap<String, u32>,
    sequences: ProducerSequences,
    pid_request: Option<InFlight>,
    /// No InitProducerId before this: one failed by a disconnect is retried after
    /// `retry.backoff.ms`, as Kafka's TransactionManager retries it.
    pid_not_before_ms: Millis,
    unpartitioned: VecDeque<PendingRecord>,
    queues: BTreeMap<TopicPartition, VecDeque<ProducerBatch>>,
    in_flight: BTreeMap<u64, InFlightRequest>,
    next_correlation_id: u64,
    sticky: StickyPartitioner,
    /// `now` at the last drive: deadlines at or before it are no reason to wake.
    driven_at_ms: Millis,
    /// With a `transactional.id`: the transactions, which own the producer's identity.
    txn: Option<TransactionManager>,
    /// What the transactions told the producer, for the driver to take
    /// ([`Producer::take_txn_events`]).
    txn_events: Vec<TxnEvent>,
}

impl Producer {
    pub fn new(config: ProducerConfig, bootstrap: Vec<BrokerId>) -> Self {
        Producer {
            idempotent: config.idempotence_enabled(),
            delivery_timeout_ms: config.effective_delivery_timeout_ms(),
            metadata: MetadataClient::new(bootstrap),
            partition_counts: BTreeMap::new(),
            sequences: ProducerSequences::default(),
            pid_request: None,
            pid_not_before_ms: 0,
            unpartitioned: VecDeque::new(),
            queues: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            next_correlation_id: 0,
            sticky: StickyPartitioner::default(),
            driven_at_ms: 0,
            txn: config.transactional_id.as_ref().map(|id| {
                TransactionManager::new(
                    TransactionalId::new(id.clone()),
                    config.effective_transaction_timeout_ms(),
                )
            }),
            config,
            txn_events: Vec::new(),
        }
    }

    /// Numbers this producer's requests from `first` on: a node that runs a consumer and a
    /// producer side by side tells their answers apart by correlation id.
    pub fn number_requests_from(&mut self, first: u64) {
        self.next_correlation_id = first.saturating_sub(1);
    }

    /// Records handed to `send` whose outcome is not known yet.
    pub fn pending_records(&self) -> usize {
        let queued: usize = self
            .queues
            .values()
            .flatten()
            .map(|b| b.records.len())
            .sum();
        let sent: usize = self
            .in_flight
            .values()
            .flat_map(|r| &r.batches)
            .map(|b| b.records.len())
            .sum();
        self.unpartitioned.len() + queued + sent
    }

    /// The application sends a record. `random` feeds the sticky partitioner.
    pub fn send(
        &mut self,
        now: Millis,
        topic: &str,
        key: Option<String>,
        value: u64,
        random: u64,
        out: &mut Vec<Output>,
    ) {
        out.push(Output::Observe(Observation::SendInvoke {
            topic: topic.to_string(),
            key: key.clone(),
            value,
        }));
        if self.txn.as_ref().is_some_and(|t| !t.accepts_records()) {
            // Kafka's send throws at once: a transactional producer sends only inside a
            // transaction that is open.
            out.push(Output::Observe(Observation::SendFail {
                value,
                error: "IllegalStateException: no transaction open".into(),
            }));
            return;
        }
        self.unpartitioned.push_back(PendingRecord {
            topic: topic.to_string(),
            key,
            value,
            created_ms: now,
            random,
        });
        self.drive(now, out);
    }

    pub fn next_deadline(&self) -> Option<Millis> {
        let timeout = self.config.request_timeout_ms;
        let mut deadlines: Vec<Millis> = Vec::new();
        deadlines.extend(self.metadata.next_deadline(timeout));
        deadlines.extend(self.pid_request.map(|p| p.sent_ms + timeout));
        deadlines.extend(
            self.txn
                .as_ref()
                .and_then(|t| t.next_deadline(timeout, self.driven_at_ms)),
        );
        // Zero unless a disconnect failed one: then never at or before the last drive.
        if self.pid_not_before_ms > self.driven_at_ms {
            deadlines.push(self.pid_not_before_ms);
        }
        deadlines.extend(self.in_flight.values().map(|r| r.sent_ms + timeout));
        deadlines.extend(
            self.unpartitioned
                .front()
                .map(|r| r.created_ms + self.delivery_timeout_ms),
        );
        for batch in self.queues.values().flatten() {
            deadlines.push(batch.created_ms + self.delivery_timeout_ms);
            // A batch that was ready at the last drive but stayed (in-flight limit,
            // unknown leader, no producer id) waits for a response, not a timer.
            let ready_ms = batch.ready_ms(self.config.linger_ms);
            if ready_ms > self.driven_at_ms {
                deadlines.push(ready_ms);
            }
        }
        deadlines.into_iter().min()
    }

    pub fn tick(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.drive(now, out);
    }

    pub fn on_message(
        &mut self,
        now: Millis,
        _from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        let backoff_ms = self.config.retry_backoff_ms;
        if let Some(events) = self
            .txn
            .as_mut()
            .and_then(|t| t.on_message(now, &message, backoff_ms))
        {
            self.apply_txn_events(events, out);
            return self.drive(now, out);
        }
        match message {
            Message::MetadataResponse {
                correlation_id,
                partitions,
                ..
            } => {
                let accepted = self.metadata.accept(correlation_id, partitions);
                if accepted {
                    self.partition_counts =
                        self.metadata
                            .leaders()
                            .fold(BTreeMap::new(), |mut counts, (tp, _)| {
                                *counts.entry(tp.topic.clone()).or_default() += 1;
                                counts
                            });
                }
            }
            Message::InitProducerIdResponse {
                correlation_id,
                result,
            } if self.pid_request.map(|p| p.correlation_id) == Some(correlation_id) => {
                self.pid_request = None;
                match result {
                    Ok((producer_id, producer_epoch)) => {
                        self.sequences.set_identity(producer_id, producer_epoch);
                    }
                    Err(_) => self.pid_not_before_ms = now + self.config.retry_backoff_ms,
                }
            }
            Message::ProduceResponse {
                correlation_id,
                results,
            } => {
                // A response to a request we gave up on (timed out) is stale: ignore it.
                if let Some(request) = self.in_flight.remove(&correlation_id) {
                    self.complete(now, correlation_id, request, results, out);
                }
            }
            _ => {}
        }
        self.drive(now, out);
    }

    /// The connection to `peer` closed (Kafka's NetworkClient on a disconnect): every
    /// request in flight to it failed at once. Produce batches take the path of a timeout
    /// now instead of at `request.timeout.ms`, with NETWORK_EXCEPTION (retriable, asks for
    /// a metadata refresh, may have been written); a Metadata or InitProducerId request to
    /// it is sent again after the backoff. A stale answer to one of them is ignored later,
    /// its correlation id being forgotten.
    pub fn on_disconnected(&mut self, now: Millis, peer: NodeId, out: &mut Vec<Output>) {
        let backoff_ms = self.config.retry_backoff_ms;
        self.metadata.on_disconnected(now, peer, backoff_ms);
        if let Some(txn) = self.txn.as_mut() {
            let events = txn.on_disconnected(now, peer, backoff_ms);
            self.apply_txn_events(events, out);
        }
        if self.pid_request.is_some_and(|p| p.went_to(peer)) {
            self.pid_request = None;
            self.pid_not_before_ms = now + backoff_ms;
        }
        let failed: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, r)| r.broker.node() == peer)
            .map(|(id, _)| *id)
            .collect();
        for id in failed {
            let request = self.in_flight.remove(&id).expect("listed above");
            for batch in request.batches {
                self.failed(now, batch, ErrorCode::NetworkException, out);
            }
        }
        self.drive(now, out);
    }

    fn next_correlation(&mut self) -> u64 {
        self.next_correlation_id += 1;
        self.next_correlation_id
    }

    /// Moves every piece of work forward that can move at `now`.
    fn drive(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.driven_at_ms = now;
        self.expire_requests(now, out);
        let (timeout_ms, backoff_ms) =
            (self.config.request_timeout_ms, self.config.retry_backoff_ms);
        self.metadata.poll(
            now,
            timeout_ms,
            backoff_ms,
            &mut self.next_correlation_id,
            out,
        );
        self.request_producer_id(now, out);
        self.partition_records();
        self.expire_batches(now, out);
        if self.sequences.bump_pending() && self.in_flight.is_empty() {
            self.bump_epoch(out);
        }
        self.drive_transactions(now, out);
        self.drain(now, out);
    }

    fn expire_requests(&mut self, now: Millis, out: &mut Vec<Output>) {
        let timeout = self.config.request_timeout_ms;
        if self.pid_request.is_some_and(|p| p.timed_out(now, timeout)) {
            self.pid_request = None;
        }
        let expired: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, r)| r.sent_ms + timeout <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let request = self.in_flight.remove(&id).expect("listed above");
            for batch in request.batches {
                self.failed(now, batch, ErrorCode::RequestTimedOut, out);
            }
        }
    }

    fn request_producer_id(&mut self, now: Millis, out: &mut Vec<Output>) {
        // A transactional producer's identity comes from its transaction coordinator.
        if !self.idempotent
            || self.txn.is_some()
            || self.sequences.identity().is_some()
            || self.pid_request.is_some()
            || now < self.pid_not_before_ms
        {
            return;
        }
        let correlation_id = self.next_correlation();
        let broker = self.metadata.next_bootstrap();
        self.pid_request = Some(InFlight {
            correlation_id,
            to: broker.node(),
            sent_ms: now,
        });
        out.push(Output::Send {
            to: broker.node(),
            message: Message::InitProducerIdRequest {
                correlation_id,
                transactional: None,
            },
        });
    }

    /// Gives each waiting record a partition once metadata says how many there are.
    fn partition_records(&mut self) {
        while let Some(record) = self.unpartitioned.front() {
            let Some(&count) = self.partition_counts.get(&record.topic) else {
                return;
            };
            let record = self.unpartitioned.pop_front().expect("front exists");
            let partition = match &record.key {
                Some(key) => partition_for_key(key.as_bytes(), count),
                None => self.sticky.partition(&record.topic, count, record.random),
            };
            let tp = TopicPartition::new(record.topic.clone(), partition);
            if let Some(txn) = self.txn.as_mut() {
                txn.on_record_queued(&tp);
            }
            let queue = self.queues.entry(tp.clone()).or_default();
            let keyless = record.key.is_none();
            let item = Record {
                key: record.key,
                value: record.value,
                timestamp_ms: record.created_ms,
            };
            match queue
                .back_mut()
                .filter(|b| b.is_open(self.config.batch_size_records))
            {
                Some(batch) => batch.records.push(item),
                None => {
                    if keyless {
                        self.sticky.on_new_batch(&tp.topic, count, record.random);
                    }
                    queue.push_back(ProducerBatch::new(tp, item));
                }
            }
        }
    }

    fn expire_batches(&mut self, now: Millis, out: &mut Vec<Output>) {
        let timeout = self.delivery_timeout_ms;
        while self
            .unpartitioned
            .front()
            .is_some_and(|r| r.created_ms + timeout <= now)
        {
            let record = self.unpartitioned.pop_front().expect("front exists");
            out.push(Output::Observe(Observation::SendFail {
                value: record.value,
                error: "TimeoutException: metadata not available".into(),
            }));
        }
        let mut expired = false;
        for queue in self.queues.values_mut() {
            queue.retain(|batch| {
                let keep = batch.created_ms + timeout > now;
                if !keep {
                    batch.report_given_up("TimeoutException: delivery.timeout.ms expired", out);
                    expired = true;
                }
                keep
            });
        }
        if let Some(txn) = self.txn.as_mut().filter(|_| expired) {
            let events = txn.on_batch_failed("TimeoutException: delivery.timeout.ms expired");
            self.apply_txn_events(events, out);
        }
    }

    fn bump_epoch(&mut self, out: &mut Vec<Output>) {
        out.push(Output::Note(format!(
            "bump producer epoch from {:?}",
            self.sequences.identity()
        )));
        out.push(Output::Reached(RarePath::ProducerEpochBumped));
        self.sequences.bump();
        for queue in self.queues.values_mut() {
            queue.retain(|batch| {
                // Sent under the old epoch and perhaps written: resending it under the new
                // epoch could write it twice, so its outcome stays unknown.
                if batch.maybe_written {
                    batch.report_info(
                        "TimeoutException: outcome unknown when the producer epoch was bumped",
                        out,
                    );
                }
                !batch.maybe_written
            });
            for batch in queue.iter_mut() {
                batch.stamp = None;
            }
        }
    }

    /// Sends ready batches, one per partition per request, within the in-flight limit.
    fn drain(&mut self, now: Millis, out: &mut Vec<Output>) {
        if self.idempotent && !self.sequences.can_send() {
            return;
        }
        let mut per_broker: BTreeMap<BrokerId, Vec<ProducerBatch>> = BTreeMap::new();
        let mut in_flight_to: BTreeMap<BrokerId, u32> = BTreeMap::new();
        for request in self.in_flight.values() {
            *in_flight_to.entry(request.broker).or_default() += 1;
        }
        for (tp, queue) in self.queues.iter_mut() {
            let Some(leader) = self.metadata.leader(tp) else {
                continue;
            };
            if self.txn.as_ref().is_some_and(|t| !t.may_send_to(tp)) {
                continue;
            }
            if self.config.acks != Acks::None
                && in_flight_to.get(&leader).copied().unwrap_or(0)
                    >= self.config.max_in_flight_requests_per_connection
            {
                continue;
            }
            let is_last = queue.len() == 1;
            if !queue.front().is_some_and(|head| {
                head.is_ready(
                    now,
                    is_last,
                    self.config.linger_ms,
                    self.config.batch_size_records,
                )
            }) {
                continue;
            }
            let mut batch = queue.pop_front().expect("head exists");
            if self.idempotent && batch.stamp.is_none() {
                batch.stamp = self.sequences.stamp(tp, batch.records.len());
            }
            batch.attempts += 1;
            batch.acknowledged_when_sent = self.sequences.acknowledged(tp);
            per_broker.entry(leader).or_default().push(batch);
        }
        let transactional_id = self.txn.as_ref().map(|t| t.transactional_id().clone());
        for (broker, batches) in per_broker {
            let correlation_id = self.next_correlation();
            out.push(Output::Send {
                to: broker.node(),
                message: Message::ProduceRequest {
                    correlation_id,
                    acks: self.config.acks,
                    timeout_ms: self.config.request_timeout_ms,
                    transactional_id: transactional_id.clone(),
                    batches: batches
                        .iter()
                        .map(|b| {
                            let mut wire = b.to_wire();
                            wire.txn = transactional_id.as_ref().map(|_| TxnPart::Data);
                            (b.tp.clone(), wire)
                        })
                        .collect(),
                },
            });
            if self.config.acks == Acks::None {
                for batch in &batches {
                    batch.report_ok(None, out);
                }
            } else {
                self.in_flight.insert(
                    correlation_id,
                    InFlightRequest {
                        broker,
                        sent_ms: now,
                        batches,
                    },
                );
            }
        }
    }
}

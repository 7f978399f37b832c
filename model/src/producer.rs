//! The producer client: partitions records (murmur2 by key, sticky without), batches them
//! per partition, sends at most `max.in.flight.requests.per.connection` requests per broker,
//! retries, and with idempotence stamps batches with producer id, epoch and sequence.

use crate::config::{Acks, ProducerConfig};
use crate::effect::{Observation, Output};
use crate::ids::{BrokerId, Millis, NodeId, ProducerEpoch, ProducerId, TopicPartition};
use crate::ids::{LeaderEpoch, Offset};
use crate::partitioner::{partition_for_key, StickyPartitioner};
use crate::protocol::{ErrorCode, Message};
use crate::record::{ProducerStamp, Record, RecordBatch};
use std::collections::{BTreeMap, VecDeque};

/// A record the application handed to `send` before its partition was known.
#[derive(Clone, Debug)]
struct PendingRecord {
    topic: String,
    key: Option<String>,
    value: u64,
    created_ms: Millis,
    random: u64,
}

/// A batch in the accumulator or in flight.
#[derive(Clone, Debug)]
struct ProducerBatch {
    tp: TopicPartition,
    records: Vec<Record>,
    created_ms: Millis,
    /// The idempotent stamp, fixed at first send and kept across retries.
    stamp: Option<ProducerStamp>,
    attempts: u32,
    retry_after_ms: Millis,
    /// The last attempt timed out: the broker may have written it. A definite refusal
    /// of a later attempt clears it (a written earlier attempt would have made the
    /// retry a duplicate, acknowledged, not refused).
    maybe_written: bool,
    /// The partition's acknowledged sequence when this attempt was sent.
    acknowledged_when_sent: u32,
}

#[derive(Clone, Debug)]
struct InFlightRequest {
    broker: BrokerId,
    sent_ms: Millis,
    batches: Vec<ProducerBatch>,
}

/// A request for metadata or a producer id, with when it was sent.
#[derive(Clone, Copy, Debug)]
struct Pending {
    correlation_id: u64,
    sent_ms: Millis,
}

/// The producer state machine.
#[derive(Clone, Debug)]
pub struct Producer {
    config: ProducerConfig,
    bootstrap: Vec<BrokerId>,
    bootstrap_cursor: usize,
    leaders: BTreeMap<TopicPartition, Option<BrokerId>>,
    partition_counts: BTreeMap<String, u32>,
    metadata_request: Option<Pending>,
    metadata_wanted: bool,
    metadata_not_before_ms: Millis,
    identity: Option<(ProducerId, ProducerEpoch)>,
    pid_request: Option<Pending>,
    /// Set when a sequence gap can never be filled: bump the epoch once nothing is in flight.
    epoch_bump_pending: bool,
    next_sequence: BTreeMap<TopicPartition, u32>,
    /// Per partition, one past the last sequence acknowledged in the current epoch.
    acknowledged_sequence: BTreeMap<TopicPartition, u32>,
    unpartitioned: VecDeque<PendingRecord>,
    queues: BTreeMap<TopicPartition, VecDeque<ProducerBatch>>,
    in_flight: BTreeMap<u64, InFlightRequest>,
    next_correlation_id: u64,
    sticky: StickyPartitioner,
    /// `now` at the last drive: deadlines at or before it are no reason to wake.
    driven_at_ms: Millis,
}

impl Producer {
    pub fn new(config: ProducerConfig, bootstrap: Vec<BrokerId>) -> Self {
        assert!(!bootstrap.is_empty(), "a producer needs bootstrap brokers");
        Producer {
            config,
            bootstrap,
            bootstrap_cursor: 0,
            leaders: BTreeMap::new(),
            partition_counts: BTreeMap::new(),
            metadata_request: None,
            metadata_wanted: true,
            metadata_not_before_ms: 0,
            identity: None,
            pid_request: None,
            epoch_bump_pending: false,
            next_sequence: BTreeMap::new(),
            acknowledged_sequence: BTreeMap::new(),
            unpartitioned: VecDeque::new(),
            queues: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            next_correlation_id: 0,
            sticky: StickyPartitioner::default(),
            driven_at_ms: 0,
        }
    }

    /// Records handed to `send` whose outcome is not known yet.
    pub fn pending_records(&self) -> usize {
        self.unpartitioned.len()
            + self
                .queues
                .values()
                .flatten()
                .map(|b| b.records.len())
                .sum::<usize>()
            + self
                .in_flight
                .values()
                .flat_map(|r| &r.batches)
                .map(|b| b.records.len())
                .sum::<usize>()
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
        let mut deadline: Option<Millis> = None;
        let mut at = |t: Millis| deadline = Some(deadline.map_or(t, |d| d.min(t)));
        let timeout = self.config.request_timeout_ms;
        if let Some(p) = self.metadata_request {
            at(p.sent_ms + timeout);
        } else if self.metadata_wanted {
            at(self.metadata_not_before_ms);
        }
        if let Some(p) = self.pid_request {
            at(p.sent_ms + timeout);
        }
        for request in self.in_flight.values() {
            at(request.sent_ms + timeout);
        }
        for record in &self.unpartitioned {
            at(record.created_ms + self.config.delivery_timeout_ms);
        }
        for queue in self.queues.values() {
            for batch in queue {
                at(batch.created_ms + self.config.delivery_timeout_ms);
                // A batch that was ready at the last drive but stayed (in-flight limit,
                // unknown leader, no producer id) waits for a response, not a timer.
                let ready_ms = batch
                    .retry_after_ms
                    .max(batch.created_ms + self.config.linger_ms);
                if ready_ms > self.driven_at_ms {
                    at(ready_ms);
                }
            }
        }
        deadline
    }

    pub fn tick(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.drive(now, out);
    }

    pub fn on_message(
        &mut self,
        now: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        match message {
            Message::MetadataResponse {
                correlation_id,
                partitions,
                ..
            } if self.metadata_request.map(|p| p.correlation_id) == Some(correlation_id) => {
                self.metadata_request = None;
                self.metadata_wanted = false;
                self.leaders.clear();
                self.partition_counts.clear();
                for p in partitions {
                    *self.partition_counts.entry(p.tp.topic.clone()).or_default() += 1;
                    self.leaders.insert(p.tp, p.leader);
                }
            }
            Message::InitProducerIdResponse {
                correlation_id,
                producer_id,
                producer_epoch,
            } if self.pid_request.map(|p| p.correlation_id) == Some(correlation_id) => {
                self.pid_request = None;
                self.identity = Some((producer_id, producer_epoch));
            }
            Message::ProduceResponse {
                correlation_id,
                results,
            } => {
                // A response to a request we gave up on (timed out) is stale: ignore it.
                if let Some(request) = self.in_flight.remove(&correlation_id) {
                    self.complete(now, request, results, out);
                }
            }
            _ => {
                let _ = from;
            }
        }
        self.drive(now, out);
    }

    fn complete(
        &mut self,
        now: Millis,
        request: InFlightRequest,
        results: Vec<(TopicPartition, Result<Offset, ErrorCode>)>,
        out: &mut Vec<Output>,
    ) {
        for batch in request.batches {
            let result = results
                .iter()
                .find(|(tp, _)| *tp == batch.tp)
                .map_or(Err(ErrorCode::RequestTimedOut), |(_, r)| *r);
            match result {
                Ok(base) => {
                    if let (Some(stamp), Some((_, epoch))) = (batch.stamp, self.identity) {
                        if stamp.producer_epoch == epoch {
                            let next = stamp.base_sequence + batch.records.len() as u32;
                            let acked = self
                                .acknowledged_sequence
                                .entry(batch.tp.clone())
                                .or_insert(0);
                            *acked = (*acked).max(next);
                        }
                    }
                    for (i, record) in batch.records.iter().enumerate() {
                        out.push(Output::Observe(Observation::SendOk {
                            value: record.value,
                            tp: batch.tp.clone(),
                            offset: Some(Offset(base.0 + i as u64)),
                        }));
                    }
                }
                Err(error) => self.failed(now, batch, error, out),
            }
        }
    }

    /// A batch came back with an error or timed out: retry it or give up on it.
    fn failed(
        &mut self,
        now: Millis,
        mut batch: ProducerBatch,
        error: ErrorCode,
        out: &mut Vec<Output>,
    ) {
        if error.needs_metadata_refresh() || error == ErrorCode::RequestTimedOut {
            self.metadata_wanted = true;
        }
        if !error.is_retriable() || batch.attempts > self.config.retries {
            for record in &batch.records {
                out.push(Output::Observe(Observation::SendInfo {
                    value: record.value,
                    error: error.to_string(),
                }));
            }
            return;
        }
        if let (ErrorCode::OutOfOrderSequence, Some(stamp)) = (error, batch.stamp) {
            let acknowledged = self
                .acknowledged_sequence
                .get(&batch.tp)
                .copied()
                .unwrap_or(0);
            if Some(stamp.producer_epoch) == self.identity.map(|(_, e)| e)
                && stamp.base_sequence < acknowledged
            {
                // A later sequence was appended, and the broker appends only in sequence:
                // an earlier attempt was written, but the broker no longer remembers where.
                for record in &batch.records {
                    out.push(Output::Observe(Observation::SendInfo {
                        value: record.value,
                        error: "written (a later sequence was acknowledged), offset unknown".into(),
                    }));
                }
                return;
            }
        }
        batch.maybe_written = error == ErrorCode::RequestTimedOut;
        if error == ErrorCode::OutOfOrderSequence && self.is_unfillable_gap(&batch) {
            // Nothing earlier can fill the gap (the broker lost it or it expired):
            // bump the epoch and restart sequences (KIP-360).
            out.push(Output::Note(format!(
                "{} seq {} refused as out of order with nothing earlier pending",
                batch.tp,
                batch.stamp.map_or(0, |s| s.base_sequence)
            )));
            self.epoch_bump_pending = true;
        }
        batch.retry_after_ms = now + self.config.retry_backoff_ms;
        let queue = self.queues.entry(batch.tp.clone()).or_default();
        match batch.stamp {
            // Idempotent retries go back in sequence order so that order is kept.
            Some(stamp) => {
                let at = queue
                    .iter()
                    .position(|b| {
                        b.stamp
                            .is_none_or(|s| s.base_sequence > stamp.base_sequence)
                    })
                    .unwrap_or(queue.len());
                queue.insert(at, batch);
            }
            // Kafka re-enqueues a failed batch at the head of its partition's deque.
            None => queue.push_front(batch),
        }
    }

    /// A refused sequence is a gap nothing will fill when no earlier batch of its
    /// partition is pending and the broker has not acknowledged up to it meanwhile (the
    /// refusal may have overtaken the batch before it).
    fn is_unfillable_gap(&self, batch: &ProducerBatch) -> bool {
        let Some(stamp) = batch.stamp else {
            return false;
        };
        let acknowledged = self
            .acknowledged_sequence
            .get(&batch.tp)
            .copied()
            .unwrap_or(0);
        if Some(stamp.producer_epoch) == self.identity.map(|(_, e)| e)
            && acknowledged == stamp.base_sequence
            && batch.acknowledged_when_sent < acknowledged
        {
            return false;
        }
        let earlier = |b: &ProducerBatch| {
            b.tp == batch.tp
                && b.stamp.is_some_and(|s| {
                    s.producer_epoch == stamp.producer_epoch
                        && s.base_sequence < stamp.base_sequence
                })
        };
        !self.queues.values().flatten().any(earlier)
            && !self
                .in_flight
                .values()
                .flat_map(|r| &r.batches)
                .any(earlier)
    }

    fn next_correlation(&mut self) -> u64 {
        self.next_correlation_id += 1;
        self.next_correlation_id
    }

    fn next_bootstrap(&mut self) -> BrokerId {
        let broker = self.bootstrap[self.bootstrap_cursor % self.bootstrap.len()];
        self.bootstrap_cursor += 1;
        broker
    }

    /// Moves every piece of work forward that can move at `now`.
    fn drive(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.driven_at_ms = now;
        self.expire_requests(now, out);
        self.request_metadata(now, out);
        self.request_producer_id(now, out);
        self.partition_records();
        self.expire_batches(now, out);
        if self.epoch_bump_pending && self.in_flight.is_empty() {
            self.bump_epoch(out);
        }
        self.drain(now, out);
    }

    fn expire_requests(&mut self, now: Millis, out: &mut Vec<Output>) {
        let timeout = self.config.request_timeout_ms;
        if self
            .metadata_request
            .is_some_and(|p| p.sent_ms + timeout <= now)
        {
            self.metadata_request = None;
            self.metadata_wanted = true;
        }
        if self.pid_request.is_some_and(|p| p.sent_ms + timeout <= now) {
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

    fn request_metadata(&mut self, now: Millis, out: &mut Vec<Output>) {
        if !self.metadata_wanted
            || self.metadata_request.is_some()
            || now < self.metadata_not_before_ms
        {
            return;
        }
        let correlation_id = self.next_correlation();
        let broker = self.next_bootstrap();
        self.metadata_request = Some(Pending {
            correlation_id,
            sent_ms: now,
        });
        self.metadata_not_before_ms = now + self.config.retry_backoff_ms;
        out.push(Output::Send {
            to: broker.node(),
            message: Message::MetadataRequest { correlation_id },
        });
    }

    fn request_producer_id(&mut self, now: Millis, out: &mut Vec<Output>) {
        if !self.config.idempotence || self.identity.is_some() || self.pid_request.is_some() {
            return;
        }
        let correlation_id = self.next_correlation();
        let broker = self.next_bootstrap();
        self.pid_request = Some(Pending {
            correlation_id,
            sent_ms: now,
        });
        out.push(Output::Send {
            to: broker.node(),
            message: Message::InitProducerIdRequest { correlation_id },
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
            let queue = self.queues.entry(tp.clone()).or_default();
            let open = queue.back_mut().filter(|b| {
                b.stamp.is_none()
                    && b.attempts == 0
                    && b.records.len() < self.config.batch_size_records
            });
            let keyless = record.key.is_none();
            let item = Record {
                key: record.key,
                value: record.value,
                timestamp_ms: record.created_ms,
            };
            match open {
                Some(batch) => batch.records.push(item),
                None => {
                    if keyless {
                        self.sticky.on_new_batch(&tp.topic, count, record.random);
                    }
                    queue.push_back(ProducerBatch {
                        tp,
                        records: vec![item],
                        created_ms: record.created_ms,
                        stamp: None,
                        attempts: 0,
                        retry_after_ms: 0,
                        maybe_written: false,
                        acknowledged_when_sent: 0,
                    });
                }
            }
        }
    }

    fn expire_batches(&mut self, now: Millis, out: &mut Vec<Output>) {
        let timeout = self.config.delivery_timeout_ms;
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
        for queue in self.queues.values_mut() {
            queue.retain(|batch| {
                if batch.created_ms + timeout > now {
                    return true;
                }
                for record in &batch.records {
                    let error = "TimeoutException: delivery.timeout.ms expired".to_string();
                    let value = record.value;
                    out.push(Output::Observe(if batch.attempts == 0 {
                        Observation::SendFail { value, error }
                    } else {
                        Observation::SendInfo { value, error }
                    }));
                }
                false
            });
        }
    }

    fn bump_epoch(&mut self, out: &mut Vec<Output>) {
        self.epoch_bump_pending = false;
        out.push(Output::Note(format!(
            "bump producer epoch from {:?}",
            self.identity
        )));
        if let Some((pid, epoch)) = self.identity {
            self.identity = Some((pid, ProducerEpoch(epoch.0 + 1)));
        }
        self.next_sequence.clear();
        self.acknowledged_sequence.clear();
        for queue in self.queues.values_mut() {
            queue.retain(|batch| {
                if !batch.maybe_written {
                    return true;
                }
                // Sent under the old epoch and perhaps written: resending it under the new
                // epoch could write it twice, so its outcome stays unknown.
                for record in &batch.records {
                    out.push(Output::Observe(Observation::SendInfo {
                        value: record.value,
                        error:
                            "TimeoutException: outcome unknown when the producer epoch was bumped"
                                .into(),
                    }));
                }
                false
            });
            for batch in queue.iter_mut() {
                batch.stamp = None;
            }
        }
    }

    fn ready(&self, batch: &ProducerBatch, is_last: bool, now: Millis) -> bool {
        if batch.retry_after_ms > now {
            return false;
        }
        !is_last
            || batch.attempts > 0
            || batch.records.len() >= self.config.batch_size_records
            || batch.created_ms + self.config.linger_ms <= now
    }

    /// Sends ready batches, one per partition per request, within the in-flight limit.
    fn drain(&mut self, now: Millis, out: &mut Vec<Output>) {
        if self.config.idempotence && (self.identity.is_none() || self.epoch_bump_pending) {
            return;
        }
        let mut per_broker: BTreeMap<BrokerId, Vec<ProducerBatch>> = BTreeMap::new();
        let in_flight_to = |broker: BrokerId, in_flight: &BTreeMap<u64, InFlightRequest>| {
            in_flight.values().filter(|r| r.broker == broker).count() as u32
        };
        let tps: Vec<TopicPartition> = self.queues.keys().cloned().collect();
        for tp in tps {
            let Some(Some(leader)) = self.leaders.get(&tp).copied() else {
                continue;
            };
            if self.config.acks != Acks::None
                && in_flight_to(leader, &self.in_flight)
                    >= self.config.max_in_flight_requests_per_connection
            {
                continue;
            }
            let queue = &self.queues[&tp];
            let Some(head) = queue.front() else { continue };
            if !self.ready(head, queue.len() == 1, now) {
                continue;
            }
            let mut batch = self
                .queues
                .get_mut(&tp)
                .expect("exists")
                .pop_front()
                .expect("head exists");
            if let (true, None, Some((pid, epoch))) =
                (self.config.idempotence, batch.stamp, self.identity)
            {
                let next = self.next_sequence.entry(tp.clone()).or_insert(0);
                batch.stamp = Some(ProducerStamp {
                    producer_id: pid,
                    producer_epoch: epoch,
                    base_sequence: *next,
                });
                *next += batch.records.len() as u32;
            }
            batch.attempts += 1;
            batch.acknowledged_when_sent =
                self.acknowledged_sequence.get(&tp).copied().unwrap_or(0);
            per_broker.entry(leader).or_default().push(batch);
        }
        for (broker, batches) in per_broker {
            let correlation_id = self.next_correlation();
            let wire = batches
                .iter()
                .map(|b| {
                    (
                        b.tp.clone(),
                        RecordBatch {
                            base_offset: Offset(0),
                            leader_epoch: LeaderEpoch(0),
                            producer: b.stamp,
                            records: b.records.clone(),
                        },
                    )
                })
                .collect();
            out.push(Output::Send {
                to: broker.node(),
                message: Message::ProduceRequest {
                    correlation_id,
                    acks: self.config.acks,
                    batches: wire,
                },
            });
            if self.config.acks == Acks::None {
                for batch in &batches {
                    for record in &batch.records {
                        out.push(Output::Observe(Observation::SendOk {
                            value: record.value,
                            tp: batch.tp.clone(),
                            offset: None,
                        }));
                    }
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

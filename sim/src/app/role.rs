//! The service role: the node side of a service replica. It owns the replica's model
//! clients (a producer, made at the first send; a group consumer in manual commit mode,
//! made at subscribe), serves its code's requests at every step, and answers them from
//! the clients' observations, so the history is the built-in clients'.

use super::consumer::{CommitError, Record};
use super::mailbox::{Mailbox, Request};
use super::producer::{Delivered, ProduceError};
use crate::actors::consumer::consumer_status;
use crate::actors::producer::producer_status;
use crate::actors::two_clients::{answers_producer, PRODUCER_REQUESTS_FROM};
use crate::actors::Role;
use crate::world::World;
use futures::channel::mpsc::UnboundedReceiver;
use futures::channel::oneshot;
use kafka_model::config::{ConsumerConfig, ProducerConfig};
use kafka_model::consumer::Consumer;
use kafka_model::effect::{Observation, ObservedRecord, Output};
use kafka_model::group::Assignor;
use kafka_model::ids::{BrokerId, Millis, NodeId, Offset, TopicPartition};
use kafka_model::member::{CommitMode, MemberConfig};
use kafka_model::producer::Producer;
use kafka_model::protocol::Message;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Every payload a service sent, by the record value that names it: the log's records
/// carry the value, and a reader on any node gets the payload back from here.
pub(crate) type Payloads = Arc<Mutex<BTreeMap<u64, Vec<u8>>>>;

/// What a replica's role is built from.
#[derive(Clone)]
pub(crate) struct ServiceSetup {
    pub producer: ProducerConfig,
    pub consumer: ConsumerConfig,
    pub member: MemberConfig,
    pub bootstrap: Vec<BrokerId>,
    pub payloads: Payloads,
    /// The high bits of the replica's record values (see `spawn::value_prefix`).
    pub value_prefix: u64,
}

pub(crate) struct ServiceRole {
    me: NodeId,
    name: String,
    setup: ServiceSetup,
    mailbox: Mailbox,
    wakes: Option<UnboundedReceiver<()>>,
    incarnation: u32,
    sends: u64,
    producer: Option<Producer>,
    consumer: Option<Consumer>,
    /// Sends waiting for their fate, by record value.
    sends_pending: BTreeMap<u64, oneshot::Sender<Result<Delivered, ProduceError>>>,
    /// Records polled, not yet received by the code.
    inbox: VecDeque<(ObservedRecord, u32)>,
    receivers: VecDeque<oneshot::Sender<Record>>,
    /// After the last record received, per partition: what `commit()` commits.
    received_next: BTreeMap<TopicPartition, Offset>,
    commit_pending: Option<oneshot::Sender<Result<(), CommitError>>>,
    /// The member's generation as of the last hand-over.
    generation: Option<u32>,
}

impl ServiceRole {
    pub fn new(me: NodeId, name: String, setup: ServiceSetup) -> (ServiceRole, Mailbox) {
        let (mailbox, wakes) = Mailbox::new();
        let role = ServiceRole {
            me,
            name,
            setup,
            mailbox: mailbox.clone(),
            wakes: Some(wakes),
            incarnation: 0,
            sends: 0,
            producer: None,
            consumer: None,
            sends_pending: BTreeMap::new(),
            inbox: VecDeque::new(),
            receivers: VecDeque::new(),
            received_next: BTreeMap::new(),
            commit_pending: None,
            generation: None,
        };
        (role, mailbox)
    }

    /// Serves the code's requests, then answers from what the clients did since `from`.
    fn serve(&mut self, now: Millis, out: &mut Vec<Output>, from: usize) {
        for request in self.mailbox.drain() {
            self.take(now, request, out);
        }
        self.answer(&out[from..]);
        if let Some(member) = self.consumer.as_mut().and_then(|c| c.member_mut()) {
            for (_, generation, records) in member.take_polled() {
                self.inbox
                    .extend(records.into_iter().map(|record| (record, generation.0)));
            }
        }
        self.hand_over(out);
    }

    fn take(&mut self, now: Millis, request: Request, out: &mut Vec<Output>) {
        match request {
            Request::Send {
                topic,
                key,
                payload,
                reply,
            } => {
                self.sends += 1;
                let value = self.setup.value_prefix
                    | ((u64::from(self.incarnation) & 0xFFF) << 30)
                    | (self.sends & 0x3FFF_FFFF);
                self.setup
                    .payloads
                    .lock()
                    .expect("payloads")
                    .insert(value, payload);
                self.sends_pending.insert(value, reply);
                let producer = self.producer.get_or_insert_with(|| {
                    let mut producer =
                        Producer::new(self.setup.producer.clone(), self.setup.bootstrap.clone());
                    producer.number_requests_from(PRODUCER_REQUESTS_FROM);
                    producer
                });
                // The sticky partitioner's draw comes from the value, so a replay sends
                // each keyless record where it went before.
                let random = value.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                producer.send(now, &topic, key, value, random, out);
            }
            Request::Subscribe { group, topics } => {
                if self.consumer.is_some() {
                    return;
                }
                let member = MemberConfig {
                    group,
                    ..self.setup.member.clone()
                };
                let mut consumer = Consumer::in_group(
                    self.setup.consumer.clone(),
                    self.setup.bootstrap.clone(),
                    topics,
                    member,
                    self.name.clone(),
                );
                consumer.start(now, out);
                self.consumer = Some(consumer);
            }
            Request::Recv { reply } => self.receivers.push_back(reply),
            Request::Commit { offsets, reply } => {
                let offsets =
                    offsets.unwrap_or_else(|| self.received_next.clone().into_iter().collect());
                let refused = |error: String| Err(CommitError { error });
                let Some(consumer) = self.consumer.as_mut() else {
                    let _ = reply.send(refused("the consumer has not subscribed".into()));
                    return;
                };
                if self.commit_pending.is_some() {
                    let _ = reply.send(refused("another commit is in flight".into()));
                    return;
                }
                match consumer.commit_manually(now, offsets, out) {
                    Ok(_) => self.commit_pending = Some(reply),
                    Err(why) => {
                        let _ = reply.send(refused(why.to_string()));
                    }
                }
            }
        }
    }

    /// Completes sends and the commit whose outcome the step's observations tell.
    fn answer(&mut self, outputs: &[Output]) {
        for output in outputs {
            let Output::Observe(observation) = output else {
                continue;
            };
            match observation {
                Observation::SendOk { value, tp, offset } => {
                    if let Some(reply) = self.sends_pending.remove(value) {
                        let _ = reply.send(Ok(Delivered {
                            partition: tp.partition,
                            offset: offset.map(|o| o.0),
                            id: *value,
                        }));
                    }
                }
                Observation::SendFail { value, error } | Observation::SendInfo { value, error } => {
                    if let Some(reply) = self.sends_pending.remove(value) {
                        let maybe_written = matches!(observation, Observation::SendInfo { .. });
                        let _ = reply.send(Err(ProduceError {
                            error: error.clone(),
                            maybe_written,
                        }));
                    }
                }
                Observation::CommitOk(_) => {
                    if let Some(reply) = self.commit_pending.take() {
                        let _ = reply.send(Ok(()));
                    }
                }
                Observation::CommitFail { error, .. } => {
                    if let Some(reply) = self.commit_pending.take() {
                        let _ = reply.send(Err(CommitError {
                            error: error.clone(),
                        }));
                    }
                }
                _ => {}
            }
        }
    }

    /// Gives waiting receivers the next records, each a `process` of the member in the
    /// history as the code gets it.
    fn hand_over(&mut self, out: &mut Vec<Output>) {
        let Some(member) = self.consumer.as_ref().and_then(|c| c.member()) else {
            return;
        };
        // The service's consumer is eager (`service_member_config`): a new generation
        // revoked every partition first, and what it owns now is fetched again from the
        // committed offsets, as Kafka's consumer drops its fetch buffer on a revocation.
        let current = member.generation().map(|g| g.0);
        if current != self.generation {
            self.generation = current;
            self.received_next.clear();
        }
        while !self.inbox.is_empty() && !self.receivers.is_empty() {
            let (record, generation) = self.inbox.pop_front().expect("not empty");
            let tp = TopicPartition::new(record.topic.clone(), record.partition);
            if Some(generation) != current || !member.owned().contains(&tp) {
                // Given up since it was polled: read again by its next owner.
                continue;
            }
            let receiver = self.receivers.pop_front().expect("not empty");
            if receiver.is_canceled() {
                self.inbox.push_front((record, generation));
                continue;
            }
            let payload = self
                .setup
                .payloads
                .lock()
                .expect("payloads")
                .get(&record.value)
                .cloned();
            let delivered = Record {
                topic: record.topic.clone(),
                partition: record.partition,
                offset: record.offset,
                key: record.key.clone(),
                value: payload.unwrap_or_else(|| record.value.to_string().into_bytes()),
                id: record.value,
            };
            out.push(Output::Observe(Observation::Process {
                group: member.group().0.clone(),
                member: member.member_label(),
                generation,
                records: vec![record.clone()],
            }));
            self.received_next.insert(tp, Offset(record.offset + 1));
            let _ = receiver.send(delivered);
        }
        let owned = member.owned();
        self.received_next.retain(|tp, _| owned.contains(tp));
    }

    fn tick_clients(&mut self, now: Millis, out: &mut Vec<Output>) {
        if let Some(consumer) = self.consumer.as_mut() {
            consumer.tick(now, out);
        }
        if let Some(producer) = self.producer.as_mut() {
            producer.tick(now, out);
        }
    }
}

impl Role for ServiceRole {
    fn start(&mut self, world: &World, local_ms: Millis, _global_ms: u64, out: &mut Vec<Output>) {
        self.incarnation = world.next_incarnation(self.me);
        let from = out.len();
        self.serve(local_ms, out, from);
    }

    fn on_message(
        &mut self,
        local_ms: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        let at = out.len();
        if answers_producer(&message) {
            if let Some(producer) = self.producer.as_mut() {
                producer.on_message(local_ms, from, message, out);
            }
        } else if let Some(consumer) = self.consumer.as_mut() {
            consumer.on_message(local_ms, from, message, out);
        }
        self.serve(local_ms, out, at);
    }

    fn on_tick(&mut self, local_ms: Millis, _global_ms: u64, out: &mut Vec<Output>) {
        let at = out.len();
        self.tick_clients(local_ms, out);
        self.serve(local_ms, out, at);
    }

    fn on_disconnected(&mut self, local_ms: Millis, peer: NodeId, out: &mut Vec<Output>) {
        let at = out.len();
        if let Some(consumer) = self.consumer.as_mut() {
            consumer.on_disconnected(local_ms, peer, out);
        }
        if let Some(producer) = self.producer.as_mut() {
            producer.on_disconnected(local_ms, peer, out);
        }
        self.serve(local_ms, out, at);
    }

    fn take_wakes(&mut self) -> Option<UnboundedReceiver<()>> {
        self.wakes.take()
    }

    fn next_deadline(&self, _local_ms: Millis, _global_ms: u64) -> Option<Millis> {
        let consumer = self.consumer.as_ref().and_then(Consumer::next_deadline);
        let producer = self.producer.as_ref().and_then(Producer::next_deadline);
        match (consumer, producer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn publish(&self, world: &World, me: NodeId) {
        let pending = self
            .producer
            .as_ref()
            .map_or(0, |p| p.pending_records() as u64)
            + self.sends_pending.len() as u64;
        let status = match &self.consumer {
            Some(consumer) => consumer_status(world, me, consumer, pending),
            None => producer_status(pending),
        };
        world.set_client_status(me, status);
    }
}

/// The member settings of a service's consumer: a `[[groups]]` entry's defaults (Kafka's
/// timeouts scaled down as the harness scales them), committing by hand, with an eager
/// assignor (range): every rebalance revokes every partition, which `hand_over` relies on.
pub(crate) fn service_member_config() -> MemberConfig {
    let defaults = crate::scenario::GroupSpec::default();
    MemberConfig {
        assignors: vec![Assignor::Range],
        commit_mode: CommitMode::Manual,
        process_ms: 0,
        ..defaults.member_config()
    }
}

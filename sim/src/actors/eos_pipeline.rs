//! The exactly-once pipeline role (consume-transform-produce, KIP-447): one node runs a
//! group member reading the input topic and a transactional producer side by side, as a
//! Kafka EOS application does. Each time the member has processed records, the application
//! begins a transaction, sends one output record per input record (same key, in the order
//! polled), sends the offsets with the member's generation, and commits. After a
//! transaction that did not commit, the member seeks back to the committed offsets and the
//! records are processed again, as new output records; a producer that is fenced for good
//! is replaced by a new one with the same `transactional.id`. With `abort_every`, every
//! n-th transaction aborts on purpose once its records are flushed (a processing error).

use super::consumer::consumer_status;
use super::two_clients::{answers_producer, PRODUCER_REQUESTS_FROM};
use super::Role;
use crate::world::World;
use kafka_model::config::ProducerConfig;
use kafka_model::consumer::Consumer;
use kafka_model::effect::{Observation, Output, PlannedSend, TxnObservation};
use kafka_model::ids::{BrokerId, Millis, NodeId};
use kafka_model::member::TransactionInput;
use kafka_model::producer::{Producer, TxnEvent, TxnOutcome, TxnPhase};
use kafka_model::protocol::Message;

/// Output values are unique per run (checkers name a record by its value): this bit, the
/// member's number, its incarnation and a count of its sends (the brokers' own records use
/// bits 60 to 62, a retrying transactional producer bit 59). Which input an output derives
/// from is in the history: a transaction's n-th send derives from its n-th polled record.
const OUTPUT_VALUE_BIT: u64 = 1 << 58;

/// The `n`-th producer instance (from 1), numbering its requests in a range of its own.
fn numbered_producer(config: &ProducerConfig, bootstrap: &[BrokerId], n: u64) -> Producer {
    let mut producer = Producer::new(config.clone(), bootstrap.to_vec());
    producer.number_requests_from(PRODUCER_REQUESTS_FROM * n);
    producer
}

pub struct EosPipelineRole {
    me: NodeId,
    consumer: Consumer,
    producer: Producer,
    producer_config: ProducerConfig,
    bootstrap: Vec<BrokerId>,
    output_topic: String,
    /// The member's number in its group (1-based), for its output values.
    member_number: u32,
    incarnation: u32,
    /// Producer instances made so far (the first included).
    producers_made: u64,
    sends: u64,
    /// A transaction holds the member's processed records.
    open: bool,
    /// Abort every this many transactions on purpose (an application's processing error).
    abort_every: Option<u64>,
    /// KIP-447: the offsets carry the member's generation, so that a zombie's are refused.
    /// `false` is a pre-KIP-447 application that sends them with the group id alone.
    fence_with_generation: bool,
    begun: u64,
    /// The open transaction is to abort once its records are flushed.
    abort_when_flushed: bool,
}

impl EosPipelineRole {
    pub fn new(
        me: NodeId,
        consumer: Consumer,
        producer_config: ProducerConfig,
        bootstrap: Vec<BrokerId>,
        output_topic: String,
        member_number: u32,
        (abort_every, fence_with_generation): (Option<u64>, bool),
    ) -> Self {
        EosPipelineRole {
            me,
            producer: numbered_producer(&producer_config, &bootstrap, 1),
            consumer,
            producer_config,
            bootstrap,
            output_topic,
            member_number,
            incarnation: 0,
            producers_made: 1,
            sends: 0,
            open: false,
            abort_every,
            fence_with_generation,
            begun: 0,
            abort_when_flushed: false,
        }
    }

    fn new_producer(&mut self) {
        self.producers_made += 1;
        self.producer =
            numbered_producer(&self.producer_config, &self.bootstrap, self.producers_made);
    }

    fn phase(&self) -> TxnPhase {
        self.producer
            .transactions()
            .map_or(TxnPhase::Initializing, |t| t.phase().clone())
    }

    /// Takes the producer's news, then starts a transaction if records wait for one.
    fn step(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.take_events(now, out);
        // An application that aborts flushes first (its records reached the log, and the
        // abort must take them back), so that aborted data is there for readers to skip.
        if self.abort_when_flushed
            && self.phase() == TxnPhase::InTransaction
            && self.producer.pending_records() == 0
        {
            self.abort_when_flushed = false;
            if let Err(error) = self.producer.end_transaction(now, false, out) {
                out.push(Output::Note(format!("abort transaction: {error}")));
            }
            self.take_events(now, out);
        }
        if self.open || self.phase() != TxnPhase::Ready {
            return;
        }
        let Some(input) = self
            .consumer
            .member_mut()
            .and_then(|member| member.take_processed())
        else {
            return;
        };
        self.run_transaction(now, input, out);
        self.take_events(now, out);
    }

    /// One transaction: begin, one send per input record, the offsets, commit.
    fn run_transaction(&mut self, now: Millis, input: TransactionInput, out: &mut Vec<Output>) {
        if let Err(error) = self.producer.begin_transaction() {
            out.push(Output::Note(format!("begin transaction: {error}")));
            return self.transaction_over(now, false, out);
        }
        self.open = true;
        self.begun += 1;
        self.abort_when_flushed = self
            .abort_every
            .is_some_and(|n| self.begun.is_multiple_of(n));
        let records: Vec<_> = input
            .polls
            .iter()
            .flat_map(|(_, records)| records.iter().cloned())
            .collect();
        let sends: Vec<PlannedSend> = records
            .iter()
            .map(|record| {
                self.sends += 1;
                PlannedSend {
                    topic: self.output_topic.clone(),
                    key: record.key.clone(),
                    value: OUTPUT_VALUE_BIT
                        | (u64::from(self.member_number) << 44)
                        | ((u64::from(self.incarnation) & 0x3FFF) << 30)
                        | (self.sends & 0x3FFF_FFFF),
                }
            })
            .collect();
        let txn = self
            .producer
            .transactions()
            .expect("a transactional producer");
        let (transactional_id, producer_epoch) = (
            txn.transactional_id().to_string(),
            txn.identity().map(|(_, epoch)| epoch.0),
        );
        out.push(Output::Observe(Observation::Txn(TxnObservation::Polled {
            records: records.clone(),
            isolation: kafka_model::txn::IsolationLevel::ReadCommitted,
        })));
        out.push(Output::Observe(Observation::Txn(TxnObservation::Begin {
            transactional_id,
            producer_epoch,
            sends: sends.clone(),
        })));
        for (record, send) in records.iter().zip(sends) {
            // The partitioner's draw for a keyless record comes from the input record, so
            // that a replay sends it where it went before.
            let random = record.value ^ (u64::from(record.partition) << 32);
            self.producer
                .send(now, &send.topic, send.key, send.value, random, out);
        }
        out.push(Output::Observe(Observation::Txn(TxnObservation::Offsets {
            group: input.group.0.clone(),
            offsets: input.offsets.clone(),
        })));
        let fence = self.fence_with_generation;
        let offsets = self.producer.send_offsets_to_transaction(
            now,
            input.group,
            fence.then_some(input.generation),
            fence.then_some(input.member),
            input.offsets,
            out,
        );
        if let Err(error) = &offsets {
            out.push(Output::Note(format!("send offsets: {error}")));
        }
        if self.abort_when_flushed {
            return;
        }
        // commitTransaction flushes first; a refused offset commit or a batch given up
        // turns it into an abort.
        if let Err(error) = self.producer.end_transaction(now, offsets.is_ok(), out) {
            out.push(Output::Note(format!("end transaction: {error}")));
        }
    }

    fn take_events(&mut self, now: Millis, out: &mut Vec<Output>) {
        for event in self.producer.take_txn_events() {
            match event {
                TxnEvent::Ended { outcome, error } => {
                    out.push(Output::Observe(Observation::Txn(TxnObservation::End {
                        outcome,
                        error,
                    })));
                    self.transaction_over(now, outcome == TxnOutcome::Committed, out);
                }
                TxnEvent::Fatal(error) => {
                    // A Kafka application closes a fenced producer and makes a new one;
                    // its InitProducerId fences every older epoch.
                    out.push(Output::Note(format!(
                        "the producer stops: {error}; a new one takes its transactional id"
                    )));
                    self.transaction_over(now, false, out);
                    self.new_producer();
                    self.producer.tick(now, out);
                }
                TxnEvent::Identity(..) | TxnEvent::DropUnsent => {}
            }
        }
    }

    /// The member learns how its records' transaction ended (a rewind after an abort).
    fn transaction_over(&mut self, now: Millis, committed: bool, out: &mut Vec<Output>) {
        self.abort_when_flushed = false;
        if !std::mem::take(&mut self.open) {
            return;
        }
        if let Some(member) = self.consumer.member_mut() {
            member.transaction_ended(committed);
        }
        let at = out.len();
        self.consumer.tick(now, out);
        Self::consumer_outputs(out, at);
    }

    /// The consumer's polls are the transactions' polls in the history (Jepsen's shape);
    /// its other observations (assignments, positions, refusals) stay as they are.
    fn consumer_outputs(out: &mut Vec<Output>, from: usize) {
        let tail = out.split_off(from);
        out.extend(tail.into_iter().filter(|output| {
            !matches!(
                output,
                Output::Observe(
                    Observation::PollInvoke { .. }
                        | Observation::PollOk { .. }
                        | Observation::PollFail { .. }
                )
            )
        }));
    }
}

impl Role for EosPipelineRole {
    fn start(&mut self, world: &World, local_ms: Millis, _global_ms: u64, out: &mut Vec<Output>) {
        self.incarnation = world.next_incarnation(self.me);
        let at = out.len();
        self.consumer.start(local_ms, out);
        Self::consumer_outputs(out, at);
        self.producer.tick(local_ms, out);
        self.step(local_ms, out);
    }

    fn on_message(
        &mut self,
        local_ms: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        if answers_producer(&message) {
            self.producer.on_message(local_ms, from, message, out);
        } else {
            let at = out.len();
            self.consumer.on_message(local_ms, from, message, out);
            Self::consumer_outputs(out, at);
        }
        self.step(local_ms, out);
    }

    fn on_tick(&mut self, local_ms: Millis, _global_ms: u64, out: &mut Vec<Output>) {
        let at = out.len();
        self.consumer.tick(local_ms, out);
        Self::consumer_outputs(out, at);
        self.producer.tick(local_ms, out);
        self.step(local_ms, out);
    }

    fn on_disconnected(&mut self, local_ms: Millis, peer: NodeId, out: &mut Vec<Output>) {
        let at = out.len();
        self.consumer.on_disconnected(local_ms, peer, out);
        Self::consumer_outputs(out, at);
        self.producer.on_disconnected(local_ms, peer, out);
        self.step(local_ms, out);
    }

    fn next_deadline(&self, _local_ms: Millis, _global_ms: u64) -> Option<Millis> {
        match (self.consumer.next_deadline(), self.producer.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn publish(&self, world: &World, me: NodeId) {
        let pending = self.producer.pending_records() as u64 + u64::from(self.open);
        let mut status = consumer_status(world, me, &self.consumer, pending);
        if pending > 0 && status.caught_up_as_of_ms.is_some() {
            status.waiting_for = format!("its transaction to end ({:?})", self.phase());
        }
        world.set_client_status(me, status);
    }
}

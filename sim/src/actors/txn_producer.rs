//! The transactional producer role: an application that sends the workload's records in
//! transactions of `records_per_transaction`, each begun when its first record is due and
//! committed once its last was handed to the client, or (every `abort_every`-th) aborted
//! once its records were all answered: an application that flushes, then aborts. A
//! transaction meant to commit that aborted anyway (a batch given up on, a lost fence) is
//! sent again in the next one, as a Kafka application retries an aborted transaction.
//! A successor instance (`[transactions] successor_at_ms`) is the same role, started late.

use super::producer::WorkItem;
use super::Role;
use crate::scenario::TransactionsSpec;
use crate::world::{ClientStatus, World};
use kafka_model::effect::{Observation, Output, PlannedSend, TxnObservation};
use kafka_model::ids::{Millis, NodeId};
use kafka_model::producer::{Producer, TxnEvent, TxnOutcome, TxnPhase};
use kafka_model::protocol::Message;
use std::collections::VecDeque;

pub struct TxnProducerRole {
    producer: Producer,
    work: VecDeque<WorkItem>,
    spec: TransactionsSpec,
    /// Transactions begun so far (the open one included).
    begun: u64,
    /// Records of the open transaction not yet handed to the client.
    to_send: u64,
    /// The open transaction's end was asked for.
    ending: bool,
    /// The open transaction's records, to send again in the next one if it aborts without
    /// the application asking (as Kafka's applications retry an aborted transaction).
    open_items: Vec<WorkItem>,
    /// The open transaction sends an aborted one's records again.
    retrying: bool,
    /// How many records at the head of `work` are such records.
    retry_items: usize,
    /// Records sent again so far, numbering their new values.
    retries_sent: u64,
    /// The application instance starts at this time (global ms): a successor's, later
    /// than the run's start.
    starts_at_ms: u64,
}

/// Values are unique per run (checkers name a record by its value): a record sent again
/// after its transaction aborted gets a value of its own, with this bit set, the original
/// value above bit 20 and a count below (the brokers' own records use bits 60 to 62).
const RETRY_VALUE_BIT: u64 = 1 << 59;
/// The bits of a retry's count, below the original value.
const RETRY_COUNT_BITS: u32 = 20;

/// The value of the `count`-th record sent again (counted over the run, from 1), for a
/// record whose last value was `value`. A record sent again a second time keeps its first
/// value's original (shifting the whole retry value again would push bit 59 and the
/// original out of the word). Every count is taken once, so no two retries share a value.
fn retry_value(value: u64, count: u64) -> u64 {
    let original = if value & RETRY_VALUE_BIT != 0 {
        (value & !RETRY_VALUE_BIT) >> RETRY_COUNT_BITS
    } else {
        value
    };
    assert!(
        count < 1 << RETRY_COUNT_BITS,
        "more than {} records sent again in one run: their values would collide",
        (1u64 << RETRY_COUNT_BITS) - 1
    );
    assert!(
        original < RETRY_VALUE_BIT >> RETRY_COUNT_BITS,
        "record value {original} too large to number its retries"
    );
    RETRY_VALUE_BIT | (original << RETRY_COUNT_BITS) | count
}

impl TxnProducerRole {
    pub fn new(producer: Producer, work: Vec<WorkItem>, spec: TransactionsSpec) -> Self {
        TxnProducerRole {
            producer,
            work: work.into(),
            spec,
            begun: 0,
            to_send: 0,
            ending: false,
            open_items: Vec::new(),
            retrying: false,
            retry_items: 0,
            retries_sent: 0,
            starts_at_ms: 0,
        }
    }

    /// The instance starts (initializes its transactional id) only at `at_ms` (global).
    pub fn starting_at(self, at_ms: u64) -> Self {
        TxnProducerRole {
            starts_at_ms: at_ms,
            ..self
        }
    }

    fn phase(&self) -> TxnPhase {
        self.producer
            .transactions()
            .map_or(TxnPhase::Initializing, |t| t.phase().clone())
    }

    /// Moves the application on: ends seen, then a new transaction, its due records, its end.
    fn step(&mut self, local_ms: Millis, global_ms: u64, out: &mut Vec<Output>) {
        self.take_events(out);
        if self.phase() == TxnPhase::Ready
            && self.work.front().is_some_and(|w| w.at_ms <= global_ms)
        {
            self.begin(out);
        }
        if self.phase() != TxnPhase::InTransaction || self.ending {
            return;
        }
        while self.to_send > 0 && self.work.front().is_some_and(|w| w.at_ms <= global_ms) {
            let item = self.work.pop_front().expect("front exists");
            self.open_items.push(item.clone());
            self.to_send -= 1;
            let (topic, key) = (item.topic.as_str(), item.key.clone());
            self.producer
                .send(local_ms, topic, key, item.value, item.random, out);
        }
        // A transaction that sends an aborted one's records again is meant to commit.
        let commit = self.retrying || self.spec.commits(self.begun);
        // An application that aborts flushes first (its records reached the log, and the
        // abort must take them back), so that aborted data is there for readers to skip.
        let flushed = commit || self.producer.pending_records() == 0;
        if self.to_send == 0 && flushed {
            self.ending = true;
            if let Err(error) = self.producer.end_transaction(local_ms, commit, out) {
                out.push(Output::Note(format!("end transaction: {error}")));
            }
            self.take_events(out);
        }
    }

    fn begin(&mut self, out: &mut Vec<Output>) {
        if let Err(error) = self.producer.begin_transaction() {
            return out.push(Output::Note(format!("begin transaction: {error}")));
        }
        self.begun += 1;
        self.ending = false;
        self.open_items.clear();
        self.retrying = self.retry_items > 0;
        self.retry_items = 0;
        self.to_send = self
            .spec
            .records_per_transaction
            .min(self.work.len() as u64);
        let txn = self
            .producer
            .transactions()
            .expect("a transactional producer");
        let sends = self
            .work
            .iter()
            .take(self.to_send as usize)
            .map(|w| PlannedSend {
                topic: w.topic.clone(),
                key: w.key.clone(),
                value: w.value,
            })
            .collect();
        out.push(Output::Observe(Observation::Txn(TxnObservation::Begin {
            transactional_id: txn.transactional_id().to_string(),
            producer_epoch: txn.identity().map(|(_, epoch)| epoch.0),
            sends,
        })));
    }

    /// Reports each transaction's end; a fenced or failed producer gives up its work.
    fn take_events(&mut self, out: &mut Vec<Output>) {
        for event in self.producer.take_txn_events() {
            match event {
                TxnEvent::Ended { outcome, error } => {
                    self.ending = false;
                    self.to_send = 0;
                    let meant_to_commit = self.retrying || self.spec.commits(self.begun);
                    let retry = outcome == TxnOutcome::Aborted && meant_to_commit;
                    let items = std::mem::take(&mut self.open_items);
                    if retry {
                        self.retry_items = items.len();
                        for mut item in items.into_iter().rev() {
                            // Each send names its record by a value of its own: the
                            // attempt is a new record with the same key.
                            self.retries_sent += 1;
                            item.value = retry_value(item.value, self.retries_sent);
                            self.work.push_front(item);
                        }
                    }
                    out.push(Output::Observe(Observation::Txn(TxnObservation::End {
                        outcome,
                        error,
                    })));
                }
                TxnEvent::Fatal(error) => {
                    out.push(Output::Note(format!(
                        "the producer stops: {error}; {} records not sent",
                        self.work.len()
                    )));
                    self.work.clear();
                }
                TxnEvent::Identity(..) | TxnEvent::DropUnsent => {}
            }
        }
    }
}

impl Role for TxnProducerRole {
    fn start(&mut self, _world: &World, local_ms: Millis, global_ms: u64, out: &mut Vec<Output>) {
        self.on_tick(local_ms, global_ms, out);
    }

    fn on_message(
        &mut self,
        local_ms: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        self.producer.on_message(local_ms, from, message, out);
        // The answer may end a transaction, complete an aborting one's flush, or open the
        // way for the next transaction.
        self.step(local_ms, World::now_ms(), out);
    }

    fn on_tick(&mut self, local_ms: Millis, global_ms: u64, out: &mut Vec<Output>) {
        if global_ms < self.starts_at_ms {
            return;
        }
        self.step(local_ms, global_ms, out);
        self.producer.tick(local_ms, out);
        self.step(local_ms, global_ms, out);
    }

    fn on_disconnected(&mut self, local_ms: Millis, peer: NodeId, out: &mut Vec<Output>) {
        self.producer.on_disconnected(local_ms, peer, out);
        self.step(local_ms, World::now_ms(), out);
    }

    fn next_deadline(&self, local_ms: Millis, global_ms: u64) -> Option<Millis> {
        if global_ms < self.starts_at_ms {
            return Some(local_ms + (self.starts_at_ms - global_ms));
        }
        // Work waits for the open transaction to end; then the next is due at its time.
        let idle = matches!(self.phase(), TxnPhase::Ready | TxnPhase::InTransaction);
        let next_work = self
            .work
            .front()
            .filter(|_| idle && !self.ending)
            .map(|w| local_ms + w.at_ms.saturating_sub(global_ms));
        match (self.producer.next_deadline(), next_work) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn publish(&self, world: &World, me: NodeId) {
        let phase = self.phase();
        // A fenced or refused producer is done: what it had was reported given up.
        let done = matches!(phase, TxnPhase::Fatal(_));
        let open = matches!(
            phase,
            TxnPhase::InTransaction | TxnPhase::Committing | TxnPhase::Aborting
        );
        let pending = self.producer.pending_records() as u64 + self.work.len() as u64;
        let waiting = if done { 0 } else { pending + u64::from(open) };
        world.set_client_status(
            me,
            ClientStatus {
                pending_sends: waiting,
                caught_up_as_of_ms: Some(u64::MAX),
                waiting_for: match (waiting, pending) {
                    (0, _) => String::new(),
                    (_, 0) => format!("its transaction to end ({phase:?})"),
                    (_, n) => format!("{n} sends not completed"),
                },
                group: None,
                held_by_open_transactions: None,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_sent_again_twice_keeps_its_original_and_a_value_of_its_own() {
        let first = retry_value(17, 1);
        assert_eq!(first, RETRY_VALUE_BIT | (17 << 20) | 1);
        let second = retry_value(first, 2);
        assert_eq!(second, RETRY_VALUE_BIT | (17 << 20) | 2);
        let third = retry_value(second, 3);
        assert_eq!(third & !RETRY_VALUE_BIT, (17 << 20) | 3);
        assert!(second < 1 << 60, "clear of the brokers' bits 60 to 62");
        assert_ne!(first, second);
    }

    #[test]
    #[should_panic(expected = "sent again in one run")]
    fn too_many_retries_are_an_explicit_error() {
        retry_value(5, 1 << RETRY_COUNT_BITS);
    }
}

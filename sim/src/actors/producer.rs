//! The producer role: an application that sends the workload's records at their times
//! through the producer client.

use super::Role;
use crate::world::{ClientStatus, World};
use kafka_model::effect::Output;
use kafka_model::ids::{Millis, NodeId};
use kafka_model::producer::Producer;
use kafka_model::protocol::Message;
use std::collections::VecDeque;

/// One record the application will send, at a global time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkItem {
    pub at_ms: u64,
    pub topic: String,
    pub key: Option<String>,
    pub value: u64,
    /// Feeds the sticky partitioner for keyless records.
    pub random: u64,
}

pub struct ProducerRole {
    producer: Producer,
    work: VecDeque<WorkItem>,
}

impl ProducerRole {
    pub fn new(producer: Producer, work: Vec<WorkItem>) -> Self {
        ProducerRole {
            producer,
            work: work.into(),
        }
    }
}

impl Role for ProducerRole {
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
    }

    fn on_tick(&mut self, local_ms: Millis, global_ms: u64, out: &mut Vec<Output>) {
        while self.work.front().is_some_and(|w| w.at_ms <= global_ms) {
            let item = self.work.pop_front().expect("front exists");
            self.producer.send(
                local_ms,
                &item.topic,
                item.key,
                item.value,
                item.random,
                out,
            );
        }
        self.producer.tick(local_ms, out);
    }

    fn on_disconnected(&mut self, local_ms: Millis, peer: NodeId, out: &mut Vec<Output>) {
        self.producer.on_disconnected(local_ms, peer, out);
    }

    fn next_deadline(&self, local_ms: Millis, global_ms: u64) -> Option<Millis> {
        let next_work = self
            .work
            .front()
            .map(|w| local_ms + w.at_ms.saturating_sub(global_ms));
        match (self.producer.next_deadline(), next_work) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn publish(&self, world: &World, me: NodeId) {
        let pending = self.producer.pending_records() as u64 + self.work.len() as u64;
        world.set_client_status(me, producer_status(pending));
    }
}

/// Where a producer-only node stands for the liveness phase: done once no send is pending.
pub fn producer_status(pending_sends: u64) -> ClientStatus {
    ClientStatus {
        pending_sends,
        caught_up_as_of_ms: Some(u64::MAX),
        waiting_for: if pending_sends > 0 {
            format!("{pending_sends} sends not completed")
        } else {
            String::new()
        },
        group: None,
        held_by_open_transactions: None,
    }
}

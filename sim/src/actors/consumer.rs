//! The consumer role: reads every partition of its topics from the start, for the whole run.

use super::Role;
use crate::world::{ClientStatus, World};
use kafka_model::consumer::Consumer;
use kafka_model::effect::Output;
use kafka_model::ids::{Millis, NodeId};
use kafka_model::protocol::Message;

pub struct ConsumerRole {
    consumer: Consumer,
}

impl ConsumerRole {
    pub fn new(consumer: Consumer) -> Self {
        ConsumerRole { consumer }
    }
}

impl Role for ConsumerRole {
    fn start(&mut self, _world: &World, local_ms: Millis, _global_ms: u64, out: &mut Vec<Output>) {
        self.consumer.start(local_ms, out);
    }

    fn on_message(
        &mut self,
        local_ms: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        self.consumer.on_message(local_ms, from, message, out);
    }

    fn on_tick(&mut self, local_ms: Millis, _global_ms: u64, out: &mut Vec<Output>) {
        self.consumer.tick(local_ms, out);
    }

    fn next_deadline(&self, _local_ms: Millis, _global_ms: u64) -> Option<Millis> {
        self.consumer.next_deadline()
    }

    fn publish(&self, world: &World, me: NodeId) {
        let caught_up = self.consumer.caught_up();
        world.set_client_status(
            me,
            ClientStatus {
                pending_sends: 0,
                caught_up,
                waiting_for: if caught_up {
                    String::new()
                } else {
                    self.consumer.lag_summary()
                },
            },
        );
    }
}

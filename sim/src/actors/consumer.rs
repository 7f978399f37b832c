//! The consumer role: reads every partition of its topics from the start, for the whole run.

use super::Role;
use crate::world::{ClientStatus, MemberStanding, World};
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

    fn on_disconnected(&mut self, local_ms: Millis, peer: NodeId, out: &mut Vec<Output>) {
        self.consumer.on_disconnected(local_ms, peer, out);
    }

    fn next_deadline(&self, _local_ms: Millis, _global_ms: u64) -> Option<Millis> {
        self.consumer.next_deadline()
    }

    fn publish(&self, world: &World, me: NodeId) {
        world.set_client_status(me, consumer_status(world, me, &self.consumer, 0));
    }
}

/// Where a consumer stands for the liveness phase: caught up as of when (global ms), what
/// it waits for, its group standing; `pending_sends` for a node that also produces.
pub fn consumer_status(
    world: &World,
    me: NodeId,
    consumer: &Consumer,
    pending_sends: u64,
) -> ClientStatus {
    let global = World::now_ms();
    let local = world.local_ms(me, global);
    let to_global = |seen: Millis| global.saturating_sub(local.saturating_sub(seen));
    let caught_up_as_of_ms = consumer.caught_up_as_of().map(to_global);
    ClientStatus {
        pending_sends,
        caught_up_as_of_ms,
        waiting_for: if caught_up_as_of_ms.is_some() {
            String::new()
        } else {
            consumer.lag_summary()
        },
        group: consumer.member().map(|m| MemberStanding {
            group: m.group().0.clone(),
            generation: m.generation().map(|g| g.0),
            partitions: m.owned().iter().cloned().collect(),
        }),
        held_by_open_transactions: consumer
            .held_by_open_transactions()
            .map(|(seen, held)| (to_global(seen), held)),
    }
}

//! What a service's code gets at each start of a replica: its clients, its clock, and who
//! it is.

use super::consumer::ServiceConsumer;
use super::mailbox::Mailbox;
use super::producer::ServiceProducer;
use crate::world::World;
use kafka_model::ids::NodeId;
use std::sync::Arc;
use std::time::Duration;

/// A replica's view of the simulation. Everything in it lives on the replica's node: a
/// crash drops it with the code's own state, and a restart builds a new one.
pub struct ServiceContext {
    pub(crate) mailbox: Mailbox,
    pub(crate) world: Arc<World>,
    pub(crate) me: NodeId,
    pub(crate) name: String,
    pub(crate) replica: u32,
    /// A consumer was made: a replica has one group consumer.
    pub(crate) consumer_made: std::cell::Cell<bool>,
}

impl ServiceContext {
    /// The replica's number, from 1.
    pub fn replica(&self) -> u32 {
        self.replica
    }

    /// The replica's node name (`relay-2`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The replica's producer, with the scenario's `[producer]` settings; every call
    /// returns a handle on the same one (Kafka applications share a producer).
    pub fn producer(&self) -> ServiceProducer {
        ServiceProducer {
            mailbox: self.mailbox.clone(),
        }
    }

    /// The replica's group consumer in `group`, with the scenario's `[consumer]` settings
    /// and the group timeouts of a `[[groups]]` entry's defaults; it joins when it
    /// subscribes. A replica has one: a second call panics (the run ends as a crash).
    pub fn consumer(&self, group: &str) -> ServiceConsumer {
        assert!(
            !self.consumer_made.replace(true),
            "{}: a service replica has one consumer (ServiceContext::consumer called twice)",
            self.name
        );
        ServiceConsumer {
            mailbox: self.mailbox.clone(),
            group: group.to_string(),
            subscribed: false,
        }
    }

    /// The node's clock, in ms (clock faults move it, as they move the clients').
    pub fn now_ms(&self) -> u64 {
        self.world.local_ms(self.me, World::now_ms())
    }

    /// Waits `ms` of simulated time.
    pub async fn sleep(&self, ms: u64) {
        madsim::time::sleep(Duration::from_millis(ms)).await;
    }
}

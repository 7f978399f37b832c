//! The wire of the connections transport: a node of its own that never fails, which puts
//! on madsim's network what the nodes send on their connections. A message a process
//! wrote to its socket is the kernel's to send: it leaves even if the process dies a
//! microsecond later, or while a delay fault holds it back, so it cannot leave from the
//! sender's own tasks, which die with it.

use crate::connections::Envelope;
use crate::world::{address, World};
use futures::channel::mpsc::UnboundedReceiver;
use futures::StreamExt;
use kafka_model::ids::NodeId;
use madsim::net::Endpoint;
use std::sync::Arc;

/// The wire's node id: outside every range the cluster's nodes use.
pub const WIRE: NodeId = NodeId(4_000);

/// What a node hands the wire: the receiver, the envelope, and the delay a fault adds.
pub type Outgoing = (NodeId, Box<Envelope>, u64);

/// Sends what the nodes hand it, in the order they do, each after its delay.
pub async fn run_wire(world: Arc<World>, mut outbox: UnboundedReceiver<Outgoing>) {
    let endpoint = match Endpoint::bind(address(WIRE)).await {
        Ok(endpoint) => Arc::new(endpoint),
        Err(error) => {
            let note = format!("the connections' wire cannot bind: {error}");
            world.record(
                crate::events::Actor::Runner,
                crate::events::EventKind::Note(note),
            );
            return;
        }
    };
    while let Some((to, envelope, extra_delay_ms)) = outbox.next().await {
        super::send(&endpoint, to, envelope, extra_delay_ms).await;
    }
}

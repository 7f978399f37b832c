//! How the world carries a node's messages: as datagrams (each routed on its own), or on
//! connections (`crate::connections`), whose resets and held messages reach a node
//! through its ready queue and wake it.

use super::{World, WorldState};
use crate::actors::wire::Outgoing;
use crate::connections::{Connections, Delivery, Down, Envelope, Sent};
use crate::events::{Actor, EventKind};
use crate::network::{DropReason, Fate};
use crate::scenario::NetworkSettings;
use futures::channel::mpsc::{unbounded, UnboundedReceiver};
use kafka_model::ids::NodeId;
use kafka_model::protocol::Message;
use std::collections::VecDeque;

impl World {
    /// Carries messages on connections from now on (before any node starts).
    pub fn with_network(mut self, settings: NetworkSettings) -> Self {
        if settings.connections() {
            self.connected = true;
            self.lock().connections = Some(Connections::new(settings.reset_after_ms));
        }
        self
    }

    /// The wire's inbox: what `transmit` puts on connections goes there.
    pub fn open_wire(&self) -> Option<UnboundedReceiver<Outgoing>> {
        let mut state = self.lock();
        state.connections.as_ref()?;
        let (wire, outbox) = unbounded();
        state.wire = Some(wire);
        Some(outbox)
    }

    /// `node`'s new incarnation is up: over connections, peers that must hear of its
    /// restart do, and it gets the channel that wakes it when something is ready for it.
    pub fn node_up(&self, node: NodeId) -> Option<UnboundedReceiver<()>> {
        let mut state = self.lock();
        let connections = state.connections.as_mut()?;
        connections.node_up(node);
        let (wake, woken) = unbounded();
        state.wakers.insert(node, wake);
        wake_ready(&mut state);
        Some(woken)
    }

    /// `node` went down `how` (a no-op over datagrams).
    pub fn node_down(&self, node: NodeId, how: Down) {
        let mut state = self.lock();
        let Some(connections) = state.connections.as_mut() else {
            return;
        };
        connections.node_down(node, how);
        state.wakers.remove(&node);
        wake_ready(&mut state);
    }

    /// `message` leaves `from` for `to`. Over datagrams: what the sender puts on madsim's
    /// network, with the delay a fault adds to its latency (nothing, if the network dropped
    /// it). Over connections the wire (`actors::wire`) sends it, or the link holds it, and
    /// this returns nothing.
    pub fn transmit(
        &self,
        from: NodeId,
        to: NodeId,
        message: Message,
    ) -> Option<(Box<Envelope>, u64)> {
        let kind = message.kind();
        if !self.connected {
            let (id, sent_ms, fate) = self.route(from, to, kind);
            let Fate::Deliver { extra_delay_ms } = fate else {
                return None;
            };
            let envelope = Envelope {
                from,
                id,
                sent_ms,
                position: None,
                message,
            };
            return Some((Box::new(envelope), extra_delay_ms));
        }
        let now = self.clock_ms();
        let mut state = self.lock();
        let (id, blocked, extra_delay_ms) = state.net.route_connected(from, to, now);
        let envelope = Box::new(Envelope {
            from,
            id,
            sent_ms: now,
            position: None,
            message,
        });
        let connections = state.connections.as_mut().expect("connected");
        let sent = connections.send(envelope, to, blocked, extra_delay_ms, now);
        let (event, wire) = match sent {
            Sent::Wire {
                envelope,
                extra_delay_ms,
            } => {
                let keep =
                    state.log.retention().keeps_everything() || state.triggers.needs_every_event();
                let event = keep.then_some(EventKind::MessageSent {
                    id,
                    to,
                    kind,
                    extra_delay_ms,
                });
                (event, Some((envelope, extra_delay_ms)))
            }
            Sent::Held => (Some(EventKind::MessageHeld { id, to, kind }), None),
            Sent::Refused => {
                state.net.stats.dropped += 1;
                let reason = DropReason::Refused;
                let event = EventKind::MessageDropped {
                    id,
                    to,
                    kind,
                    reason,
                };
                (Some(event), None)
            }
        };
        if let Some(event) = event {
            state.record(&self.names, now, Actor::Node(from), event);
        }
        if let (Some(outgoing), Some(wire)) = (wire, state.wire.as_ref()) {
            // The wire lives as long as the run: a send can only fail in teardown.
            let _ = wire.unbounded_send((to, outgoing.0, outgoing.1));
        }
        wake_ready(&mut state);
        None
    }

    /// An envelope reached `node` off the wire: over connections it waits for those sent
    /// before it. Returns what `node` takes now, in order.
    pub fn accept(&self, node: NodeId, envelope: Box<Envelope>) -> VecDeque<Delivery> {
        let mut state = self.lock();
        match state.connections.as_mut() {
            None => VecDeque::from([Delivery::Message(envelope)]),
            Some(connections) => {
                connections.arrive(node, envelope);
                connections.take_ready(node)
            }
        }
    }

    /// What is ready for `node` (woken through its channel).
    pub fn take_ready(&self, node: NodeId) -> VecDeque<Delivery> {
        let mut state = self.lock();
        state
            .connections
            .as_mut()
            .map(|connections| connections.take_ready(node))
            .unwrap_or_default()
    }

    /// A fault resets the connections on these links; both ends of each are told.
    pub fn reset_connections(&self, links: &[(NodeId, NodeId)]) {
        let mut state = self.lock();
        let Some(connections) = state.connections.as_mut() else {
            return;
        };
        for &(a, b) in links {
            connections.reset(a, b);
        }
        wake_ready(&mut state);
    }

    /// The links that carry again: over connections, what they held goes out (or their
    /// connections reset, if they were cut off too long).
    pub fn links_unblocked(&self, links: &[(NodeId, NodeId)]) {
        let now = self.clock_ms();
        let mut state = self.lock();
        let WorldState {
            connections, net, ..
        } = &mut *state;
        let Some(connections) = connections.as_mut() else {
            return;
        };
        for &(from, to) in links {
            if !net.faults.is_blocked(from, to) {
                connections.unblocked(from, to, now);
            }
        }
        wake_ready(&mut state);
    }
}

/// Wakes every node with something ready, the sender at work included: what a send made
/// ready for it (a refusal) is taken on its next turn of the loop, as a signal on its own
/// wake channel, even if nothing else ever reaches it.
fn wake_ready(state: &mut WorldState) {
    let Some(connections) = state.connections.as_ref() else {
        return;
    };
    for node in connections.ready_nodes() {
        if let Some(wake) = state.wakers.get(&node) {
            let _ = wake.unbounded_send(());
        }
    }
}

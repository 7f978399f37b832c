//! The connections transport (`[network] transport = "connections"`): what Kafka's TCP
//! connections give that datagrams do not. Each directed link carries its messages in the
//! order they were sent (the receiver holds back one that overtook another); a partition
//! stalls a link instead of dropping what it carries, and a link stalled longer than
//! `reset_after_ms` resets; a lost segment arrives late (TCP retransmits it) instead of
//! never. A connection resets when either end's process dies (its peers hear at once,
//! after what it had already sent) or its machine comes back from a power loss (a peer
//! hears then, from the restarted host's answer to the old connection); each end of a
//! reset connection is told, so that its client fails what it had in flight to the other.
//!
//! Pure bookkeeping: the world feeds it sends, arrivals and node events, and carries out
//! what it returns.

use crate::network::LinkFault;
use kafka_model::ids::NodeId;
use kafka_model::protocol::Message;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A message's place on its link: the connection's epoch, then its sequence number in it.
pub type LinkPosition = (u32, u64);

/// What travels on the simulated wire.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub from: NodeId,
    /// The message's id in the event log, and when it was sent (global ms).
    pub id: u64,
    pub sent_ms: u64,
    /// Its place on the link (connections transport only).
    pub position: Option<LinkPosition>,
    pub message: Message,
}

/// What a node is handed, in order.
#[derive(Clone, Debug)]
pub enum Delivery {
    Message(Box<Envelope>),
    /// The connection to this peer was reset.
    Disconnected {
        peer: NodeId,
        why: ResetReason,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetReason {
    /// The peer's process died: its host closed the connection.
    PeerDied,
    /// The peer's process is down and its host refused a new connection.
    Refused,
    /// The peer's machine came back from a power loss and answered the old connection.
    PeerRestarted,
    /// The link carried nothing for longer than `reset_after_ms`.
    CutOff,
    /// A `connection-reset` fault.
    Fault,
}

impl ResetReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ResetReason::PeerDied => "peer died",
            ResetReason::Refused => "refused",
            ResetReason::PeerRestarted => "peer restarted",
            ResetReason::CutOff => "cut off",
            ResetReason::Fault => "reset by a fault",
        }
    }
}

/// How a node went down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Down {
    /// The process died; its host is up and closes its connections.
    Process,
    /// The machine lost power: nothing answers until it is back.
    Machine,
}

/// What becomes of a message handed to a link.
#[derive(Debug)]
pub enum Sent {
    /// Onto the wire, to arrive after this much more than the network's latency.
    Wire {
        envelope: Box<Envelope>,
        extra_delay_ms: u64,
    },
    /// Waiting in the stalled link until it carries again.
    Held,
    /// Refused by the peer's host; the sender has been told.
    Refused,
}

/// What is in a link's receive buffer at a position.
#[derive(Clone, Debug)]
enum Slot {
    Message(Box<Envelope>),
    /// The end of an epoch: the receiver is told the connection reset, if it had one.
    Fin {
        why: ResetReason,
        tell: bool,
    },
}

/// One direction of a connection: the sender's position, the receiver's, what overtook
/// the next expected message, and what a partition holds back.
#[derive(Clone, Debug, Default)]
struct Link {
    send_epoch: u32,
    next_seq: u64,
    /// The next position the receiver takes.
    expected: LinkPosition,
    waiting: BTreeMap<LinkPosition, Slot>,
    held: VecDeque<Box<Envelope>>,
    /// When the link last carried a message out of a stall (or first stalled), global ms.
    stalled_since_ms: Option<u64>,
}

impl Link {
    fn open(&self) -> bool {
        self.next_seq > 0
    }

    /// Ends the sender's epoch at the first message not yet on the wire, and starts the
    /// next: returns where the epoch ended. What was held is dropped.
    fn end_epoch(&mut self) -> (LinkPosition, usize) {
        let end = match self.held.front() {
            Some(first) => first.position.expect("held messages have positions"),
            None => (self.send_epoch, self.next_seq),
        };
        let dropped = self.held.len();
        self.held.clear();
        self.stalled_since_ms = None;
        self.send_epoch += 1;
        self.next_seq = 0;
        (end, dropped)
    }

    /// The receiver's end died: whatever it would have read is gone, and both ends start a
    /// new epoch.
    fn reset_receiver(&mut self) -> usize {
        let (_, dropped) = self.end_epoch();
        let dropped = dropped + self.waiting.len();
        self.waiting.clear();
        self.expected = (self.send_epoch, 0);
        dropped
    }
}

/// Every connection of a run.
#[derive(Clone, Debug)]
pub struct Connections {
    /// Directed links, (from, to).
    links: BTreeMap<(NodeId, NodeId), Link>,
    /// Nodes whose process is up and listening.
    up: BTreeSet<NodeId>,
    /// Machines without power: what is sent to them goes nowhere (no host answers).
    machines_off: BTreeSet<NodeId>,
    /// For a machine that is off: the peers to tell when it is back, and where their
    /// link from it ends.
    resets_at_restart: BTreeMap<NodeId, Vec<(NodeId, LinkPosition)>>,
    ready: BTreeMap<NodeId, VecDeque<Delivery>>,
    reset_after_ms: u64,
    /// Messages dropped by resets, for the counters.
    pub dropped: u64,
}

/// The first retransmission timeout (Linux's minimum RTO); each retry doubles it.
const FIRST_RTO_MS: u64 = 200;
/// Retransmissions drawn before the segment is taken to get through.
const MAX_RETRANSMISSIONS: u32 = 6;

impl Connections {
    pub fn new(reset_after_ms: u64) -> Self {
        Connections {
            links: BTreeMap::new(),
            up: BTreeSet::new(),
            machines_off: BTreeSet::new(),
            resets_at_restart: BTreeMap::new(),
            ready: BTreeMap::new(),
            reset_after_ms,
            dropped: 0,
        }
    }

    /// The delay TCP adds to a segment on a lossy link: one doubling timeout per loss,
    /// drawn with `lost` until a copy gets through.
    pub fn retransmit_delay_ms(link: &LinkFault, mut lost: impl FnMut(f64) -> bool) -> u64 {
        let mut delay_ms = 0;
        let mut rto_ms = FIRST_RTO_MS;
        for _ in 0..MAX_RETRANSMISSIONS {
            if link.loss_rate <= 0.0 || !lost(link.loss_rate.min(1.0)) {
                break;
            }
            delay_ms += rto_ms;
            rto_ms *= 2;
        }
        delay_ms
    }

    /// A message from `from` to `to`, sent at `now_ms` on a link `blocked` or not. A
    /// stalled link is found cut off only when it carries again (`unblocked`): by then the
    /// sender's own request timeouts have long fired.
    pub fn send(
        &mut self,
        mut envelope: Box<Envelope>,
        to: NodeId,
        blocked: bool,
        extra_delay_ms: u64,
        now_ms: u64,
    ) -> Sent {
        let from = envelope.from;
        // A host without a listening process refuses the connection at once.
        if !self.up.contains(&to) && !self.machines_off.contains(&to) {
            self.push(
                from,
                Delivery::Disconnected {
                    peer: to,
                    why: ResetReason::Refused,
                },
            );
            return Sent::Refused;
        }
        let link = self.links.entry((from, to)).or_default();
        envelope.position = Some((link.send_epoch, link.next_seq));
        link.next_seq += 1;
        if blocked || !link.held.is_empty() {
            link.stalled_since_ms.get_or_insert(now_ms);
            link.held.push_back(envelope);
            return Sent::Held;
        }
        Sent::Wire {
            envelope,
            extra_delay_ms,
        }
    }

    /// An envelope reached `to` off the wire: it joins the link's receive buffer, and
    /// whatever is now in order is made ready.
    pub fn arrive(&mut self, to: NodeId, envelope: Box<Envelope>) {
        let from = envelope.from;
        let position = envelope.position.expect("connections carry positions");
        let link = self.links.entry((from, to)).or_default();
        if position < link.expected {
            // From a connection that reset under it.
            self.dropped += 1;
            return;
        }
        link.waiting.insert(position, Slot::Message(envelope));
        self.drain(from, to);
    }

    /// The link from `from` to `to` carries again: what it held goes out, in order, unless
    /// it was stalled so long that the connection resets instead.
    pub fn unblocked(&mut self, from: NodeId, to: NodeId, now_ms: u64) {
        let Some(link) = self.links.get_mut(&(from, to)) else {
            return;
        };
        let Some(since) = link.stalled_since_ms.take() else {
            return;
        };
        if since + self.reset_after_ms <= now_ms {
            self.reset_pair(from, to, ResetReason::CutOff);
            return;
        }
        if !self.up.contains(&to) {
            link.held.clear();
            return;
        }
        for envelope in std::mem::take(&mut link.held) {
            let position = envelope.position.expect("held messages have positions");
            link.waiting.insert(position, Slot::Message(envelope));
        }
        self.drain(from, to);
    }

    /// `node` went down: its links reset. Its peers hear now (a process) or when it is
    /// back (a machine).
    pub fn node_down(&mut self, node: NodeId, how: Down) {
        if !self.up.remove(&node) {
            return;
        }
        if how == Down::Machine {
            self.machines_off.insert(node);
        }
        self.ready.remove(&node);
        for peer in self.peers(node) {
            let open = self.open(node, peer);
            if let Some(link) = self.links.get_mut(&(peer, node)) {
                self.dropped += link.reset_receiver() as u64;
            }
            let link = self.links.entry((node, peer)).or_default();
            let (end, dropped) = link.end_epoch();
            self.dropped += dropped as u64;
            match how {
                Down::Machine if open => self
                    .resets_at_restart
                    .entry(node)
                    .or_default()
                    .push((peer, end)),
                _ => self.fin(node, peer, end, ResetReason::PeerDied, open),
            }
        }
    }

    /// `node` is up again (a new incarnation bound its socket). A peer that had a
    /// connection to the machine before it lost power, or sent to it while it was off,
    /// hears the restarted host's reset.
    pub fn node_up(&mut self, node: NodeId) {
        self.up.insert(node);
        self.machines_off.remove(&node);
        let pending = self.resets_at_restart.remove(&node).unwrap_or_default();
        for peer in self.peers(node) {
            let Some(link) = self.links.get_mut(&(peer, node)) else {
                continue;
            };
            let sent_into_the_void = link.open();
            self.dropped += link.reset_receiver() as u64;
            if sent_into_the_void && !pending.iter().any(|(p, _)| *p == peer) {
                let link = self.links.entry((node, peer)).or_default();
                let (end, _) = link.end_epoch();
                self.fin(node, peer, end, ResetReason::PeerRestarted, true);
            }
        }
        for (peer, end) in pending {
            self.fin(node, peer, end, ResetReason::PeerRestarted, true);
        }
    }

    /// Every node `node` has a link with, either way.
    fn peers(&self, node: NodeId) -> Vec<NodeId> {
        let mut peers: Vec<NodeId> = self
            .links
            .keys()
            .filter_map(|&(a, b)| {
                if a == node {
                    Some(b)
                } else if b == node {
                    Some(a)
                } else {
                    None
                }
            })
            .collect();
        peers.sort();
        peers.dedup();
        peers
    }

    /// Whether `a` and `b` have a connection in its current epoch (either sent anything).
    fn open(&self, a: NodeId, b: NodeId) -> bool {
        [(a, b), (b, a)]
            .iter()
            .any(|key| self.links.get(key).is_some_and(Link::open))
    }

    /// A fault resets the connection between `a` and `b` (if they have one, and the
    /// other direction's link has not already been reset in this instant).
    pub fn reset(&mut self, a: NodeId, b: NodeId) {
        if self.up.contains(&a) && self.up.contains(&b) && self.open(a, b) {
            self.reset_pair(a, b, ResetReason::Fault);
        }
    }

    /// Both directions between `a` and `b` reset, and both ends are told.
    fn reset_pair(&mut self, a: NodeId, b: NodeId, why: ResetReason) {
        for (from, to) in [(a, b), (b, a)] {
            let link = self.links.entry((from, to)).or_default();
            let (end, dropped) = link.end_epoch();
            self.dropped += dropped as u64;
            self.fin(from, to, end, why, true);
        }
    }

    /// Marks where the epoch of the link `from` → `to` ended: `to` takes everything
    /// before, then is told (if `tell`: it had a connection) and takes the next epoch.
    fn fin(&mut self, from: NodeId, to: NodeId, end: LinkPosition, why: ResetReason, tell: bool) {
        let link = self.links.entry((from, to)).or_default();
        link.waiting.insert(end, Slot::Fin { why, tell });
        self.drain(from, to);
    }

    /// Makes ready, for `to`, whatever on the link from `from` is next in order.
    fn drain(&mut self, from: NodeId, to: NodeId) {
        let link = self
            .links
            .get_mut(&(from, to))
            .expect("drained links exist");
        // A node that is down takes nothing; its receive side restarts with it.
        let mut discard = VecDeque::new();
        let ready = if !self.up.contains(&to) {
            &mut discard
        } else {
            self.ready.entry(to).or_default()
        };
        while let Some(entry) = link.waiting.first_entry() {
            let position = *entry.key();
            if position > link.expected {
                break;
            }
            let slot = entry.remove();
            if position < link.expected {
                continue;
            }
            match slot {
                Slot::Message(envelope) => {
                    link.expected = (position.0, position.1 + 1);
                    ready.push_back(Delivery::Message(envelope));
                }
                Slot::Fin { why, tell } => {
                    link.expected = (position.0 + 1, 0);
                    if tell {
                        ready.push_back(Delivery::Disconnected { peer: from, why });
                    }
                }
            }
        }
    }

    fn push(&mut self, to: NodeId, delivery: Delivery) {
        self.ready.entry(to).or_default().push_back(delivery);
    }

    /// Everything ready for `node`, in order.
    pub fn take_ready(&mut self, node: NodeId) -> VecDeque<Delivery> {
        self.ready.remove(&node).unwrap_or_default()
    }

    /// The nodes with something ready, to wake.
    pub fn ready_nodes(&self) -> Vec<NodeId> {
        self.ready
            .iter()
            .filter(|(_, queue)| !queue.is_empty())
            .map(|(node, _)| *node)
            .collect()
    }
}

#[cfg(test)]
#[path = "connections/tests.rs"]
mod tests;

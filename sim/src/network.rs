//! Network faults on top of madsim's network: partitions (symmetric, one-way), per-link loss
//! and delay, and clogging. madsim carries the messages (with its own 1-10 ms latency and
//! reordering); this decides, per message, whether it is dropped or held back.

use crate::connections::Connections;
use kafka_model::ids::NodeId;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Loss and delay on one directed link.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkFault {
    pub loss_rate: f64,
    pub delay_ms: u64,
    pub jitter_ms: u64,
}

/// What happens to one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Deliver { extra_delay_ms: u64 },
    Drop(DropReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    Partitioned,
    Lost,
    /// The peer's host had no listening process (connections transport).
    Refused,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Partitioned => "partitioned",
            DropReason::Lost => "lost",
            DropReason::Refused => "refused",
        }
    }
}

/// The network faults in force.
#[derive(Clone, Debug, Default)]
pub struct NetFaults {
    /// Directed links that carry nothing, with how many faults currently block each (so
    /// that overlapping partitions heal one at a time).
    blocked: BTreeMap<(NodeId, NodeId), u32>,
    links: BTreeMap<(NodeId, NodeId), LinkFault>,
    /// A clogged node's messages, both ways, wait until the clog ends (global ms).
    clogged_until_ms: BTreeMap<NodeId, u64>,
}

impl NetFaults {
    pub fn block(&mut self, from: NodeId, to: NodeId) {
        *self.blocked.entry((from, to)).or_default() += 1;
    }

    pub fn unblock(&mut self, from: NodeId, to: NodeId) {
        if let Some(count) = self.blocked.get_mut(&(from, to)) {
            *count -= 1;
            if *count == 0 {
                self.blocked.remove(&(from, to));
            }
        }
    }

    pub fn set_link(&mut self, from: NodeId, to: NodeId, fault: LinkFault) {
        self.links.insert((from, to), fault);
    }

    pub fn clear_link(&mut self, from: NodeId, to: NodeId) {
        self.links.remove(&(from, to));
    }

    pub fn clog(&mut self, node: NodeId, until_ms: u64) {
        let until = self.clogged_until_ms.entry(node).or_default();
        *until = (*until).max(until_ms);
    }

    /// Heal: every network fault ends.
    pub fn clear(&mut self) {
        *self = NetFaults::default();
    }

    pub fn is_faulty(&self) -> bool {
        !self.blocked.is_empty() || !self.links.is_empty() || !self.clogged_until_ms.is_empty()
    }

    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.blocked.contains_key(&(from, to))
    }

    /// The directed links blocked now.
    pub fn blocked_links(&self) -> Vec<(NodeId, NodeId)> {
        self.blocked.keys().copied().collect()
    }

    /// What a connection's segment sent now meets: whether the link is blocked, and the
    /// delay it adds (a delay fault, a clog, and TCP's retransmissions on a lossy link,
    /// which delay a segment instead of losing it). Draws only on a lossy or jittery link.
    pub fn connected_fate(
        &self,
        from: NodeId,
        to: NodeId,
        now_ms: u64,
        rng: &mut ChaCha8Rng,
    ) -> (bool, u64) {
        if self.is_blocked(from, to) {
            return (true, 0);
        }
        let mut extra_delay_ms = 0;
        if let Some(link) = self.links.get(&(from, to)) {
            extra_delay_ms = Connections::retransmit_delay_ms(link, |rate| rng.gen_bool(rate));
            extra_delay_ms += link.delay_ms;
            if link.jitter_ms > 0 {
                extra_delay_ms += rng.gen_range(0..=link.jitter_ms);
            }
        }
        for node in [from, to] {
            if let Some(&until) = self.clogged_until_ms.get(&node) {
                extra_delay_ms = extra_delay_ms.max(until.saturating_sub(now_ms));
            }
        }
        (false, extra_delay_ms)
    }

    /// Decides the fate of a message sent now. Draws from `rng` only when a lossy or
    /// jittery link asks for it, so a fault-free run draws nothing.
    pub fn fate(&self, from: NodeId, to: NodeId, now_ms: u64, rng: &mut ChaCha8Rng) -> Fate {
        if self.blocked.contains_key(&(from, to)) {
            return Fate::Drop(DropReason::Partitioned);
        }
        let mut extra_delay_ms = 0;
        if let Some(link) = self.links.get(&(from, to)) {
            if link.loss_rate > 0.0 && rng.gen_bool(link.loss_rate.min(1.0)) {
                return Fate::Drop(DropReason::Lost);
            }
            extra_delay_ms = link.delay_ms;
            if link.jitter_ms > 0 {
                extra_delay_ms += rng.gen_range(0..=link.jitter_ms);
            }
        }
        for node in [from, to] {
            if let Some(&until) = self.clogged_until_ms.get(&node) {
                extra_delay_ms = extra_delay_ms.max(until.saturating_sub(now_ms));
            }
        }
        Fate::Deliver { extra_delay_ms }
    }
}

/// Message counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub dropped: u64,
}

/// The network as a run drives it: the faults in force, the stream their random choices
/// draw from, the counters, and each message's id.
#[derive(Clone, Debug)]
pub struct Network {
    pub faults: NetFaults,
    rng: ChaCha8Rng,
    pub stats: NetStats,
    next_message_id: u64,
}

impl Network {
    pub fn new(rng: ChaCha8Rng) -> Self {
        Network {
            faults: NetFaults::default(),
            rng,
            stats: NetStats::default(),
            next_message_id: 0,
        }
    }

    /// A connection's message sent now: its id, whether its link is blocked, and its
    /// extra delay.
    pub fn route_connected(&mut self, from: NodeId, to: NodeId, now_ms: u64) -> (u64, bool, u64) {
        let id = self.next_message_id;
        self.next_message_id += 1;
        self.stats.sent += 1;
        let (blocked, extra_delay_ms) = self.faults.connected_fate(from, to, now_ms, &mut self.rng);
        (id, blocked, extra_delay_ms)
    }

    /// A message sent now: its id and its fate.
    pub fn route(&mut self, from: NodeId, to: NodeId, now_ms: u64) -> (u64, Fate) {
        let id = self.next_message_id;
        self.next_message_id += 1;
        self.stats.sent += 1;
        let fate = self.faults.fate(from, to, now_ms, &mut self.rng);
        if let Fate::Drop(_) = fate {
            self.stats.dropped += 1;
        }
        (id, fate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn partitions_loss_delay_and_clogs() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (a, b) = (NodeId(1), NodeId(2));
        let mut net = NetFaults::default();
        assert_eq!(
            net.fate(a, b, 0, &mut rng),
            Fate::Deliver { extra_delay_ms: 0 }
        );
        net.block(a, b);
        assert_eq!(
            net.fate(a, b, 0, &mut rng),
            Fate::Drop(DropReason::Partitioned)
        );
        assert_eq!(
            net.fate(b, a, 0, &mut rng),
            Fate::Deliver { extra_delay_ms: 0 },
            "one-way"
        );
        net.set_link(
            b,
            a,
            LinkFault {
                loss_rate: 1.0,
                delay_ms: 0,
                jitter_ms: 0,
            },
        );
        assert_eq!(net.fate(b, a, 0, &mut rng), Fate::Drop(DropReason::Lost));
        net.clear();
        net.set_link(
            a,
            b,
            LinkFault {
                loss_rate: 0.0,
                delay_ms: 30,
                jitter_ms: 0,
            },
        );
        net.clog(b, 500);
        assert_eq!(
            net.fate(a, b, 100, &mut rng),
            Fate::Deliver {
                extra_delay_ms: 400
            }
        );
        assert_eq!(
            net.fate(a, b, 600, &mut rng),
            Fate::Deliver { extra_delay_ms: 30 }
        );
    }
}

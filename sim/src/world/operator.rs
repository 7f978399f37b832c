//! The operator: a broker that halts over a storage error (Kafka's `Exit.halt` once its
//! only log directory is offline) stays down until someone restarts it. The operator does,
//! after the delay of the storage fault that struck the broker's disk.

use futures::channel::mpsc::UnboundedSender;
use kafka_model::ids::NodeId;
use std::collections::{BTreeMap, BTreeSet};

/// Restarts no broker unless the run has storage faults (`halts` set).
#[derive(Clone, Debug, Default)]
pub struct Operator {
    /// How long after a halt the operator restarts each broker: the `restart_after_ms` of
    /// the storage fault last armed on its disk.
    restart_after_ms: BTreeMap<NodeId, u64>,
    /// Where halted brokers are reported.
    halts: Option<UnboundedSender<NodeId>>,
    /// Nodes the nemesis holds down: it restarts them itself, and a second restart would
    /// find the first one's address still bound.
    pub nemesis_down: BTreeSet<NodeId>,
}

/// The delay for a broker halting with no storage fault armed on its disk (it read bytes
/// an earlier fault damaged).
const DEFAULT_RESTART_AFTER_MS: u64 = 1_000;

impl Operator {
    pub fn watch(&mut self, halts: UnboundedSender<NodeId>) {
        self.halts = Some(halts);
    }

    pub fn set_restart_after_ms(&mut self, node: NodeId, ms: u64) {
        self.restart_after_ms.insert(node, ms);
    }

    pub fn restart_after_ms(&self, node: NodeId) -> u64 {
        self.restart_after_ms
            .get(&node)
            .copied()
            .unwrap_or(DEFAULT_RESTART_AFTER_MS)
    }

    /// Whether the operator restarts a broker that halted in `incarnation`: not if the
    /// nemesis holds it down or restarted it since.
    pub fn should_restart(&self, node: NodeId, incarnation: u32, current: u32) -> bool {
        incarnation == current && !self.nemesis_down.contains(&node)
    }

    /// A broker halted: the operator will restart it.
    pub fn halted(&self, node: NodeId) {
        if let Some(halts) = &self.halts {
            let _ = halts.unbounded_send(node);
        }
    }
}

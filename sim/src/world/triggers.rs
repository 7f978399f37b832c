//! The world's book of triggered faults: the plan's triggers, armed from their `at_ms`,
//! counted against every event as the world records it, and fired at their `nth` match.
//! A fired trigger holds the node that did it; when its actor reaches the point before its
//! next output, it wakes the nemesis, which strikes the fault at once and releases the node:
//! the fault lands right after the event (a sent message is on the wire), before the node
//! does anything else.

use crate::events::{Actor, EventKind, FaultEvent};
use crate::faults::belief::ClusterBelief;
use crate::faults::trigger::Trigger;
use crate::faults::{Fault, TimedFault};
use futures::channel::mpsc::UnboundedSender;
use kafka_model::ids::NodeId;
use std::collections::{BTreeSet, VecDeque};

/// A trigger waiting for its event.
#[derive(Clone, Debug)]
struct Armed {
    trigger: Trigger,
    fault: Fault,
    armed_at_ms: u64,
    seen: u32,
}

/// A trigger that matched: the nemesis strikes `fault` and releases `node`.
#[derive(Clone, Debug)]
pub struct Fired {
    pub trigger: Trigger,
    pub fault: Fault,
    pub node: NodeId,
}

#[derive(Clone, Debug, Default)]
pub struct TriggerBook {
    armed: Vec<Armed>,
    fired: VecDeque<Fired>,
    held: BTreeSet<NodeId>,
    /// Held nodes that have told the nemesis: they reached the point where they wait.
    announced: BTreeSet<NodeId>,
    /// Wakes the nemesis when a trigger fires.
    wake: Option<UnboundedSender<()>>,
}

impl TriggerBook {
    /// Arms the plan's triggered entries; `wake` reaches the nemesis.
    pub fn arm(&mut self, plan: &[TimedFault], wake: UnboundedSender<()>) {
        self.armed = plan
            .iter()
            .filter_map(|entry| {
                entry.on.as_ref().map(|trigger| Armed {
                    trigger: trigger.clone(),
                    fault: entry.fault.clone(),
                    armed_at_ms: entry.at_ms,
                    seen: 0,
                })
            })
            .collect();
        self.wake = Some(wake);
    }

    pub fn is_empty(&self) -> bool {
        self.armed.is_empty()
    }

    /// Whether an armed trigger counts events a sweep would not build (sends, fsyncs).
    pub fn needs_every_event(&self) -> bool {
        self.armed.iter().any(|a| a.trigger.needs_every_event())
    }

    /// Counts one event; fires every trigger it completes.
    pub fn follow(
        &mut self,
        time_ms: u64,
        actor: Actor,
        actor_name: &str,
        kind: &EventKind,
        belief: &ClusterBelief,
    ) {
        if let EventKind::Fault(FaultEvent::Healed) = kind {
            // The fault phase is over: nothing strikes after the heal.
            self.armed.clear();
            self.fired.clear();
            self.held.clear();
            self.announced.clear();
            return;
        }
        let Actor::Node(node) = actor else {
            return;
        };
        let mut index = 0;
        while index < self.armed.len() {
            let armed = &mut self.armed[index];
            if time_ms >= armed.armed_at_ms && armed.trigger.counts(node, actor_name, kind, belief)
            {
                armed.seen += 1;
                if armed.seen >= armed.trigger.nth {
                    let armed = self.armed.remove(index);
                    self.fired.push_back(Fired {
                        trigger: armed.trigger,
                        fault: armed.fault,
                        node,
                    });
                    self.held.insert(node);
                    continue;
                }
            }
            index += 1;
        }
    }

    /// `node` waits before its next output: if a fired trigger holds it, the nemesis is
    /// woken now, not when the event was recorded. A send is recorded before the message
    /// leaves (the network then takes a few microseconds), and a fault struck in between
    /// would strike before the send rather than after it.
    pub fn announce(&mut self, node: NodeId) {
        if self.held.contains(&node) && self.announced.insert(node) {
            if let Some(wake) = &self.wake {
                let _ = wake.unbounded_send(());
            }
        }
    }

    /// The next fired trigger for the nemesis to strike.
    /// Only a node that reached its waiting point is struck: another's event may still be
    /// under way.
    pub fn take_fired(&mut self) -> Option<Fired> {
        let index = self
            .fired
            .iter()
            .position(|f| self.announced.contains(&f.node))?;
        self.fired.remove(index)
    }

    /// Whether `node` waits for a fired trigger's fault to strike.
    pub fn is_held(&self, node: NodeId) -> bool {
        self.held.contains(&node)
    }

    /// The fault struck: `node` goes on (unless another fired trigger still holds it).
    pub fn release(&mut self, node: NodeId) {
        if !self.fired.iter().any(|f| f.node == node) {
            self.held.remove(&node);
            self.announced.remove(&node);
        }
    }
}

//! The nemesis: applies a fault plan at its times, undoes each fault when its duration
//! ends, and heals everything at the end of the fault phase. One loop over a time-ordered
//! queue of actions, so that simultaneous actions run in a fixed order.

use crate::connections::Down;
use crate::disk::SimDisk;
use crate::events::FaultEvent;
use crate::faults::strike::StruckFault;
use crate::faults::{Fault, TimedFault};
use crate::network::LinkFault;
use crate::seed::{self, Stream};
use crate::world::World;
use futures::channel::mpsc::UnboundedReceiver;
use futures::{FutureExt, StreamExt};
use kafka_model::disk::Armed;
use kafka_model::ids::NodeId;
use madsim::runtime::Handle;
use rand::RngCore;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Something the nemesis does at a time.
#[derive(Clone, Debug)]
enum Action {
    Inject(Fault),
    Restart(String),
    Resume(String),
    Unblock(Vec<(NodeId, NodeId)>),
    ClearLinks(Vec<(NodeId, NodeId)>),
    Heal,
}

/// The simulated cluster as the nemesis controls it.
pub struct Nemesis {
    world: Arc<World>,
    handle: Handle,
    /// madsim node of each named node.
    nodes: BTreeMap<String, madsim::task::NodeId>,
    down: BTreeSet<String>,
    paused: BTreeSet<String>,
    queue: BTreeMap<(u64, u64), Action>,
    sequence: u64,
    tear_rng: rand_chacha::ChaCha8Rng,
    /// Where storage faults strike (which byte, where a misdirected write lands).
    storage_rng: rand_chacha::ChaCha8Rng,
    /// Wakes the nemesis when a trigger fires (the world counts the triggers).
    triggered: Option<UnboundedReceiver<()>>,
}

impl Nemesis {
    pub fn new(
        world: Arc<World>,
        nodes: BTreeMap<String, madsim::task::NodeId>,
        plan: &[TimedFault],
        heal_at_ms: u64,
        triggered: Option<UnboundedReceiver<()>>,
    ) -> Self {
        let mut nemesis = Nemesis {
            // Its own stream: the swarm draws the fault plan from `Faults`, and tears drawn from
            // the same numbers would follow the plan's draws.
            tear_rng: seed::stream(world.seed, Stream::Tears),
            storage_rng: seed::stream(world.seed, Stream::Storage),
            world,
            handle: Handle::current(),
            nodes,
            down: BTreeSet::new(),
            paused: BTreeSet::new(),
            queue: BTreeMap::new(),
            sequence: 0,
            triggered,
        };
        // A triggered entry strikes when the world says its trigger fired.
        for event in plan.iter().filter(|e| e.on.is_none()) {
            nemesis.schedule(event.at_ms, Action::Inject(event.fault.clone()));
        }
        nemesis.schedule(heal_at_ms, Action::Heal);
        nemesis
    }

    fn schedule(&mut self, at_ms: u64, action: Action) {
        self.sequence += 1;
        self.queue.insert((at_ms, self.sequence), action);
    }

    /// Runs until the heal is done: each action at its time, and each fired trigger's
    /// fault the moment the world reports it.
    pub async fn run(mut self) {
        loop {
            while let Some(fired) = self.world.take_fired() {
                self.world.fault(FaultEvent::Triggered {
                    trigger: fired.trigger.to_string(),
                });
                self.apply(Action::Inject(fired.fault));
                self.world.release(fired.node);
            }
            let Some((&(at_ms, _), _)) = self.queue.first_key_value() else {
                return;
            };
            let now = World::now_ms();
            if at_ms > now {
                let sleep = madsim::time::sleep(Duration::from_millis(at_ms - now));
                match self.triggered.as_mut() {
                    Some(triggered) => {
                        // Biased: the same order whichever is ready, for determinism.
                        futures::select_biased! {
                            _ = triggered.next() => continue,
                            _ = sleep.fuse() => {}
                        }
                    }
                    None => sleep.await,
                }
            }
            let Some((_, action)) = self.queue.pop_first() else {
                return;
            };
            let heal = matches!(action, Action::Heal);
            self.apply(action);
            if heal {
                return;
            }
        }
    }

    fn id(&self, name: &str) -> NodeId {
        self.world
            .node_by_name(name)
            .expect("scenario validation checked node names")
    }

    /// Node names with `controller` standing for every controller of a quorum.
    fn expand(&self, names: &[String]) -> Vec<String> {
        let mut expanded = Vec::new();
        for name in names {
            if self.world.node_by_name(name).is_some() {
                expanded.push(name.clone());
            } else {
                let prefix = format!("{name}-");
                expanded.extend(
                    self.world
                        .nodes()
                        .filter(|(_, n)| n.starts_with(&prefix))
                        .map(|(_, n)| n.to_string()),
                );
            }
        }
        expanded
    }

    fn links(&self, from: &[String], to: &[String]) -> Vec<(NodeId, NodeId)> {
        let mut links = Vec::new();
        let (from, to) = (self.expand(from), self.expand(to));
        for a in &from {
            for b in &to {
                if a != b {
                    links.push((self.id(a), self.id(b)));
                    links.push((self.id(b), self.id(a)));
                }
            }
        }
        links
    }

    fn apply(&mut self, action: Action) {
        self.apply_action(action);
        let down: BTreeSet<NodeId> = self.down.iter().map(|n| self.id(n)).collect();
        self.world.lock().operator.nemesis_down = down;
    }

    fn apply_action(&mut self, action: Action) {
        let now = World::now_ms();
        match action {
            Action::Inject(fault) => {
                // Aliases name whoever the cluster believes in the role right now.
                let struck = {
                    let state = self.world.lock();
                    StruckFault::resolve(&fault, &state.belief, |id| {
                        self.world.name(id).to_string()
                    })
                };
                let strikes = struck.fault();
                self.world.fault(FaultEvent::Injected(struck));
                if let Some(fault) = strikes {
                    self.inject(now, fault);
                }
            }
            Action::Restart(node) => {
                if self.down.remove(&node) {
                    let id = self.nodes[&node];
                    self.world.fault(FaultEvent::Restarted { node });
                    self.handle.restart(id);
                }
            }
            Action::Resume(node) => {
                if self.paused.remove(&node) {
                    let id = self.nodes[&node];
                    self.world.fault(FaultEvent::Resumed { node });
                    self.handle.resume(id);
                }
            }
            Action::Unblock(links) => {
                {
                    let mut state = self.world.lock();
                    for &(a, b) in &links {
                        state.net.faults.unblock(a, b);
                    }
                }
                self.world.links_unblocked(&links);
            }
            Action::ClearLinks(links) => {
                let mut state = self.world.lock();
                for (a, b) in links {
                    state.net.faults.clear_link(a, b);
                }
            }
            Action::Heal => {
                self.world.fault(FaultEvent::Healed);
                let blocked = self.world.lock().net.faults.blocked_links();
                {
                    let mut state = self.world.lock();
                    state.net.faults.clear();
                    // Drift stops, and each clock keeps the time it reached: stepping it
                    // back by its drifted offset would be a clock jump of its own.
                    let now = World::now_ms();
                    for clock in state.clocks.values_mut() {
                        clock.set_drift(now, 0);
                    }
                }
                self.world.links_unblocked(&blocked);
                for node in std::mem::take(&mut self.paused) {
                    self.handle.resume(self.nodes[&node]);
                }
                for node in std::mem::take(&mut self.down) {
                    self.handle.restart(self.nodes[&node]);
                }
            }
        }
    }

    fn inject(&mut self, now: u64, fault: Fault) {
        match fault {
            // A node that is down already cannot crash again.
            Fault::Crash { node, .. } | Fault::PowerLoss { node, .. }
                if self.down.contains(&node) => {}
            Fault::Crash {
                node,
                restart_after_ms,
            } => {
                self.handle.kill(self.nodes[&node]);
                self.world.node_down(self.id(&node), Down::Process);
                self.down.insert(node.clone());
                self.schedule(now + restart_after_ms, Action::Restart(node));
            }
            // A node that is down can have its disk replaced all the same; it comes back
            // when it was due to.
            Fault::DiskLoss {
                node,
                restart_after_ms,
            } => {
                let id = self.nodes[&node];
                let down = self.down.contains(&node);
                if !down {
                    self.handle.kill(id);
                    self.world.node_down(self.id(&node), Down::Process);
                }
                let erased = madsim::plugin::simulator::<SimDisk>().wipe(id);
                let bytes = erased;
                self.world.fault(FaultEvent::DiskErased {
                    node: node.clone(),
                    bytes,
                });
                if !down {
                    self.down.insert(node.clone());
                    self.schedule(now + restart_after_ms, Action::Restart(node));
                }
            }
            Fault::PowerLoss {
                node,
                restart_after_ms,
            } => {
                let id = self.nodes[&node];
                self.handle.kill(id);
                self.world.node_down(self.id(&node), Down::Machine);
                let rng = &mut self.tear_rng;
                let lost = madsim::plugin::simulator::<SimDisk>().power_fail(id, || rng.next_u64());
                let bytes = lost;
                self.world.fault(FaultEvent::PowerCut {
                    node: node.clone(),
                    bytes,
                });
                self.down.insert(node.clone());
                self.schedule(now + restart_after_ms, Action::Restart(node));
            }
            Fault::DiskCorrupt {
                node,
                restart_after_ms,
            } => {
                let rng = &mut self.storage_rng;
                let at = rng.next_u64();
                let xor = (rng.next_u32() % 255 + 1) as u8;
                self.arm(&node, restart_after_ms, Armed::CorruptAppend { at, xor });
            }
            Fault::MisdirectedWrite {
                node,
                restart_after_ms,
            } => {
                let to = self.storage_rng.next_u64();
                self.arm(&node, restart_after_ms, Armed::MisdirectAppend { to });
            }
            Fault::FsyncFail {
                node,
                restart_after_ms,
            } => self.arm(&node, restart_after_ms, Armed::FailFsync),
            Fault::Pause { node, duration_ms } => {
                if !self.down.contains(&node) && self.paused.insert(node.clone()) {
                    self.handle.pause(self.nodes[&node]);
                    self.schedule(now + duration_ms, Action::Resume(node));
                }
            }
            Fault::Partition {
                groups,
                duration_ms,
            } => {
                let mut links = Vec::new();
                for (i, a) in groups.iter().enumerate() {
                    for b in groups.iter().skip(i + 1) {
                        links.extend(self.links(a, b));
                    }
                }
                self.block(now, links, duration_ms);
            }
            Fault::PartitionOneWay {
                from,
                to,
                duration_ms,
            } => {
                let links: Vec<_> = self.links(&from, &to).into_iter().step_by(2).collect();
                self.block(now, links, duration_ms);
            }
            Fault::Loss {
                from,
                to,
                rate,
                duration_ms,
            } => {
                let fault = LinkFault {
                    loss_rate: rate,
                    delay_ms: 0,
                    jitter_ms: 0,
                };
                self.degrade(now, self.links(&from, &to), fault, duration_ms);
            }
            Fault::Delay {
                from,
                to,
                delay_ms,
                jitter_ms,
                duration_ms,
            } => {
                let fault = LinkFault {
                    loss_rate: 0.0,
                    delay_ms,
                    jitter_ms,
                };
                self.degrade(now, self.links(&from, &to), fault, duration_ms);
            }
            Fault::Clog { node, duration_ms } => {
                let id = self.id(&node);
                self.world.lock().net.faults.clog(id, now + duration_ms);
            }
            Fault::ConnectionReset { from, to } => {
                let links = self.links(&from, &to);
                self.world.reset_connections(&links);
            }
            Fault::ClockJump { node, by_ms } => {
                let id = self.id(&node);
                self.world.lock().clocks.entry(id).or_default().jump(by_ms);
            }
            Fault::ClockDrift { node, ppm } => {
                let id = self.id(&node);
                let mut state = self.world.lock();
                state.clocks.entry(id).or_default().set_drift(now, ppm);
            }
        }
    }

    /// Arms a storage fault on the node's disk; it strikes the node's next log operation
    /// it fits (the trace says when), even across a crash.
    fn arm(&mut self, node: &str, restart_after_ms: u64, fault: Armed) {
        let id = self.id(node);
        self.world
            .lock()
            .operator
            .set_restart_after_ms(id, restart_after_ms);
        madsim::plugin::simulator::<SimDisk>().arm(self.nodes[node], fault);
    }

    fn block(&mut self, now: u64, links: Vec<(NodeId, NodeId)>, duration_ms: u64) {
        {
            let mut state = self.world.lock();
            for (a, b) in &links {
                state.net.faults.block(*a, *b);
            }
        }
        self.schedule(now + duration_ms, Action::Unblock(links));
    }

    fn degrade(
        &mut self,
        now: u64,
        links: Vec<(NodeId, NodeId)>,
        fault: LinkFault,
        duration_ms: u64,
    ) {
        {
            let mut state = self.world.lock();
            for (a, b) in &links {
                state.net.faults.set_link(*a, *b, fault);
            }
        }
        self.schedule(now + duration_ms, Action::ClearLinks(links));
    }
}

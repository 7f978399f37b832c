//! The world of one run: it records every step into the typed event log and hands each
//! event to the readers that follow the run as it goes (the history projection, the replica
//! mirror with its invariants, the quorum checker, the trace). It also holds what the
//! simulated nodes share: node names, per-node clocks, the network's faults, and the
//! liveness view. One per simulation, owned by its runtime's thread; the mutex is never
//! contended (madsim runs one task at a time).

use crate::checkers::Promises;
use crate::clock::NodeClock;
use crate::connections::{Connections, Down};
use crate::coverage::Coverage;
use crate::errors::{answer, ErrorChecker};
use crate::events::render::{actor_name, render};
use crate::events::{Actor, DiskEvent, EventKind, EventLog, FaultEvent, Retention};
use crate::faults::belief::ClusterBelief;
use crate::faults::TimedFault;
use crate::history::HistoryProjection;
use crate::invariants::losses::LossCause;
use crate::invariants::quorum::QuorumInvariants;
use crate::invariants::ClusterInvariants;
use crate::network::{Fate, Network};
use crate::seed::{self, Stream};
use crate::trace::Trace;
use futures::channel::mpsc::UnboundedSender;
use kafka_model::effect::{DiskOp, Observation, ReplicaEvent};
use kafka_model::group::{GroupEvent, GroupSummary};
use kafka_model::ids::{BrokerId, LeaderEpoch, Millis, NodeId};
use kafka_model::metadata::MetadataRecord;
use kafka_model::protocol::Message;
use kafka_model::raft::RaftEvent;
use operator::Operator;
use sim_clock::SimClock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use triggers::{Fired, TriggerBook};

mod nodes;
pub mod operator;
mod sim_clock;
mod status;
mod transport;
pub mod triggers;

pub use nodes::*;
pub use status::{ClientStatus, LivenessView, MemberStanding};

/// Mutable run state: the log and its online readers, and what the nodes share.
#[derive(Clone, Debug)]
pub struct WorldState {
    pub log: EventLog,
    pub trace: Trace,
    pub history: HistoryProjection,
    /// The mirror of every replica that the cluster invariants are checked on.
    pub invariants: ClusterInvariants,
    /// The controller quorum's invariants and the committed metadata log.
    pub quorum: QuorumInvariants,
    /// The spurious-error checker: every error a client was answered with, judged.
    pub errors: ErrorChecker,
    /// The rare paths the run reached.
    pub coverage: Coverage,
    pub clocks: BTreeMap<NodeId, NodeClock>,
    pub net: Network,
    pub incarnations: BTreeMap<NodeId, u32>,
    pub liveness: LivenessView,
    /// What the cluster believes (partition leaders, the quorum leader), for node aliases.
    pub belief: ClusterBelief,
    /// The plan's triggered faults, counted against every event.
    pub triggers: TriggerBook,
    /// Who restarts a broker that halted over a storage error.
    pub operator: Operator,
    /// The connections transport's state (`None` over datagrams).
    pub connections: Option<Connections>,
    /// What wakes each node when something is ready for it on its connections.
    pub wakers: BTreeMap<NodeId, UnboundedSender<()>>,
    /// Where the nodes hand their messages over connections (`actors::wire`).
    pub wire: Option<UnboundedSender<crate::actors::wire::Outgoing>>,
}

impl WorldState {
    /// Logs one event, lets the online readers follow it, and renders its trace line.
    fn record(
        &mut self,
        names: &BTreeMap<NodeId, String>,
        time_ms: u64,
        actor: Actor,
        kind: EventKind,
    ) {
        let name = |node: NodeId| names.get(&node).map_or("?", String::as_str);
        // Anomalies found while following an event point at where the history stands.
        let history_index = self.history.next_index();
        let event = self.log.push(time_ms, actor, kind);
        let at = event.at();
        self.belief.on_event(&event.kind);
        if !self.triggers.is_empty() {
            let actor_name = match actor {
                Actor::Node(node) => name(node),
                _ => "",
            };
            self.triggers
                .follow(time_ms, actor, actor_name, &event.kind, &self.belief);
        }
        let entry = match &event.kind {
            EventKind::Client { history_index } => {
                self.history.history.entries.get(*history_index as usize)
            }
            _ => None,
        };
        self.coverage.follow(&event.kind, actor, entry);
        match (&event.kind, actor) {
            (EventKind::Replica(replica), Actor::Node(node)) => {
                self.invariants
                    .on_replica_event(history_index, BrokerId(node.0), replica, at);
                self.errors.on_replica_event(BrokerId(node.0), replica, at);
            }
            (EventKind::Group(group), Actor::Node(node)) => {
                self.errors.on_group_event(BrokerId(node.0), group, at)
            }
            (
                EventKind::ErrorAnswered {
                    to,
                    correlation_id,
                    errors,
                },
                Actor::Node(node),
            ) => self
                .errors
                .on_answered(BrokerId(node.0), *to, *correlation_id, errors),
            (EventKind::Client { .. }, Actor::Node(node)) => {
                if let Some(entry) = entry {
                    self.errors.on_history_entry(node, entry);
                }
            }
            (EventKind::Fault(FaultEvent::Healed), _) => self.errors.stuck.on_healed(time_ms),
            // Checked against what the others hold, and followed by the cluster
            // invariants when it is new.
            (EventKind::Metadata { index, record }, Actor::Node(node))
                if self
                    .quorum
                    .on_metadata(history_index, name(node), *index, record) =>
            {
                self.invariants.on_metadata(history_index, record, at);
                self.coverage.follow_committed_metadata(record);
            }
            (EventKind::Raft(raft), _) => self.quorum.on_raft_event(history_index, raft),
            (EventKind::Started { .. }, Actor::Node(node)) if is_broker(node) => {
                self.invariants.on_started(BrokerId(node.0));
                self.errors.on_started(BrokerId(node.0));
            }
            (EventKind::Fault(FaultEvent::PowerCut { node, .. }), _) => {
                let broker = names.iter().find(|(_, n)| *n == node).map(|(id, _)| *id);
                if let Some(broker) = broker.filter(|id| is_broker(*id)) {
                    self.invariants
                        .on_power_cut(BrokerId(broker.0), at, LossCause::PowerLoss);
                }
            }
            (EventKind::Fault(FaultEvent::DiskDamaged { node, cause, .. }), _) => {
                let broker = names.iter().find(|(_, n)| *n == node).map(|(id, _)| *id);
                if let Some(broker) = broker.filter(|id| is_broker(*id)) {
                    self.invariants.on_power_cut(BrokerId(broker.0), at, *cause);
                }
            }
            _ => {}
        }
        let history = &self.history.history;
        self.trace
            .record_with(time_ms, actor_name(actor, name), |out| {
                render(&event, name, history, out)
            });
    }
}

/// One run's world.
#[derive(Debug)]
pub struct World {
    pub seed: u64,
    names: BTreeMap<NodeId, String>,
    state: Mutex<WorldState>,
    /// The simulated clock, read on every event.
    clock: SimClock,
    /// Whether the plan has triggered faults (so that a node without any never locks to
    /// ask whether one holds it).
    has_triggers: AtomicBool,
    /// Whether messages travel on connections (`with_network`), read on every send.
    connected: bool,
    /// For testing the harness itself: this node's actor stops at this global time and
    /// waits on nothing, with no timer armed (`RunOptions::stall`).
    stall: Option<(NodeId, u64)>,
    /// What the services sent, by record value, for their consumers and the user checks.
    pub service_payloads: crate::app::Payloads,
}

impl World {
    pub fn new(
        seed: u64,
        names: BTreeMap<NodeId, String>,
        promises: Promises,
        retention: Retention,
        keep_trace: bool,
    ) -> Self {
        let voters: Vec<NodeId> = names
            .keys()
            .copied()
            .filter(|id| is_controller(*id))
            .collect();
        let log = EventLog::new(retention, names.clone());
        World {
            seed,
            names,
            state: Mutex::new(WorldState {
                log,
                trace: Trace::new(keep_trace),
                history: HistoryProjection::new(promises.acks.clone()),
                invariants: ClusterInvariants::new(promises),
                quorum: QuorumInvariants::new(&voters),
                errors: ErrorChecker::default(),
                coverage: Coverage::default(),
                clocks: BTreeMap::new(),
                net: Network::new(seed::stream(seed, Stream::Network)),
                incarnations: BTreeMap::new(),
                liveness: LivenessView::default(),
                belief: ClusterBelief::default(),
                triggers: TriggerBook::default(),
                operator: Operator::default(),
                connections: None,
                wakers: BTreeMap::new(),
                wire: None,
            }),
            clock: SimClock::default(),
            has_triggers: AtomicBool::new(false),
            connected: false,
            stall: None,
            service_payloads: crate::app::Payloads::default(),
        }
    }

    /// Makes `node`'s actor stop at `at_ms` and wait on nothing (`RunOptions::stall`).
    pub fn with_stall(mut self, node: NodeId, at_ms: u64) -> Self {
        self.stall = Some((node, at_ms));
        self
    }

    /// Whether `node`'s actor is to stop now and wait forever (`RunOptions::stall`).
    pub fn stalls(&self, node: NodeId, global_ms: u64) -> bool {
        self.stall
            .is_some_and(|(stalled, at_ms)| stalled == node && global_ms >= at_ms)
    }

    /// `node` waits with no timer armed: only a message can wake it.
    pub fn park(&self, node: NodeId) {
        let now = self.clock_ms();
        self.lock().liveness.parked_since_ms.insert(node, now);
    }

    /// `node` woke from waiting with no timer armed.
    pub fn unpark(&self, node: NodeId) {
        self.lock().liveness.parked_since_ms.remove(&node);
    }

    pub fn into_state(self) -> WorldState {
        self.state
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of the state, for when the world is still shared.
    pub fn snapshot(&self) -> WorldState {
        self.lock().clone()
    }

    pub fn lock(&self) -> MutexGuard<'_, WorldState> {
        // A panic inside the simulation poisons the lock; the state is still what we want
        // to report.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn name(&self, node: NodeId) -> &str {
        self.names.get(&node).map_or("?", String::as_str)
    }

    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.names
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| *id)
    }

    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, &str)> {
        self.names.iter().map(|(id, name)| (*id, name.as_str()))
    }

    /// Global simulated time since the run began.
    pub fn now_ms() -> u64 {
        madsim::time::TimeHandle::current().elapsed().as_millis() as u64
    }

    /// `World::now_ms` through the handle the world keeps (for its own hot paths).
    fn clock_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn local_ms(&self, node: NodeId, global_ms: u64) -> Millis {
        self.lock()
            .clocks
            .get(&node)
            .copied()
            .unwrap_or_default()
            .local_ms(global_ms)
    }

    pub fn global_wait_ms(&self, node: NodeId, global_ms: u64, local_deadline_ms: Millis) -> u64 {
        let clock = self.lock().clocks.get(&node).copied().unwrap_or_default();
        clock.global_wait_ms(global_ms, local_deadline_ms)
    }

    /// Records an event that happens now.
    pub fn record(&self, actor: Actor, kind: EventKind) {
        self.lock()
            .record(&self.names, self.clock_ms(), actor, kind);
    }

    /// Records what a node did now.
    pub fn node_event(&self, node: NodeId, kind: EventKind) {
        self.record(Actor::Node(node), kind);
    }

    /// Records what the nemesis did now.
    pub fn fault(&self, fault: FaultEvent) {
        self.record(Actor::Nemesis, EventKind::Fault(fault));
    }

    /// Arms the plan's triggered faults; a fired one wakes the nemesis through `wake`.
    pub fn arm_triggers(&self, plan: &[TimedFault], wake: UnboundedSender<()>) {
        let mut state = self.lock();
        state.triggers.arm(plan, wake);
        self.has_triggers
            .store(!state.triggers.is_empty(), Ordering::Relaxed);
    }

    /// A broker halted over a storage error (`why`): it does nothing more until the
    /// operator restarts it.
    pub fn halt(&self, node: NodeId, why: String) {
        self.node_event(node, EventKind::Note(format!("halted: {why}")));
        self.lock().operator.halted(node);
        // The process exits: its host closes its connections.
        self.node_down(node, Down::Process);
    }

    /// The next fired trigger, for the nemesis.
    pub fn take_fired(&self) -> Option<Fired> {
        self.lock().triggers.take_fired()
    }

    /// A fired trigger's fault struck: its node goes on.
    pub fn release(&self, node: NodeId) {
        self.lock().triggers.release(node);
    }

    /// Waits while a fired trigger holds `node`, so that its fault strikes before the node
    /// carries out anything more. The nemesis strikes in the same simulated instant; the
    /// bound only keeps a node from spinning if the nemesis is gone.
    pub async fn wait_if_held(&self, node: NodeId) {
        if !self.has_triggers.load(Ordering::Relaxed) {
            return;
        }
        for _ in 0..64 {
            {
                let mut state = self.lock();
                if !state.triggers.is_held(node) {
                    return;
                }
                state.triggers.announce(node);
            }
            madsim::time::sleep(std::time::Duration::ZERO).await;
        }
    }

    /// Decides what the network does with a message sent now, recording the send (when
    /// the log keeps everything) or the drop. Returns the message's id, the send time and
    /// its fate.
    pub fn route(&self, from: NodeId, to: NodeId, kind: &'static str) -> (u64, u64, Fate) {
        let now = self.clock_ms();
        let mut state = self.lock();
        let (id, fate) = state.net.route(from, to, now);
        let event = match fate {
            Fate::Drop(reason) => Some(EventKind::MessageDropped {
                id,
                to,
                kind,
                reason,
            }),
            Fate::Deliver { extra_delay_ms }
                if state.log.retention().keeps_everything()
                    || state.triggers.needs_every_event() =>
            {
                Some(EventKind::MessageSent {
                    id,
                    to,
                    kind,
                    extra_delay_ms,
                })
            }
            Fate::Deliver { .. } => None,
        };
        if let Some(event) = event {
            state.record(&self.names, now, Actor::Node(from), event);
        }
        (id, now, fate)
    }

    /// Message `id`, sent by `from` at `sent_ms`, reached `to` now.
    pub fn delivered(&self, from: NodeId, to: NodeId, kind: &'static str, id: u64, sent_ms: u64) {
        let now = self.clock_ms();
        let mut state = self.lock();
        state.net.stats.delivered += 1;
        let event = EventKind::MessageDelivered {
            id,
            from,
            kind,
            sent_ms,
        };
        state.record(&self.names, now, Actor::Node(to), event);
    }

    /// A disk operation the node carries out now (logged only when the log keeps
    /// everything: no online reader needs it).
    pub fn disk(&self, node: NodeId, op: &DiskOp) {
        let mut state = self.lock();
        if !state.log.retention().keeps_everything() && !state.triggers.needs_every_event() {
            return;
        }
        let event = match op {
            DiskOp::Append { path, bytes } => DiskEvent::Append {
                path: path.clone(),
                bytes: bytes.len() as u64,
            },
            DiskOp::Fsync { path } => DiskEvent::Fsync { path: path.clone() },
            DiskOp::Truncate { path, len } => DiskEvent::Truncate {
                path: path.clone(),
                len: *len,
            },
            DiskOp::Delete { path } => DiskEvent::Delete { path: path.clone() },
        };
        state.record(
            &self.names,
            self.clock_ms(),
            Actor::Node(node),
            EventKind::Disk(event),
        );
    }

    /// `node` sends `message` to `to`: an answer that carries errors is recorded (with
    /// nothing to render) for the spurious-error checker, before it leaves.
    pub fn answered(&self, node: NodeId, to: NodeId, message: &Message) {
        if let Message::ProduceResponse { correlation_id, .. } = message {
            let answered = answer::answered_errors(message);
            let mut state = self.lock();
            if let Some((_, errors)) = answered {
                let event = EventKind::ErrorAnswered {
                    to,
                    correlation_id: *correlation_id,
                    errors,
                };
                state.record(&self.names, self.clock_ms(), Actor::Node(node), event);
            }
            state.errors.on_produce_answered(to, *correlation_id);
            return;
        }
        let Some((correlation_id, errors)) = answer::answered_errors(message) else {
            return;
        };
        let event = EventKind::ErrorAnswered {
            to,
            correlation_id,
            errors,
        };
        self.node_event(node, event);
    }

    /// `message` from `from` reaches `node` now: a produce request that wants an answer
    /// shows the spurious-error checker what the leader decides it on (read as it arrives,
    /// like the message kind the delivery event names; no event of its own).
    pub fn arrived(&self, node: NodeId, from: NodeId, message: &Message) {
        let Message::ProduceRequest {
            correlation_id,
            acks,
            batches,
            ..
        } = message
        else {
            return;
        };
        if *acks == kafka_model::config::Acks::None || !is_broker(node) {
            return;
        }
        let batches: Vec<_> = batches
            .iter()
            .map(|(tp, batch)| (tp.clone(), batch.producer))
            .collect();
        let mut state = self.lock();
        let seq = state.log.count();
        state
            .errors
            .on_produce_arrived(BrokerId(node.0), from, *correlation_id, &batches, seq);
    }

    /// A broker's replica changed.
    pub fn replica_event(&self, node: NodeId, event: ReplicaEvent) {
        self.node_event(node, EventKind::Replica(event));
    }

    /// `node` holds `record` at `index` of the committed metadata log (a controller learned
    /// it committed, or a broker applied it).
    pub fn metadata(&self, node: NodeId, index: u64, record: MetadataRecord) {
        self.node_event(node, EventKind::Metadata { index, record });
    }

    /// A controller's quorum state, or a broker's copy of the metadata log, changed.
    pub fn raft_event(&self, node: NodeId, event: RaftEvent) {
        self.node_event(node, EventKind::Raft(event));
    }

    /// A group coordinator's decision. The group checkers read the clients' history
    /// instead, so that an independent checker can do the same.
    pub fn group_event(&self, node: NodeId, event: GroupEvent) {
        self.node_event(node, EventKind::Group(event));
    }

    /// A client's observation: a history entry, and the event that points at it.
    pub fn observe(&self, node: NodeId, observation: Observation) {
        let now = self.clock_ms();
        let mut state = self.lock();
        let Some(history_index) = state.history.project(now, self.name(node), observation) else {
            return;
        };
        state.record(
            &self.names,
            now,
            Actor::Node(node),
            EventKind::Client { history_index },
        );
    }

    /// Starts a new incarnation of a node (first start or restart) and returns its number.
    pub fn next_incarnation(&self, node: NodeId) -> u32 {
        let mut state = self.lock();
        let incarnation = state.incarnations.entry(node).or_insert(0);
        *incarnation += 1;
        *incarnation
    }

    pub fn set_controller_status(&self, node: NodeId, epoch: LeaderEpoch, active: bool) {
        self.lock()
            .liveness
            .controllers
            .insert(node, (epoch, active));
    }

    /// A broker's coordinated groups; a broker that coordinates none clears its entry.
    pub fn set_group_summaries(&self, node: NodeId, summaries: BTreeMap<String, GroupSummary>) {
        let mut state = self.lock();
        if summaries.is_empty() {
            state.liveness.group_summaries.remove(&node);
        } else {
            state.liveness.group_summaries.insert(node, summaries);
        }
    }

    pub fn set_client_status(&self, node: NodeId, status: ClientStatus) {
        self.lock().liveness.clients.insert(node, status);
    }
}

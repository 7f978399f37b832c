//! The shared state of one run: node names, per-node clocks, network faults, the trace, the
//! history and client progress. One per simulation, owned by its runtime's thread; the
//! mutex is never contended (madsim runs one task at a time).

use crate::checkers::Promises;
use crate::clock::NodeClock;
use crate::history::History;
use crate::invariants::quorum::QuorumInvariants;
use crate::invariants::ClusterInvariants;
use crate::network::{Fate, NetFaults};
use crate::seed::{self, Stream};
use crate::trace::Trace;
use kafka_model::effect::ReplicaEvent;
use kafka_model::group::GroupSummary;
use kafka_model::ids::{BrokerId, LeaderEpoch, Millis, NodeId, TopicPartition};
use kafka_model::metadata::MetadataRecord;
use kafka_model::raft::RaftEvent;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};

mod observation;

/// The port every simulated node listens on.
pub const PORT: u16 = 9092;

/// The first controller's node id: brokers are 1..=89, the controller quorum takes 90 to
/// 99.
pub const CONTROLLER: NodeId = NodeId(90);
/// A single controller's name in traces and fault plans; a quorum's are `controller-1`...
pub const CONTROLLER_NAME: &str = "controller";

/// The controller quorum's node ids.
pub fn controller_ids(voters: u32) -> Vec<NodeId> {
    (0..voters).map(|i| NodeId(CONTROLLER.0 + i)).collect()
}

/// A controller's name: `controller` alone, `controller-1`... in a quorum.
pub fn controller_name(id: NodeId, voters: u32) -> String {
    if voters == 1 {
        CONTROLLER_NAME.to_string()
    } else {
        format!("{CONTROLLER_NAME}-{}", id.0 - CONTROLLER.0 + 1)
    }
}

/// Whether a node id is a controller's.
pub fn is_controller(id: NodeId) -> bool {
    (CONTROLLER.0..FIRST_PRODUCER).contains(&id.0)
}

/// First node ids of each client kind (brokers are 1..=n).
pub const FIRST_PRODUCER: u32 = 100;
pub const FIRST_CONSUMER: u32 = 200;
/// Group members: group `g` (from 0) member `m` (from 1) is `FIRST_MEMBER + 20 g + m`.
pub const FIRST_MEMBER: u32 = 300;

/// A group member's node id.
pub fn member_id(group_index: usize, member: u32) -> NodeId {
    NodeId(FIRST_MEMBER + 20 * group_index as u32 + member)
}

/// The simulated address of a node: 10.0.x.y from its id.
pub fn address(node: NodeId) -> SocketAddr {
    let ip = Ipv4Addr::new(10, 0, (node.0 >> 8) as u8, (node.0 & 0xff) as u8);
    SocketAddr::new(IpAddr::V4(ip), PORT)
}

/// What clients report about their progress, for the liveness phase.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientStatus {
    /// Sends not yet completed (ok, fail or info), including those not yet handed over.
    pub pending_sends: u64,
    /// For a consumer that has read everything below the high watermarks it last saw: the
    /// global time of the oldest of those reports. `None` while it lags.
    pub caught_up_as_of_ms: Option<u64>,
    /// One line on what it is waiting for, when it is not done.
    pub waiting_for: String,
    /// A group member's standing: its group, and its generation and partitions once in one.
    pub group: Option<MemberStanding>,
}

/// Where a group member stands, for the liveness check that the group settled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberStanding {
    pub group: String,
    pub generation: Option<u32>,
    pub partitions: Vec<TopicPartition>,
}

/// Message counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub dropped: u64,
}

/// Mutable run state.
#[derive(Debug)]
pub struct WorldState {
    pub trace: Trace,
    pub history: History,
    pub clocks: BTreeMap<NodeId, NodeClock>,
    pub net: NetFaults,
    net_rng: ChaCha8Rng,
    pub incarnations: BTreeMap<NodeId, u32>,
    pub clients: BTreeMap<NodeId, ClientStatus>,
    /// Each controller's quorum epoch and whether it is the active controller, as of its
    /// last step: the liveness phase waits for an active controller at the newest epoch.
    pub controllers: BTreeMap<NodeId, (LeaderEpoch, bool)>,
    /// The groups each broker coordinates, as of its last step.
    pub group_summaries: BTreeMap<NodeId, BTreeMap<String, GroupSummary>>,
    pub net_stats: NetStats,
    /// The mirror of every replica that the cluster invariants are checked on.
    pub invariants: ClusterInvariants,
    /// The controller quorum's invariants and the committed metadata log.
    pub quorum: QuorumInvariants,
    /// topic and key of every value sent, to complete the history's `ok` entries.
    sends: BTreeMap<u64, (String, Option<String>)>,
}

/// One run's world.
#[derive(Debug)]
pub struct World {
    pub seed: u64,
    names: BTreeMap<NodeId, String>,
    acks: String,
    state: Mutex<WorldState>,
}

impl World {
    pub fn new(
        seed: u64,
        names: BTreeMap<NodeId, String>,
        promises: Promises,
        keep_trace: bool,
    ) -> Self {
        let acks = promises.acks.clone();
        let voters: Vec<NodeId> = names
            .keys()
            .copied()
            .filter(|id| is_controller(*id))
            .collect();
        World {
            seed,
            names,
            acks,
            state: Mutex::new(WorldState {
                trace: Trace::new(keep_trace),
                history: History::default(),
                clocks: BTreeMap::new(),
                net: NetFaults::default(),
                net_rng: seed::stream(seed, Stream::Network),
                incarnations: BTreeMap::new(),
                clients: BTreeMap::new(),
                controllers: BTreeMap::new(),
                group_summaries: BTreeMap::new(),
                net_stats: NetStats::default(),
                invariants: ClusterInvariants::new(promises),
                quorum: QuorumInvariants::new(&voters),
                sends: BTreeMap::new(),
            }),
        }
    }

    pub fn into_state(self) -> WorldState {
        self.state
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of the state, for when the world is still shared.
    pub fn snapshot(&self) -> WorldState {
        let state = self.lock();
        WorldState {
            trace: state.trace.clone(),
            history: state.history.clone(),
            clocks: state.clocks.clone(),
            net: state.net.clone(),
            net_rng: state.net_rng.clone(),
            incarnations: state.incarnations.clone(),
            clients: state.clients.clone(),
            controllers: state.controllers.clone(),
            group_summaries: state.group_summaries.clone(),
            net_stats: state.net_stats,
            invariants: state.invariants.clone(),
            quorum: state.quorum.clone(),
            sends: state.sends.clone(),
        }
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

    pub fn trace(&self, node: &str, event: std::fmt::Arguments<'_>) {
        self.lock().trace.record(World::now_ms(), node, event);
    }

    /// Decides what the network does with a message, counting and tracing drops.
    pub fn route(&self, from: NodeId, to: NodeId, kind: &str) -> Fate {
        let now = World::now_ms();
        let mut state = self.lock();
        let state = &mut *state;
        state.net_stats.sent += 1;
        let fate = state.net.fate(from, to, now, &mut state.net_rng);
        if let Fate::Drop(reason) = fate {
            state.net_stats.dropped += 1;
            state.trace.record(
                now,
                self.name(from),
                format_args!("drop {kind} -> {} ({})", self.name(to), reason.as_str()),
            );
        }
        fate
    }

    pub fn delivered(&self, from: NodeId, to: NodeId, kind: &str) {
        let now = World::now_ms();
        let mut state = self.lock();
        state.net_stats.delivered += 1;
        state.trace.record(
            now,
            self.name(to),
            format_args!("recv {kind} <- {}", self.name(from)),
        );
    }

    /// A broker's replica changed: mirror it and check the invariants it could break.
    pub fn replica_event(&self, node: NodeId, event: &ReplicaEvent) {
        let mut state = self.lock();
        let index = state.history.entries.len() as u64;
        state
            .invariants
            .on_replica_event(index, BrokerId(node.0), event);
    }

    /// `node` holds `record` at `index` of the committed metadata log (a controller learned
    /// it committed, or a broker applied it): checked against what the others hold, and
    /// followed by the cluster invariants when it is new.
    pub fn metadata(&self, node: NodeId, index: u64, record: &MetadataRecord) {
        let mut state = self.lock();
        let history_index = state.history.entries.len() as u64;
        let name = self.name(node);
        if state.quorum.on_metadata(history_index, name, index, record) {
            state.invariants.on_metadata(history_index, record);
        }
    }

    /// A controller's quorum state, or a broker's copy of the metadata log, changed.
    pub fn raft_event(&self, event: &RaftEvent) {
        let mut state = self.lock();
        let history_index = state.history.entries.len() as u64;
        state.quorum.on_raft_event(history_index, event);
    }

    /// A group coordinator's decision: a trace line. The group checkers read the clients'
    /// history instead, so that an independent checker can do the same.
    pub fn group_event(&self, node: NodeId, event: kafka_model::group::GroupEvent) {
        let now = World::now_ms();
        let mut state = self.lock();
        state
            .trace
            .record(now, self.name(node), format_args!("{}", event.describe()));
    }

    /// Starts a new incarnation of a node (first start or restart) and returns its number.
    pub fn next_incarnation(&self, node: NodeId) -> u32 {
        let mut state = self.lock();
        let incarnation = state.incarnations.entry(node).or_insert(0);
        *incarnation += 1;
        *incarnation
    }

    pub fn set_controller_status(&self, node: NodeId, epoch: LeaderEpoch, active: bool) {
        self.lock().controllers.insert(node, (epoch, active));
    }

    /// A broker's coordinated groups; a broker that coordinates none clears its entry.
    pub fn set_group_summaries(&self, node: NodeId, summaries: BTreeMap<String, GroupSummary>) {
        let mut state = self.lock();
        if summaries.is_empty() {
            state.group_summaries.remove(&node);
        } else {
            state.group_summaries.insert(node, summaries);
        }
    }

    pub fn set_client_status(&self, node: NodeId, status: ClientStatus) {
        self.lock().clients.insert(node, status);
    }
}

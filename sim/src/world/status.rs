//! What the liveness phase watches: each client's progress, each controller's standing in
//! the quorum, the groups each broker coordinates, as of their last step, and the nodes
//! parked with no timer armed (which only a message can wake).

use kafka_model::consumer::HeldPartition;
use kafka_model::group::GroupSummary;
use kafka_model::ids::{LeaderEpoch, NodeId, TopicPartition};
use std::collections::BTreeMap;

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
    /// A read_committed consumer that would be caught up but for partitions where it waits
    /// at the last stable offset below the high watermark: the global time of the oldest
    /// report that says so, and those partitions.
    pub held_by_open_transactions: Option<(u64, Vec<HeldPartition>)>,
}

/// Where a group member stands, for the liveness check that the group settled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberStanding {
    pub group: String,
    pub generation: Option<u32>,
    pub partitions: Vec<TopicPartition>,
}

/// The nodes' latest reports.
#[derive(Clone, Debug, Default)]
pub struct LivenessView {
    pub clients: BTreeMap<NodeId, ClientStatus>,
    /// Each controller's quorum epoch and whether it is the active controller: the
    /// liveness phase waits for an active controller at the newest epoch.
    pub controllers: BTreeMap<NodeId, (LeaderEpoch, bool)>,
    /// The groups each broker coordinates.
    pub group_summaries: BTreeMap<NodeId, BTreeMap<String, GroupSummary>>,
    /// Nodes waiting with no timer armed, since when (global ms): only a message can wake
    /// them. A client with work left that stays here while nothing reaches it is
    /// deadlocked.
    pub parked_since_ms: BTreeMap<NodeId, u64>,
}

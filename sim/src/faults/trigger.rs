//! Triggered faults: a fault that strikes right after a node does something (sends or
//! receives a kind of message, appends, truncates, fsyncs, becomes leader or follower,
//! moves its high watermark) instead of at a time. A time-based nemesis rarely lands in a
//! window one message exchange wide; a trigger lands in it by construction. The node may be
//! an alias (`leader of tasks-0`), matched against what the cluster believes when the event
//! happens.

use super::alias::NodeAlias;
use super::belief::ClusterBelief;
use crate::events::{DiskEvent, EventKind};
use kafka_model::effect::ReplicaEvent;
use kafka_model::ids::{NodeId, TopicPartition};
use kafka_model::raft::RaftEvent;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What the node did, that the fault strikes right after.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerEvent {
    /// It sent a message (`message` names the kind, as the trace prints it).
    Send,
    /// A message reached it.
    Receive,
    /// It appended records to a partition's log (as leader or follower).
    Append,
    /// It cut a partition's log.
    Truncate,
    /// It fsynced a file (of `partition`'s log, if named).
    Fsync,
    /// It became leader of a partition (or, a controller, of the quorum).
    BecomeLeader,
    /// It became a follower of a partition.
    BecomeFollower,
    /// Its high watermark of a partition moved: records became committed.
    Commit,
}

impl TriggerEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerEvent::Send => "send",
            TriggerEvent::Receive => "receive",
            TriggerEvent::Append => "append",
            TriggerEvent::Truncate => "truncate",
            TriggerEvent::Fsync => "fsync",
            TriggerEvent::BecomeLeader => "become-leader",
            TriggerEvent::BecomeFollower => "become-follower",
            TriggerEvent::Commit => "commit",
        }
    }

    /// Whether `message` narrows this event (only sends and receipts have a message).
    pub fn takes_message(self) -> bool {
        matches!(self, TriggerEvent::Send | TriggerEvent::Receive)
    }

    /// Whether `partition` narrows this event.
    pub fn takes_partition(self) -> bool {
        !self.takes_message()
    }
}

/// Every message kind a trigger may name, as traces print them.
pub const MESSAGE_KINDS: [&str; 34] = [
    "MetadataReq",
    "MetadataResp",
    "InitPidReq",
    "InitPidResp",
    "ProduceReq",
    "ProduceResp",
    "ListOffsetsReq",
    "ListOffsetsResp",
    "FetchReq",
    "FetchResp",
    "HeartbeatReq",
    "HeartbeatResp",
    "NotController",
    "AlterPartitionReq",
    "AlterPartitionResp",
    "ReplicaFetchReq",
    "ReplicaFetchResp",
    "FindCoordinatorReq",
    "FindCoordinatorResp",
    "VoteRequest",
    "VoteResponse",
    "BeginQuorumEpoch",
    "BeginQuorumEpochResponse",
    "FetchRequest",
    "FetchResponse",
    "JoinGroup",
    "SyncGroup",
    "Heartbeat",
    "LeaveGroup",
    "OffsetCommit",
    "OffsetFetch",
    "JoinGroupResp",
    "SyncGroupResp",
    "OffsetCommitResp",
];

/// When a triggered fault strikes: the `nth` time (from 1) `node` does `event` once the
/// trigger is armed (at the plan entry's `at_ms`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// A node name (`b2`, `producer-1`, `controller-1`) or an alias (`leader of tasks-0`).
    pub node: String,
    pub event: TriggerEvent,
    /// For `send` and `receive`: only this kind of message (any if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For the log events: only this partition, as `topic-partition` (any if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    #[serde(default = "first", skip_serializing_if = "is_first")]
    pub nth: u32,
}

fn first() -> u32 {
    1
}

fn is_first(nth: &u32) -> bool {
    *nth == 1
}

impl Trigger {
    /// The first time `node` (a name or an alias) does `event`.
    pub fn new(node: impl fmt::Display, event: TriggerEvent) -> Self {
        Trigger {
            node: node.to_string(),
            event,
            message: None,
            partition: None,
            nth: 1,
        }
    }

    /// Only events of this partition (`topic-partition`).
    pub fn partition(mut self, partition: &str) -> Self {
        self.partition = Some(partition.to_string());
        self
    }

    /// Only sends or receipts of this message kind, as traces print it (`ProduceResp`).
    pub fn message(mut self, kind: &str) -> Self {
        self.message = Some(kind.to_string());
        self
    }

    /// The `nth` matching event (from 1), not the first.
    pub fn nth(mut self, nth: u32) -> Self {
        self.nth = nth;
        self
    }

    /// Whether the event `kind`, on node `actor` (named `actor_name`), is one this trigger
    /// counts, with `belief` as the cluster believes now (for an alias).
    pub fn counts(
        &self,
        actor: NodeId,
        actor_name: &str,
        kind: &EventKind,
        belief: &ClusterBelief,
    ) -> bool {
        let on_node = match NodeAlias::parse(&self.node) {
            Some(Ok(alias)) => belief.resolve(&alias) == Some(actor),
            Some(Err(_)) => false,
            None => self.node == actor_name,
        };
        on_node && self.event_matches(kind)
    }

    fn event_matches(&self, kind: &EventKind) -> bool {
        let message = |k: &str| self.message.as_deref().is_none_or(|m| m == k);
        // Compared without formatting `tp`: this runs for every event while armed.
        let partition = |tp: &TopicPartition| {
            self.partition.as_deref().is_none_or(|p| {
                p.strip_prefix(tp.topic.as_str())
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|index| index.parse() == Ok(tp.partition))
            })
        };
        match (self.event, kind) {
            (TriggerEvent::Send, EventKind::MessageSent { kind, .. })
            | (TriggerEvent::Send, EventKind::MessageDropped { kind, .. })
            | (TriggerEvent::Receive, EventKind::MessageDelivered { kind, .. }) => message(kind),
            (TriggerEvent::Append, EventKind::Replica(ReplicaEvent::Appended { tp, .. }))
            | (TriggerEvent::Truncate, EventKind::Replica(ReplicaEvent::Truncated { tp, .. }))
            | (
                TriggerEvent::BecomeLeader,
                EventKind::Replica(ReplicaEvent::BecameLeader { tp, .. }),
            )
            | (
                TriggerEvent::BecomeFollower,
                EventKind::Replica(ReplicaEvent::BecameFollower { tp, .. }),
            )
            | (TriggerEvent::Commit, EventKind::Replica(ReplicaEvent::HighWatermark { tp, .. })) => {
                partition(tp)
            }
            (TriggerEvent::BecomeLeader, EventKind::Raft(RaftEvent::BecameLeader { .. })) => {
                self.partition.is_none()
            }
            (TriggerEvent::Fsync, EventKind::Disk(DiskEvent::Fsync { path })) => {
                self.partition.as_deref().is_none_or(|p| {
                    path.strip_prefix(p)
                        .is_some_and(|rest| rest.starts_with('/'))
                })
            }
            _ => false,
        }
    }

    /// Whether counting this trigger needs the events a sweep does not build (sends, disk
    /// operations).
    pub fn needs_every_event(&self) -> bool {
        matches!(self.event, TriggerEvent::Send | TriggerEvent::Fsync)
    }
}

/// The events the swarm nemesis may trigger a drawn fault on, with the message kind for
/// sends and receipts: each a moment a replication or produce step is half done.
const DRAWN: [(TriggerEvent, Option<&str>); 8] = [
    (TriggerEvent::Append, None),
    (TriggerEvent::Truncate, None),
    (TriggerEvent::BecomeLeader, None),
    (TriggerEvent::BecomeFollower, None),
    (TriggerEvent::Commit, None),
    (TriggerEvent::Receive, Some("ReplicaFetchResp")),
    (TriggerEvent::Receive, Some("ProduceReq")),
    (TriggerEvent::Send, Some("ProduceResp")),
];

/// With `percent` % chance, a trigger for a drawn fault: on the fault's first node (the
/// broker the draw chose), a drawn event, the 1st to 3rd time.
pub fn draw(rng: &mut impl Rng, fault: &super::Fault, percent: u32) -> Option<Trigger> {
    if !rng.gen_bool(f64::from(percent.min(100)) / 100.0) {
        return None;
    }
    let node = fault.nodes().first()?.to_string();
    let (event, message) = DRAWN[rng.gen_range(0..DRAWN.len())];
    Some(Trigger {
        node,
        event,
        message: message.map(str::to_string),
        partition: None,
        nth: rng.gen_range(1..=3),
    })
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "on {} {}", self.node, self.event.as_str())?;
        if let Some(message) = &self.message {
            write!(f, " {message}")?;
        }
        if let Some(partition) = &self.partition {
            write!(f, " {partition}")?;
        }
        if self.nth != 1 {
            write!(f, " (#{})", self.nth)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_model::ids::Offset;

    fn trigger(node: &str, event: TriggerEvent, partition: Option<&str>) -> Trigger {
        Trigger {
            node: node.to_string(),
            event,
            message: None,
            partition: partition.map(str::to_string),
            nth: 1,
        }
    }

    #[test]
    fn a_trigger_counts_its_node_event_and_partition_only() {
        let tp = TopicPartition::new("tasks", 0);
        let appended = EventKind::Replica(ReplicaEvent::Appended {
            tp: tp.clone(),
            base: Offset(0),
            records: Vec::new(),
        });
        let belief = ClusterBelief::default();
        let on_b2 = trigger("b2", TriggerEvent::Append, Some("tasks-0"));
        assert!(on_b2.counts(NodeId(2), "b2", &appended, &belief));
        assert!(!on_b2.counts(NodeId(3), "b3", &appended, &belief));
        let other_partition = trigger("b2", TriggerEvent::Append, Some("tasks-1"));
        assert!(!other_partition.counts(NodeId(2), "b2", &appended, &belief));
        let truncate = trigger("b2", TriggerEvent::Truncate, None);
        assert!(!truncate.counts(NodeId(2), "b2", &appended, &belief));
        // An alias that stands for nobody yet counts nothing.
        let leader = trigger("leader of tasks-0", TriggerEvent::Append, None);
        assert!(!leader.counts(NodeId(2), "b2", &appended, &belief));
        let fsync = |path: &str| EventKind::Disk(DiskEvent::Fsync { path: path.into() });
        let on_fsync = trigger("b2", TriggerEvent::Fsync, Some("tasks-0"));
        assert!(on_fsync.counts(NodeId(2), "b2", &fsync("tasks-0/0.log"), &belief));
        assert!(!on_fsync.counts(NodeId(2), "b2", &fsync("tasks-00/0.log"), &belief));
        assert_eq!(on_fsync.to_string(), "on b2 fsync tasks-0");
    }
}

//! The run's typed event log: every step the harness sees (a message sent, delivered or
//! dropped; a disk operation; a replica, metadata, Raft or group event; a client operation;
//! a fault's start and end; a node's start), with its simulated time and actor, in the order
//! it happened. The trace text is a rendering of it (`render`), the history a projection of
//! its client events, and the checkers, the invariants, the timeline, `explain` and the
//! Perfetto export read events, never text.
//!
//! Each event gets a sequence number (`seq`), counted whether or not the log keeps it: a
//! sweep keeps only the events the offline readers need (`Retention::Verdicts`), a run that
//! is to be looked at keeps them all.

use crate::faults::strike::StruckFault;
use crate::faults::{SwarmDraw, TimedFault};
use crate::network::DropReason;
use kafka_model::effect::ReplicaEvent;
use kafka_model::group::GroupEvent;
use kafka_model::ids::{NodeId, TopicPartition};
use kafka_model::metadata::MetadataRecord;
use kafka_model::raft::RaftEvent;
use std::collections::BTreeMap;

pub mod render;

/// Who an event happened to: a simulated node, the nemesis, or the runner's liveness phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Actor {
    Node(NodeId),
    Nemesis,
    Runner,
}

/// One step of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The event's place in the run, from 0 (kept events keep their number).
    pub seq: u64,
    /// Global simulated time since the run began.
    pub time_ms: u64,
    pub actor: Actor,
    pub kind: EventKind,
}

/// Where an event stands in the log: its sequence number and time, for chains that point
/// back at it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventAt {
    pub seq: u64,
    pub time_ms: u64,
}

impl Event {
    pub fn at(&self) -> EventAt {
        EventAt {
            seq: self.seq,
            time_ms: self.time_ms,
        }
    }
}

/// A disk operation as the node asked SimDisk for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskEvent {
    Append {
        path: String,
        bytes: u64,
    },
    /// Everything written to `path` so far survives a power loss from now on.
    Fsync {
        path: String,
    },
    Truncate {
        path: String,
        len: u64,
    },
    Delete {
        path: String,
    },
}

/// What the nemesis did.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultEvent {
    /// The kinds and pace the swarm nemesis drew for this seed.
    SwarmDrawn(SwarmDraw),
    /// One entry of the fault plan, announced at the start.
    Planned(TimedFault),
    /// A fault struck as planned (one already in force on its node is still announced: a
    /// crash of a node that is down changes nothing, which `Restarted` and the spans show),
    /// with what its node aliases stood for then.
    Injected(StruckFault),
    /// A triggered fault's trigger fired: the fault strikes now (the `Injected` after it).
    Triggered { trigger: String },
    /// A crashed, powered-off or disk-less node started again.
    Restarted { node: String },
    /// A paused node runs again.
    Resumed { node: String },
    /// A replaced disk: every file of the node erased.
    DiskErased { node: String, bytes: u64 },
    /// A power loss: the node's un-fsynced bytes are gone.
    PowerCut { node: String, bytes: u64 },
    /// An armed storage fault struck the node's disk (`what` it did): the records it
    /// damaged or dropped are cut at the node's next recovery, for `cause`.
    DiskDamaged {
        node: String,
        what: String,
        cause: crate::invariants::losses::LossCause,
    },
    /// The fault phase is over: every fault ends, every node runs.
    Healed,
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// A node incarnation started (from 1).
    Started {
        incarnation: u32,
    },
    /// A broker recovered a partition's log from its disk at start.
    LogRecovered {
        tp: TopicPartition,
        batches: u64,
        log_end: u64,
        bytes_cut: u64,
        segments_deleted: u64,
    },
    /// A controller recovered its metadata log at start.
    MetadataRecovered {
        committed_records: u64,
    },
    /// A node could not start (`what`: bind, start) and stays silent.
    StartFailed {
        what: &'static str,
        error: String,
    },
    /// A message left its sender; `extra_delay_ms` is what a delay fault adds to madsim's
    /// own latency.
    MessageSent {
        id: u64,
        to: NodeId,
        kind: &'static str,
        extra_delay_ms: u64,
    },
    /// A message reached its receiver (on the receiver's actor).
    MessageDelivered {
        id: u64,
        from: NodeId,
        kind: &'static str,
        sent_ms: u64,
    },
    /// The network dropped a message (on the sender's actor).
    MessageDropped {
        id: u64,
        to: NodeId,
        kind: &'static str,
        reason: DropReason,
    },
    /// A stalled connection holds a message until its link carries again (on the
    /// sender's actor; connections transport only).
    MessageHeld {
        id: u64,
        to: NodeId,
        kind: &'static str,
    },
    /// The node's connection to `peer` reset: what it had in flight there failed.
    ConnectionReset {
        peer: NodeId,
        why: crate::connections::ResetReason,
    },
    Disk(DiskEvent),
    /// A broker's replica changed.
    Replica(ReplicaEvent),
    /// `node` holds `record` at `index` of the committed metadata log.
    Metadata {
        index: u64,
        record: MetadataRecord,
    },
    Raft(RaftEvent),
    /// A group coordinator's decision.
    Group(GroupEvent),
    /// A client operation: the history's entry `history_index` holds it.
    Client {
        history_index: u64,
    },
    /// A broker answered `to`'s request `correlation_id` with these errors (on the
    /// broker's actor, as the answer leaves it). No trace line: the client's history entry
    /// of each error tells it.
    ErrorAnswered {
        to: NodeId,
        correlation_id: u64,
        errors: Vec<crate::errors::answer::AnsweredError>,
    },
    /// A model decision worth a line, in the model's words (an epoch bump, a reset).
    Note(String),
    /// The model took a rare path it names itself (no trace line: the sweep's coverage
    /// counts it).
    Reached(kafka_model::reach::RarePath),
    Fault(FaultEvent),
    /// The run ended early: every send completed, every consumer caught up.
    Quiescent,
    /// At the liveness bound, something was still unfinished.
    LivenessProblem(String),
}

/// Which events the log keeps in memory (every event is counted, rendered if the trace is
/// kept, and handed to the online readers either way).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Retention {
    /// What a report needs after the run: node starts and faults. Every other event is
    /// read as it happens (the history, the replica mirror and its loss ledger, the quorum
    /// checker, the trace) and dropped.
    #[default]
    Verdicts,
    /// Everything, for the timeline, `explain` and the Perfetto export.
    All,
}

impl Retention {
    /// Whether an event of this kind is kept.
    pub fn keeps(self, kind: &EventKind) -> bool {
        match self {
            Retention::All => true,
            Retention::Verdicts => matches!(kind, EventKind::Started { .. } | EventKind::Fault(_)),
        }
    }

    /// Whether events that are never kept under `Verdicts` and read by no online reader
    /// (message sends, disk operations) need to be built at all.
    pub fn keeps_everything(self) -> bool {
        self == Retention::All
    }
}

/// The events of one run, in order.
#[derive(Clone, Debug, Default)]
pub struct EventLog {
    retention: Retention,
    /// Every node's name in traces and fault plans (`b1`, `producer-1`, `controller`), so
    /// that the readers after the run can name the actors without the world.
    names: BTreeMap<NodeId, String>,
    events: Vec<Event>,
    next_seq: u64,
}

impl EventLog {
    pub fn new(retention: Retention, names: BTreeMap<NodeId, String>) -> Self {
        EventLog {
            retention,
            names,
            events: Vec::new(),
            next_seq: 0,
        }
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// A node's name (`?` for a node the run did not have).
    pub fn node_name(&self, node: NodeId) -> &str {
        self.names.get(&node).map_or("?", String::as_str)
    }

    /// An actor's name: its node's, `nemesis` or `runner`.
    pub fn actor_name(&self, actor: Actor) -> &str {
        render::actor_name(actor, |node| self.node_name(node))
    }

    /// Numbers the event and keeps it if the retention asks for it; returns it (kept or
    /// not) for the online readers.
    pub fn push(&mut self, time_ms: u64, actor: Actor, kind: EventKind) -> EventRef<'_> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let event = Event {
            seq,
            time_ms,
            actor,
            kind,
        };
        if self.retention.keeps(&event.kind) {
            self.events.push(event);
            EventRef::Kept(self.events.last().expect("just pushed"))
        } else {
            EventRef::Passing(event)
        }
    }

    /// The kept events, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// How many events the run had, kept or not.
    pub fn count(&self) -> u64 {
        self.next_seq
    }

    /// The kept event with sequence number `seq`.
    pub fn get(&self, seq: u64) -> Option<&Event> {
        let at = self.events.binary_search_by_key(&seq, |e| e.seq).ok()?;
        self.events.get(at)
    }
}

/// An event just recorded: in the log, or passing through it.
pub enum EventRef<'a> {
    Kept(&'a Event),
    Passing(Event),
}

impl std::ops::Deref for EventRef<'_> {
    type Target = Event;

    fn deref(&self) -> &Event {
        match self {
            EventRef::Kept(event) => event,
            EventRef::Passing(event) => event,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_numbered_whether_kept_or_not() {
        let mut log = EventLog::new(Retention::Verdicts, BTreeMap::new());
        let note = |text: &str| EventKind::Note(text.to_string());
        assert_eq!(log.push(1, Actor::Nemesis, note("a")).seq, 0);
        let started = EventKind::Started { incarnation: 1 };
        assert_eq!(log.push(2, Actor::Node(NodeId(1)), started).seq, 1);
        assert_eq!(log.push(3, Actor::Runner, note("b")).seq, 2);
        assert_eq!(log.count(), 3);
        assert_eq!(log.events().len(), 1, "notes pass, starts stay");
        assert_eq!(log.get(1).map(|e| e.time_ms), Some(2));
        assert!(log.get(0).is_none());
        let mut all = EventLog::new(Retention::All, BTreeMap::new());
        all.push(1, Actor::Nemesis, note("a"));
        assert_eq!(all.events().len(), 1);
    }
}

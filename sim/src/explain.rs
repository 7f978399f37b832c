//! `kafka-sim explain`: the life of one record in a run, told from the run's typed events
//! and history: its send and partition, the append on its leader, the acknowledgement,
//! every consumer's read, what the faults did to its replicas (and their restarts, log
//! recoveries and truncations), the controller's elections of its partition, retention
//! deleting it (and consumers reset past it), and what the checkers found.

use crate::events::render::render;
use crate::events::{Actor, Event, EventKind, EventLog, FaultEvent};
use crate::history::{History, OpType, Operation};
use crate::outcome::Outcome;
use crate::scenario::Scenario;
use kafka_model::effect::{LogStartCause, ReplicaEvent, ReplicaRecord};
use kafka_model::ids::{NodeId, TopicPartition};
use kafka_model::layout::ClusterLayout;
use kafka_model::metadata::MetadataRecord;
use kafka_model::quorum_controller::describe;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Whether a replica leads, where its log starts and ends, and where it holds the record,
/// followed from its events.
#[derive(Clone, Copy, Debug, Default)]
struct ReplicaLog {
    leads: bool,
    log_start: u64,
    log_end: u64,
    holds_at: Option<u64>,
}

/// The record followed through the run's events.
struct Story<'a> {
    log: &'a EventLog,
    history: &'a History,
    value: u64,
    /// Its partition and offset, once known (from the acknowledgement or the append).
    tp: Option<TopicPartition>,
    offset: Option<u64>,
    replicas: BTreeSet<NodeId>,
    replica_logs: BTreeMap<NodeId, ReplicaLog>,
    /// The metadata indexes told already: each controller and broker reports every record.
    metadata_told: BTreeSet<u64>,
    reads: usize,
}

/// "v3 v4 v5".
fn values(records: &[ReplicaRecord]) -> String {
    let values: Vec<String> = records.iter().map(|r| format!("v{}", r.value)).collect();
    values.join(" ")
}

/// The first append of the record (a leader's: followers copy it after): its partition and
/// offset.
fn first_append(log: &EventLog, value: u64) -> Option<(TopicPartition, u64)> {
    log.events().iter().find_map(|event| match &event.kind {
        EventKind::Replica(ReplicaEvent::Appended { tp, base, records }) => {
            let at = records.iter().position(|r| r.value == value)?;
            Some((tp.clone(), base.0 + at as u64))
        }
        _ => None,
    })
}

impl Story<'_> {
    fn is_replica_name(&self, name: &str) -> bool {
        (self.replicas.iter()).any(|node| self.log.node_name(*node) == name)
    }

    fn is_mine(&self, tp: &TopicPartition) -> bool {
        self.tp.as_ref() == Some(tp)
    }

    /// The lines (without time and actor) an event adds to the story.
    fn lines(&mut self, event: &Event) -> Vec<String> {
        let rendered = || {
            let mut text = String::new();
            let name = |node| self.log.node_name(node);
            render(event, name, self.history, &mut text).then_some(text)
        };
        let on_replica = match event.actor {
            Actor::Node(node) => self.replicas.contains(&node).then_some(node),
            _ => None,
        };
        match (&event.kind, on_replica) {
            (EventKind::Client { history_index }, _) => self.client(*history_index, rendered),
            (EventKind::Started { .. }, Some(_)) => rendered().into_iter().collect(),
            (EventKind::LogRecovered { tp, .. }, Some(_)) if self.is_mine(tp) => {
                rendered().into_iter().collect()
            }
            (EventKind::Fault(fault), _) if self.names_a_replica(fault) => {
                rendered().into_iter().collect()
            }
            (
                EventKind::Metadata {
                    index,
                    record: record @ MetadataRecord::PartitionChange { tp, .. },
                },
                _,
            ) if self.is_mine(tp) && self.metadata_told.insert(*index) => {
                vec![format!("metadata {index}: {}", describe(record))]
            }
            (EventKind::Replica(replica), Some(node)) => self.replica(node, replica),
            _ => Vec::new(),
        }
    }

    /// Whether a fault strikes one of the record's replicas (the plan announced at the
    /// start, and the heal, name none).
    fn names_a_replica(&self, fault: &FaultEvent) -> bool {
        match fault {
            FaultEvent::Injected(struck) => struck
                .fault()
                .is_some_and(|f| f.nodes().iter().any(|n| self.is_replica_name(n))),
            FaultEvent::Restarted { node }
            | FaultEvent::Resumed { node }
            | FaultEvent::DiskErased { node, .. }
            | FaultEvent::PowerCut { node, .. }
            | FaultEvent::DiskDamaged { node, .. } => self.is_replica_name(node),
            FaultEvent::SwarmDrawn(_)
            | FaultEvent::Planned(_)
            | FaultEvent::Triggered { .. }
            | FaultEvent::Healed => false,
        }
    }

    /// The record's send and its outcome, its reads, and consumers reset past it.
    fn client(&mut self, index: u64, rendered: impl Fn() -> Option<String>) -> Vec<String> {
        let Some(entry) = self.history.entries.get(index as usize) else {
            return Vec::new();
        };
        let value = self.value;
        match &entry.op {
            Operation::Send(send) if send.value == value => rendered().into_iter().collect(),
            // Error answers have no trace line (the trace keeps its hash); the story of a
            // record names each refusal of its batch.
            Operation::Produce(p) if p.values.contains(&value) => vec![format!(
                "{} refused its batch to {}-{} with {} (request {})",
                p.broker, p.topic, p.partition, p.error, p.request
            )],
            Operation::Poll(poll) if entry.op_type == OpType::Ok => {
                let mine = poll.records.iter().filter(|r| r.value == value);
                let reads: Vec<String> = mine
                    .map(|r| format!("read v{value} at {}-{}@{}", r.topic, r.partition, r.offset))
                    .collect();
                self.reads += reads.len();
                reads
            }
            Operation::Assign(assign) => {
                let tp = TopicPartition::new(assign.topic.clone(), assign.partition);
                let skipped = assign.skipped().filter(|_| self.is_mine(&tp));
                let past_it = skipped
                    .zip(self.offset)
                    .is_some_and(|(s, o)| s.contains(&o));
                if past_it {
                    rendered().into_iter().collect()
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }

    /// What a replica of the partition did that touches the record: the leader's append of
    /// it, every truncation (and whether it cut the record), a log start raised past it.
    fn replica(&mut self, node: NodeId, event: &ReplicaEvent) -> Vec<String> {
        let value = self.value;
        let Some(tp) = self.tp.clone() else {
            return Vec::new();
        };
        let at = |base: u64, records: &[ReplicaRecord]| {
            let position = records.iter().position(|r| r.value == value)?;
            Some(base + position as u64)
        };
        let replica = self.replica_logs.entry(node).or_default();
        match event {
            ReplicaEvent::Recovered {
                tp: of,
                log_start,
                records,
            } if *of == tp => {
                let log_start = log_start.0;
                *replica = ReplicaLog {
                    leads: false,
                    log_start,
                    log_end: log_start + records.len() as u64,
                    holds_at: at(log_start, records),
                };
                Vec::new()
            }
            ReplicaEvent::BecameLeader { tp: of, .. }
            | ReplicaEvent::BecameFollower { tp: of, .. }
                if *of == tp =>
            {
                replica.leads = matches!(event, ReplicaEvent::BecameLeader { .. });
                Vec::new()
            }
            ReplicaEvent::Appended {
                tp: of,
                base,
                records,
            } if *of == tp => {
                replica.log_end = base.0 + records.len() as u64;
                let Some(offset) = at(base.0, records) else {
                    return Vec::new();
                };
                replica.holds_at = Some(offset);
                // Followers copy it too; the leader's append is where it entered the log.
                if !replica.leads {
                    return Vec::new();
                }
                let last = replica.log_end - 1;
                vec![format!(
                    "append {tp}@{}..{last}: {}",
                    base.0,
                    values(records)
                )]
            }
            ReplicaEvent::Truncated { tp: of, log_end } if *of == tp => {
                let (from, to) = (replica.log_end, log_end.0);
                replica.log_end = to;
                let cut = replica.holds_at.filter(|o| *o >= to);
                if cut.is_some() {
                    replica.holds_at = None;
                }
                let cut = cut.map_or(String::new(), |o| format!(" (cuts v{value} at {o})"));
                vec![format!("truncate {tp} from {from} to {to}{cut}")]
            }
            ReplicaEvent::LogStartRaised {
                tp: of,
                log_start,
                cause,
            } if *of == tp => {
                let (from, to) = (replica.log_start, log_start.0);
                replica.log_start = to;
                if *cause == LogStartCause::Reset {
                    replica.log_end = to;
                }
                let Some(offset) = replica.holds_at.filter(|o| *o < to) else {
                    return Vec::new();
                };
                replica.holds_at = None;
                vec![format!(
                    "{tp} log start {from} -> {to} ({}): v{value} at {offset} deleted",
                    cause.as_str()
                )]
            }
            _ => Vec::new(),
        }
    }
}

/// The story of record `value`. The outcome should keep all its events
/// (`RunOptions::keep_trace`): otherwise log recoveries are missing from it.
pub fn explain(scenario: &Scenario, outcome: &Outcome, value: u64) -> Result<String, String> {
    let entries = &outcome.history.entries;
    let invoke = entries.iter().find_map(|e| match &e.op {
        Operation::Send(send) if e.op_type == OpType::Invoke && send.value == value => {
            Some((e, send))
        }
        _ => None,
    });
    let Some((invoke, send)) = invoke else {
        let sent = entries
            .iter()
            .filter(|e| e.op_type == OpType::Invoke && matches!(e.op, Operation::Send(_)))
            .count();
        return Err(format!(
            "no record with value {value} in this run ({sent} records were sent; producer p, from 1, sends values (p-1)*1000000+1, +2, ...)"
        ));
    };
    let mut text = String::new();
    let _ = writeln!(
        text,
        "record v{value} (key {}) of {} seed {}, sent by {} at {}ms",
        send.key.as_deref().unwrap_or("none"),
        outcome.scenario,
        outcome.seed,
        invoke.process,
        invoke.time_ms
    );
    // The partition and offset, from the acknowledgement or else the leader's append.
    let acked = entries.iter().find_map(|e| match &e.op {
        Operation::Send(s) if s.value == value && e.op_type == OpType::Ok => {
            Some((s.partition?, s.offset))
        }
        _ => None,
    });
    let log = &outcome.events;
    let appended = first_append(log, value).filter(|(tp, _)| tp.topic == send.topic);
    let (tp, offset) = match (acked, appended) {
        (Some((p, Some(o))), _) => (Some(TopicPartition::new(send.topic.clone(), p)), Some(o)),
        (Some((p, None)), appended) => {
            let tp = TopicPartition::new(send.topic.clone(), p);
            let offset = appended.filter(|(at, _)| *at == tp).map(|(_, o)| o);
            (Some(tp), offset)
        }
        (None, Some((tp, o))) => (Some(tp), Some(o)),
        (None, None) => (None, None),
    };
    let layout = ClusterLayout::new(scenario.brokers, scenario.cluster_topics());
    let replicas: BTreeSet<NodeId> = (tp.iter())
        .flat_map(|tp| layout.replicas_of(tp))
        .map(|b| b.node())
        .collect();
    match &tp {
        Some(tp) => {
            // Preferred leader first, as the layout places them.
            let names: Vec<&str> = (layout.replicas_of(tp).into_iter())
                .map(|b| log.node_name(b.node()))
                .collect();
            let _ = writeln!(
                text,
                "partition {tp} (murmur2 of the key), replicas {} (preferred leader first)",
                names.join(", ")
            );
        }
        None => {
            let _ = writeln!(
                text,
                "never placed in a partition (no metadata, or it failed first)"
            );
        }
    }
    let _ = writeln!(text, "\ntimeline:");
    let mut story = Story {
        log,
        history: &outcome.history,
        value,
        tp,
        offset,
        replicas,
        replica_logs: BTreeMap::new(),
        metadata_told: BTreeSet::new(),
        reads: 0,
    };
    for event in log.events() {
        let actor = log.actor_name(event.actor);
        for line in story.lines(event) {
            let _ = writeln!(text, "  {:>8} {actor:<11} {line}", event.time_ms);
        }
    }
    if story.reads == 0 {
        let _ = writeln!(text, "  (no consumer read it)");
    }
    let anomalies: Vec<_> = outcome
        .anomalies
        .iter()
        .filter(|a| a.values.contains(&value))
        .collect();
    let heading = if anomalies.is_empty() { " none" } else { "" };
    let _ = writeln!(text, "\nanomalies involving it:{heading}");
    for anomaly in anomalies {
        let _ = writeln!(
            text,
            "  {} ({:?}): {} [{}]",
            anomaly.kind, anomaly.verdict, anomaly.detail, anomaly.why
        );
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Retention;
    use kafka_model::ids::{BrokerId, LeaderEpoch, Offset};

    /// Record v8 at tasks-0 offset 5, replicated on b1 (leader) and b2; b3 is no replica.
    #[test]
    fn the_story_has_the_leaders_append_the_cuts_and_the_deletion_of_the_record() {
        let names = (1..=3).map(|b| (NodeId(b), format!("b{b}"))).collect();
        let mut log = EventLog::new(Retention::All, names);
        let tp = TopicPartition::new("tasks", 0);
        let records = |values: &[u64]| -> Vec<ReplicaRecord> {
            let epoch = LeaderEpoch(1);
            values
                .iter()
                .map(|&value| ReplicaRecord {
                    value,
                    epoch,
                    producer: None,
                })
                .collect()
        };
        let (tp_, epoch) = (tp.clone(), LeaderEpoch(1));
        let events = [
            (
                1,
                ReplicaEvent::BecameLeader {
                    tp: tp_.clone(),
                    epoch,
                    isr: vec![],
                    log_end: Offset(4),
                },
            ),
            (
                2,
                ReplicaEvent::BecameFollower {
                    tp: tp_.clone(),
                    epoch,
                    leader: Some(BrokerId(1)),
                },
            ),
            (
                1,
                ReplicaEvent::Appended {
                    tp: tp_.clone(),
                    base: Offset(4),
                    records: records(&[7, 8]),
                },
            ),
            (
                2,
                ReplicaEvent::Appended {
                    tp: tp_.clone(),
                    base: Offset(4),
                    records: records(&[7, 8]),
                },
            ),
            (
                3,
                ReplicaEvent::Appended {
                    tp: tp_.clone(),
                    base: Offset(4),
                    records: records(&[7, 8]),
                },
            ),
            (
                2,
                ReplicaEvent::Truncated {
                    tp: tp_.clone(),
                    log_end: Offset(5),
                },
            ),
            (
                1,
                ReplicaEvent::LogStartRaised {
                    tp: tp_.clone(),
                    log_start: Offset(4),
                    cause: LogStartCause::Retention,
                },
            ),
            (
                1,
                ReplicaEvent::LogStartRaised {
                    tp: tp_.clone(),
                    log_start: Offset(6),
                    cause: LogStartCause::Retention,
                },
            ),
            (
                2,
                ReplicaEvent::Truncated {
                    tp: tp_,
                    log_end: Offset(4),
                },
            ),
        ];
        for (time_ms, (node, event)) in (10..).zip(events) {
            log.push(
                time_ms,
                Actor::Node(NodeId(node)),
                EventKind::Replica(event),
            );
        }
        let history = History::default();
        let mut story = Story {
            log: &log,
            history: &history,
            value: 8,
            tp: Some(tp),
            offset: Some(5),
            replicas: [NodeId(1), NodeId(2)].into(),
            replica_logs: BTreeMap::new(),
            metadata_told: BTreeSet::new(),
            reads: 0,
        };
        let told: Vec<(u64, String)> = (log.events().iter())
            .flat_map(|e| story.lines(e).into_iter().map(|line| (e.time_ms, line)))
            .collect();
        let expected = [
            (12, "append tasks-0@4..5: v7 v8"),
            (15, "truncate tasks-0 from 6 to 5 (cuts v8 at 5)"),
            (17, "tasks-0 log start 4 -> 6 (retention): v8 at 5 deleted"),
            (18, "truncate tasks-0 from 5 to 4"),
        ];
        let expected: Vec<(u64, String)> =
            expected.iter().map(|(t, l)| (*t, l.to_string())).collect();
        assert_eq!(told, expected);
    }
}

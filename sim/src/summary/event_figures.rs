//! The figures only the run's events give: per partition, how long the committed metadata
//! named no leader and how long its leader's ISR was below `min.insync.replicas` (when the
//! leader refuses acks=all writes with NOT_ENOUGH_REPLICAS), and each group's rebalances
//! with how long each took. They need every event (`Retention::All`).

use super::percentiles::Spread;
use crate::events::{EventKind, EventLog};
use kafka_model::group::GroupEvent;
use kafka_model::metadata::MetadataRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One partition's time without a leader and time refusing acks=all writes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionTimes {
    /// `topic-p`.
    pub partition: String,
    /// Time the committed metadata named no leader, once it had named one (the start, when
    /// no leader was elected yet, is not counted).
    pub leaderless_ms: u64,
    /// Time it had a leader whose ISR was smaller than `min.insync.replicas`.
    pub below_min_insync_ms: u64,
}

/// A group's rebalances: each from the coordinator leaving a generation to the first
/// assignment of a later one (or the run's end, when none came).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRebalances {
    pub group: String,
    pub rebalances: u64,
    /// Rebalances that never reached a new assignment.
    pub unfinished: u64,
    pub duration_ms: Option<Spread>,
}

/// Per partition, from the committed metadata records, each taken at the first time any
/// node held it (its commit); up to `end_ms`.
pub fn partition_times(log: &EventLog, min_insync: usize, end_ms: u64) -> Vec<PartitionTimes> {
    let mut committed: BTreeMap<u64, (u64, &MetadataRecord)> = BTreeMap::new();
    for event in log.events() {
        if let EventKind::Metadata { index, record } = &event.kind {
            committed.entry(*index).or_insert((event.time_ms, record));
        }
    }
    // Per partition: the state in force since when, and the totals.
    struct State {
        since_ms: u64,
        leader: bool,
        isr: usize,
        had_leader: bool,
        times: PartitionTimes,
    }
    let close = |state: &mut State, now_ms: u64| {
        let span = now_ms.saturating_sub(state.since_ms);
        if !state.leader && state.had_leader {
            state.times.leaderless_ms += span;
        }
        if state.leader && state.isr < min_insync {
            state.times.below_min_insync_ms += span;
        }
        state.since_ms = now_ms.max(state.since_ms);
    };
    let mut states: BTreeMap<String, State> = BTreeMap::new();
    for (time_ms, record) in committed.into_values() {
        let MetadataRecord::PartitionChange {
            tp, leader, isr, ..
        } = record
        else {
            continue;
        };
        let name = tp.to_string();
        let state = states.entry(name.clone()).or_insert_with(|| State {
            since_ms: time_ms,
            leader: false,
            isr: 0,
            had_leader: false,
            times: PartitionTimes {
                partition: name,
                ..PartitionTimes::default()
            },
        });
        close(state, time_ms);
        state.leader = leader.is_some();
        state.had_leader |= state.leader;
        state.isr = isr.len();
    }
    states
        .into_values()
        .map(|mut state| {
            close(&mut state, end_ms);
            state.times
        })
        .collect()
}

/// Every group's rebalances, from its coordinators' events (a generation left twice, by a
/// coordinator and by its successor after a failover, counts once).
pub fn rebalances(log: &EventLog, end_ms: u64) -> Vec<GroupRebalances> {
    // group -> generation left -> when
    let mut started: BTreeMap<&str, BTreeMap<u32, u64>> = BTreeMap::new();
    // group -> generation -> first assignment
    let mut assigned: BTreeMap<&str, BTreeMap<u32, u64>> = BTreeMap::new();
    for event in log.events() {
        match &event.kind {
            EventKind::Group(GroupEvent::RebalanceStarted {
                group, generation, ..
            }) => {
                started
                    .entry(group.0.as_str())
                    .or_default()
                    .entry(generation.0)
                    .or_insert(event.time_ms);
            }
            EventKind::Group(GroupEvent::Assigned {
                group, generation, ..
            }) => {
                assigned
                    .entry(group.0.as_str())
                    .or_default()
                    .entry(generation.0)
                    .or_insert(event.time_ms);
            }
            _ => {}
        }
    }
    started
        .into_iter()
        .map(|(group, left)| {
            let next = assigned.get(group);
            let mut durations = Vec::new();
            let mut unfinished = 0;
            for (generation, at_ms) in &left {
                let done = next.and_then(|n| {
                    n.range(generation + 1..)
                        .map(|(_, t)| *t)
                        .find(|t| *t >= *at_ms)
                });
                match done {
                    Some(done_ms) => durations.push(done_ms - at_ms),
                    None => {
                        unfinished += 1;
                        durations.push(end_ms.saturating_sub(*at_ms));
                    }
                }
            }
            GroupRebalances {
                group: group.to_string(),
                rebalances: left.len() as u64,
                unfinished,
                duration_ms: Spread::of(durations),
            }
        })
        .collect()
}

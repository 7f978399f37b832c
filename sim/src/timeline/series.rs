//! The per-partition series the page charts: log end offset, consumer positions and high
//! watermark from the history, leader and ISR from the committed metadata records.

use crate::events::{EventKind, EventLog};
use crate::history::{HistoryEntry, OpType, Operation};
use crate::outcome::Outcome;
use kafka_model::ids::BrokerId;
use kafka_model::metadata::MetadataRecord;
use std::collections::{BTreeMap, BTreeSet};

fn ok_entries(outcome: &Outcome) -> impl Iterator<Item = &HistoryEntry> {
    outcome
        .history
        .entries
        .iter()
        .filter(|e| e.op_type == OpType::Ok)
}

/// Series hook: the partition's log end offset as the producers saw it, (time, offset + 1)
/// at each acknowledged send. A truncating power loss shows as a drop.
pub fn series_log_end(outcome: &Outcome, topic: &str, partition: u32) -> Vec<(u64, u64)> {
    let at = |e: &HistoryEntry| match &e.op {
        Operation::Send(s) if s.topic == topic && s.partition == Some(partition) => {
            s.offset.map(|o| (e.time_ms, o + 1))
        }
        _ => None,
    };
    ok_entries(outcome).filter_map(at).collect()
}

/// Series hook: each consumer's read position, (time, next offset): an `assign` sets it, a
/// `poll` that returned records of the partition moves it past the last one.
pub fn series_positions(
    outcome: &Outcome,
    topic: &str,
    p: u32,
) -> BTreeMap<String, Vec<(u64, u64)>> {
    let mut series: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for e in ok_entries(outcome) {
        let position = match &e.op {
            Operation::Assign(a) if a.topic == topic && a.partition == p => Some(a.offset),
            Operation::Poll(poll) => {
                let mut mine = poll
                    .records
                    .iter()
                    .filter(|r| r.topic == topic && r.partition == p);
                mine.next_back().map(|r| r.offset + 1)
            }
            _ => None,
        };
        if let Some(position) = position {
            let points = series.entry(e.process.clone()).or_default();
            points.push((e.time_ms, position));
        }
    }
    series
}

/// The committed partition changes of one partition: (time, leader, ISR). Every controller
/// and broker reports each committed record: the first report of an index is when the
/// cluster could act on it.
fn partition_changes<'a>(
    log: &'a EventLog,
    topic: &'a str,
    partition: u32,
) -> impl Iterator<Item = (u64, Option<BrokerId>, &'a [BrokerId])> + 'a {
    let mut seen = BTreeSet::new();
    log.events().iter().filter_map(move |event| {
        let EventKind::Metadata { index, record } = &event.kind else {
            return None;
        };
        let MetadataRecord::PartitionChange {
            tp, leader, isr, ..
        } = record
        else {
            return None;
        };
        let mine = tp.topic == topic && tp.partition == partition;
        (mine && seen.insert(*index)).then_some((event.time_ms, *leader, isr.as_slice()))
    })
}

fn broker_name(log: &EventLog, broker: BrokerId) -> String {
    log.node_name(broker.node()).to_string()
}

/// Series: the partition's leader over time, as the controller elected it ("none" while
/// it has none).
pub fn series_leader(outcome: &Outcome, topic: &str, partition: u32) -> Vec<(u64, String)> {
    let log = &outcome.events;
    let mut series: Vec<(u64, String)> = Vec::new();
    for (time_ms, leader, _) in partition_changes(log, topic, partition) {
        let leader = leader.map_or("none".to_string(), |b| broker_name(log, b));
        if series.last().is_none_or(|(_, last)| *last != leader) {
            series.push((time_ms, leader));
        }
    }
    series
}

/// Series: the high watermark of the partition as consumers' fetches reported it.
pub fn series_high_watermark(outcome: &Outcome, topic: &str, partition: u32) -> Vec<(u64, u64)> {
    let at = |e: &HistoryEntry| match &e.op {
        Operation::Poll(poll) => poll
            .high_watermarks
            .iter()
            .find(|h| h.topic == topic && h.partition == partition)
            .map(|h| (e.time_ms, h.high_watermark)),
        _ => None,
    };
    ok_entries(outcome).filter_map(at).collect()
}

/// Series: the in-sync replicas over time, as the controller committed them.
pub fn series_isr(outcome: &Outcome, topic: &str, partition: u32) -> Vec<(u64, Vec<String>)> {
    let log = &outcome.events;
    let names = |isr: &[BrokerId]| isr.iter().map(|b| broker_name(log, *b)).collect();
    partition_changes(log, topic, partition)
        .map(|(time_ms, _, isr)| (time_ms, names(isr)))
        .collect()
}

//! The figures a history alone gives: acknowledged writes lost per partition (from the
//! lost-write anomalies), producer latency (each acknowledged send from its invoke to its
//! `ok`), and each reader's lag when the faults healed. `kafka-sim check` computes them for
//! a history from elsewhere too.

use super::percentiles::Spread;
use crate::checkers::{Anomaly, AnomalyKind};
use crate::history::{History, OpType, Operation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One acknowledged send's latency, for the plot of latency over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyPoint {
    /// When the acknowledgement came.
    pub acked_ms: u64,
    pub latency_ms: u64,
}

/// A reader's lag at the heal: acknowledged records of its partitions it had not read yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderLag {
    /// A consumer process, or a consumer group (its members read for it).
    pub reader: String,
    pub records: u64,
}

/// Every acknowledged send's latency, in history order.
pub fn producer_latencies(history: &History) -> Vec<LatencyPoint> {
    let mut invoked: BTreeMap<(&str, u64), u64> = BTreeMap::new();
    let mut points = Vec::new();
    for entry in &history.entries {
        let Operation::Send(send) = &entry.op else {
            continue;
        };
        let key = (entry.process.as_str(), send.value);
        match entry.op_type {
            OpType::Invoke => {
                invoked.insert(key, entry.time_ms);
            }
            OpType::Ok => {
                if let Some(start) = invoked.remove(&key) {
                    points.push(LatencyPoint {
                        acked_ms: entry.time_ms,
                        latency_ms: entry.time_ms.saturating_sub(start),
                    });
                }
            }
            OpType::Fail | OpType::Info => {
                invoked.remove(&key);
            }
        }
    }
    points
}

/// p50, p99 and max of the acknowledged sends' latencies.
pub fn latency_spread(points: &[LatencyPoint]) -> Option<Spread> {
    Spread::of(points.iter().map(|p| p.latency_ms))
}

/// Acknowledged writes the lost-write checker found lost, per partition (`topic-p`): each
/// value once, placed by its acknowledged send.
pub fn lost_writes_per_partition(
    history: &History,
    anomalies: &[Anomaly],
) -> BTreeMap<String, u64> {
    let placed: BTreeMap<u64, String> = history
        .entries
        .iter()
        .filter(|e| e.op_type == OpType::Ok)
        .filter_map(|e| match &e.op {
            Operation::Send(send) => Some((
                send.value,
                format!("{}-{}", send.topic, send.partition.unwrap_or_default()),
            )),
            _ => None,
        })
        .collect();
    let mut lost: BTreeMap<u64, &String> = BTreeMap::new();
    for anomaly in anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::LostWrite)
    {
        for value in &anomaly.values {
            if let Some(partition) = placed.get(value) {
                lost.insert(*value, partition);
            }
        }
    }
    let mut per_partition = BTreeMap::new();
    for partition in lost.into_values() {
        *per_partition.entry(partition.clone()).or_insert(0) += 1;
    }
    per_partition
}

/// Each reader's lag at `heal_ms`: per partition, the end of what was acknowledged by then
/// (highest acknowledged offset + 1) less the end of what the reader had read by then
/// (highest offset read + 1, 0 if nothing), summed over the partitions acknowledged
/// writes went to. A group member reads for its group (named by its `assignment`s).
pub fn lag_at(history: &History, heal_ms: u64) -> Vec<ReaderLag> {
    let mut group_of: BTreeMap<&str, &str> = BTreeMap::new();
    for entry in &history.entries {
        if let Operation::Assignment(a) = &entry.op {
            group_of.insert(entry.process.as_str(), a.group.as_str());
        }
    }
    let reader_of = |process: &str| -> String {
        group_of
            .get(process)
            .map_or_else(|| process.to_string(), |g| format!("group {g}"))
    };
    let mut acked_end: BTreeMap<(&str, u32), u64> = BTreeMap::new();
    let mut read_end: BTreeMap<String, BTreeMap<(&str, u32), u64>> = BTreeMap::new();
    for entry in history.entries.iter().filter(|e| e.op_type == OpType::Ok) {
        match &entry.op {
            Operation::Send(send) if entry.time_ms <= heal_ms => {
                if let (Some(p), Some(o)) = (send.partition, send.offset) {
                    let end = acked_end.entry((send.topic.as_str(), p)).or_default();
                    *end = (*end).max(o + 1);
                }
            }
            Operation::Poll(poll) => {
                let ends = read_end.entry(reader_of(&entry.process)).or_default();
                if entry.time_ms > heal_ms {
                    continue;
                }
                for r in &poll.records {
                    let end = ends.entry((r.topic.as_str(), r.partition)).or_default();
                    *end = (*end).max(r.offset + 1);
                }
            }
            _ => {}
        }
    }
    read_end
        .into_iter()
        .map(|(reader, ends)| ReaderLag {
            records: acked_end
                .iter()
                .map(|(tp, acked)| acked.saturating_sub(ends.get(tp).copied().unwrap_or(0)))
                .sum(),
            reader,
        })
        .collect()
}

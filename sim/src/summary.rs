//! The run summary: what a person asks of a run, in numbers. One line per anomaly kind and
//! verdict (how many, on which partitions, first and last simulated time, a sample of
//! records), and a short table of what the run measured: acknowledged writes lost per
//! partition, producer latency, per-partition time without a leader and time refusing
//! acks=all writes, each reader's lag at the heal, and rebalances with their durations.
//! `run` prints it (at most 15 lines), `run --json` and the HTML page carry it, `check`
//! computes the part a history alone gives.

use crate::checkers::{Anomaly, AnomalyKind, LossScope, Verdict};
use crate::events::{EventKind, FaultEvent};
use crate::history::{History, OpType, Operation};
use crate::outcome::Outcome;
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub mod event_figures;
pub mod history_figures;
pub mod percentiles;
mod text;

pub use event_figures::{GroupRebalances, PartitionTimes};
pub use history_figures::{LatencyPoint, ReaderLag};
pub use percentiles::Spread;

/// How many records a kind's line names.
const SAMPLE_VALUES: usize = 3;

/// One anomaly kind with one verdict, over the whole run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindLine {
    pub kind: AnomalyKind,
    pub verdict: Verdict,
    pub count: u64,
    /// `topic-p`, every partition the anomalies involve.
    pub partitions: Vec<String>,
    /// Simulated time of the history operation where the first and the last one show.
    pub first_ms: u64,
    pub last_ms: u64,
    /// The first few record values involved (follow one with `explain --record vN`).
    pub sample_values: Vec<u64>,
}

/// The run's numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub anomalies: u64,
    pub kinds: Vec<KindLine>,
    /// Acknowledged writes lost, per partition (only partitions that lost some).
    pub lost_writes: BTreeMap<String, u64>,
    /// Over acknowledged sends, from invoke to `ok`.
    pub producer_latency_ms: Option<Spread>,
    /// Every acknowledged send's latency in time order, for the HTML plot (not in JSON:
    /// the history has them).
    #[serde(skip)]
    pub latency_points: Vec<LatencyPoint>,
    /// Per partition (only those with some time without a leader or below min.insync);
    /// `None` when the events were not kept (a history from elsewhere).
    pub partitions: Option<Vec<PartitionTimes>>,
    /// The `min.insync.replicas` the partitions' times are measured against.
    pub min_insync_replicas: Option<usize>,
    /// The producers' `acks` (`all`, `1`, `0`): only acks=all writes are refused while the
    /// ISR is below min.insync. `None` when not known (a history from elsewhere).
    #[serde(default)]
    pub acks: Option<String>,
    /// When the faults healed, and each reader's lag then; `None` without a heal time.
    pub heal_ms: Option<u64>,
    pub lag_at_heal: Vec<ReaderLag>,
    /// Per group; `None` when the events were not kept.
    pub rebalances: Option<Vec<GroupRebalances>>,
}

impl RunSummary {
    /// What a history and the anomalies found in it give, without the run's events
    /// (`heal_ms`: when the faults healed, if known).
    pub fn of_history(history: &History, anomalies: &[Anomaly], heal_ms: Option<u64>) -> Self {
        let latency_points = history_figures::producer_latencies(history);
        RunSummary {
            anomalies: anomalies.len() as u64,
            kinds: kind_lines(history, anomalies),
            lost_writes: history_figures::lost_writes_per_partition(history, anomalies),
            producer_latency_ms: history_figures::latency_spread(&latency_points),
            latency_points,
            partitions: None,
            min_insync_replicas: None,
            acks: None,
            heal_ms,
            lag_at_heal: heal_ms.map_or_else(Vec::new, |at| history_figures::lag_at(history, at)),
            rebalances: None,
        }
    }

    /// The whole summary of a run. The event figures need a run that kept every event
    /// (`RunOptions::keep_trace`); without them they are `None`.
    pub fn of_run(outcome: &Outcome, scenario: &Scenario) -> Self {
        let heal_ms = outcome
            .events
            .events()
            .iter()
            .find(|e| matches!(e.kind, EventKind::Fault(FaultEvent::Healed)))
            .map(|e| e.time_ms)
            .or(Some(scenario.fault_phase_ms));
        let mut summary = RunSummary::of_history(&outcome.history, &outcome.anomalies, heal_ms);
        if outcome.events.retention().keeps_everything() {
            let end_ms = outcome.stats.simulated_ms;
            let min_insync = scenario.broker.min_insync_replicas;
            let times = event_figures::partition_times(&outcome.events, min_insync, end_ms);
            summary.partitions = Some(
                times
                    .into_iter()
                    .filter(|t| t.leaderless_ms > 0 || t.below_min_insync_ms > 0)
                    .collect(),
            );
            summary.min_insync_replicas = Some(min_insync);
            summary.acks = Some(scenario.acks().as_str().to_string());
            summary.rebalances = Some(event_figures::rebalances(&outcome.events, end_ms));
        }
        summary
    }

    /// Acknowledged writes lost, over every partition.
    pub fn lost_writes_total(&self) -> u64 {
        self.lost_writes.values().sum()
    }

    /// The summary as the terminal shows it: at most 15 lines.
    pub fn lines(&self) -> Vec<String> {
        text::lines(self)
    }
}

/// One line per (kind, verdict), in the checkers' order of kinds.
fn kind_lines(history: &History, anomalies: &[Anomaly]) -> Vec<KindLine> {
    let time_of: BTreeMap<u64, u64> = history
        .entries
        .iter()
        .map(|e| (e.index, e.time_ms))
        .collect();
    let placed: BTreeMap<u64, (&str, u32)> = history
        .entries
        .iter()
        .filter(|e| e.op_type == OpType::Ok)
        .filter_map(|e| match &e.op {
            Operation::Send(s) => Some((s.value, (s.topic.as_str(), s.partition?))),
            _ => None,
        })
        .collect();
    let mut lines: BTreeMap<(AnomalyKind, Verdict), KindLine> = BTreeMap::new();
    let mut partitions: BTreeMap<(AnomalyKind, Verdict), BTreeSet<(String, u32)>> = BTreeMap::new();
    for anomaly in anomalies {
        let key = (anomaly.kind, anomaly.verdict);
        let at_ms = time_of.get(&anomaly.index).copied().unwrap_or_default();
        let line = lines.entry(key).or_insert_with(|| KindLine {
            kind: anomaly.kind,
            verdict: anomaly.verdict,
            count: 0,
            partitions: Vec::new(),
            first_ms: at_ms,
            last_ms: at_ms,
            sample_values: Vec::new(),
        });
        line.count += 1;
        line.first_ms = line.first_ms.min(at_ms);
        line.last_ms = line.last_ms.max(at_ms);
        for value in &anomaly.values {
            if line.sample_values.len() < SAMPLE_VALUES && !line.sample_values.contains(value) {
                line.sample_values.push(*value);
            }
        }
        let involved = partitions.entry(key).or_default();
        for scope in &anomaly.scope {
            if let LossScope::Records {
                topic, partition, ..
            } = scope
            {
                involved.insert((topic.clone(), *partition));
            }
        }
        for value in &anomaly.values {
            if let Some((topic, partition)) = placed.get(value) {
                involved.insert((topic.to_string(), *partition));
            }
        }
    }
    lines
        .into_iter()
        .map(|(key, mut line)| {
            line.partitions = partitions
                .remove(&key)
                .unwrap_or_default()
                .into_iter()
                .map(|(topic, p)| format!("{topic}-{p}"))
                .collect();
            line
        })
        .collect()
}

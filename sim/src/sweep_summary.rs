//! A sweep's summary of one scenario: runs by class, anomalies by kind and verdict with
//! their first seed, and distributions across seeds (how many of each kind a seed showed,
//! acknowledged writes lost, producer p99 latency). Built from the seeds' results alone, so
//! that merging shards' results gives the unsharded summary.

use crate::checkers::{AnomalyKind, Verdict};
use crate::outcome::OutcomeClass;
use crate::summary::Spread;
use crate::sweep::SeedResult;
use crate::sweep_coverage::SweepCoverage;
use crate::sweep_judge::severity;
use std::collections::BTreeMap;

/// One (kind, verdict) across the sweep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KindAcross {
    pub seeds: u64,
    pub first_seed: u64,
    /// How many a seed showed, for each seed that showed any.
    pub per_seed: Vec<u64>,
}

/// Per scenario: counts by class and by anomaly, each with its first seed.
#[derive(Debug, Default)]
pub struct SweepSummary {
    pub runs: u64,
    /// class -> (runs, first seed)
    pub by_class: BTreeMap<OutcomeClass, (u64, u64)>,
    /// "kind verdict" -> (seeds, first seed)
    pub anomalies: BTreeMap<(AnomalyKind, Verdict), (u64, u64)>,
    /// The same kinds with how many each seed showed.
    pub kinds: BTreeMap<(AnomalyKind, Verdict), KindAcross>,
    /// Acknowledged writes lost, one figure per seed.
    pub lost_writes: Vec<u64>,
    /// Each seed's producer p99 latency (seeds with an acknowledged send).
    pub producer_latency_p99_ms: Vec<u64>,
    /// The rare paths the seeds reached.
    pub coverage: SweepCoverage,
}

impl SweepSummary {
    pub fn add(&mut self, result: &SeedResult) {
        self.runs += 1;
        let class = self
            .by_class
            .entry(result.class)
            .or_insert((0, result.seed));
        class.0 += 1;
        class.1 = class.1.min(result.seed);
        for key in &result.anomalies {
            let entry = self.anomalies.entry(*key).or_insert((0, result.seed));
            entry.0 += 1;
            entry.1 = entry.1.min(result.seed);
            let kind = self.kinds.entry(*key).or_insert_with(|| KindAcross {
                first_seed: result.seed,
                ..KindAcross::default()
            });
            kind.seeds += 1;
            kind.first_seed = kind.first_seed.min(result.seed);
            let count = result
                .counts
                .iter()
                .find(|c| (c.kind, c.verdict) == *key)
                .map_or(1, |c| c.count);
            kind.per_seed.push(count);
        }
        self.lost_writes.push(result.lost_writes);
        if let Some(p99) = result.producer_latency_p99_ms {
            self.producer_latency_p99_ms.push(p99);
        }
        self.coverage.add(result);
    }

    /// Seeds that lost an acknowledged write.
    pub fn seeds_losing_writes(&self) -> u64 {
        self.lost_writes.iter().filter(|n| **n > 0).count() as u64
    }

    /// The summary as JSON (maps with compound keys become lists).
    pub fn to_json(&self) -> serde_json::Value {
        let classes: Vec<_> = self
            .by_class
            .iter()
            .map(|(class, (runs, first))| serde_json::json!({"class": class, "runs": runs, "first_seed": first}))
            .collect();
        let anomalies: Vec<_> = self
            .kinds
            .iter()
            .map(|((kind, verdict), across)| {
                serde_json::json!({
                    "kind": kind,
                    "verdict": verdict,
                    "seeds": across.seeds,
                    "first_seed": across.first_seed,
                    "total": across.per_seed.iter().sum::<u64>(),
                    "per_seed": Spread::of(across.per_seed.iter().copied()),
                })
            })
            .collect();
        serde_json::json!({
            "runs": self.runs,
            "classes": classes,
            "anomalies": anomalies,
            "lost_writes": {
                "seeds": self.seeds_losing_writes(),
                "total": self.lost_writes.iter().sum::<u64>(),
                "per_seed": Spread::of(self.lost_writes.iter().copied()),
            },
            "producer_latency_p99_ms": Spread::of(self.producer_latency_p99_ms.iter().copied()),
            "coverage": self.coverage.to_json(),
        })
    }

    /// The lines after the anomaly kinds: the distributions across seeds.
    pub fn distribution_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(lost) = Spread::of(self.lost_writes.iter().copied()) {
            lines.push(format!(
                "  {:<32} in {} of {} seeds, at most {} a seed, {} in all (p50 {}, p99 {} over seeds)",
                "acknowledged writes lost",
                self.seeds_losing_writes(),
                self.runs,
                lost.max,
                self.lost_writes.iter().sum::<u64>(),
                lost.p50,
                lost.p99
            ));
        }
        if let Some(p99) = Spread::of(self.producer_latency_p99_ms.iter().copied()) {
            lines.push(format!(
                "  {:<32} p50 {}ms, p99 {}ms, max {}ms over {} seeds",
                "producer p99 latency", p99.p50, p99.p99, p99.max, p99.count
            ));
        }
        lines
    }

    /// The worst class seen, for the exit code.
    pub fn worst(&self) -> OutcomeClass {
        self.by_class
            .keys()
            .copied()
            .max_by_key(|c| severity(*c))
            .unwrap_or(OutcomeClass::Pass)
    }
}

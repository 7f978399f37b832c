//! A sweep's map of the model's rare paths: for each `RarePath`, how many seeds reached it
//! and the first that did, and which no seed reached. Built from the seeds' results alone
//! (so that merged shards give the unsharded map), per scenario and across scenarios.

use crate::sweep::SeedResult;
use kafka_model::reach::RarePath;
use std::collections::BTreeMap;

/// One rare path across a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathAcross {
    pub seeds: u64,
    pub first_seed: u64,
    /// How many scenarios reached it (1 for one scenario's sweep).
    pub scenarios: u64,
}

/// The rare paths a sweep reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepCoverage {
    pub runs: u64,
    pub reached: BTreeMap<RarePath, PathAcross>,
}

impl SweepCoverage {
    pub fn add(&mut self, result: &SeedResult) {
        self.runs += 1;
        for path in &result.reached {
            let across = self.reached.entry(*path).or_insert(PathAcross {
                seeds: 0,
                first_seed: result.seed,
                scenarios: 1,
            });
            across.seeds += 1;
            across.first_seed = across.first_seed.min(result.seed);
        }
    }

    /// Adds another scenario's map (for the total of `sweep all`).
    pub fn absorb(&mut self, other: &SweepCoverage) {
        self.runs += other.runs;
        for (path, theirs) in &other.reached {
            match self.reached.get_mut(path) {
                Some(ours) => {
                    ours.seeds += theirs.seeds;
                    ours.scenarios += theirs.scenarios;
                }
                None => {
                    self.reached.insert(*path, *theirs);
                }
            }
        }
    }

    /// The paths no seed reached, in report order.
    pub fn never_reached(&self) -> Vec<RarePath> {
        RarePath::ALL
            .into_iter()
            .filter(|p| !self.reached.contains_key(p))
            .collect()
    }

    pub fn to_json(&self) -> serde_json::Value {
        let reached: Vec<_> = RarePath::ALL
            .into_iter()
            .filter_map(|path| {
                self.reached.get(&path).map(|across| {
                    serde_json::json!({
                        "path": path,
                        "seeds": across.seeds,
                        "first_seed": across.first_seed,
                        "scenarios": across.scenarios,
                    })
                })
            })
            .collect();
        serde_json::json!({
            "runs": self.runs,
            "reached": reached,
            "never_reached": self.never_reached(),
        })
    }

    /// The coverage table: each reached path with its seeds, then those never reached
    /// with what they mean (what a sweep should be made to reach next). `first` names the
    /// replay of a path's first seed, when there is one scenario to name.
    pub fn lines(&self, first: Option<&dyn Fn(u64) -> String>) -> Vec<String> {
        let mut lines = vec![format!(
            "  rare paths: {} of {} reached over {} runs",
            self.reached.len(),
            RarePath::ALL.len(),
            self.runs
        )];
        for path in RarePath::ALL {
            let Some(across) = self.reached.get(&path) else {
                continue;
            };
            let percent = across.seeds as f64 * 100.0 / self.runs.max(1) as f64;
            let mut line = format!(
                "    {:<38} {:>6} seeds ({percent:>5.1}%)",
                path.name(),
                across.seeds
            );
            match first {
                Some(first) => line.push_str(&format!("  first: {}", first(across.first_seed))),
                None => line.push_str(&format!("  in {} scenarios", across.scenarios)),
            }
            lines.push(line);
        }
        let never = self.never_reached();
        if !never.is_empty() {
            lines.push(format!("  never reached ({}):", never.len()));
            for path in never {
                lines.push(format!("    {:<38} {}", path.name(), path.description()));
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeClass;

    fn result(seed: u64, reached: &[RarePath]) -> SeedResult {
        SeedResult {
            seed,
            class: OutcomeClass::Pass,
            anomalies: Vec::new(),
            simulated_ms: 0,
            counts: Vec::new(),
            lost_writes: 0,
            producer_latency_p99_ms: None,
            reached: reached.to_vec(),
        }
    }

    #[test]
    fn counts_seeds_per_path_and_lists_the_rest_as_never_reached() {
        let mut one = SweepCoverage::default();
        one.add(&result(4, &[RarePath::IsrShrunk, RarePath::TornTailCut]));
        one.add(&result(2, &[RarePath::IsrShrunk]));
        one.add(&result(3, &[]));
        assert_eq!(one.runs, 3);
        let shrunk = one.reached[&RarePath::IsrShrunk];
        assert_eq!((shrunk.seeds, shrunk.first_seed), (2, 2));
        assert_eq!(one.never_reached().len(), RarePath::ALL.len() - 2);
        let mut other = SweepCoverage::default();
        other.add(&result(9, &[RarePath::IsrShrunk]));
        one.absorb(&other);
        let shrunk = one.reached[&RarePath::IsrShrunk];
        assert_eq!((shrunk.seeds, shrunk.scenarios), (3, 2));
        assert_eq!(one.runs, 4);
        let text = one.lines(None).join("\n");
        assert!(text.contains("rare paths: 2 of"), "{text}");
        assert!(text.contains("unclean-election"), "{text}");
    }
}

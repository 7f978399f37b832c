//! `kafka-sim merge FILES...`: combines the `sweep --json` output of the shards of a sweep
//! (`--shard K/N` on N machines) into the summary, expectations and exit code the unsharded
//! sweep gives. The shards must cover the same range once: a seed run twice or a shard
//! missing is bad input, never a silently smaller sweep.

use crate::cli::bad_input;
use crate::outcome::OutcomeClass;
use crate::scenario::SweepExpectations;
use crate::sweep::{parse_seeds, ScenarioSweep, SeedResult, Shard};
use crate::sweep_judge::severity;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The part of one scenario's `sweep --json` report a merge reads.
#[derive(Debug, Deserialize)]
struct ShardReport {
    scenario: String,
    seeds: String,
    shard: String,
    /// Summed over the shards; a report without it counts 0.
    #[serde(default)]
    wall_s: f64,
    expect: SweepExpectations,
    results: Vec<SeedResult>,
}

/// One scenario's shards, gathered from every file.
struct Gathered {
    range: std::ops::Range<u64>,
    expect: SweepExpectations,
    /// shard count N, and the shard indexes seen
    count: u64,
    shards: Vec<(u64, String)>,
    wall_s: f64,
    results: BTreeMap<u64, SeedResult>,
}

/// Merges the shards' reports read from `files` into one sweep per scenario, in the order
/// the scenarios first appear. Errors are one line naming the file.
pub fn merge(files: &[(String, String)]) -> Result<Vec<ScenarioSweep>, String> {
    let mut order: Vec<String> = Vec::new();
    let mut gathered: BTreeMap<String, Gathered> = BTreeMap::new();
    for (file, text) in files {
        let reports: Vec<ShardReport> = serde_json::from_str(text)
            .map_err(|e| format!("{file}: not the output of `sweep --json`: {e}"))?;
        for report in reports {
            let range = parse_seeds(&report.seeds).map_err(|e| format!("{file}: {e}"))?;
            let shard = Shard::parse(&report.shard).map_err(|e| format!("{file}: {e}"))?;
            let at = format!(
                "{file}: scenario `{}` shard {}",
                report.scenario, report.shard
            );
            let entry = match gathered.get_mut(&report.scenario) {
                Some(entry) => entry,
                None => {
                    order.push(report.scenario.clone());
                    gathered.entry(report.scenario.clone()).or_insert(Gathered {
                        range: range.clone(),
                        expect: report.expect.clone(),
                        count: shard.count,
                        shards: Vec::new(),
                        wall_s: 0.0,
                        results: BTreeMap::new(),
                    })
                }
            };
            if entry.range != range || entry.count != shard.count {
                return Err(format!(
                    "{at}: seeds {} in {} shards, but another file has seeds {}..{} in {} shards",
                    report.seeds, shard.count, entry.range.start, entry.range.end, entry.count
                ));
            }
            if entry.expect != report.expect {
                return Err(format!(
                    "{at}: its scenario states other expectations than another shard's (a different scenario file?)"
                ));
            }
            if let Some((_, other)) = entry.shards.iter().find(|(k, _)| *k == shard.index) {
                return Err(format!("{at}: shard given twice (also in {other})"));
            }
            entry.shards.push((shard.index, file.clone()));
            entry.wall_s += report.wall_s;
            let expected = shard.seeds(range.clone());
            let got: Vec<u64> = report.results.iter().map(|r| r.seed).collect();
            if got != expected {
                return Err(format!(
                    "{at}: its results are not the seeds of that shard ({} results, {} seeds)",
                    got.len(),
                    expected.len()
                ));
            }
            for result in report.results {
                entry.results.insert(result.seed, result);
            }
        }
    }
    order
        .into_iter()
        .map(|arg| {
            let entry = gathered.remove(&arg).expect("gathered");
            if entry.shards.len() as u64 != entry.count {
                let missing: Vec<String> = (1..=entry.count)
                    .filter(|k| !entry.shards.iter().any(|(i, _)| i == k))
                    .map(|k| format!("{k}/{}", entry.count))
                    .collect();
                return Err(format!(
                    "scenario `{arg}`: shards {} missing",
                    missing.join(", ")
                ));
            }
            Ok(ScenarioSweep {
                arg,
                range: entry.range,
                shard: Shard::WHOLE,
                wall_s: entry.wall_s,
                expect: entry.expect,
                results: entry.results.into_values().collect(),
                coverage: false,
            })
        })
        .collect()
}

/// `kafka-sim merge`: prints the merged summary (or JSON) and exits as the sweep would.
pub fn main(paths: &[PathBuf], json: bool, coverage: bool) -> i32 {
    let mut files = Vec::new();
    for path in paths {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => files.push((file, text)),
            Err(e) => return bad_input(format!("{file}: cannot read: {e}")),
        }
    }
    let sweeps = match merge(&files) {
        Ok(sweeps) => sweeps,
        Err(error) => return bad_input(error),
    };
    let mut worst = OutcomeClass::Pass;
    let mut reports = Vec::new();
    for sweep in &sweeps {
        let sweep = ScenarioSweep {
            coverage,
            ..sweep.clone()
        };
        let (class, report) = sweep.report(json);
        if severity(class) > severity(worst) {
            worst = class;
        }
        reports.extend(report);
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).expect("reports serialize")
        );
    }
    worst.exit_code()
}

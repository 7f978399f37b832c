//! `kafka-sim sweep`: one scenario (or all built-ins) over a range of seeds, in parallel,
//! optionally one shard of it, with a progress bar, a summary of anomalies by kind and
//! verdict (or JSON), a replay command for the first seed of each, the judgement of each
//! of the scenario's expectations ([`crate::sweep_judge`]), and optionally a seed file in
//! `seeds/` for every new failure.

use crate::checkers::{AnomalyKind, Verdict};
use crate::cli::bad_input;
use crate::outcome::OutcomeClass;
use crate::registry;
use crate::runner::{self, RunOptions};
use crate::scenario::Scenario;
use crate::seeds::{Expectation, SeedCase};
use crate::sweep_judge::{self, severity, Judgement, Stated, Status};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Parses `A..B`.
pub fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("--seeds `{text}`: expected A..B, e.g. 0..100"))?;
    let start: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("--seeds `{text}`: `{a}` is not a seed"))?;
    let end: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("--seeds `{text}`: `{b}` is not a seed"))?;
    if end <= start {
        return Err(format!("--seeds `{text}`: the range is empty"));
    }
    Ok(start..end)
}

/// One shard of a sweep: `K/N` takes every N-th seed of the range, starting with the
/// K-th (1-based), so that N machines together run each seed exactly once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Parses `K/N` (1 <= K <= N).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("--shard `{text}`: expected K/N, e.g. 2/8"))?;
        let index: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("--shard `{text}`: `{k}` is not a number"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("--shard `{text}`: `{n}` is not a number"))?;
        if count == 0 {
            return Err(format!(
                "--shard `{text}`: N, the number of shards, must be at least 1"
            ));
        }
        if index == 0 || index > count {
            return Err(format!("--shard `{text}`: K must be within 1..={count}"));
        }
        Ok(Shard { index, count })
    }

    /// This shard's seeds of `range`.
    pub fn seeds(self, range: Range<u64>) -> Vec<u64> {
        let start = range.start;
        range
            .filter(|seed| (seed - start) % self.count == self.index - 1)
            .collect()
    }
}

/// What a sweep keeps of one run: small, so that memory stays flat over many seeds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SeedResult {
    pub seed: u64,
    pub class: OutcomeClass,
    pub anomalies: Vec<(AnomalyKind, Verdict)>,
    pub simulated_ms: u64,
}

/// Per scenario: counts by class and by anomaly, each with its first seed.
#[derive(Debug, Default)]
pub struct SweepSummary {
    pub runs: u64,
    /// class -> (runs, first seed)
    pub by_class: BTreeMap<OutcomeClass, (u64, u64)>,
    /// "kind verdict" -> (seeds, first seed)
    pub anomalies: BTreeMap<(AnomalyKind, Verdict), (u64, u64)>,
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
        }
    }

    /// The summary as JSON (maps with compound keys become lists).
    pub fn to_json(&self) -> serde_json::Value {
        let classes: Vec<_> = self
            .by_class
            .iter()
            .map(|(class, (runs, first))| serde_json::json!({"class": class, "runs": runs, "first_seed": first}))
            .collect();
        let anomalies: Vec<_> = self
            .anomalies
            .iter()
            .map(|((kind, verdict), (seeds, first))| {
                serde_json::json!({"kind": kind, "verdict": verdict, "seeds": seeds, "first_seed": first})
            })
            .collect();
        serde_json::json!({"runs": self.runs, "classes": classes, "anomalies": anomalies})
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

/// Runs `scenario` for every seed, in parallel, calling `each` after each run (with the
/// full outcome, for progress and saving). Results come back in seed order.
pub fn sweep(
    scenario: &Scenario,
    seeds: &[u64],
    each: impl Fn(&crate::outcome::Outcome) + Sync,
) -> Vec<SeedResult> {
    seeds
        .par_iter()
        .map(|&seed| {
            let outcome = runner::run(scenario, seed, RunOptions::default());
            each(&outcome);
            let mut anomalies: Vec<(AnomalyKind, Verdict)> = outcome
                .anomalies
                .iter()
                .map(|a| (a.kind, a.verdict))
                .collect();
            anomalies.sort();
            anomalies.dedup();
            SeedResult {
                seed,
                class: outcome.class,
                anomalies,
                simulated_ms: outcome.stats.simulated_ms,
            }
        })
        .collect()
}

/// Runs sweeps on `jobs` threads (default: one per core). Ignored if the pool exists
/// already (only when a command runs twice in one process).
pub fn use_jobs(jobs: Option<usize>) {
    if let Some(jobs) = jobs {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.max(1))
            .build_global();
    }
}

/// Options of `kafka-sim sweep`.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    pub seeds: String,
    pub shard: Option<String>,
    pub jobs: Option<usize>,
    pub json: bool,
    /// Write a seeds/ case for every failing seed not recorded yet, into this folder.
    pub save_failures: Option<std::path::PathBuf>,
}

pub fn main(scenario_arg: &str, options: SweepOptions) -> i32 {
    let range = match parse_seeds(&options.seeds) {
        Ok(range) => range,
        Err(error) => return bad_input(error),
    };
    let shard = match options.shard.as_deref().map(Shard::parse).transpose() {
        Ok(shard) => shard.unwrap_or(Shard::WHOLE),
        Err(error) => return bad_input(error),
    };
    let group = match scenario_arg {
        "all" => Some(registry::current()),
        "catalog" => Some(registry::historical()),
        _ => None,
    };
    let scenarios: Vec<(String, Scenario)> = if let Some(group) = group {
        group.into_iter().map(|s| (s.name.clone(), s)).collect()
    } else {
        match registry::resolve(scenario_arg) {
            Ok(scenario) => vec![(scenario_arg.to_string(), scenario)],
            Err(error) => return bad_input(error),
        }
    };
    if let Some(dir) = &options.save_failures {
        if let Err(error) = std::fs::create_dir_all(dir) {
            return bad_input(format!("{}: cannot create: {error}", dir.display()));
        }
    }
    use_jobs(options.jobs);
    let seeds = shard.seeds(range.clone());
    if seeds.is_empty() {
        return bad_input(format!(
            "--shard {}/{}: no seed of {}..{} falls in this shard",
            shard.index, shard.count, range.start, range.end
        ));
    }
    let mut worst = OutcomeClass::Pass;
    let mut reports = Vec::new();
    for (arg, scenario) in &scenarios {
        crate::cli::note_default_overrides(scenario);
        #[allow(clippy::disallowed_methods)]
        let started = Instant::now(); // determinism-ok: wall time for the progress figures only, never inside a simulation
        let bar = progress_bar(arg, seeds.len() as u64);
        let failing = AtomicU64::new(0);
        let results = sweep(scenario, &seeds, |outcome| {
            if outcome.class != OutcomeClass::Pass {
                failing.fetch_add(1, Ordering::Relaxed);
                if let Some(dir) = &options.save_failures {
                    save_failure(dir, arg, scenario, outcome, &bar);
                }
            }
            bar.inc(1);
            bar.set_message(format!("{} failing", failing.load(Ordering::Relaxed)));
        });
        bar.finish_and_clear();
        let mut summary = SweepSummary::default();
        results.iter().for_each(|r| summary.add(r));
        let wall_s = started.elapsed().as_secs_f64();
        let judgements = sweep_judge::judge(&scenario.expect, &results);
        let class = sweep_judge::sweep_class(&scenario.expect, &results, &judgements);
        if severity(class) > severity(worst) {
            worst = class;
        }
        if options.json {
            reports.push(serde_json::json!({
                "scenario": arg,
                "shard": format!("{}/{}", shard.index, shard.count),
                "wall_s": wall_s,
                "summary": summary.to_json(),
                "expectations": judgements,
                "class": class,
                "results": results,
            }));
        } else {
            print_summary(arg, &range, shard, &summary, wall_s);
            if scenario.expect.expects_violations() {
                println!("  its safety violations are expected (expect.violations_within)");
            }
            print_expectations(arg, &judgements);
        }
    }
    if options.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).expect("reports serialize")
        );
    }
    worst.exit_code()
}

fn progress_bar(scenario: &str, total: u64) -> ProgressBar {
    // Drawn on stderr only when it is a terminal: logs and pipes stay clean.
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} seeds, {per_sec}, {msg}, eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(scenario.to_string());
    bar
}

fn save_failure(
    dir: &Path,
    arg: &str,
    scenario: &Scenario,
    outcome: &crate::outcome::Outcome,
    bar: &ProgressBar,
) {
    let path = dir.join(format!("{}-{}.toml", scenario.name, outcome.seed));
    if path.exists() {
        return;
    }
    let note = format!(
        "Found by `kafka-sim sweep {arg}`: {} ({}). {}",
        outcome.class.as_str(),
        Expectation::observed(outcome)
            .violations
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        crate::seeds::PLACEHOLDER_NOTE
    );
    match std::fs::write(&path, SeedCase::render(scenario, outcome, &note)) {
        // On stderr even when the bar is hidden (not a terminal): a script must see it.
        Ok(()) => {
            bar.suspend(|| eprintln!("wrote {} (a replay case: write its note)", path.display()))
        }
        Err(error) => bar.suspend(|| eprintln!("error: cannot write {}: {error}", path.display())),
    }
}

fn print_summary(arg: &str, range: &Range<u64>, shard: Shard, summary: &SweepSummary, wall_s: f64) {
    let shard = if shard == Shard::WHOLE {
        String::new()
    } else {
        format!(" shard {}/{}", shard.index, shard.count)
    };
    println!(
        "sweep {arg} seeds {}..{}{shard}: {} runs in {:.1}s ({:.1} seeds/s)",
        range.start,
        range.end,
        summary.runs,
        wall_s,
        summary.runs as f64 / wall_s.max(1e-9)
    );
    for (class, (count, first)) in &summary.by_class {
        let replay = if *class == OutcomeClass::Pass {
            String::new()
        } else {
            format!("  first: cargo run --release -- run {arg} --seed {first}")
        };
        println!("  {:<20} {count:>6}{replay}", class.as_str());
    }
    if summary.anomalies.is_empty() {
        println!("  no anomalies");
    }
    for ((kind, verdict), (count, first)) in &summary.anomalies {
        let verdict = match verdict {
            Verdict::Allowed => "allowed",
            Verdict::Violation => "VIOLATION",
        };
        println!(
            "  {:<22} {verdict:<9} in {count:>5} seeds  first: cargo run --release -- run {arg} --seed {first}",
            kind.as_str()
        );
    }
}

/// One line per expectation, with a replay command for a seed that broke one.
fn print_expectations(arg: &str, judgements: &[Judgement]) {
    for judgement in judgements {
        let replay = match (&judgement.stated, &judgement.status) {
            (Stated::Within { .. }, _) => None,
            (_, Status::Unmet { seeds }) => seeds.first(),
            _ => None,
        }
        .map(|seed| format!("  first: cargo run --release -- run {arg} --seed {seed}"))
        .unwrap_or_default();
        println!("  expect {}{replay}", judgement.line());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_range() {
        let range = 10..47;
        let mut all: Vec<u64> = (1..=5)
            .flat_map(|k| Shard { index: k, count: 5 }.seeds(range.clone()))
            .collect();
        all.sort();
        assert_eq!(all, range.collect::<Vec<_>>());
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        assert!(Shard::parse("0/3").is_err());
        assert!(Shard::parse("4/3").is_err());
        assert!(Shard::parse("x").is_err());
    }
}

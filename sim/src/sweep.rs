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
use crate::scenario::{Scenario, SweepExpectations};
use crate::seeds::{Expectation, SeedCase};
use crate::summary::history_figures;
use crate::sweep_coverage::SweepCoverage;
use crate::sweep_judge::{self, severity, Judgement, Stated, Status};
pub use crate::sweep_summary::SweepSummary;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedResult {
    pub seed: u64,
    pub class: OutcomeClass,
    pub anomalies: Vec<(AnomalyKind, Verdict)>,
    pub simulated_ms: u64,
    /// How many of each (kind, verdict) the run showed.
    #[serde(default)]
    pub counts: Vec<KindCount>,
    /// Acknowledged writes lost (the lost-write anomalies' records).
    #[serde(default)]
    pub lost_writes: u64,
    /// The run's producer p99 latency, over its acknowledged sends.
    #[serde(default)]
    pub producer_latency_p99_ms: Option<u64>,
    /// The model's rare paths the run reached (`sweep --coverage`).
    #[serde(default)]
    pub reached: Vec<kafka_model::reach::RarePath>,
}

/// How many anomalies of one kind and verdict a run showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCount {
    pub kind: AnomalyKind,
    pub verdict: Verdict,
    pub count: u64,
}

impl SeedResult {
    /// What a sweep keeps of `outcome`.
    pub fn of(outcome: &crate::outcome::Outcome) -> Self {
        let mut counts: BTreeMap<(AnomalyKind, Verdict), u64> = BTreeMap::new();
        for a in &outcome.anomalies {
            *counts.entry((a.kind, a.verdict)).or_default() += 1;
        }
        let lost = history_figures::lost_writes_per_partition(&outcome.history, &outcome.anomalies);
        let latencies = history_figures::producer_latencies(&outcome.history);
        SeedResult {
            seed: outcome.seed,
            class: outcome.class,
            anomalies: counts.keys().copied().collect(),
            simulated_ms: outcome.stats.simulated_ms,
            counts: counts
                .into_iter()
                .map(|((kind, verdict), count)| KindCount {
                    kind,
                    verdict,
                    count,
                })
                .collect(),
            lost_writes: lost.values().sum(),
            producer_latency_p99_ms: history_figures::latency_spread(&latencies).map(|s| s.p99),
            reached: outcome.reached.keys().copied().collect(),
        }
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
            SeedResult::of(&outcome)
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
    /// Print which of the model's rare paths the seeds reached.
    pub coverage: bool,
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
    let mut total_coverage = SweepCoverage::default();
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
        let wall_s = started.elapsed().as_secs_f64();
        let finished = ScenarioSweep {
            arg: arg.clone(),
            range: range.clone(),
            shard,
            wall_s,
            expect: scenario.expect.clone(),
            results,
            coverage: options.coverage,
        };
        let (class, json) = finished.report(options.json);
        total_coverage.absorb(&finished.summary().coverage);
        if severity(class) > severity(worst) {
            worst = class;
        }
        reports.extend(json);
    }
    if options.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).expect("reports serialize")
        );
    } else if options.coverage && scenarios.len() > 1 {
        println!("all {} scenarios together:", scenarios.len());
        total_coverage
            .lines(None)
            .iter()
            .for_each(|line| println!("{line}"));
    }
    worst.exit_code()
}

/// One scenario's finished sweep (or the merge of its shards): what it reports.
#[derive(Clone, Debug)]
pub struct ScenarioSweep {
    /// The scenario as the command line named it.
    pub arg: String,
    pub range: Range<u64>,
    pub shard: Shard,
    pub wall_s: f64,
    pub expect: SweepExpectations,
    /// In seed order.
    pub results: Vec<SeedResult>,
    /// Whether the text report lists the rare paths reached (JSON always carries them).
    pub coverage: bool,
}

impl ScenarioSweep {
    /// Summarizes and judges the results; prints the text report, or returns the JSON
    /// one. Returns the class the sweep ends in too.
    pub fn report(&self, json: bool) -> (OutcomeClass, Option<serde_json::Value>) {
        let summary = self.summary();
        let judgements = sweep_judge::judge(&self.expect, &self.results);
        let class = sweep_judge::sweep_class(&self.expect, &self.results, &judgements);
        if json {
            let report = serde_json::json!({
                "scenario": self.arg,
                "seeds": format!("{}..{}", self.range.start, self.range.end),
                "shard": format!("{}/{}", self.shard.index, self.shard.count),
                "wall_s": self.wall_s,
                "expect": self.expect,
                "summary": summary.to_json(),
                "expectations": judgements,
                "class": class,
                "results": self.results,
            });
            return (class, Some(report));
        }
        print_summary(&self.arg, &self.range, self.shard, &summary, self.wall_s);
        if self.expect.expects_violations() {
            println!("  its safety violations are expected (expect.violations_within)");
        }
        print_expectations(&self.arg, &judgements);
        if self.coverage {
            let arg = &self.arg;
            let replay = |seed: u64| format!("cargo run --release -- run {arg} --seed {seed}");
            let lines = summary.coverage.lines(Some(&replay));
            lines.iter().for_each(|line| println!("{line}"));
        }
        (class, None)
    }

    /// The seeds' results summed up.
    pub fn summary(&self) -> SweepSummary {
        let mut summary = SweepSummary::default();
        self.results.iter().for_each(|r| summary.add(r));
        summary
    }
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
    for ((kind, verdict), across) in &summary.kinds {
        let verdict = match verdict {
            Verdict::Allowed => "allowed",
            Verdict::Violation => "VIOLATION",
        };
        let spread = crate::summary::Spread::of(across.per_seed.iter().copied())
            .map(|s| {
                format!(
                    "{} in all, at most {} a seed",
                    across.per_seed.iter().sum::<u64>(),
                    s.max
                )
            })
            .unwrap_or_default();
        println!(
            "  {:<22} {verdict:<9} in {:>5} seeds ({spread})  first: cargo run --release -- run {arg} --seed {}",
            kind.as_str(),
            across.seeds,
            across.first_seed
        );
    }
    for line in summary.distribution_lines() {
        println!("{line}");
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

//! `kafka-sim sweep`: one scenario (or all built-ins) over a range of seeds, in parallel,
//! with a summary of anomalies by kind and verdict and a replay command for the first seed
//! of each.

use crate::builtin;
use crate::checkers::{AnomalyKind, Verdict};
use crate::cli::bad_input;
use crate::outcome::{Outcome, OutcomeClass};
use crate::runner::{self, RunOptions};
use crate::scenario::Scenario;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::ops::Range;
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

/// What a sweep found for one scenario.
#[derive(Debug, Default)]
pub struct SweepSummary {
    pub runs: u64,
    pub by_class: BTreeMap<OutcomeClass, (u64, u64)>,
    /// Per (kind, verdict): seeds where it was seen, and the first seed.
    pub anomalies: BTreeMap<(AnomalyKind, Verdict), (u64, u64)>,
}

impl SweepSummary {
    pub fn add(&mut self, outcome: &Outcome) {
        self.runs += 1;
        let class = self
            .by_class
            .entry(outcome.class)
            .or_insert((0, outcome.seed));
        class.0 += 1;
        class.1 = class.1.min(outcome.seed);
        let mut seen: Vec<(AnomalyKind, Verdict)> = outcome
            .anomalies
            .iter()
            .map(|a| (a.kind, a.verdict))
            .collect();
        seen.sort();
        seen.dedup();
        for key in seen {
            let entry = self.anomalies.entry(key).or_insert((0, outcome.seed));
            entry.0 += 1;
            entry.1 = entry.1.min(outcome.seed);
        }
    }

    /// The worst class seen, for the exit code.
    pub fn worst(&self) -> OutcomeClass {
        let severity = |c: &OutcomeClass| match c {
            OutcomeClass::Pass => 0,
            OutcomeClass::LivenessViolation => 1,
            OutcomeClass::SafetyViolation => 2,
            OutcomeClass::Crash => 3,
        };
        self.by_class
            .keys()
            .copied()
            .max_by_key(severity)
            .unwrap_or(OutcomeClass::Pass)
    }
}

/// Runs `scenario` for every seed, in parallel, calling `progress` after each run.
pub fn sweep(
    scenario: &Scenario,
    seeds: Range<u64>,
    progress: impl Fn(&Outcome) + Sync,
) -> SweepSummary {
    let outcomes: Vec<Outcome> = seeds
        .into_par_iter()
        .map(|seed| {
            let mut outcome = runner::run(scenario, seed, RunOptions::default());
            progress(&outcome);
            // A sweep keeps verdicts, not histories: memory stays flat over many seeds.
            outcome.history.entries = Vec::new();
            outcome
        })
        .collect();
    let mut summary = SweepSummary::default();
    for outcome in &outcomes {
        summary.add(outcome);
    }
    summary
}

pub fn main(scenario_arg: &str, seeds: &str, jobs: Option<usize>) -> i32 {
    let seeds = match parse_seeds(seeds) {
        Ok(seeds) => seeds,
        Err(error) => return bad_input(error),
    };
    let scenarios: Vec<(String, Scenario)> = if scenario_arg == "all" {
        builtin::all()
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect()
    } else {
        match builtin::resolve(scenario_arg) {
            Ok(scenario) => vec![(scenario_arg.to_string(), scenario)],
            Err(error) => return bad_input(error),
        }
    };
    if let Some(jobs) = jobs {
        // Ignored if a pool exists already (only in tests that call main twice).
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.max(1))
            .build_global();
    }
    let mut worst = OutcomeClass::Pass;
    for (arg, scenario) in scenarios {
        let started = Instant::now();
        let done = AtomicU64::new(0);
        let failed = AtomicU64::new(0);
        let total = seeds.end - seeds.start;
        let summary = sweep(&scenario, seeds.clone(), |outcome| {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if outcome.class != OutcomeClass::Pass {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            if n.is_multiple_of(50) || n == total {
                let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-9);
                eprintln!(
                    "  {arg}: {n}/{total} seeds, {rate:.1} seeds/s, {} failing",
                    failed.load(Ordering::Relaxed)
                );
            }
        });
        print_summary(&arg, &seeds, &summary, started.elapsed().as_secs_f64());
        let candidate = summary.worst();
        if candidate.exit_code() != 0
            && (worst == OutcomeClass::Pass || candidate == OutcomeClass::Crash)
        {
            worst = candidate;
        }
    }
    worst.exit_code()
}

fn print_summary(arg: &str, seeds: &Range<u64>, summary: &SweepSummary, wall_s: f64) {
    println!(
        "sweep {arg} seeds {}..{}: {} runs in {:.1}s ({:.1} seeds/s)",
        seeds.start,
        seeds.end,
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

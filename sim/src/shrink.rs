//! Shrinking: cuts a failing scenario and seed down to a smaller scenario that fails the same
//! way with the same seed (fewer fault events, shorter faults, a smaller workload and fault
//! phase), with an explicit fault plan that replays from its TOML alone.

use crate::checkers::AnomalyKind;
use crate::faults::Fault;
use crate::outcome::{Outcome, OutcomeClass};
use crate::runner::{self, RunOptions};
use crate::scenario::{Scenario, ScenarioError};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use thiserror::Error;

/// At most this many runs per shrink, the first one included (a run takes ~2-20 ms).
pub const MAX_RUNS: u64 = 500;

/// What must stay true of a smaller run for it to count as "the same failure".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureSignature {
    pub class: OutcomeClass,
    /// The violated kinds, for a safety violation (empty for any other class).
    pub violations: BTreeSet<AnomalyKind>,
    /// For `shrink --anomaly KIND`: only this kind must still show, allowed or not (the
    /// class and violations then do not count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<AnomalyKind>,
}

impl FailureSignature {
    pub fn of(outcome: &Outcome) -> Self {
        let violations = match outcome.class {
            OutcomeClass::SafetyViolation => outcome.violations().map(|a| a.kind).collect(),
            _ => BTreeSet::new(),
        };
        FailureSignature {
            class: outcome.class,
            violations,
            anomaly: None,
        }
    }

    /// A run that shows `kind`, with any verdict and whatever else it shows.
    pub fn showing(kind: AnomalyKind, outcome: &Outcome) -> Self {
        FailureSignature {
            anomaly: Some(kind),
            ..FailureSignature::of(outcome)
        }
    }

    /// The same class and, for a safety violation, every kind of the signature still
    /// violated (more kinds are fine); or, for an anomaly signature, that kind shown.
    pub fn matches(&self, outcome: &Outcome) -> bool {
        if let Some(kind) = self.anomaly {
            return outcome.anomalies.iter().any(|a| a.kind == kind);
        }
        outcome.class == self.class
            && self
                .violations
                .iter()
                .all(|kind| outcome.violations().any(|a| a.kind == *kind))
    }
}

impl fmt::Display for FailureSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(kind) = self.anomaly {
            return write!(f, "shows {kind}");
        }
        f.write_str(self.class.as_str())?;
        if !self.violations.is_empty() {
            let kinds: Vec<&str> = self.violations.iter().map(|k| k.as_str()).collect();
            write!(f, " ({})", kinds.join(", "))?;
        }
        Ok(())
    }
}

/// A finished shrink: the scenario it started from and the smallest one found that fails
/// the same way with the same seed.
#[derive(Clone, Debug)]
pub struct ShrinkReport {
    pub original: Scenario,
    pub minimal: Scenario,
    pub seed: u64,
    /// Simulation runs spent, the first one included.
    pub runs: u64,
    /// The original's fault plan for this seed: scripted events plus the nemesis's draw.
    pub original_fault_events: usize,
    pub minimal_fault_events: usize,
    /// The outcome of the minimal scenario with the seed.
    pub outcome: Outcome,
}

/// Why a shrink could not start.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ShrinkError {
    #[error("seed {seed} passes scenario `{scenario}`: nothing to shrink (to shrink an allowed anomaly, name it: --anomaly KIND)")]
    NothingToShrink { scenario: String, seed: u64 },
    #[error("seed {seed} of scenario `{scenario}` shows no {kind}: nothing to shrink (it shows: {shown})")]
    AnomalyNotShown {
        scenario: String,
        seed: u64,
        kind: AnomalyKind,
        shown: String,
    },
    #[error(transparent)]
    Invalid(#[from] ScenarioError),
    /// A harness bug: the same faults, scripted instead of drawn, ran differently.
    #[error("seed {seed}: the nemesis's plan, written out as scripted events, does not fail the same way (a determinism bug in the harness: please report it)")]
    ExplicitPlanDiffers { seed: u64 },
}

/// Shrinks the failure `scenario` shows with `seed`. `progress` gets a short line after
/// each accepted step. Deterministic: the same input gives the same minimal scenario.
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    progress: impl FnMut(&str),
) -> Result<ShrinkReport, ShrinkError> {
    shrink_to(scenario, seed, None, progress)
}

/// Shrinks to the smallest scenario that, with `seed`, still shows `anomaly` (allowed or
/// not), or with `None` still fails the same way.
pub fn shrink_to(
    scenario: &Scenario,
    seed: u64,
    anomaly: Option<AnomalyKind>,
    mut progress: impl FnMut(&str),
) -> Result<ShrinkReport, ShrinkError> {
    scenario.validate(&scenario.name)?;
    let first = runner::run(scenario, seed, RunOptions::default());
    let signature = match anomaly {
        Some(kind) if !first.anomalies.iter().any(|a| a.kind == kind) => {
            let shown: BTreeSet<&str> = first.anomalies.iter().map(|a| a.kind.as_str()).collect();
            return Err(ShrinkError::AnomalyNotShown {
                scenario: scenario.name.clone(),
                seed,
                kind,
                shown: if shown.is_empty() {
                    "no anomaly".to_string()
                } else {
                    shown.into_iter().collect::<Vec<_>>().join(", ")
                },
            });
        }
        Some(kind) => FailureSignature::showing(kind, &first),
        None if first.class == OutcomeClass::Pass => {
            return Err(ShrinkError::NothingToShrink {
                scenario: scenario.name.clone(),
                seed,
            })
        }
        None => FailureSignature::of(&first),
    };
    progress(&format!("seed {seed}: {signature}"));
    let original_fault_events = fault_count(scenario, seed);

    // The name does not change the run: every run already carries the minimal's name.
    let mut start = scenario.clone();
    start.name = format!("{}-shrunk", scenario.name);
    let mut shrinker = Shrinker {
        seed,
        signature,
        runs: 1,
        best: start.clone(),
        outcome: first,
        progress: &mut progress,
    };
    // Make the plan explicit: every event the nemesis drew becomes a scripted event, so
    // that events can be removed one by one and the TOML replays without the nemesis.
    // Nothing else in a run reads the nemesis (the scheduler, the workload and the network
    // draw from their own streams, and the checkers' promises come from the plan), so the
    // explicit plan is the same run; if it is not, the harness itself is broken.
    if scenario.faults.nemesis.is_some() {
        let mut explicit = start;
        explicit.faults.events = runner::fault_plan(scenario, seed).1;
        explicit.faults.nemesis = None;
        if !shrinker.try_candidate(explicit) {
            return Err(ShrinkError::ExplicitPlanDiffers { seed });
        }
        let line = format!("{original_fault_events} fault events made explicit");
        (shrinker.progress)(&line);
    }
    while shrinker.round() {}

    let mut minimal = shrinker.best;
    // The original's expectations are of its sweep, not of this one seed's story.
    minimal.expect = Default::default();
    let minimal_fault_events = fault_count(&minimal, seed);
    minimal.description = format!(
        "shrunk from scenario `{}` with seed {seed} ({original_fault_events} -> \
         {minimal_fault_events} fault events): {}",
        scenario.name, shrinker.signature
    );
    Ok(ShrinkReport {
        original: scenario.clone(),
        minimal,
        seed,
        runs: shrinker.runs,
        original_fault_events,
        minimal_fault_events,
        outcome: shrinker.outcome,
    })
}

/// How many fault events the scenario's plan has with this seed.
fn fault_count(scenario: &Scenario, seed: u64) -> usize {
    runner::fault_plan(scenario, seed).1.len()
}

/// The search state: the smallest failing scenario so far and the runs spent.
struct Shrinker<'p, P: FnMut(&str)> {
    seed: u64,
    signature: FailureSignature,
    runs: u64,
    best: Scenario,
    outcome: Outcome,
    progress: &'p mut P,
}

impl<P: FnMut(&str)> Shrinker<'_, P> {
    fn budget_left(&self) -> bool {
        self.runs < MAX_RUNS
    }

    /// Runs a valid candidate; keeps it if it fails the same way.
    fn try_candidate(&mut self, candidate: Scenario) -> bool {
        if !self.budget_left() || candidate.validate(&candidate.name).is_err() {
            return false;
        }
        self.runs += 1;
        let outcome = runner::run(&candidate, self.seed, RunOptions::default());
        if !self.signature.matches(&outcome) {
            return false;
        }
        self.best = candidate;
        self.outcome = outcome;
        true
    }

    /// Tries `change` on a copy of the best scenario; reports `line` if it is kept.
    fn step(
        &mut self,
        line: impl FnOnce(&Scenario) -> String,
        change: impl FnOnce(&mut Scenario),
    ) -> bool {
        let mut candidate = self.best.clone();
        change(&mut candidate);
        if candidate == self.best || !self.try_candidate(candidate) {
            return false;
        }
        let line = line(&self.best);
        (self.progress)(&line);
        true
    }

    /// One pass of every simplification; whether any was kept.
    fn round(&mut self) -> bool {
        let before = self.best.clone();
        self.remove_events();
        self.shorten_faults();
        self.advance_events();
        self.shrink_workload();
        self.shorten_fault_phase();
        self.budget_left() && self.best != before
    }

    /// Delta debugging over the scripted events: removes chunks of n/2, n/4, .. 1 events.
    fn remove_events(&mut self) {
        let mut size = (self.best.faults.events.len() / 2).max(1);
        loop {
            let mut at = 0;
            while at < self.best.faults.events.len() && self.budget_left() {
                let (seed, before) = (self.seed, fault_count(&self.best, self.seed));
                let end = (at + size).min(self.best.faults.events.len());
                let kept = self.step(
                    |s| format!("{before} -> {} fault events", fault_count(s, seed)),
                    |s| drop(s.faults.events.drain(at..end)),
                );
                if !kept {
                    at += size;
                }
            }
            if size == 1 || !self.budget_left() {
                return;
            }
            size /= 2;
        }
    }

    /// Lowers each event's duration (a crash's or power loss's restart delay).
    fn shorten_faults(&mut self) {
        let get = |s: &Scenario, i: usize| {
            let mut fault = s.faults.events[i].fault.clone();
            Fault::duration_ms_mut(&mut fault).map(|(field, ms)| (field, *ms))
        };
        for i in 0..self.best.faults.events.len() {
            let Some((field, _)) = get(&self.best, i) else {
                continue;
            };
            let set = |s: &mut Scenario, ms| {
                if let Some((_, d)) = Fault::duration_ms_mut(&mut s.faults.events[i].fault) {
                    *d = ms;
                }
            };
            let get = |s: &Scenario| get(s, i).map_or(0, |(_, ms)| ms);
            self.lower(&format!("faults.events[{i}].{field}"), 1, 1, get, set);
        }
    }

    /// Moves each event earlier, so that the workload and the fault phase can shrink too.
    fn advance_events(&mut self) {
        for i in 0..self.best.faults.events.len() {
            let get = |s: &Scenario| s.faults.events[i].at_ms;
            let set = |s: &mut Scenario, ms| s.faults.events[i].at_ms = ms;
            self.lower(&format!("faults.events[{i}].at_ms"), 0, 1, get, set);
        }
    }

    /// Fewer records (at least 1), producers and consumers (at least 1 each).
    fn shrink_workload(&mut self) {
        let records = |s: &Scenario| s.workload.records;
        self.lower("workload.records", 1, 1, records, |s, n| {
            s.workload.records = n
        });
        let producers = |s: &Scenario| u64::from(s.producers);
        self.lower("producers", 1, 1, producers, |s, n| s.producers = n as u32);
        let consumers = |s: &Scenario| u64::from(s.consumers);
        self.lower("consumers", 1, 1, consumers, |s, n| s.consumers = n as u32);
    }

    /// A fault phase that ends just after the last event, rounded up to 100 ms.
    fn shorten_fault_phase(&mut self) {
        let last = self.best.faults.events.iter().map(|e| e.at_ms + 1).max();
        let floor = last.unwrap_or(1).div_ceil(100) * 100;
        let phase = |s: &Scenario| s.fault_phase_ms;
        self.lower("fault_phase_ms", floor, 100, phase, |s, ms| {
            s.fault_phase_ms = ms
        });
    }

    /// Lowers a number: `floor` first; if that fails differently, bisects between the
    /// lowest value that failed differently and the current one (rounded up to `step`),
    /// until they are within an eighth of each other.
    fn lower(
        &mut self,
        field: &str,
        floor: u64,
        step: u64,
        get: impl Fn(&Scenario) -> u64,
        set: impl Fn(&mut Scenario, u64),
    ) {
        let mut low: Option<u64> = None;
        while self.budget_left() {
            let from = get(&self.best);
            let to = match low {
                None => floor,
                Some(low) if from - low <= from / 8 => return,
                Some(low) => (low + (from - low) / 2).div_ceil(step) * step,
            };
            if to >= from || low.is_some_and(|low| to <= low) {
                return;
            }
            let line = |_: &Scenario| format!("{field}: {from} -> {to}");
            if !self.step(line, |s| set(s, to)) {
                low = Some(to);
            } else if low.is_none() {
                return;
            }
        }
    }
}

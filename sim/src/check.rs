//! `kafka-sim check HISTORY.jsonl`: the history checkers alone, on a history that need not
//! come from a simulation (a real cluster under Jepsen, a Kafka-like system's own test),
//! judged by promises given as flags, a `[promises]` table, or the meta line a simulation
//! wrote. What a history cannot show is said, not guessed: the replica and controller
//! invariants and retention need the cluster's own events, and an anomaly only a lost
//! record could excuse (a power loss with async flush, an unclean election) stays a
//! violation, marked excusable.

use crate::checkers::{self, Anomaly, AnomalyKind, Promises, Verdict};
use crate::cli::bad_input;
use crate::history::History;
use crate::scenario::Scenario;
use crate::summary::RunSummary;
use kafka_model::member::CommitMode;
use std::path::PathBuf;

pub mod promises_table;
pub mod reader;

pub use promises_table::PromiseSettings;

/// The kinds the history checkers judge (`checkers::check_all`).
pub const JUDGED: [AnomalyKind; 22] = [
    AnomalyKind::NonmonotonicSend,
    AnomalyKind::Duplicate,
    AnomalyKind::PollSkip,
    AnomalyKind::NonmonotonicPoll,
    AnomalyKind::InconsistentOffsets,
    AnomalyKind::LostWrite,
    AnomalyKind::MonotonicHighWatermark,
    AnomalyKind::GroupOwnership,
    AnomalyKind::StaleCommit,
    AnomalyKind::CommitBackwards,
    AnomalyKind::LostProcessing,
    AnomalyKind::DuplicateProcessing,
    AnomalyKind::G1a,
    AnomalyKind::PrecommittedRead,
    AnomalyKind::IntPollSkip,
    AnomalyKind::IntSendSkip,
    AnomalyKind::TornTransaction,
    AnomalyKind::ZombieWrite,
    AnomalyKind::G0,
    AnomalyKind::G1c,
    AnomalyKind::LostEffect,
    AnomalyKind::DuplicateEffect,
];

/// What `check` cannot judge from a history, in one line.
pub const NOT_JUDGED: &str =
    "not judged (they need the cluster's own events, which a history does not hold): \
     replica invariants (log-matching, strong-isr, leader-completeness, committed-record-lost, \
     consistent-read, single-leader, ...), the controller quorum, retention-skip, \
     hanging-transaction (it needs the consumers' standing at the liveness bound); and no \
     excuse: a violation only a power loss with async flush or an unclean election could \
     explain is marked excusable and still fails";

/// Where the promises came from, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromiseSource {
    /// Kafka's defaults, flags and a table over them.
    Given,
    /// The simulation's scenario in the history's meta line (flags and a table over it).
    Meta(String),
}

/// The verdicts on one history.
#[derive(Clone, Debug)]
pub struct CheckReport {
    pub promises: Promises,
    pub source: PromiseSource,
    pub operations: usize,
    pub anomalies: Vec<Anomaly>,
    pub summary: RunSummary,
}

impl CheckReport {
    pub fn violations(&self) -> usize {
        self.anomalies
            .iter()
            .filter(|a| a.verdict == Verdict::Violation)
            .count()
    }

    /// 0 when nothing promised broke, 1 on a violation.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.violations() > 0)
    }
}

/// Runs the history checkers on `history` with `promises`; `heal_ms`, when known, gives
/// each reader's lag at the heal.
pub fn check_history(
    history: &History,
    promises: Promises,
    source: PromiseSource,
    heal_ms: Option<u64>,
) -> CheckReport {
    let mut anomalies = checkers::check_all(history, &promises);
    anomalies.sort_by_key(|a| a.index);
    let summary = RunSummary::of_history(history, &anomalies, heal_ms);
    CheckReport {
        promises,
        source,
        operations: history.entries.len(),
        anomalies,
        summary,
    }
}

/// A simulation's settings, as `check` flags would give them.
pub fn settings_of(scenario: &Scenario) -> PromiseSettings {
    PromiseSettings {
        acks: Some(scenario.acks().as_str().to_string()),
        enable_idempotence: Some(scenario.producer.idempotence_enabled()),
        retries: Some(u64::from(scenario.producer.retries)),
        max_in_flight_requests_per_connection: Some(u64::from(
            scenario.producer.max_in_flight_requests_per_connection,
        )),
        flush_messages: scenario.broker.log.flush_messages,
        unclean_leader_election_enable: Some(scenario.controller.unclean_leader_election),
        at_most_once_groups: Some(
            scenario
                .groups
                .iter()
                .filter(|g| g.commit_mode == CommitMode::BeforeProcessing)
                .map(|g| g.id.clone())
                .collect(),
        ),
    }
}

/// Options of `kafka-sim check`.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    pub history: PathBuf,
    /// A TOML file with a `[promises]` table.
    pub promises: Option<PathBuf>,
    /// The flags, over the table.
    pub flags: PromiseSettings,
    pub heal_ms: Option<u64>,
    pub json: bool,
    pub verbose: bool,
}

pub fn main(options: CheckOptions) -> i32 {
    let file = options.history.display().to_string();
    let loaded = match std::fs::File::open(&options.history) {
        Ok(f) => reader::read(std::io::BufReader::new(f), &file),
        Err(e) => return bad_input(format!("{file}: cannot read: {e}")),
    };
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return bad_input(error),
    };
    let (mut settings, source) = match &loaded.scenario {
        Some(scenario) => (
            settings_of(scenario),
            PromiseSource::Meta(scenario.name.clone()),
        ),
        None => (PromiseSettings::default(), PromiseSource::Given),
    };
    if let Some(path) = &options.promises {
        let name = path.display().to_string();
        let table = std::fs::read_to_string(path)
            .map_err(|e| format!("{name}: cannot read: {e}"))
            .and_then(|text| PromiseSettings::from_toml(&text, &name));
        match table {
            Ok(table) => settings = settings.overridden_by(table),
            Err(error) => return bad_input(error),
        }
    }
    settings = settings.overridden_by(options.flags.clone());
    let promises = match settings.resolve() {
        Ok(promises) => promises,
        Err(error) => return bad_input(format!("promises: {error}")),
    };
    let heal_ms = options
        .heal_ms
        .or(loaded.scenario.as_ref().map(|s| s.fault_phase_ms));
    let report = check_history(&loaded.history, promises, source, heal_ms);
    if options.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json(&report)).expect("a report serializes")
        );
    } else {
        print!("{}", text(&report, &file, options.verbose));
    }
    report.exit_code()
}

/// The report as text.
pub fn text(report: &CheckReport, file: &str, verbose: bool) -> String {
    let mut out = String::new();
    let source = match &report.source {
        PromiseSource::Given => "given".to_string(),
        PromiseSource::Meta(name) => format!("from the meta line's scenario `{name}`"),
    };
    out.push_str(&format!(
        "check {file}: {} operations\npromises ({source}): {}\n",
        report.operations,
        promises_table::describe(&report.promises)
    ));
    let judged: Vec<&str> = JUDGED.iter().map(|k| k.as_str()).collect();
    out.push_str(&format!("judged: {}\n{NOT_JUDGED}\n", judged.join(", ")));
    for line in report.summary.lines() {
        out.push_str(&line);
        out.push('\n');
    }
    for anomaly in &report.anomalies {
        if !verbose && anomaly.verdict == Verdict::Allowed {
            continue;
        }
        let verdict = match (anomaly.verdict, anomaly.excusable) {
            (Verdict::Allowed, _) => "allowed  ",
            (Verdict::Violation, false) => "VIOLATION",
            (Verdict::Violation, true) => "VIOLATION (excusable)",
        };
        out.push_str(&format!(
            "{verdict} {}: {} [{}] (history index {})\n",
            anomaly.kind, anomaly.detail, anomaly.why, anomaly.index
        ));
    }
    let excusable = report
        .anomalies
        .iter()
        .filter(|a| a.verdict == Verdict::Violation && a.excusable)
        .count();
    out.push_str(&format!(
        "result: {}{}\n",
        if report.violations() > 0 {
            "safety violation"
        } else {
            "pass"
        },
        if excusable > 0 {
            format!(" ({excusable} of the violations excusable by a loss the history cannot show)")
        } else {
            String::new()
        }
    ));
    out
}

/// The report as JSON: every anomaly in full, with whether only a lost record could
/// excuse it.
pub fn json(report: &CheckReport) -> serde_json::Value {
    let anomalies: Vec<serde_json::Value> = report
        .anomalies
        .iter()
        .map(|a| {
            let mut value = serde_json::to_value(a).expect("an anomaly serializes");
            value["excusable"] = serde_json::Value::Bool(a.excusable);
            value
        })
        .collect();
    serde_json::json!({
        "operations": report.operations,
        "promises": report.promises,
        "judged": JUDGED,
        "not_judged": NOT_JUDGED,
        "class": if report.violations() > 0 { "safety-violation" } else { "pass" },
        "summary": report.summary,
        "anomalies": anomalies,
    })
}

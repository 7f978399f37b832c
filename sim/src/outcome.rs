//! The outcome of one run: its class (and exit code), anomalies, liveness problems, and what
//! it takes to look at it again (trace, history, fault plan, replay command).

use crate::checkers::{Anomaly, Verdict};
use crate::events::EventLog;
use crate::faults::{SwarmDraw, TimedFault};
use crate::history::History;
use crate::invariants::losses::LossLedger;
use crate::network::NetStats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a run ended. The exit codes are the CLI contract (DESIGN.md section 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeClass {
    /// Every promised property held (allowed anomalies may have been seen).
    Pass,
    /// A safety property the configuration promises was violated.
    SafetyViolation,
    /// After the heal, the cluster did not finish its work within the bound.
    LivenessViolation,
    /// The simulation itself panicked or deadlocked.
    Crash,
}

impl OutcomeClass {
    pub fn exit_code(self) -> i32 {
        match self {
            OutcomeClass::Pass => 0,
            OutcomeClass::SafetyViolation => 1,
            OutcomeClass::LivenessViolation => 3,
            OutcomeClass::Crash => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeClass::Pass => "pass",
            OutcomeClass::SafetyViolation => "safety violation",
            OutcomeClass::LivenessViolation => "liveness violation",
            OutcomeClass::Crash => "crash",
        }
    }
}

/// Counters of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    pub simulated_ms: u64,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub messages_dropped: u64,
    pub trace_lines: u64,
    pub history_entries: u64,
    pub sends_acknowledged: u64,
}

impl RunStats {
    pub fn from_net(net: NetStats) -> Self {
        RunStats {
            messages_sent: net.sent,
            messages_delivered: net.delivered,
            messages_dropped: net.dropped,
            ..RunStats::default()
        }
    }
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub scenario: String,
    pub seed: u64,
    pub class: OutcomeClass,
    pub anomalies: Vec<Anomaly>,
    pub liveness_problems: Vec<String>,
    /// The panic or deadlock message, for `Crash`.
    pub crash: Option<String>,
    pub swarm: Option<SwarmDraw>,
    pub fault_plan: Vec<TimedFault>,
    pub trace_hash: u64,
    /// Kept only when asked for.
    pub trace: Vec<String>,
    pub history: History,
    /// The run's typed events: all of them when the trace was kept, else those the
    /// verdicts need (`events::Retention`).
    pub events: EventLog,
    /// What the run lost, and how: the facts the excuse pass judged allowed anomalies by.
    pub losses: LossLedger,
    /// The model's rare paths the run reached, with how often (`coverage`).
    pub reached: BTreeMap<kafka_model::reach::RarePath, u64>,
    pub stats: RunStats,
}

impl Outcome {
    pub fn violations(&self) -> impl Iterator<Item = &Anomaly> {
        self.anomalies
            .iter()
            .filter(|a| a.verdict == Verdict::Violation)
    }

    pub fn allowed(&self) -> impl Iterator<Item = &Anomaly> {
        self.anomalies
            .iter()
            .filter(|a| a.verdict == Verdict::Allowed)
    }

    /// The command that replays this run. `scenario_arg` is what the user passed.
    pub fn replay_command(&self, scenario_arg: &str) -> String {
        format!(
            "cargo run --release -- run {scenario_arg} --seed {}",
            self.seed
        )
    }
}

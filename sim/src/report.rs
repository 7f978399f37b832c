//! Human-readable reports of a run, for the terminal: the short report (the fault plan's
//! start, the run summary's numbers, the verdict and its replay command), the verbose one
//! (every fault and every anomaly with its chain), and the same as JSON.

use crate::checkers::Verdict;
use crate::faults::strike::plan_as_struck;
use crate::outcome::{Outcome, OutcomeClass};
use crate::summary::RunSummary;
use std::fmt::Write;

/// Fault events the short report lists before "... N more".
const SHORT_FAULT_EVENTS: usize = 5;

/// How much of the run the report tells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Detail {
    /// The summary: one line per anomaly kind and the measured table.
    #[default]
    Summary,
    /// The summary, then every fault event and every anomaly with its chain.
    Verbose,
}

/// The report `kafka-sim run` prints.
pub fn run_report(
    outcome: &Outcome,
    scenario_arg: &str,
    summary: &RunSummary,
    detail: Detail,
) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "scenario {}  seed {}", outcome.scenario, outcome.seed);
    if let Some(swarm) = &outcome.swarm {
        let _ = writeln!(text, "{swarm}");
    }
    let shown = match detail {
        Detail::Summary => SHORT_FAULT_EVENTS,
        Detail::Verbose => usize::MAX,
    };
    let _ = writeln!(text, "fault plan: {} events", outcome.fault_plan.len());
    let plan = plan_as_struck(&outcome.fault_plan, &outcome.events);
    for (event, fault) in outcome.fault_plan.iter().zip(plan).take(shown) {
        let _ = match &event.on {
            Some(trigger) => writeln!(text, "  from @{}ms {trigger}: {fault}", event.at_ms),
            None => writeln!(text, "  @{:>6}ms {fault}", event.at_ms),
        };
    }
    if outcome.fault_plan.len() > shown {
        let _ = writeln!(
            text,
            "  ... {} more (all with --verbose)",
            outcome.fault_plan.len() - shown
        );
    }
    let s = &outcome.stats;
    let _ = writeln!(
        text,
        "simulated {:.1}s, {} messages ({} dropped), {} sends acknowledged, {} history entries",
        s.simulated_ms as f64 / 1000.0,
        s.messages_sent,
        s.messages_dropped,
        s.sends_acknowledged,
        s.history_entries
    );
    let _ = writeln!(text, "trace hash {:016x}", outcome.trace_hash);
    for line in summary.lines() {
        let _ = writeln!(text, "{line}");
    }
    if detail == Detail::Verbose {
        text.push_str(&anomaly_lines(outcome));
    }
    for problem in &outcome.liveness_problems {
        let _ = writeln!(text, "LIVENESS  {problem}");
    }
    if let Some(crash) = &outcome.crash {
        let _ = writeln!(text, "CRASH     {crash}");
    }
    let _ = writeln!(text, "result: {}", outcome.class.as_str());
    if outcome.class != OutcomeClass::Pass {
        let _ = writeln!(
            text,
            "REPRODUCE WITH: {}",
            outcome.replay_command(scenario_arg)
        );
    }
    text
}

/// Every anomaly, one line each, with the chain of events that explains it.
pub fn anomaly_lines(outcome: &Outcome) -> String {
    let mut text = String::new();
    for anomaly in &outcome.anomalies {
        let verdict = match anomaly.verdict {
            Verdict::Allowed => "allowed  ",
            Verdict::Violation => "VIOLATION",
        };
        let _ = writeln!(
            text,
            "{verdict} {}: {} [{}] (history index {})",
            anomaly.kind, anomaly.detail, anomaly.why, anomaly.index
        );
        for link in &anomaly.chain {
            let _ = writeln!(text, "            because {link}");
        }
    }
    text
}

/// `kafka-sim run --json`: the summary and every detail the verbose report has.
pub fn run_json(outcome: &Outcome, scenario_arg: &str, summary: &RunSummary) -> serde_json::Value {
    serde_json::json!({
        "scenario": outcome.scenario,
        "seed": outcome.seed,
        "class": outcome.class,
        "swarm": outcome.swarm.as_ref().map(|s| s.to_string()),
        "fault_plan": outcome.fault_plan,
        "stats": outcome.stats,
        "trace_hash": format!("{:016x}", outcome.trace_hash),
        "summary": summary,
        "anomalies": outcome.anomalies,
        "liveness_problems": outcome.liveness_problems,
        "crash": outcome.crash,
        "replay_command": outcome.replay_command(scenario_arg),
    })
}

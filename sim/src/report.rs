//! Human-readable reports of a run, for the terminal.

use crate::checkers::Verdict;
use crate::outcome::{Outcome, OutcomeClass};
use std::fmt::Write;

/// The report `kafka-sim run` prints.
pub fn run_report(outcome: &Outcome, scenario_arg: &str) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "scenario {}  seed {}", outcome.scenario, outcome.seed);
    if let Some(swarm) = &outcome.swarm {
        let _ = writeln!(text, "{swarm}");
    }
    let _ = writeln!(text, "fault plan: {} events", outcome.fault_plan.len());
    for event in outcome.fault_plan.iter().take(20) {
        let _ = writeln!(text, "  @{:>6}ms {}", event.at_ms, event.fault);
    }
    if outcome.fault_plan.len() > 20 {
        let _ = writeln!(text, "  ... {} more", outcome.fault_plan.len() - 20);
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

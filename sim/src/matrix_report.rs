//! `kafka-sim matrix`: runs the guarantee matrix with a progress bar and prints it as
//! text (one line per cell), Markdown (one table, for README.md) or JSON.

use crate::checkers::{AnomalyKind, Verdict};
use crate::matrix::{self, Cell, FaultClass, Matrix};
use crate::outcome::OutcomeClass;
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Write as _;
use std::time::Instant;

/// How to print the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

/// What the baseline of every row is, printed with the matrix.
pub const BASELINE: &str = "3 brokers and a 3-controller KRaft quorum, topic tasks x3 at RF 3, \
    min.insync.replicas=2, \
    acks=all with an idempotent producer, clean election, async flush, modern protocol; \
    600 keyed records at 30/s through a 20 s fault phase, then heal";

pub fn main(seeds_per_cell: u64, format: Format) -> i32 {
    if seeds_per_cell == 0 {
        eprintln!("error: --seeds must be at least 1");
        return 2;
    }
    let cells = (matrix::configurations().len() * FaultClass::ALL.len()) as u64;
    let bar = ProgressBar::new(cells * seeds_per_cell);
    bar.set_style(
        ProgressStyle::with_template("matrix [{bar:30}] {pos}/{len} runs, {per_sec}, eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now(); // determinism-ok: wall time for the report only, never inside a simulation
    let matrix = matrix::run(seeds_per_cell, || bar.inc(1));
    bar.finish_and_clear();
    let wall_s = started.elapsed().as_secs_f64();
    match format {
        Format::Text => print!("{}", text(&matrix, Some(wall_s))),
        Format::Markdown => print!("{}", markdown(&matrix)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json(&matrix)).expect("the matrix serializes")
        ),
    }
    let crashed = matrix
        .cells
        .iter()
        .any(|c| c.summary.by_class.contains_key(&OutcomeClass::Crash));
    if crashed {
        OutcomeClass::Crash.exit_code()
    } else {
        0
    }
}

/// Violations first, then allowed anomalies, each kind once: (kind, verdict, seeds, first).
fn anomalies(cell: &Cell) -> Vec<(AnomalyKind, Verdict, u64, u64)> {
    let mut found: Vec<_> = cell
        .summary
        .anomalies
        .iter()
        .map(|((kind, verdict), (seeds, first))| (*kind, *verdict, *seeds, *first))
        .collect();
    found.sort_by_key(|(kind, verdict, _, _)| (*verdict != Verdict::Violation, *kind));
    found
}

/// Runs that failed to finish: liveness violations and panics, with a first seed.
fn unfinished(cell: &Cell) -> Vec<(OutcomeClass, u64, u64)> {
    [OutcomeClass::LivenessViolation, OutcomeClass::Crash]
        .into_iter()
        .filter_map(|class| {
            let (runs, first) = cell.summary.by_class.get(&class)?;
            Some((class, *runs, *first))
        })
        .collect()
}

/// One line per cell, grouped by configuration.
pub fn text(matrix: &Matrix, wall_s: Option<f64>) -> String {
    let mut out = String::new();
    let runs = matrix.cells.len() as u64 * matrix.seeds_per_cell;
    let _ = write!(
        out,
        "guarantee matrix: {} cells, {} seeds each ({runs} runs",
        matrix.cells.len(),
        matrix.seeds_per_cell
    );
    if let Some(wall_s) = wall_s {
        let _ = write!(out, ", {wall_s:.1}s");
    }
    let _ = writeln!(out, ")\nbaseline: {BASELINE}");
    let _ = writeln!(
        out,
        "replay a cell's seed: kafka-sim run matrix/<configuration>/<faults> --seed N\n"
    );
    let mut last_row = "";
    for cell in &matrix.cells {
        if cell.configuration != last_row {
            let _ = writeln!(out, "{} ({})", cell.configuration, cell.setting);
            last_row = cell.configuration;
        }
        let mut parts: Vec<String> = anomalies(cell)
            .into_iter()
            .map(|(kind, verdict, seeds, first)| {
                let verdict = match verdict {
                    Verdict::Violation => "VIOLATION",
                    Verdict::Allowed => "allowed",
                };
                format!("{verdict} {kind} x{seeds} (seed {first})")
            })
            .collect();
        parts.extend(
            unfinished(cell)
                .into_iter()
                .map(|(class, runs, first)| format!("{} x{runs} (seed {first})", class.as_str())),
        );
        let shown = if parts.is_empty() {
            "nothing".to_string()
        } else {
            parts.join(", ")
        };
        let _ = writeln!(out, "  {:<14} {shown}", cell.faults.name());
    }
    out
}

/// One table: configurations down, fault classes across.
pub fn markdown(matrix: &Matrix) -> String {
    let mut out = String::new();
    let _ = write!(out, "| configuration |");
    for faults in FaultClass::ALL {
        let _ = write!(out, " {} |", faults.name());
    }
    let _ = write!(out, "\n|---|");
    for _ in FaultClass::ALL {
        let _ = write!(out, "---|");
    }
    out.push('\n');
    let mut rows: Vec<&str> = matrix.cells.iter().map(|c| c.configuration).collect();
    rows.dedup();
    for row in rows {
        let cells: Vec<&Cell> = matrix
            .cells
            .iter()
            .filter(|c| c.configuration == row)
            .collect();
        let _ = write!(out, "| **{row}**<br>{} |", cells[0].setting);
        for cell in cells {
            let mut parts: Vec<String> = anomalies(cell)
                .into_iter()
                .map(|(kind, verdict, _, first)| match verdict {
                    Verdict::Violation => format!("**✗ {kind}** {first}"),
                    Verdict::Allowed => format!("{kind} {first}"),
                })
                .collect();
            parts.extend(
                unfinished(cell)
                    .into_iter()
                    .map(|(class, _, first)| format!("**{}** {first}", class.as_str())),
            );
            let shown = if parts.is_empty() {
                "✓".to_string()
            } else {
                parts.join(", ")
            };
            let _ = write!(out, " {shown} |");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\n{} seeds a cell. Baseline: {BASELINE}. Each row changes one setting. Columns: the \
         nemesis's fault kinds; power-loss adds one power loss of every broker at once, and \
         all is every kind, power loss included (a power loss excuses only the records it \
         cut from a replica that then led: each allowed anomaly names its chain in `run`). \
         ✓: nothing \
         seen; **✗ name**: a violation of what that configuration promises; plain name: an \
         anomaly the configuration allows. The number is the first seed that shows it: \
         `kafka-sim run matrix/<configuration>/<faults> --seed N` replays it.",
        matrix.seeds_per_cell
    );
    out
}

/// Every cell with its counts, anomalies and replay commands.
pub fn json(matrix: &Matrix) -> serde_json::Value {
    let cells: Vec<serde_json::Value> = matrix
        .cells
        .iter()
        .map(|cell| {
            let found: Vec<_> = anomalies(cell)
                .into_iter()
                .map(|(kind, verdict, seeds, first)| {
                    serde_json::json!({
                        "kind": kind,
                        "verdict": verdict,
                        "seeds": seeds,
                        "first_seed": first,
                        "replay": format!("kafka-sim run {} --seed {first}", cell.scenario),
                    })
                })
                .collect();
            let mut summary = cell.summary.to_json();
            summary["anomalies"] = serde_json::Value::Array(found);
            serde_json::json!({
                "configuration": cell.configuration,
                "setting": cell.setting,
                "faults": cell.faults,
                "scenario": cell.scenario,
                "summary": summary,
            })
        })
        .collect();
    serde_json::json!({
        "baseline": BASELINE,
        "seeds_per_cell": matrix.seeds_per_cell,
        "cells": cells,
    })
}

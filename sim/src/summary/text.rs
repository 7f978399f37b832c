//! The run summary as terminal lines: a header, one line per anomaly kind and verdict (at
//! most 6, then a count of the rest), and the measured table (at most 7 lines), so that it
//! always fits in 15 lines.

use super::{KindLine, RunSummary, Spread};
use crate::checkers::Verdict;

/// Kind lines shown before "... more kinds".
const MAX_KIND_LINES: usize = 6;
/// Items of a per-partition or per-reader list shown before "+N more".
const MAX_ITEMS: usize = 6;

pub(super) fn lines(summary: &RunSummary) -> Vec<String> {
    let mut out = Vec::new();
    out.push(if summary.kinds.is_empty() {
        "anomalies: none".to_string()
    } else {
        format!(
            "anomalies: {} of {} kinds (every one with --verbose or --json)",
            summary.anomalies,
            summary.kinds.len()
        )
    });
    for line in summary.kinds.iter().take(MAX_KIND_LINES) {
        out.push(kind_line(line));
    }
    if summary.kinds.len() > MAX_KIND_LINES {
        let rest = &summary.kinds[MAX_KIND_LINES..];
        let count: u64 = rest.iter().map(|k| k.count).sum();
        out.push(format!(
            "  ... {} more kinds ({count} anomalies)",
            rest.len()
        ));
    }
    out.push("measured:".to_string());
    let rows = measured_rows(summary);
    // One column for the values, however long the longest label.
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    for (label, value) in rows {
        out.push(format!("  {label:<width$}  {value}"));
    }
    out
}

/// The measured table as (label, value) rows.
fn measured_rows(summary: &RunSummary) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    rows.push((
        "acknowledged writes lost".to_string(),
        if summary.lost_writes.is_empty() {
            "none".to_string()
        } else {
            format!(
                "{}: {}",
                summary.lost_writes_total(),
                list(summary.lost_writes.iter().map(|(p, n)| format!("{p} {n}")))
            )
        },
    ));
    rows.push((
        "producer latency".to_string(),
        match &summary.producer_latency_ms {
            None => "no acknowledged send".to_string(),
            Some(Spread {
                count,
                p50,
                p99,
                max,
            }) => format!("p50 {p50}ms, p99 {p99}ms, max {max}ms over {count} acknowledged sends"),
        },
    ));
    if let Some(partitions) = &summary.partitions {
        let leaderless: Vec<String> = partitions
            .iter()
            .filter(|p| p.leaderless_ms > 0)
            .map(|p| format!("{} {}ms", p.partition, p.leaderless_ms))
            .collect();
        rows.push(("time without a leader".to_string(), none_or(leaderless)));
        let below: Vec<String> = partitions
            .iter()
            .filter(|p| p.below_min_insync_ms > 0)
            .map(|p| format!("{} {}ms", p.partition, p.below_min_insync_ms))
            .collect();
        rows.push((below_min_insync_label(summary), none_or(below)));
    }
    if let Some(heal_ms) = summary.heal_ms {
        rows.push((
            format!("lag at the heal ({heal_ms}ms)"),
            if summary.lag_at_heal.is_empty() {
                "no reader".to_string()
            } else {
                list(
                    summary
                        .lag_at_heal
                        .iter()
                        .map(|l| format!("{} {} records", l.reader, l.records)),
                )
            },
        ));
    }
    if let Some(groups) = &summary.rebalances {
        rows.push((
            "rebalances".to_string(),
            none_or(groups.iter().map(rebalance).collect()),
        ));
    }
    rows
}

/// Only acks=all writes are refused (NotEnoughReplicas) while the ISR is below
/// min.insync: with other acks the time is still measured, but nothing was refused.
fn below_min_insync_label(summary: &RunSummary) -> String {
    let min_insync = summary.min_insync_replicas.unwrap_or(1);
    match summary.acks.as_deref() {
        Some("all") => format!("ISR < min.insync {min_insync} (acks=all refused)"),
        Some(acks) => format!("ISR < min.insync {min_insync} (acks={acks}: none refused)"),
        None => format!("ISR < min.insync {min_insync}"),
    }
}

fn kind_line(line: &KindLine) -> String {
    let verdict = match line.verdict {
        Verdict::Allowed => "allowed",
        Verdict::Violation => "VIOLATION",
    };
    let partitions = if line.partitions.is_empty() {
        "-".to_string()
    } else {
        list(line.partitions.iter().cloned())
    };
    let sample: Vec<String> = line.sample_values.iter().map(|v| format!("v{v}")).collect();
    format!(
        "  {:<24} {verdict:<9} {:>5}  on {partitions}  @{}..{}ms{}",
        line.kind.as_str(),
        line.count,
        line.first_ms,
        line.last_ms,
        if sample.is_empty() {
            String::new()
        } else {
            format!("  e.g. {}", sample.join(" "))
        }
    )
}

fn rebalance(group: &super::GroupRebalances) -> String {
    let spread = group
        .duration_ms
        .map(|d| format!(" (p50 {}ms, max {}ms)", d.p50, d.max))
        .unwrap_or_default();
    let unfinished = if group.unfinished > 0 {
        format!(", {} unfinished", group.unfinished)
    } else {
        String::new()
    };
    format!("{} {}{spread}{unfinished}", group.group, group.rebalances)
}

fn none_or(items: Vec<String>) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        list(items.into_iter())
    }
}

/// Comma-separated, at most `MAX_ITEMS`, then "+N more".
fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    let mut text = items
        .iter()
        .take(MAX_ITEMS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > MAX_ITEMS {
        text.push_str(&format!(", +{} more", items.len() - MAX_ITEMS));
    }
    text
}

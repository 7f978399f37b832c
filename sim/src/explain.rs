//! `kafka-sim explain`: the life of one record in a run, told from the trace and the
//! history: its send and partition, the append on its leader, the acknowledgement, every
//! consumer's read, what the faults did to its broker, retention deleting it (and consumers
//! reset past it), and what the checkers found.

use crate::history::{OpType, Operation};
use crate::outcome::Outcome;
use crate::scenario::Scenario;
use kafka_model::ids::TopicPartition;
use kafka_model::layout::ClusterLayout;
use std::fmt::Write;

/// Whether a trace line names the record `v{value}` (as a whole word).
fn names_value(line: &str, token: &str) -> bool {
    line.split_whitespace()
        .any(|word| word.trim_end_matches([':', ',']) == token)
}

/// The trace line's time, node and event.
fn parse(line: &str) -> Option<(u64, &str, &str)> {
    let line = line.trim_start();
    let (time, rest) = line.split_once(' ')?;
    let rest = rest.trim_start();
    let (node, event) = rest.split_once(' ')?;
    Some((time.parse().ok()?, node, event.trim_start()))
}

/// Whether a trace line tells of retention taking the record at `offset` of `tp`: a
/// replica's retention, or a follower following its leader's log start, raising the log
/// start past it ("log start A -> B"), or a consumer reset past it after OffsetOutOfRange.
fn retention_took(event: &str, tp: &str, offset: u64) -> bool {
    let number = |text: &str| -> Option<u64> {
        text.trim_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .ok()
    };
    let raised = |rest: &str| {
        let mut words = rest.split_whitespace();
        let from = words.next().and_then(number);
        let to = words.nth(1).and_then(number);
        matches!((from, to), (Some(a), Some(b)) if a <= offset && offset < b)
    };
    if let Some(rest) = event.strip_prefix(&format!("retention {tp}: log start ")) {
        return raised(rest);
    }
    if event.starts_with("follow leader's log start ") {
        if let Some((_, rest)) = event.split_once(&format!(": {tp} log start ")) {
            return raised(rest);
        }
    }
    if let Some(rest) = event.strip_prefix(&format!("assign {tp}@")) {
        let to = rest.split_whitespace().next().and_then(number);
        let from = rest
            .split_once("offset-out-of-range at ")
            .and_then(|(_, r)| r.split(',').next())
            .and_then(number);
        return matches!((from, to), (Some(a), Some(b)) if a <= offset && offset < b);
    }
    false
}

/// The story of record `value`. The outcome must have kept its trace.
pub fn explain(scenario: &Scenario, outcome: &Outcome, value: u64) -> Result<String, String> {
    let invoke = outcome.history.entries.iter().find_map(|e| match &e.op {
        Operation::Send(send) if e.op_type == OpType::Invoke && send.value == value => {
            Some((e, send))
        }
        _ => None,
    });
    let Some((invoke, send)) = invoke else {
        let sent = outcome
            .history
            .entries
            .iter()
            .filter(|e| e.op_type == OpType::Invoke && matches!(e.op, Operation::Send(_)))
            .count();
        return Err(format!(
            "no record with value {value} in this run ({sent} records were sent; producer p, from 1, sends values (p-1)*1000000+1, +2, ...)"
        ));
    };
    let token = format!("v{value}");
    let mut text = String::new();
    let _ = writeln!(
        text,
        "record v{value} (key {}) of {} seed {}, sent by {} at {}ms",
        send.key.as_deref().unwrap_or("none"),
        outcome.scenario,
        outcome.seed,
        invoke.process,
        invoke.time_ms
    );
    // The partition, from the acknowledgement or the leader's append.
    let partition = outcome.history.entries.iter().find_map(|e| match &e.op {
        Operation::Send(s) if s.value == value && e.op_type == OpType::Ok => s.partition,
        _ => None,
    });
    let partition = partition.or_else(|| {
        outcome
            .trace
            .iter()
            .filter(|l| names_value(l, &token))
            .find_map(|l| {
                let (_, _, event) = parse(l)?;
                let tp = event.strip_prefix("append ")?.split('@').next()?;
                tp.rsplit_once('-')?.1.parse().ok()
            })
    });
    let offset = outcome.history.entries.iter().find_map(|e| match &e.op {
        Operation::Send(s) if s.value == value && e.op_type == OpType::Ok => s.offset,
        _ => None,
    });
    let layout = ClusterLayout::new(scenario.brokers, scenario.cluster_topics());
    let placed = partition.map(|p| TopicPartition::new(send.topic.clone(), p));
    let replicas: Vec<String> = placed
        .iter()
        .flat_map(|tp| layout.replicas_of(tp))
        .map(|b| format!("b{}", b.0))
        .collect();
    match &placed {
        Some(tp) => {
            let _ = writeln!(
                text,
                "partition {tp} (murmur2 of the key), replicas {} (preferred leader first)",
                replicas.join(", ")
            );
        }
        None => {
            let _ = writeln!(
                text,
                "never placed in a partition (no metadata, or it failed first)"
            );
        }
    }
    let _ = writeln!(text, "\ntimeline:");
    let tp = placed.map(|tp| tp.to_string()).unwrap_or_default();
    let (recover, truncate, leadership) = (
        format!("recover {tp}:"),
        format!("truncate {tp} "),
        format!(": {tp} leader "),
    );
    // (time, line): trace lines and reads, merged in time order (stable for ties).
    let mut timeline: Vec<(u64, String)> = Vec::new();
    // A quorum's controllers each note every committed record: keep the first note.
    let mut noted = std::collections::BTreeSet::new();
    for line in &outcome.trace {
        let Some((time, node, event)) = parse(line) else {
            continue;
        };
        let is_replica = |name: &str| replicas.iter().any(|r| r == name);
        // What happened to the partition's replicas and leadership: their faults,
        // restarts and recoveries, its truncations and the controller's elections.
        let about_partition = !tp.is_empty()
            && ((node == "nemesis"
                && !event.starts_with("plan")
                && event
                    .split(|c: char| !(c.is_alphanumeric() || c == '-'))
                    .any(is_replica))
                || (is_replica(node)
                    && (event.starts_with("start")
                        || event.starts_with(&recover)
                        || event.starts_with(&truncate)))
                || (node.starts_with(crate::world::CONTROLLER_NAME)
                    && event.contains(&leadership)
                    && noted.insert(event.to_string())));
        let retained = offset.is_some_and(|o| !tp.is_empty() && retention_took(event, &tp, o));
        if names_value(line, &token) || about_partition || retained {
            timeline.push((time, line.clone()));
        }
    }
    let mut reads = 0;
    for entry in &outcome.history.entries {
        let Operation::Poll(poll) = &entry.op else {
            continue;
        };
        for record in poll.records.iter().filter(|r| r.value == value) {
            reads += 1;
            let line = format!(
                "{:>8} {:<11} read v{value} at {}-{}@{}",
                entry.time_ms, entry.process, record.topic, record.partition, record.offset
            );
            timeline.push((entry.time_ms, line));
        }
    }
    timeline.sort_by_key(|(time, _)| *time);
    for (_, line) in timeline {
        let _ = writeln!(text, "  {line}");
    }
    if reads == 0 {
        let _ = writeln!(text, "  (no consumer read it)");
    }
    let anomalies: Vec<_> = outcome
        .anomalies
        .iter()
        .filter(|a| a.values.contains(&value))
        .collect();
    let heading = if anomalies.is_empty() { " none" } else { "" };
    let _ = writeln!(text, "\nanomalies involving it:{heading}");
    for anomaly in anomalies {
        let _ = writeln!(
            text,
            "  {} ({:?}): {} [{}]",
            anomaly.kind, anomaly.verdict, anomaly.detail, anomaly.why
        );
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::retention_took;

    #[test]
    fn retention_lines_name_the_offsets_they_take() {
        let retention = "retention tasks-1: log start 80 -> 96, 1 segment(s) deleted for time, \
                         0 for size, 996 bytes (high watermark 196)";
        assert!(retention_took(retention, "tasks-1", 80));
        assert!(retention_took(retention, "tasks-1", 95));
        assert!(!retention_took(retention, "tasks-1", 96));
        assert!(!retention_took(retention, "tasks-10", 90));
        let follow =
            "follow leader's log start 40: tasks-0 log start 16 -> 32, 1 segment(s) deleted";
        assert!(retention_took(follow, "tasks-0", 20) && !retention_took(follow, "tasks-0", 32));
        let reset = "assign tasks-1@96 (offset-out-of-range at 90, auto.offset.reset=earliest)";
        assert!(retention_took(reset, "tasks-1", 90) && !retention_took(reset, "tasks-1", 89));
        let start = "assign tasks-1@0 (auto.offset.reset=earliest)";
        assert!(!retention_took(start, "tasks-1", 0));
    }
}

//! The run summary: `run` prints it in at most 15 lines for every built-in scenario, and
//! its numbers agree with the history, recomputed here from the history's JSON Lines on
//! their own (not by the harness's functions); the event figures see a partition with no
//! live replica, an ISR below min.insync and a group's rebalances, and nothing of the
//! kind where none happened.

use kafka_sim::checkers::AnomalyKind;
use kafka_sim::cli::history_meta;
use kafka_sim::faults::{Fault, TimedFault};
use kafka_sim::outcome::Outcome;
use kafka_sim::registry;
use kafka_sim::report::{run_report, Detail};
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::Scenario;
use kafka_sim::summary::{KindLine, RunSummary};
use serde_json::Value;
use std::collections::BTreeMap;

fn full_run(scenario: &Scenario, seed: u64) -> Outcome {
    let options = RunOptions {
        keep_trace: true,
        ..RunOptions::default()
    };
    run(scenario, seed, options)
}

/// The lines of the report from `anomalies:` to just before the liveness, crash and result
/// lines: the anomaly summary and the measured table.
fn summary_block(report: &str) -> Vec<&str> {
    report
        .lines()
        .skip_while(|l| !l.starts_with("anomalies:"))
        .take_while(|l| {
            !l.starts_with("result:") && !l.starts_with("LIVENESS") && !l.starts_with("CRASH")
        })
        .collect()
}

#[test]
fn every_builtin_prints_its_anomaly_summary_in_at_most_15_lines() {
    let mut scenarios = registry::current();
    scenarios.extend(registry::historical());
    for scenario in &scenarios {
        for seed in [2, 3] {
            let outcome = full_run(scenario, seed);
            let summary = RunSummary::of_run(&outcome, scenario);
            let report = run_report(&outcome, &scenario.name, &summary, Detail::Summary);
            let block = summary_block(&report);
            assert!(
                block.len() <= 15 && block.contains(&"measured:"),
                "{} seed {seed}: {} lines\n{report}",
                scenario.name,
                block.len()
            );
            assert_eq!(summary.anomalies, outcome.anomalies.len() as u64);
            let counted: u64 = summary.kinds.iter().map(|k| k.count).sum();
            assert_eq!(counted, summary.anomalies, "{}", scenario.name);
            assert!(report.contains("result: "), "{report}");
            if outcome.class.exit_code() != 0 {
                assert!(report.contains("REPRODUCE WITH: "), "{report}");
            }
            // Nothing is lost: the verbose report names every anomaly.
            let verbose = run_report(&outcome, &scenario.name, &summary, Detail::Verbose);
            for anomaly in &outcome.anomalies {
                assert!(verbose.contains(&anomaly.detail), "{}", anomaly.detail);
            }
        }
    }
}

#[test]
fn a_summary_of_many_kinds_and_partitions_still_fits_in_15_lines() {
    // The bound holds by construction, not because the built-ins are small: 24 kinds on 50
    // partitions, 40 readers and 30 groups.
    let outcome = full_run(&registry::find("group-rebalance").unwrap(), 1);
    let mut summary = RunSummary::of_run(&outcome, &registry::find("group-rebalance").unwrap());
    summary.kinds = AnomalyKind::ALL
        .iter()
        .map(|kind| KindLine {
            kind: *kind,
            verdict: kafka_sim::checkers::Verdict::Violation,
            count: 3,
            partitions: (0..50).map(|p| format!("t-{p}")).collect(),
            first_ms: 1,
            last_ms: 2,
            sample_values: vec![1, 2, 3],
        })
        .collect();
    summary.lost_writes = (0..50).map(|p| (format!("t-{p}"), 1)).collect();
    let lag = summary.lag_at_heal[0].clone();
    summary.lag_at_heal = vec![lag; 40];
    let groups = summary.rebalances.clone().unwrap();
    summary.rebalances = Some(groups.iter().cycle().take(30).cloned().collect());
    let lines = summary.lines();
    assert!(lines.len() <= 15, "{}", lines.join("\n"));
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("{} more kinds", AnomalyKind::ALL.len() - 6))),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| l.len() < 400), "{lines:?}");
}

/// The history as JSON values, from the JSON Lines a run writes (the meta line dropped).
fn history_json(scenario: &Scenario, outcome: &Outcome) -> Vec<Value> {
    let mut bytes = Vec::new();
    outcome
        .history
        .write_jsonl(&history_meta(scenario, outcome), &mut bytes)
        .unwrap();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn field<'a>(op: &'a Value, name: &str) -> &'a Value {
    &op["value"][name]
}

/// Nearest rank, written out again.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank - 1]
}

/// (p50, p99, max, count) of acknowledged sends' latencies.
fn latencies(ops: &[Value]) -> Option<(u64, u64, u64, u64)> {
    let mut invoked = BTreeMap::new();
    let mut latencies = Vec::new();
    for op in ops.iter().filter(|op| op["f"] == "send") {
        let key = (
            op["process"].as_str().unwrap().to_string(),
            field(op, "value").as_u64().unwrap(),
        );
        let time = op["time_ms"].as_u64().unwrap();
        match op["type"].as_str().unwrap() {
            "invoke" => {
                invoked.insert(key, time);
            }
            "ok" => latencies.push(time - invoked.remove(&key).unwrap()),
            _ => {
                invoked.remove(&key);
            }
        }
    }
    latencies.sort();
    let max = *latencies.last()?;
    Some((
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        max,
        latencies.len() as u64,
    ))
}

/// What one reader read of one partition since its last `assign` of it: start, and
/// offset -> values with the index of the poll.
#[derive(Default)]
struct LastAssignment {
    start: Option<u64>,
    reads: Vec<(u64, u64, u64)>,
}

/// Acknowledged writes lost per partition, by Jepsen's definition as the README states it:
/// a reader's last assignment of the partition got past the write's offset (or read
/// another value there) without it; for acks=0 (no offset), a reader of the whole partition
/// read on after the send and never saw it.
fn lost_writes(ops: &[Value]) -> BTreeMap<String, u64> {
    let mut last: BTreeMap<(String, String, u64), LastAssignment> = BTreeMap::new();
    for op in ops.iter().filter(|op| op["type"] == "ok") {
        let process = op["process"].as_str().unwrap().to_string();
        match op["f"].as_str().unwrap() {
            "assign" => {
                let key = (
                    process,
                    field(op, "topic").as_str().unwrap().to_string(),
                    field(op, "partition").as_u64().unwrap(),
                );
                last.insert(
                    key,
                    LastAssignment {
                        start: field(op, "offset").as_u64(),
                        reads: Vec::new(),
                    },
                );
            }
            "poll" => {
                for r in field(op, "records").as_array().unwrap() {
                    let key = (
                        process.clone(),
                        r["topic"].as_str().unwrap().to_string(),
                        r["partition"].as_u64().unwrap(),
                    );
                    last.entry(key).or_default().reads.push((
                        r["offset"].as_u64().unwrap(),
                        r["value"].as_u64().unwrap(),
                        op["index"].as_u64().unwrap(),
                    ));
                }
            }
            _ => {}
        }
    }
    let mut lost = BTreeMap::new();
    for op in ops
        .iter()
        .filter(|op| op["type"] == "ok" && op["f"] == "send")
    {
        let topic = field(op, "topic").as_str().unwrap();
        let Some(partition) = field(op, "partition").as_u64() else {
            continue;
        };
        let value = field(op, "value").as_u64().unwrap();
        let index = op["index"].as_u64().unwrap();
        let is_lost = last
            .iter()
            .filter(|((_, t, p), _)| t == topic && *p == partition)
            .any(|(_, view)| {
                let Some(start) = view.start.or(view.reads.first().map(|r| r.0)) else {
                    return false;
                };
                let holds = |o: Option<u64>| {
                    view.reads
                        .iter()
                        .any(|(ro, rv, _)| *rv == value && o.is_none_or(|o| *ro == o))
                };
                match field(op, "offset").as_u64() {
                    Some(offset) => {
                        start <= offset
                            && !holds(Some(offset))
                            && view.reads.iter().any(|(ro, _, _)| *ro >= offset)
                    }
                    None => {
                        start == 0
                            && !holds(None)
                            && view.reads.iter().any(|(_, _, ri)| *ri > index)
                    }
                }
            });
        if is_lost {
            *lost.entry(format!("{topic}-{partition}")).or_insert(0) += 1;
        }
    }
    lost
}

/// Per reader (a consumer, or `group G` for a group's members): acknowledged records by
/// the heal not read by the heal, summed over partitions.
fn lag_at_heal(ops: &[Value], heal_ms: u64) -> BTreeMap<String, u64> {
    let mut group_of = BTreeMap::new();
    for op in ops.iter().filter(|op| op["f"] == "assignment") {
        group_of.insert(
            op["process"].as_str().unwrap(),
            format!("group {}", field(op, "group").as_str().unwrap()),
        );
    }
    let mut acked: BTreeMap<(String, u64), u64> = BTreeMap::new();
    let mut read: BTreeMap<String, BTreeMap<(String, u64), u64>> = BTreeMap::new();
    for op in ops.iter().filter(|op| op["type"] == "ok") {
        let before_heal = op["time_ms"].as_u64().unwrap() <= heal_ms;
        match op["f"].as_str().unwrap() {
            "send" if before_heal => {
                if let Some(offset) = field(op, "offset").as_u64() {
                    let key = (
                        field(op, "topic").as_str().unwrap().to_string(),
                        field(op, "partition").as_u64().unwrap(),
                    );
                    let end = acked.entry(key).or_insert(0);
                    *end = (*end).max(offset + 1);
                }
            }
            "poll" => {
                let process = op["process"].as_str().unwrap();
                let reader = group_of
                    .get(process)
                    .cloned()
                    .unwrap_or_else(|| process.to_string());
                let ends = read.entry(reader).or_default();
                for r in field(op, "records").as_array().unwrap() {
                    if before_heal {
                        let key = (
                            r["topic"].as_str().unwrap().to_string(),
                            r["partition"].as_u64().unwrap(),
                        );
                        let end = ends.entry(key).or_insert(0);
                        *end = (*end).max(r["offset"].as_u64().unwrap() + 1);
                    }
                }
            }
            _ => {}
        }
    }
    read.into_iter()
        .map(|(reader, ends)| {
            let lag = acked
                .iter()
                .map(|(tp, end)| end.saturating_sub(*ends.get(tp).unwrap_or(&0)))
                .sum();
            (reader, lag)
        })
        .collect()
}

#[test]
fn the_summarys_numbers_agree_with_the_history() {
    let cases = [
        ("acks1-failover", 2),
        ("power-loss-async-flush", 3),
        ("acks0-lossy", 1),
        ("group-rebalance", 1),
        ("unclean-election", 3),
        ("smoke", 0),
    ];
    let mut lost_somewhere = false;
    for (name, seed) in cases {
        let scenario = registry::find(name).unwrap();
        let outcome = full_run(&scenario, seed);
        let summary = RunSummary::of_run(&outcome, &scenario);
        let ops = history_json(&scenario, &outcome);
        let latency = summary
            .producer_latency_ms
            .map(|s| (s.p50, s.p99, s.max, s.count));
        assert_eq!(latency, latencies(&ops), "{name} seed {seed}: latency");
        let recomputed = lost_writes(&ops);
        assert_eq!(summary.lost_writes, recomputed, "{name} seed {seed}: lost");
        lost_somewhere |= !recomputed.is_empty();
        let heal_ms = summary.heal_ms.expect("a run knows its heal");
        assert_eq!(heal_ms, scenario.fault_phase_ms, "{name}");
        let lag: BTreeMap<String, u64> = summary
            .lag_at_heal
            .iter()
            .map(|l| (l.reader.clone(), l.records))
            .collect();
        assert_eq!(lag, lag_at_heal(&ops, heal_ms), "{name} seed {seed}: lag");

        // The comparison can fail: a summary that missed one lost write disagrees.
        if let Some(first) = outcome
            .anomalies
            .iter()
            .position(|a| a.kind == AnomalyKind::LostWrite)
        {
            let mut fewer = outcome.anomalies.clone();
            fewer.remove(first);
            let wrong = RunSummary::of_history(&outcome.history, &fewer, Some(heal_ms));
            assert_ne!(wrong.lost_writes, recomputed, "{name}: one write fewer");
        }
    }
    assert!(
        lost_somewhere,
        "some case must lose writes for the test to mean anything"
    );
}

fn with_events(mut scenario: Scenario, events: Vec<TimedFault>) -> Scenario {
    scenario.faults.events = events;
    scenario.faults.nemesis = None;
    scenario
}

fn crash(at_ms: u64, node: &str, restart_after_ms: u64) -> TimedFault {
    TimedFault {
        on: None,
        at_ms,
        fault: Fault::Crash {
            node: node.into(),
            restart_after_ms,
        },
    }
}

#[test]
fn event_figures_show_leaderless_and_under_replicated_time_only_where_it_happened() {
    let quiet = with_events(registry::find("acks-all-failover").unwrap(), Vec::new());
    let summary = RunSummary::of_run(&full_run(&quiet, 1), &quiet);
    assert_eq!(summary.partitions, Some(Vec::new()), "no fault, no figure");
    assert_eq!(summary.min_insync_replicas, Some(2));

    // Two of three replicas down for 8 s: the ISR falls below min.insync (2) everywhere.
    let two_down = with_events(
        quiet.clone(),
        vec![crash(3_000, "b2", 8_000), crash(3_000, "b3", 8_000)],
    );
    let summary = RunSummary::of_run(&full_run(&two_down, 1), &two_down);
    let partitions = summary.partitions.unwrap();
    let tasks: Vec<_> = partitions
        .iter()
        .filter(|p| p.partition.starts_with("tasks-"))
        .collect();
    assert_eq!(tasks.len(), 3, "{partitions:?}");
    assert!(tasks.iter().all(|p| p.below_min_insync_ms > 0), "{tasks:?}");

    // Every replica down: once fenced, no partition has a leader until they return.
    let all_down = with_events(
        quiet.clone(),
        vec![
            crash(3_000, "b1", 8_000),
            crash(3_000, "b2", 8_000),
            crash(3_000, "b3", 8_000),
        ],
    );
    let summary = RunSummary::of_run(&full_run(&all_down, 1), &all_down);
    let partitions = summary.partitions.unwrap();
    assert!(
        partitions
            .iter()
            .filter(|p| p.partition.starts_with("tasks-"))
            .all(|p| p.leaderless_ms > 0 && p.leaderless_ms <= 8_000),
        "{partitions:?}"
    );
}

#[test]
fn rebalances_are_counted_per_group_with_their_durations() {
    let groups = registry::find("group-rebalance").unwrap();
    let summary = RunSummary::of_run(&full_run(&groups, 1), &groups);
    let rebalances = summary.rebalances.unwrap();
    assert_eq!(rebalances.len(), groups.groups.len(), "{rebalances:?}");
    assert!(rebalances
        .iter()
        .all(|g| g.rebalances > 0 && g.duration_ms.is_some_and(|d| d.count == g.rebalances)));
    let smoke = registry::find("smoke").unwrap();
    let summary = RunSummary::of_run(&full_run(&smoke, 0), &smoke);
    assert_eq!(summary.rebalances, Some(Vec::new()));
    // Without every event the event figures are not guessed.
    let lean = run(&smoke, 0, RunOptions::default());
    let summary = RunSummary::of_run(&lean, &smoke);
    assert_eq!((summary.partitions, summary.rebalances), (None, None));
}

/// The column where a measured row's value starts: after the label and its padding.
fn value_column(row: &str) -> usize {
    let gap = row[2..].find("  ").expect("a label, two spaces, a value") + 2;
    gap + row[gap..].len() - row[gap..].trim_start().len()
}

#[test]
fn the_min_insync_row_says_writes_were_refused_only_for_acks_all_and_values_align() {
    let two_down = vec![crash(3_000, "b2", 8_000), crash(3_000, "b3", 8_000)];
    for (name, acks, label) in [
        (
            "acks-all-failover",
            "all",
            "ISR < min.insync 2 (acks=all refused)",
        ),
        (
            "acks1-failover",
            "1",
            "ISR < min.insync 2 (acks=1: none refused)",
        ),
    ] {
        let scenario = with_events(registry::find(name).unwrap(), two_down.clone());
        assert_eq!(scenario.acks().as_str(), acks);
        let summary = RunSummary::of_run(&full_run(&scenario, 1), &scenario);
        let lines = summary.lines();
        let rows: Vec<&String> = lines
            .iter()
            .skip_while(|l| *l != "measured:")
            .skip(1)
            .collect();
        let row = rows
            .iter()
            .find(|r| r.contains("ISR < min.insync"))
            .unwrap_or_else(|| panic!("{name}: {lines:#?}"));
        assert!(row.contains(label), "{name}: {row}");
        assert!(
            row.contains("tasks-"),
            "{name}: two of three replicas down: {row}"
        );
        if acks != "all" {
            assert!(!row.contains("acks=all"), "{name}: {row}");
        }
        let columns: std::collections::BTreeSet<usize> =
            rows.iter().map(|r| value_column(r)).collect();
        assert_eq!(
            columns.len(),
            1,
            "{name}: values start in one column: {rows:#?}"
        );
    }
}

//! Determinism, the referee of every result: the same scenario and seed give a byte-identical
//! trace, run twice in one process and in two separate processes; one pinned scenario's
//! trace is a snapshot, so that any change of behaviour shows up in review.

use kafka_sim::faults::{Fault, TimedFault};
use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::{Scenario, Workload};
use std::collections::BTreeMap;
use std::process::Command;

const SEEDS: u64 = 200;
/// Set in the child processes of the cross-process test.
const CHILD_ENV: &str = "KAFKA_SIM_PRINT_TRACE_HASHES";

fn hashes() -> BTreeMap<u64, u64> {
    let scenario = registry::standard();
    (0..SEEDS)
        .map(|seed| (seed, run(&scenario, seed, RunOptions::default()).trace_hash))
        .collect()
}

#[test]
fn same_seed_same_trace_in_one_process() {
    let first = hashes();
    let second = hashes();
    assert_eq!(first, second);
    let mut distinct: Vec<u64> = first.values().copied().collect();
    distinct.sort();
    distinct.dedup();
    assert!(
        distinct.len() as u64 > SEEDS * 9 / 10,
        "different seeds must give different runs"
    );
}

/// Not a test of its own: the cross-process test runs it in child processes.
#[test]
fn print_trace_hashes_for_parent() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    for (seed, hash) in hashes() {
        println!("TRACE-HASH {seed} {hash:016x}");
    }
}

/// `print_trace_hashes_for_parent` by its full name in the test binary that holds this file
/// (`determinism::print_trace_hashes_for_parent` in `all`): the module path without the crate.
fn child_test_name() -> String {
    match module_path!().split_once("::") {
        Some((_crate, path)) => format!("{path}::print_trace_hashes_for_parent"),
        None => "print_trace_hashes_for_parent".into(),
    }
}

fn child_hashes() -> BTreeMap<u64, u64> {
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args([
            child_test_name().as_str(),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("running the test binary again");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        // libtest may print its own words before the first line.
        .filter_map(|line| line.split_once("TRACE-HASH ").map(|(_, rest)| rest))
        .map(|rest| {
            let (seed, hash) = rest.split_once(' ').expect("seed and hash");
            (
                seed.parse().unwrap(),
                u64::from_str_radix(hash, 16).unwrap(),
            )
        })
        .collect()
}

#[test]
fn same_seed_same_trace_across_processes() {
    let one = child_hashes();
    let two = child_hashes();
    assert_eq!(one.len() as u64, SEEDS);
    assert_eq!(one, two);
    assert_eq!(one, hashes(), "a child process and this one disagree");
}

/// A small pinned story: two brokers, twelve records, a crash and a one-way partition.
fn pinned() -> Scenario {
    Scenario {
        name: "pinned".into(),
        brokers: 2,
        workload: Workload {
            records: 12,
            rate_per_s: 20,
            keys: 4,
            ..Workload::default()
        },
        faults: kafka_sim::scenario::Faults {
            events: vec![
                TimedFault {
                    on: None,
                    at_ms: 250,
                    fault: Fault::Crash {
                        node: "b1".into(),
                        restart_after_ms: 300,
                    },
                },
                TimedFault {
                    on: None,
                    at_ms: 400,
                    fault: Fault::PartitionOneWay {
                        from: vec!["b2".into()],
                        to: vec!["producer-1".into()],
                        duration_ms: 200,
                    },
                },
            ],
            nemesis: None,
            ..kafka_sim::scenario::Faults::default()
        },
        fault_phase_ms: 1_000,
        ..Scenario::default()
    }
}

#[test]
fn pinned_trace_snapshot() {
    let outcome = run(
        &pinned(),
        42,
        RunOptions {
            keep_trace: true,
            ..RunOptions::default()
        },
    );
    assert_eq!(outcome.class.exit_code(), 0);
    insta::assert_snapshot!("pinned_trace", outcome.trace.join("\n"));
}

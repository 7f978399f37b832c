//! A sweep's memory stays flat: each run's runtime, world and history are freed when it ends.
//! This test has a binary of its own because resident memory is per process: another test
//! running beside it on the harness's threads would count as growth.

use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions};

fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<f64>()
        .unwrap()
        / 1024.0
}

/// Each run's runtime, world and history are freed when it ends: a sweep's memory stays
/// flat (DESIGN.md section 9). A leak of one run's state is megabytes, so 300 runs of it
/// would show far above the slack allowed here.
#[test]
fn memory_stays_flat_over_many_runs() {
    let scenario = registry::find("crash-restart").unwrap();
    for seed in 0..30 {
        run(&scenario, seed, RunOptions::default());
    }
    let before = resident_mib();
    for seed in 30..330 {
        run(&scenario, seed, RunOptions::default());
    }
    let growth = resident_mib() - before;
    assert!(
        growth < 40.0,
        "resident memory grew by {growth:.1} MiB over 300 runs"
    );
}

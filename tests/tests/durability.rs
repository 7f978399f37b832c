//! Durability of acknowledged records on a single replica: a process crash keeps the page
//! cache, so nothing acknowledged is lost; a power loss without fsync loses what was not
//! flushed (allowed: Kafka relies on replication), and fsync on every append prevents it.

use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim_tests::{acknowledged_values, explain, kinds, read_values};

const SEEDS: u64 = 100;

/// Sends that ended `info`.
fn indeterminate(outcome: &kafka_sim::outcome::Outcome) -> usize {
    outcome
        .history
        .entries
        .iter()
        .filter(|e| e.op_type == kafka_sim::history::OpType::Info)
        .filter(|e| matches!(e.op, kafka_sim::history::Operation::Send(_)))
        .count()
}

#[test]
fn acknowledged_records_survive_process_crashes() {
    let scenario = registry::find("crash-restart").unwrap();
    let mut crashes = 0;
    for seed in 0..SEEDS {
        let outcome = run(&scenario, seed, RunOptions::default());
        assert_eq!(outcome.class.exit_code(), 0, "{}", explain(&outcome));
        let acknowledged = acknowledged_values(&outcome);
        let read = read_values(&outcome);
        let missing: Vec<_> = acknowledged.difference(&read).collect();
        assert!(
            missing.is_empty(),
            "acknowledged but never read: {missing:?}\n{}",
            explain(&outcome)
        );
        // Every send completes: acknowledged, or `info` when the producer cannot tell (a
        // later sequence was acknowledged first, or its epoch was bumped while the batch may
        // have been written); none is refused outright.
        let completed = acknowledged.len() + indeterminate(&outcome);
        assert_eq!(
            completed as u64,
            scenario.workload.records,
            "{}",
            explain(&outcome)
        );
        crashes += outcome.fault_plan.len();
    }
    assert!(
        crashes as u64 >= SEEDS,
        "the scenario must actually crash brokers"
    );
}

#[test]
fn power_loss_without_fsync_loses_acknowledged_records() {
    let scenario = registry::find("single-replica-power-loss").unwrap();
    let mut lossy_seeds = 0;
    for seed in 0..SEEDS {
        let outcome = run(&scenario, seed, RunOptions::default());
        assert_eq!(
            outcome.class.exit_code(),
            0,
            "loss is allowed here: {}",
            explain(&outcome)
        );
        let lost: Vec<_> = outcome
            .anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::LostWrite)
            .collect();
        assert!(lost.iter().all(|a| a.verdict == Verdict::Allowed));
        if !lost.is_empty() {
            lossy_seeds += 1;
        }
    }
    assert!(
        lossy_seeds > SEEDS / 4,
        "only {lossy_seeds} of {SEEDS} seeds lost a write"
    );
}

#[test]
fn power_loss_with_fsync_on_every_append_loses_nothing() {
    let scenario = registry::find("single-replica-power-loss-fsync").unwrap();
    for seed in 0..SEEDS {
        let outcome = run(&scenario, seed, RunOptions::default());
        assert_eq!(outcome.class.exit_code(), 0, "{}", explain(&outcome));
        assert!(kinds(&outcome).is_empty(), "{}", explain(&outcome));
        let missing: Vec<_> = acknowledged_values(&outcome)
            .difference(&read_values(&outcome))
            .copied()
            .collect();
        assert!(
            missing.is_empty(),
            "lost {missing:?}: {}",
            explain(&outcome)
        );
    }
}

/// The power-loss checker is not vacuous: the same faults on an acks=all cluster that
/// claims its appends are durable (a wrong promise) are reported as violations.
#[test]
fn lost_writes_are_violations_where_durability_is_promised() {
    let scenario = registry::find("single-replica-power-loss").unwrap();
    let mut violations = 0;
    for seed in 0..20 {
        let outcome = run(&scenario, seed, RunOptions::default());
        let mut promises = kafka_sim::runner::promises(&scenario);
        let judged = |promises: &kafka_sim::checkers::Promises| {
            let mut found = kafka_sim::checkers::check_all(&outcome.history, promises);
            let state = kafka_sim::excuse::StatePartitions::of(&scenario);
            kafka_sim::excuse::apply(&mut found, &outcome.losses, promises, state);
            found
                .iter()
                .filter(|a| a.kind == AnomalyKind::LostWrite && a.verdict == Verdict::Violation)
                .count()
        };
        assert_eq!(
            judged(&promises),
            0,
            "seed {seed}: the power loss excuses them"
        );
        promises.async_flush = false;
        violations += judged(&promises);
    }
    assert!(violations > 0);
}

/// Every replica losing power at once with async flush still loses acknowledged writes
/// (allowed), and each allowed anomaly names its chain, which the event log confirms: the
/// power loss, the recovery without the record, the leadership after it.
#[test]
fn correlated_power_loss_losses_are_allowed_each_with_a_chain_the_log_confirms() {
    let scenario = registry::find("power-loss-async-flush").unwrap();
    let options = RunOptions {
        keep_trace: true,
        ..RunOptions::default()
    };
    let mut lost = 0;
    for seed in 0..8 {
        let outcome = run(&scenario, seed, options);
        assert_eq!(outcome.class.exit_code(), 0, "{}", explain(&outcome));
        for anomaly in outcome.allowed() {
            kafka_sim_tests::chains::check_chain(&outcome, anomaly)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            lost += usize::from(anomaly.kind == AnomalyKind::LostWrite);
        }
    }
    assert!(
        lost > 0,
        "a correlated power loss loses acknowledged writes"
    );
}

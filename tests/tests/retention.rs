//! Retention (issue 4): a simulated week of `retention-lag` deletes, by `retention.ms`, records
//! a slow consumer has not read; the consumer resets after OffsetOutOfRange and the records
//! it skipped are reported as `retention-skip` (allowed), never as loss. A broker whose
//! retention passes the high watermark (a deliberately broken variant) is caught: the
//! records it deleted are lost writes, and its log start passing the high watermark is a
//! violation of its own; the same run with Kafka's bound shows no violation.

use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::history::{OpType, Operation, OFFSET_OUT_OF_RANGE};
use kafka_sim::outcome::{Outcome, OutcomeClass};
use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::Scenario;
use kafka_sim::sweep::sweep;
use kafka_sim_tests::explain;
use std::collections::BTreeMap;
use std::sync::Mutex;

const DAY_MS: u64 = 24 * 3_600_000;

fn retention_lag() -> Scenario {
    registry::find("retention-lag").expect("retention-lag is built in")
}

/// The forward resets after OffsetOutOfRange in a history: (from, to, policy).
fn forward_resets(outcome: &Outcome) -> Vec<(u64, u64, String)> {
    outcome
        .history
        .entries
        .iter()
        .filter(|e| e.op_type == OpType::Ok)
        .filter_map(|e| match &e.op {
            Operation::Assign(assign) => assign.skipped().map(|skipped| {
                assert_eq!(assign.reason, OFFSET_OUT_OF_RANGE);
                let policy = assign.auto_offset_reset.clone().unwrap_or_default();
                (skipped.start, skipped.end, policy)
            }),
            _ => None,
        })
        .collect()
}

#[test]
fn retention_lag_skips_records_by_retention_and_loses_none_over_50_seeds() {
    let scenario = retention_lag();
    let seeds: Vec<u64> = (0..50).collect();
    let resets = Mutex::new(BTreeMap::new());
    let results = sweep(&scenario, &seeds, |outcome| {
        let forward = forward_resets(outcome);
        assert!(
            forward.iter().all(|(_, _, policy)| policy == "earliest"),
            "{forward:?}"
        );
        resets.lock().unwrap().insert(outcome.seed, forward.len());
    });
    for result in &results {
        let unexpected: Vec<_> = result
            .anomalies
            .iter()
            .filter(|a| **a != (AnomalyKind::RetentionSkip, Verdict::Allowed))
            .collect();
        let detail = || explain(&run(&scenario, result.seed, RunOptions::default()));
        assert!(
            result.class == OutcomeClass::Pass && unexpected.is_empty(),
            "seed {}: {:?} {unexpected:?}\n{}",
            result.seed,
            result.class,
            detail()
        );
        assert!(
            result
                .anomalies
                .contains(&(AnomalyKind::RetentionSkip, Verdict::Allowed)),
            "seed {}: the slow consumer never fell behind the log start",
            result.seed
        );
        assert!(result.simulated_ms >= 8 * DAY_MS, "the run covers the week");
    }
    let resets = resets.into_inner().unwrap();
    assert!(
        resets.values().all(|count| *count >= 10),
        "resets per seed: {resets:?}"
    );
}

#[test]
fn the_week_is_deleted_by_time_and_a_broker_down_two_days_restarts_its_logs() {
    let outcome = run(
        &retention_lag(),
        0,
        RunOptions {
            keep_trace: true,
            ..RunOptions::default()
        },
    );
    assert_eq!(outcome.class, OutcomeClass::Pass, "{}", explain(&outcome));
    let retention: Vec<&String> = outcome
        .trace
        .iter()
        .filter(|line| line.contains(" retention tasks-"))
        .collect();
    assert!(retention.len() > 100, "{} passes deleted", retention.len());
    assert!(
        retention
            .iter()
            .all(|line| line.contains("for time, 0 for size")),
        "retention.bytes is unlimited: {retention:?}"
    );
    // b3 is down from day 2 to day 4; the leaders have deleted past its logs' ends.
    let b3_resets: Vec<&String> = outcome
        .trace
        .iter()
        .filter(|line| line.contains(" b3 ") && line.contains("is below the leader's log start"))
        .collect();
    assert_eq!(b3_resets.len(), 3, "one per partition: {b3_resets:?}");
    // A quiet cluster: the week costs tens of thousands of messages, not millions.
    assert!(
        outcome.stats.messages_sent < 100_000,
        "{} messages",
        outcome.stats.messages_sent
    );
    let again = run(&retention_lag(), 0, RunOptions::default());
    assert_eq!(again.trace_hash, outcome.trace_hash, "the week replays");
}

/// A leader whose followers are cut off for 4 s while it rolls small segments and keeps
/// only its active one (`retention.bytes = 0`): its high watermark stands still, so only a
/// broker whose retention ignores the high watermark deletes records in that time.
fn followers_cut_off(bounded_by_high_watermark: bool) -> Scenario {
    let text = format!(
        r#"
name = "retention-past-high-watermark"
brokers = 3
fault_phase_ms = 12000

[[topics]]
name = "tasks"
partitions = 1
replication_factor = 3

[broker]
min_insync_replicas = 2
replica_lag_time_max_ms = 10000
retention_bounded_by_high_watermark = {bounded_by_high_watermark}

[broker.log]
segment_bytes = 256
retention_bytes = 0
retention_check_interval_ms = 200

[workload]
records = 300
rate_per_s = 30

[[faults.events]]
at_ms = 3000
kind = "partition"
groups = [["b1"], ["b2", "b3"]]
duration_ms = 4000
"#
    );
    Scenario::from_toml(&text, "followers-cut-off").expect("a valid scenario")
}

#[test]
fn retention_past_the_high_watermark_is_caught_and_kafkas_bound_passes() {
    let seeds: Vec<u64> = (0..20).collect();
    let broken = sweep(&followers_cut_off(false), &seeds, |_| {});
    for result in &broken {
        assert_eq!(result.class, OutcomeClass::SafetyViolation, "{result:?}");
        for kind in [
            AnomalyKind::LostWrite,
            AnomalyKind::LogStartPastHighWatermark,
        ] {
            assert!(
                result.anomalies.contains(&(kind, Verdict::Violation)),
                "seed {}: no {kind} violation in {:?}",
                result.seed,
                result.anomalies
            );
        }
    }
    let correct = followers_cut_off(true);
    for result in sweep(&correct, &seeds, |_| {}) {
        assert!(
            result.class == OutcomeClass::Pass
                && result.anomalies.iter().all(|(_, v)| *v == Verdict::Allowed),
            "seed {}: {:?} {:?}\n{}",
            result.seed,
            result.class,
            result.anomalies,
            explain(&run(&correct, result.seed, RunOptions::default()))
        );
    }
}

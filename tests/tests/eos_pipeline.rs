//! The exactly-once pipeline end to end (`examples/eos-pipeline.toml`): orders consumed,
//! shipments produced in the same transaction as the consumed offsets, under broker,
//! coordinator, controller and member faults. Read read_committed downstream, every order
//! has exactly one shipment; read read_uncommitted, the aborted attempts' shipments show and
//! are reported as allowed; broken applications are caught; bad pipeline settings are
//! refused naming the field.

use crate::txn_support::{example, passing_run};
use kafka_model::member::CommitMode;
use kafka_model::txn::IsolationLevel;
use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::history::{OpType, Operation};
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::{Scenario, ScenarioError};

fn eos_pipeline() -> Scenario {
    example("eos-pipeline.toml")
}

/// Committed and aborted pipeline transactions of a history.
fn pipeline_outcomes(history: &kafka_sim::history::History) -> (usize, usize) {
    let mut counts = (0, 0);
    for entry in &history.entries {
        let Operation::Txn(txn) = &entry.op else {
            continue;
        };
        if txn.polled().next().is_none() {
            continue;
        }
        match entry.op_type {
            OpType::Ok => counts.0 += 1,
            OpType::Fail => counts.1 += 1,
            _ => {}
        }
    }
    counts
}

#[test]
fn every_order_has_exactly_one_shipment_read_committed_under_failover() {
    let scenario = eos_pipeline();
    let (mut committed, mut aborted) = (0, 0);
    for seed in 0..24 {
        let outcome = passing_run(&scenario, seed);
        let (c, a) = pipeline_outcomes(&outcome.history);
        committed += c;
        aborted += a;
    }
    // Every 5th transaction aborts on purpose, and faults abort others: the rewind runs.
    assert!(
        committed > 24 * 20 && aborted > 24 * 5,
        "{committed} committed, {aborted} aborted"
    );
}

#[test]
fn read_uncommitted_downstream_reads_aborted_attempts_reported_as_allowed() {
    let mut scenario = eos_pipeline();
    scenario.consumer.isolation_level = IsolationLevel::ReadUncommitted;
    let (mut duplicates, mut aborted_reads) = (0, 0);
    for seed in 0..8 {
        let outcome = passing_run(&scenario, seed);
        for anomaly in &outcome.anomalies {
            assert_eq!(anomaly.verdict, Verdict::Allowed, "{anomaly:?}");
            match anomaly.kind {
                AnomalyKind::DuplicateEffect => duplicates += 1,
                AnomalyKind::G1a => aborted_reads += 1,
                other => panic!("seed {seed}: unexpected {other}: {anomaly:?}"),
            }
        }
    }
    assert!(
        duplicates > 8 && aborted_reads > 8,
        "{duplicates} duplicate effects, {aborted_reads} aborted reads"
    );
}

/// In how many of `seeds` the run shows a violation of `kind`.
fn seeds_violating(scenario: &Scenario, seeds: std::ops::Range<u64>, kind: AnomalyKind) -> usize {
    seeds
        .filter(|&seed| {
            let outcome = run(scenario, seed, RunOptions::default());
            outcome
                .anomalies
                .iter()
                .any(|a| a.kind == kind && a.verdict == Verdict::Violation)
        })
        .count()
}

#[test]
fn a_pipeline_that_does_not_rewind_after_an_abort_loses_effects() {
    let mut scenario = eos_pipeline();
    scenario.groups[0].rewind_after_abort = false;
    let caught = seeds_violating(&scenario, 0..8, AnomalyKind::LostEffect);
    assert!(caught >= 6, "caught in {caught} of 8 seeds");
}

#[test]
fn a_pre_kip_447_pipeline_whose_zombies_commit_offsets_duplicates_effects() {
    let mut scenario = eos_pipeline();
    scenario.groups[0].fence_with_generation = false;
    let caught = seeds_violating(&scenario, 0..24, AnomalyKind::DuplicateEffect);
    assert!(caught >= 2, "caught in {caught} of 24 seeds");
}

#[test]
fn pipeline_settings_are_checked_naming_the_field() {
    let refused = |change: &dyn Fn(&mut Scenario), field: &str| {
        let mut scenario = eos_pipeline();
        change(&mut scenario);
        match scenario.validate("eos.toml") {
            Err(ScenarioError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        }
    };
    refused(
        &|s| s.groups[0].output_topic = None,
        "groups[0].output_topic",
    );
    refused(
        &|s| s.groups[0].output_topic = Some("nowhere".into()),
        "groups[0].output_topic",
    );
    refused(
        &|s| s.groups[0].output_topic = Some("orders".into()),
        "groups[0].output_topic",
    );
    refused(
        &|s| s.groups[0].abort_every = Some(0),
        "groups[0].abort_every",
    );
    refused(
        &|s| {
            s.groups[0].commit_mode = CommitMode::AfterProcessing;
            s.groups[0].abort_every = None;
        },
        "groups[0].output_topic",
    );
    refused(
        &|s| s.producer.idempotence = Some(false),
        "groups[0].commit_mode",
    );
    assert!(eos_pipeline().validate("eos.toml").is_ok());
}

/// The built-in `eos-pipeline` (which `sweep all` runs) is the scenario its example file
/// describes, so that what the README shows from the file is what the sweep runs.
#[test]
fn the_built_in_eos_pipeline_is_its_example_file() {
    let built_in = kafka_sim::registry::find("eos-pipeline").expect("a built-in");
    assert_eq!(built_in, eos_pipeline());
    assert!(kafka_sim::registry::names().contains(&"eos-pipeline".to_string()));
}

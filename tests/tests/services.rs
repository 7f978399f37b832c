//! Services (issue 14): user code with Kafka-shaped clients running as replicated nodes
//! that the faults crash and restart. A relay consumes the workload topic in a group of
//! two and produces each record to an output topic; under a leader's crash and a relay
//! replica's crash it passes the built-in checkers, and every input reaches the output.
//! The same relay committing before it produces loses records a crash catches between
//! the commit and the send: the relay's own contract (every input relayed), a user check,
//! fails the run, and the failure shrinks.

use kafka_sim::app::{CheckInput, ServiceContext};
use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::faults::alias::NodeAlias;
use kafka_sim::faults::FaultKind;
use kafka_sim::history::{OpType, Operation};
use kafka_sim::outcome::OutcomeClass;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::{Scenario, ScenarioError};
use kafka_sim::scenario_builder::ScenarioBuilder;
use kafka_sim::shrink::shrink_to;
use std::collections::BTreeSet;

/// The relay's work per record (a transformation, a lookup): the window a crash can hit.
const WORK_MS: u64 = 5;

/// Relays each record of `tasks` to `relayed`, keyed by the input's id so that the
/// history shows which input each output derives from. Commits after the send (at
/// least once), or before it when `commit_first` (the broken variant: at most once).
async fn relay(ctx: ServiceContext, commit_first: bool) {
    let producer = ctx.producer();
    let mut consumer = ctx.consumer("relay");
    consumer.subscribe(&["tasks"]);
    loop {
        let record = consumer.recv().await;
        if commit_first && consumer.commit().await.is_err() {
            continue;
        }
        ctx.sleep(WORK_MS).await;
        let key = record.id.to_string();
        // A send that failed is sent again: the record must be relayed.
        while producer
            .send("relayed", Some(&key), record.value.clone())
            .await
            .is_err()
        {
            ctx.sleep(100).await;
        }
        if !commit_first {
            let _ = consumer.commit().await;
        }
    }
}

/// Three brokers, `tasks` and `relayed` x3 at RF 3, acks=all, 400 records at 20/s, and
/// the relay (two replicas) writing `relayed`, which the plain consumer reads too.
fn relay_cluster(name: &str, commit_first: bool) -> ScenarioBuilder {
    ScenarioBuilder::new(name)
        .brokers(3)
        .topic("tasks", 3)
        .replication_factor(3)
        .topic("relayed", 3)
        .replication_factor(3)
        .min_insync_replicas(2)
        .acks("all")
        .records(400, 20)
        .service("relay", 2, move |ctx| relay(ctx, commit_first))
        .service_output("relayed")
        .check("every input relayed", every_input_relayed)
}

fn relay_scenario(commit_first: bool) -> Scenario {
    let name = if commit_first {
        "relay-commit-first"
    } else {
        "relay"
    };
    relay_cluster(name, commit_first)
        .at_ms(12_000)
        .crash(NodeAlias::leader_of("tasks", 0))
        .restart_after_ms(3_000)
        .at_ms(13_000)
        .crash("relay-1")
        .restart_after_ms(1_500)
        .at_ms(16_000)
        .crash("relay-2")
        .restart_after_ms(1_500)
        .heal_at_ms(20_000)
        .build()
        .expect("a valid scenario")
}

/// The relay's own contract, as a user check: every input some reader read has an output
/// some reader read (an output's key is its input's id).
fn every_input_relayed(run: &CheckInput) -> Result<(), String> {
    let inputs: BTreeSet<u64> = run.records_read("tasks").iter().map(|r| r.id).collect();
    let relayed: BTreeSet<u64> = run
        .records_read("relayed")
        .iter()
        .filter_map(|r| r.key.as_ref()?.parse().ok())
        .collect();
    let missing: Vec<u64> = inputs.difference(&relayed).copied().collect();
    match missing.len() {
        0 => Ok(()),
        n => Err(format!(
            "{n} inputs never relayed, e.g. {:?}",
            &missing[..n.min(5)]
        )),
    }
}

#[test]
fn a_relay_passes_the_checkers_and_relays_every_input_under_crashes() {
    let scenario = relay_scenario(false);
    for seed in 1..=50 {
        let outcome = run(&scenario, seed, RunOptions::default());
        assert_eq!(
            outcome.class,
            OutcomeClass::Pass,
            "seed {seed}: {:?} {:?} {:?}",
            outcome.anomalies,
            outcome.liveness_problems,
            outcome.crash
        );
        let sends = |topic: &str| {
            outcome
                .history
                .entries
                .iter()
                .filter(|e| {
                    e.op_type == OpType::Ok
                        && matches!(&e.op, Operation::Send(s) if s.topic == topic)
                })
                .count()
        };
        assert!(
            sends("relayed") >= sends("tasks"),
            "seed {seed}: every acknowledged input was relayed at least once"
        );
    }
}

#[test]
fn a_relay_that_commits_before_it_produces_loses_records_to_a_crash() {
    let scenario = relay_scenario(true);
    let (seed, lost) = (1..=20)
        .map(|seed| (seed, run(&scenario, seed, RunOptions::default())))
        .find(|(_, outcome)| outcome.class != OutcomeClass::Pass)
        .expect("a crash between the commit and the send loses the record");
    // The built-in checkers hold (the cluster lost nothing): only the relay's own check
    // fails, and it fails the run.
    assert_eq!(lost.class, OutcomeClass::SafetyViolation);
    assert!(
        lost.anomalies
            .iter()
            .all(|a| a.kind == AnomalyKind::UserCheck && a.verdict == Verdict::Violation),
        "{:?}",
        lost.anomalies
    );
    assert!(lost.anomalies[0]
        .detail
        .starts_with("every input relayed: "));
    // It shrinks like a built-in anomaly: the smaller plan still fails the check.
    let report = shrink_to(&scenario, seed, Some(AnomalyKind::UserCheck), |_| {})
        .expect("the failure shrinks");
    let shrunk = run(&report.minimal, seed, RunOptions::default());
    assert!(shrunk
        .anomalies
        .iter()
        .any(|a| a.kind == AnomalyKind::UserCheck));
    assert!(report.minimal_fault_events < report.original_fault_events);
    assert_eq!(
        report.minimal.services.checks.len(),
        1,
        "shrinking keeps the check"
    );
}

#[test]
fn a_user_check_that_panics_or_fails_on_a_good_run_fails_it() {
    let failing = relay_cluster("relay-strict", false)
        .check("no record at all", |run| {
            match run.records_read("relayed").len() {
                0 => Ok(()),
                n => Err(format!("{n} records read")),
            }
        })
        .check("panics", |_| panic!("boom"))
        .heal_at_ms(20_000)
        .build()
        .expect("a valid scenario");
    let outcome = run(&failing, 1, RunOptions::default());
    let details: Vec<&str> = outcome
        .anomalies
        .iter()
        .map(|a| a.detail.as_str())
        .collect();
    assert_eq!(outcome.class, OutcomeClass::SafetyViolation, "{details:?}");
    assert!(
        details.iter().any(|d| d.starts_with("no record at all: ")),
        "{details:?}"
    );
    assert!(
        details.contains(&"panics: the check panicked: boom"),
        "{details:?}"
    );
}

#[test]
fn the_nemesis_crashes_service_replicas_and_the_relay_still_passes() {
    let scenario = relay_cluster("relay-nemesis", false)
        .nemesis(&[FaultKind::Crash], 3_000)
        .swarm(false)
        .heal_at_ms(20_000)
        .build()
        .expect("a valid scenario");
    let mut relays_crashed = 0;
    for seed in 1..=20 {
        let outcome = run(&scenario, seed, RunOptions::default());
        assert_eq!(
            outcome.class,
            OutcomeClass::Pass,
            "seed {seed}: {:?} {:?}",
            outcome.anomalies,
            outcome.liveness_problems
        );
        relays_crashed += outcome
            .fault_plan
            .iter()
            .filter(|e| e.fault.nodes().iter().any(|n| n.starts_with("relay-")))
            .count();
    }
    assert!(relays_crashed > 0, "the nemesis picks service replicas");
}

#[test]
fn a_replay_of_a_service_run_is_identical() {
    let scenario = relay_scenario(false);
    let first = run(&scenario, 7, RunOptions::default());
    let again = run(&scenario, 7, RunOptions::default());
    assert_eq!(first.trace_hash, again.trace_hash);
    assert_eq!(first.history, again.history);
}

#[test]
fn bad_services_are_refused_naming_the_field() {
    let field = |builder: ScenarioBuilder| match builder.build() {
        Err(ScenarioError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid scenario, got {other:?}"),
    };
    let noop = |_ctx: ServiceContext| async {};
    assert_eq!(
        field(ScenarioBuilder::new("s").service("relay", 0, noop)),
        "services[0].replicas"
    );
    assert_eq!(
        field(ScenarioBuilder::new("s").service("relay-x", 1, noop)),
        "services[0].name"
    );
    // `producer-1` is the workload's producer.
    assert_eq!(
        field(ScenarioBuilder::new("s").service("producer", 1, noop)),
        "services[0].name"
    );
    assert_eq!(
        field(
            ScenarioBuilder::new("s")
                .service("a", 1, noop)
                .service("a", 1, noop)
        ),
        "services[1].name"
    );
    assert_eq!(
        field(ScenarioBuilder::new("s").service_output("nowhere")),
        "service_outputs[0]"
    );
    let ok = |_: &CheckInput| Ok(());
    assert_eq!(
        field(ScenarioBuilder::new("s").check("c", ok).check("c", ok)),
        "checks[1].name"
    );
    assert_eq!(
        field(ScenarioBuilder::new("s").check(" ", ok)),
        "checks[0].name"
    );
}

//! Consumer groups (issue 4): members join, sync and heartbeat with a coordinator that
//! lives on the leader of their offsets-topic partition; commits are fenced by generation
//! and survive coordinator failover. Over hundreds of seeds of member and broker faults the
//! group checkers find no violation and every group settles after the heal; at-least-once
//! duplicates processing but never loses it, at-most-once the reverse; a coordinator that
//! does not fence stale commits is caught.

use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::outcome::OutcomeClass;
use kafka_sim::registry;
use kafka_sim::scenario::Scenario;
use kafka_sim::sweep::{sweep, SeedResult};
use kafka_sim::sweep_judge::{judge, Status};

fn sweep_seeds(scenario: &Scenario, seeds: std::ops::Range<u64>) -> Vec<SeedResult> {
    let seeds: Vec<u64> = seeds.collect();
    sweep(scenario, &seeds, |_| {})
}

fn seeds_with(results: &[SeedResult], kind: AnomalyKind, verdict: Verdict) -> usize {
    results
        .iter()
        .filter(|r| r.anomalies.contains(&(kind, verdict)))
        .count()
}

/// Seeds that failed (a violation, a liveness failure or a crash), with their outcome.
fn failures(results: &[SeedResult]) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.class != OutcomeClass::Pass)
        .map(|r| format!("seed {}: {:?} {:?}", r.seed, r.class, r.anomalies))
        .collect()
}

#[test]
fn group_rebalance_holds_over_300_seeds_and_duplicates_without_losing() {
    let results = sweep_seeds(&registry::find("group-rebalance").unwrap(), 0..300);
    assert!(failures(&results).is_empty(), "{:?}", failures(&results));
    // At-least-once: members that die before committing leave records to be processed
    // again, and that shows; nothing below a committed offset goes unprocessed.
    assert!(seeds_with(&results, AnomalyKind::DuplicateProcessing, Verdict::Allowed) > 0);
    for kind in [
        AnomalyKind::LostProcessing,
        AnomalyKind::DuplicateProcessing,
    ] {
        assert_eq!(seeds_with(&results, kind, Verdict::Violation), 0, "{kind}");
    }
    assert_eq!(
        seeds_with(&results, AnomalyKind::LostProcessing, Verdict::Allowed),
        0
    );
    // The real coordinator fences every stale commit: not even an allowed report.
    for kind in [
        AnomalyKind::StaleCommit,
        AnomalyKind::CommitBackwards,
        AnomalyKind::GroupOwnership,
    ] {
        assert!(
            results
                .iter()
                .all(|r| r.anomalies.iter().all(|(k, _)| *k != kind)),
            "{kind}"
        );
    }
}

#[test]
fn coordinator_failover_holds_over_300_seeds() {
    let results = sweep_seeds(&registry::find("coordinator-failover").unwrap(), 0..300);
    assert!(failures(&results).is_empty(), "{:?}", failures(&results));
    assert_eq!(
        seeds_with(&results, AnomalyKind::LostProcessing, Verdict::Allowed),
        0
    );
}

#[test]
fn commit_before_process_loses_processing_as_allowed_and_never_duplicates() {
    let results = sweep_seeds(&registry::find("commit-before-process").unwrap(), 0..60);
    assert!(failures(&results).is_empty(), "{:?}", failures(&results));
    assert!(seeds_with(&results, AnomalyKind::LostProcessing, Verdict::Allowed) > 0);
    for verdict in [Verdict::Allowed, Verdict::Violation] {
        assert_eq!(
            seeds_with(&results, AnomalyKind::DuplicateProcessing, verdict),
            0,
            "an at-most-once group processes nothing twice"
        );
    }
    let expect = registry::find("commit-before-process").unwrap().expect;
    for judgement in judge(&expect, &results) {
        assert!(
            matches!(judgement.status, Status::Met { .. }),
            "commit-before-process over 0..60: {}",
            judgement.line()
        );
    }
}

#[test]
fn a_coordinator_that_accepts_stale_generation_commits_is_caught() {
    let mut scenario = registry::find("group-rebalance").unwrap();
    scenario.broker.group.accept_stale_generation_commits = true;
    let results = sweep_seeds(&scenario, 0..150);
    assert!(
        seeds_with(&results, AnomalyKind::StaleCommit, Verdict::Violation) > 0,
        "a zombie's commit accepted after the next generation must be reported"
    );
    assert!(
        seeds_with(&results, AnomalyKind::CommitBackwards, Verdict::Violation) > 0,
        "the zombie's lower offset overwrites the new owner's"
    );
}

#[test]
fn a_coordinator_that_never_bumps_the_generation_is_caught() {
    let mut scenario = registry::find("group-rebalance").unwrap();
    scenario.broker.group.keep_generation_on_rebalance = true;
    let results = sweep_seeds(&scenario, 0..40);
    assert!(
        seeds_with(&results, AnomalyKind::GroupOwnership, Verdict::Violation) > 0,
        "two members owning a partition in one generation must be reported"
    );
}

#[test]
fn a_new_group_with_auto_offset_reset_latest_starts_at_the_end_and_loses_nothing() {
    use kafka_model::config::OffsetReset;
    use kafka_sim::history::Operation;
    let mut scenario = registry::find("group-rebalance").unwrap();
    scenario.faults = Default::default();
    scenario.consumer.auto_offset_reset = OffsetReset::Latest;
    let outcome = kafka_sim::runner::run(&scenario, 0, Default::default());
    assert_eq!(outcome.class, OutcomeClass::Pass, "{:?}", outcome.anomalies);
    assert!(outcome.anomalies.is_empty(), "{:?}", outcome.anomalies);
    // The groups join about a second in, with records already written: they start past them.
    let starts: Vec<u64> = outcome
        .history
        .entries
        .iter()
        .filter_map(|e| match &e.op {
            Operation::Assign(a) if a.reason.contains("latest") => Some(a.offset),
            _ => None,
        })
        .collect();
    assert!(
        !starts.is_empty() && starts.iter().all(|o| *o > 0),
        "{starts:?}"
    );
}

#[test]
fn a_group_that_never_settles_is_a_liveness_violation() {
    // The first rebalance waits longer than the whole run: nobody ever gets a partition.
    let mut scenario = registry::find("coordinator-failover").unwrap();
    scenario.faults = Default::default();
    scenario.broker.group.group_initial_rebalance_delay_ms = 500_000;
    for group in &mut scenario.groups {
        group.rebalance_timeout_ms = 600_000;
    }
    let outcome = kafka_sim::runner::run(&scenario, 0, Default::default());
    assert_eq!(outcome.class, OutcomeClass::LivenessViolation);
    assert!(
        outcome
            .liveness_problems
            .iter()
            .any(|p| p.contains("group g1")),
        "{:?}",
        outcome.liveness_problems
    );
}

#[test]
fn an_at_least_once_group_that_commits_before_processing_is_caught_losing() {
    // The at-most-once run, judged as if the group had promised at-least-once: a member
    // that commits before it processes is the broken consumer the promise rules out.
    use kafka_sim::checkers::{check_all, Promises};
    let scenario = registry::find("commit-before-process").unwrap();
    let outcome = kafka_sim::runner::run(&scenario, 1, Default::default());
    let judged = |at_most_once_groups: Vec<String>| {
        let promises = Promises {
            idempotence: true,
            retries: true,
            max_in_flight_above_one: true,
            acks: "all".into(),
            at_most_once_groups,
            ..Promises::default()
        };
        check_all(&outcome.history, &promises)
            .into_iter()
            .filter(|a| a.kind == AnomalyKind::LostProcessing)
            .map(|a| a.verdict)
            .collect::<Vec<_>>()
    };
    let as_promised = judged(vec!["amo".into()]);
    assert!(!as_promised.is_empty() && as_promised.iter().all(|v| *v == Verdict::Allowed));
    let broken = judged(Vec::new());
    assert!(!broken.is_empty() && broken.iter().all(|v| *v == Verdict::Violation));
}

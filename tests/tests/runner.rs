//! The runner's contract: a panic or deadlock inside the simulation is an outcome of its own
//! class, never a crashed or hung caller; a run that cannot finish its work after the heal
//! is a liveness violation.

use kafka_sim::outcome::OutcomeClass;
use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions, Stall};

#[test]
fn a_panic_inside_the_simulation_is_a_crash_outcome() {
    let scenario = registry::find("smoke").unwrap();
    let options = RunOptions {
        panic_at_ms: Some(500),
        ..RunOptions::default()
    };
    let outcome = run(&scenario, 1, options);
    assert_eq!(outcome.class, OutcomeClass::Crash);
    assert_eq!(outcome.class.exit_code(), 4);
    assert!(outcome
        .crash
        .as_deref()
        .unwrap()
        .contains("deliberate panic at 500ms"));
    // What happened before the panic is still there to look at.
    assert!(outcome.stats.history_entries > 0);
}

#[test]
fn an_actor_that_waits_forever_on_nothing_is_a_deadlock() {
    let scenario = registry::find("smoke").unwrap();
    for node in ["producer-1", "consumer-1"] {
        let options = RunOptions {
            stall: Some(Stall { node, at_ms: 800 }),
            ..RunOptions::default()
        };
        let outcome = run(&scenario, 1, options);
        assert_eq!(outcome.class, OutcomeClass::Crash, "{node}");
        assert_eq!(outcome.class.exit_code(), 4);
        let crash = outcome.crash.as_deref().unwrap();
        assert!(
            crash.starts_with(&format!("deadlock: {node} waits on nothing")),
            "{crash}"
        );
    }
    // Without the stall the same run passes: an actor that is done also waits with no
    // timer, and that is no deadlock.
    assert_eq!(
        run(&scenario, 1, RunOptions::default()).class,
        OutcomeClass::Pass
    );
}

#[test]
fn work_left_after_the_bound_is_a_liveness_violation() {
    let mut scenario = registry::find("crash-restart").unwrap();
    // The cluster gets 1 ms after the heal: the workload has not even been sent. The
    // producer keeps its timers, so it waits; it is not deadlocked.
    scenario.liveness_ms = 1;
    scenario.fault_phase_ms = 500;
    scenario.faults.events.clear();
    let outcome = run(&scenario, 3, RunOptions::default());
    assert_eq!(outcome.class, OutcomeClass::LivenessViolation);
    assert_eq!(outcome.class.exit_code(), 3);
    assert!(
        outcome
            .liveness_problems
            .iter()
            .any(|p| p.contains("producer-1")),
        "{:?}",
        outcome.liveness_problems
    );
}

#[test]
fn the_bench_scenarios_are_valid_and_app_failover_loses_nothing_with_acks_all() {
    use kafka_sim::registry::bench_scenarios;
    use kafka_sim::sweep::{sweep, SeedResult};
    for scenario in bench_scenarios::scenarios() {
        scenario.validate("bench").unwrap();
        assert!(registry::find(&scenario.name).is_some(), "found by name");
    }
    let seeds: Vec<u64> = (0..8).collect();
    let lost = |scenario: &kafka_sim::scenario::Scenario| -> u64 {
        sweep(scenario, &seeds, |_| {})
            .iter()
            .map(|r: &SeedResult| r.lost_writes)
            .sum()
    };
    let app = bench_scenarios::app_failover();
    assert_eq!(lost(&app), 0);
    // The same failover with acks=1 loses what only the crashed leader had: the bench's
    // count of lost records can tell the two apart.
    let mut acks_1 = app;
    acks_1.producer.acks = kafka_model::config::Acks::Leader;
    acks_1.producer.idempotence = Some(false);
    assert!(lost(&acks_1) > 0, "acks=1 lost nothing in 8 failovers");
}

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

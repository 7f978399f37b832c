//! What the transactional suites share: their example scenarios, loaded from examples/,
//! and a run that must pass.

use kafka_sim::outcome::{Outcome, OutcomeClass};
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::Scenario;

/// `examples/{file}`, as a user's `kafka-sim run examples/{file}` reads it.
pub fn example(file: &str) -> Scenario {
    let path = format!("{}/../examples/{file}", env!("CARGO_MANIFEST_DIR"));
    Scenario::from_file(std::path::Path::new(&path)).expect("the example loads")
}

/// The run of `seed`, asserted to pass.
pub fn passing_run(scenario: &Scenario, seed: u64) -> Outcome {
    let outcome = run(scenario, seed, RunOptions::default());
    assert_eq!(
        outcome.class,
        OutcomeClass::Pass,
        "seed {seed}: {:?}",
        outcome.anomalies
    );
    outcome
}

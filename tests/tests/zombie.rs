//! Zombie producers end to end (`examples/zombie-producer.toml`): a transactional producer
//! paused mid-transaction comes back after its successor re-initialized the transactional
//! id, and is fenced; with `fence_producer_epochs = false` a partition leader lets the
//! zombie's records in, and zombie-write finds them after the successor's.

use crate::txn_support::{example, passing_run};
use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::history::{History, Mop, OpType, Operation};
use kafka_sim::outcome::OutcomeClass;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::{Scenario, ScenarioError};

const SEEDS: std::ops::Range<u64> = 0..24;

fn zombie_producer() -> Scenario {
    example("zombie-producer.toml")
}

/// The values of `process`'s transactions that ended fenced.
fn fenced_values(history: &History, process: &str) -> Vec<u64> {
    history
        .entries
        .iter()
        .filter(|e| e.process == process && e.op_type == OpType::Fail)
        .filter_map(|e| match &e.op {
            Operation::Txn(txn) if txn.error.as_deref().is_some_and(is_fenced) => Some(txn),
            _ => None,
        })
        .flat_map(|txn| {
            txn.mops.iter().filter_map(|m| match m {
                Mop::Send(send) => Some(send.value),
                Mop::Poll { .. } => None,
            })
        })
        .collect()
}

fn is_fenced(error: &str) -> bool {
    error.contains("PRODUCER_FENCED") || error.contains("INVALID_PRODUCER_EPOCH")
}

/// The epochs `process`'s transactions ran with.
fn epochs(history: &History, process: &str) -> Vec<u16> {
    history
        .entries
        .iter()
        .filter(|e| e.process == process)
        .filter_map(|e| match &e.op {
            Operation::Txn(txn) => txn.producer_epoch,
            _ => None,
        })
        .collect()
}

#[test]
fn the_paused_producer_comes_back_a_zombie_and_is_fenced() {
    let scenario = zombie_producer();
    let mut fenced = 0;
    for seed in SEEDS {
        let outcome = passing_run(&scenario, seed);
        let (first, successor) = (
            epochs(&outcome.history, "producer-1"),
            epochs(&outcome.history, "producer-1-successor"),
        );
        // Whichever instance initialized last fences the other (producer-1 may still be
        // initializing when its successor gets in): their epochs never interleave.
        let apart = |a: &[u16], b: &[u16]| a.iter().max() < b.iter().min();
        assert!(
            apart(&first, &successor) || apart(&successor, &first),
            "seed {seed}: epochs {first:?} and the successor's {successor:?}"
        );
        if !fenced_values(&outcome.history, "producer-1").is_empty() {
            fenced += 1;
        }
    }
    // The first instance is fenced unless it ended its work before its successor got in.
    assert!(fenced * 2 > SEEDS.count(), "fenced in {fenced} seeds");
}

#[test]
fn without_epoch_fencing_a_zombies_records_land_after_its_successors_and_are_caught() {
    let mut broken = zombie_producer();
    broken.broker.fence_producer_epochs = false;
    let good = zombie_producer();
    let mut caught = Vec::new();
    for seed in SEEDS {
        let outcome = run(&broken, seed, RunOptions::default());
        let zombie = fenced_values(&outcome.history, "producer-1");
        let blamed = outcome.anomalies.iter().any(|a| {
            (a.kind, a.verdict) == (AnomalyKind::ZombieWrite, Verdict::Violation)
                && a.values.iter().any(|v| zombie.contains(v))
        });
        if blamed {
            assert_eq!(outcome.class, OutcomeClass::SafetyViolation);
            caught.push(seed);
        }
    }
    assert!(!caught.is_empty(), "no seed of {SEEDS:?} caught the zombie");
    for &seed in &caught {
        let outcome = run(&good, seed, RunOptions::default());
        assert_eq!(
            outcome.class,
            OutcomeClass::Pass,
            "seed {seed} with fencing"
        );
    }
}

#[test]
fn a_successor_outside_the_run_or_without_transactions_is_refused_naming_the_field() {
    let invalid = |toml: &str| match Scenario::from_toml(toml, "t.toml") {
        Err(ScenarioError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let transactional = "[producer]\ntransactional_id = \"tx\"\n";
    for at_ms in ["0", "100000", "200000"] {
        let toml = format!("{transactional}[transactions]\nsuccessor_at_ms = {at_ms}\n");
        assert_eq!(invalid(&toml), "transactions.successor_at_ms", "{at_ms}");
    }
    assert_eq!(
        invalid("[transactions]\nsuccessor_at_ms = 5000\n"),
        "transactions"
    );
    let toml = format!("{transactional}[transactions]\nsuccessor_at_ms = 5000\n");
    let scenario = Scenario::from_toml(&toml, "t.toml").expect("a successor within the run");
    assert_eq!(
        scenario.client_names(),
        ["producer-1", "producer-1-successor", "consumer-1"]
    );
}

/// The built-in `zombie-producer` (which `sweep all` runs) is the scenario its example
/// file describes, so that what the README shows from the file is what the sweep runs.
#[test]
fn the_built_in_zombie_producer_is_its_example_file() {
    let built_in = kafka_sim::registry::find("zombie-producer").expect("a built-in");
    assert_eq!(built_in, zombie_producer());
    assert!(kafka_sim::registry::names().contains(&"zombie-producer".to_string()));
}

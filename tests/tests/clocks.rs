//! Clocks that start apart: with `faults.clock_skew_ms` each node's clock starts off by up
//! to that much, drawn from a stream of its own, so the same seed keeps its faults and
//! workload and replays exactly; and skewed clocks break no promise of the built-ins that
//! hold without them (Kafka's protocols never compare two nodes' clocks for safety).

use kafka_sim::events::{Actor, EventKind};
use kafka_sim::outcome::OutcomeClass;
use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions};

const SKEW_MS: u64 = 5_000;

fn skews(events: &[kafka_sim::events::Event]) -> Vec<i64> {
    events
        .iter()
        .filter(|e| e.actor == Actor::Nemesis)
        .filter_map(|e| match &e.kind {
            EventKind::Note(note) if note.starts_with("clock of ") => {
                let off = note.split("starts ").nth(1)?.trim_end_matches("ms off");
                off.parse().ok()
            }
            _ => None,
        })
        .collect()
}

#[test]
fn each_clock_starts_off_within_the_bound_from_a_stream_of_its_own() {
    let plain = registry::find("acks-all-failover").unwrap();
    let mut skewed = plain.clone();
    skewed.faults.clock_skew_ms = SKEW_MS;
    let traced = RunOptions {
        keep_trace: true,
        ..RunOptions::default()
    };
    for seed in 0..3 {
        let outcome = run(&skewed, seed, traced);
        let offsets = skews(outcome.events.events());
        let nodes = 3 + 3 + 2; // brokers, controllers, clients
        assert_eq!(offsets.len(), nodes, "seed {seed}: one skew a node");
        assert!(offsets.iter().all(|o| o.unsigned_abs() <= SKEW_MS));
        assert!(
            offsets.iter().any(|o| *o != 0),
            "seed {seed}: no clock is off"
        );
        let without = run(&plain, seed, traced);
        assert!(skews(without.events.events()).is_empty());
        assert_eq!(
            outcome.fault_plan, without.fault_plan,
            "seed {seed}: the skew moved the fault plan"
        );
        assert_eq!(
            outcome.trace_hash,
            run(&skewed, seed, traced).trace_hash,
            "seed {seed}: a skewed run replays exactly"
        );
    }
}

#[test]
fn skewed_clocks_break_no_promise_the_built_ins_keep() {
    for name in [
        "acks-all-failover",
        "group-rebalance",
        "coordinator-failover",
        "retention-lag",
    ] {
        let mut scenario = registry::find(name).unwrap();
        scenario.faults.clock_skew_ms = SKEW_MS;
        for seed in 0..6 {
            let outcome = run(&scenario, seed, RunOptions::default());
            assert_eq!(
                outcome.class,
                OutcomeClass::Pass,
                "{name} seed {seed}: {:?} {:?}",
                outcome.anomalies.first(),
                outcome.liveness_problems
            );
        }
    }
}

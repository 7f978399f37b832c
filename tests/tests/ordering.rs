//! Per-partition ordering under generated fault plans: with idempotence no ordering anomaly
//! is ever a violation, and without it the checkers find the reordering and duplicates that
//! Kafka allows (so they can fail).

use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim_tests::{explain, explain_generated, kinds, scenario, violations, ORDERING};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
        .max(256)
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N runs more.
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Idempotent producer, fsync on every append, every fault kind including power loss:
    /// no ordering anomaly at all, allowed or not, and every run passes.
    #[test]
    fn idempotence_with_fsync_shows_no_ordering_anomaly(mut scenario in scenario(true), seed in any::<u64>()) {
        scenario.broker.log.flush_messages = Some(1);
        scenario.validate("generated").unwrap();
        let outcome = run(&scenario, seed, RunOptions::default());
        let found: Vec<AnomalyKind> = kinds(&outcome).into_iter().filter(|k| ORDERING.contains(k)).collect();
        prop_assert!(found.is_empty(), "{}", explain_generated(&scenario, &outcome));
        prop_assert_eq!(outcome.class.exit_code(), 0, "{}", explain_generated(&scenario, &outcome));
    }

    /// Idempotent producer with Kafka's default async flush: power loss may cut
    /// acknowledged records (allowed), but nothing is ever a violation.
    #[test]
    fn idempotence_with_async_flush_shows_no_violation(scenario in scenario(true), seed in any::<u64>()) {
        scenario.validate("generated").unwrap();
        let outcome = run(&scenario, seed, RunOptions::default());
        prop_assert!(violations(&outcome).is_empty(), "{}", explain_generated(&scenario, &outcome));
        prop_assert_eq!(outcome.class.exit_code(), 0, "{}", explain_generated(&scenario, &outcome));
    }
}

/// Without idempotence, with retries and 5 requests in flight, a lossy network makes retried
/// batches overtake later ones and land twice. Kafka allows it, so the run still passes.
#[test]
fn retries_without_idempotence_reorder_and_duplicate() {
    let scenario = registry::find("retries-without-idempotence").unwrap();
    let mut found = std::collections::BTreeSet::new();
    for seed in 0..20 {
        let outcome = run(&scenario, seed, RunOptions::default());
        assert_eq!(outcome.class.exit_code(), 0, "{}", explain(&outcome));
        assert!(
            outcome
                .anomalies
                .iter()
                .all(|a| a.verdict == Verdict::Allowed),
            "{}",
            explain(&outcome)
        );
        found.extend(kinds(&outcome));
    }
    assert!(found.contains(&AnomalyKind::NonmonotonicSend), "{found:?}");
    assert!(found.contains(&AnomalyKind::Duplicate), "{found:?}");
}

/// A broker that does not check producer sequences (no KIP-98) breaks the idempotent
/// producer's promise: the same faults now give violations, and the run fails.
#[test]
fn a_broker_without_sequence_checks_is_caught() {
    let mut scenario = registry::find("retries-without-idempotence").unwrap();
    scenario.producer.idempotence = Some(true);
    scenario.broker.check_producer_sequences = false;
    let mut failing = 0;
    for seed in 0..20 {
        let outcome = run(&scenario, seed, RunOptions::default());
        if outcome.class.exit_code() == 1 {
            failing += 1;
            let bad = violations(&outcome);
            assert!(
                bad.contains(&AnomalyKind::Duplicate)
                    || bad.contains(&AnomalyKind::NonmonotonicSend),
                "{}",
                explain(&outcome)
            );
        }
    }
    assert!(failing > 0, "no seed of 20 caught the broken broker");
    // The correct broker on the same seeds passes.
    scenario.broker.check_producer_sequences = true;
    for seed in 0..20 {
        let outcome = run(&scenario, seed, RunOptions::default());
        assert_eq!(outcome.class.exit_code(), 0, "{}", explain(&outcome));
    }
}

//! What Kafka promises on replicated clusters under generated fault plans: up to 3 replicas
//! a partition, quorums of 1, 3 and 5 controllers, several producers, consumer groups, and
//! fsync on every append or async flush.

use kafka_sim::checkers::AnomalyKind;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim_tests::{explain_generated, kinds, replicated_scenario, violations, ORDERING};
use proptest::prelude::*;

/// `default` cases, or PROPTEST_CASES if that is more: replicated runs are several times
/// an RF 1 run, so these properties take fewer cases than ordering.rs.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(default)
}

/// The anomalies that lose an acknowledged or committed record.
const LOSS: [AnomalyKind; 2] = [AnomalyKind::LostWrite, AnomalyKind::CommittedRecordLost];

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(24), ..ProptestConfig::default() })]

    /// acks=all, idempotence, fsync on every append, clean election, every fault kind
    /// including power loss: no violation, and no record lost or reordered at all, not
    /// even as an allowed anomaly.
    #[test]
    fn durable_settings_lose_and_reorder_nothing(mut scenario in replicated_scenario(true), seed in any::<u64>()) {
        scenario.broker.log.flush_messages = Some(1);
        scenario.validate("generated").unwrap();
        prop_assert!(scenario.producer.idempotence_enabled() && !scenario.controller.unclean_leader_election);
        let outcome = run(&scenario, seed, RunOptions::default());
        let found: Vec<AnomalyKind> = kinds(&outcome)
            .into_iter()
            .filter(|k| LOSS.contains(k) || ORDERING.contains(k))
            .collect();
        prop_assert!(found.is_empty(), "{:?}: {}", found, explain_generated(&scenario, &outcome));
        prop_assert_eq!(outcome.class.exit_code(), 0, "{}", explain_generated(&scenario, &outcome));
    }

    /// The same clusters with whatever flush was drawn (async, every few records, every
    /// record): power loss may cut acknowledged records (allowed), nothing is a violation.
    #[test]
    fn any_flush_policy_shows_no_violation(scenario in replicated_scenario(true), seed in any::<u64>()) {
        scenario.validate("generated").unwrap();
        let outcome = run(&scenario, seed, RunOptions::default());
        prop_assert!(violations(&outcome).is_empty(), "{}", explain_generated(&scenario, &outcome));
        prop_assert_eq!(outcome.class.exit_code(), 0, "{}", explain_generated(&scenario, &outcome));
    }
}

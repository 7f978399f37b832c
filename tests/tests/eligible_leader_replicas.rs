//! KIP-966's eligible leader replicas against Last Replica Standing: over the seeds where
//! `last-replica-standing` loses acknowledged writes without ELR, ELR loses none; with
//! `min.insync.replicas=2` (`last-replica-standing-elr`) the cluster also recovers, through
//! a replica elected from the ELR; and an ELR that takes a broker's restart after a power
//! loss for a clean shutdown loses the writes again.

use kafka_model::reach::RarePath;
use kafka_sim::checkers::AnomalyKind;
use kafka_sim::outcome::OutcomeClass;
use kafka_sim::registry;
use kafka_sim::scenario::Scenario;
use kafka_sim::sweep::{sweep, SeedResult};

fn sweep_seeds(scenario: &Scenario, seeds: &[u64]) -> Vec<SeedResult> {
    sweep(scenario, seeds, |_| {})
}

/// Whether a seed lost acknowledged writes: the lost-write checker's records, or the
/// committed-record-lost invariant, whatever the verdict (a power loss under async flush
/// excuses them; the point here is whether they happen).
fn lost(result: &SeedResult) -> bool {
    result.lost_writes > 0
        || result.anomalies.iter().any(|(kind, _)| {
            matches!(
                kind,
                AnomalyKind::LostWrite | AnomalyKind::CommittedRecordLost
            )
        })
}

fn with_elr(scenario: &Scenario, unclean_shutdown_detection: bool) -> Scenario {
    let mut scenario = scenario.clone();
    scenario.controller.eligible_leader_replicas = true;
    scenario.controller.unclean_shutdown_detection = unclean_shutdown_detection;
    scenario
}

/// The seeds of `0..20` where `scenario` loses acknowledged writes; at least one, or the
/// comparison proves nothing.
fn lossy_seeds(scenario: &Scenario) -> Vec<u64> {
    let all: Vec<u64> = (0..20).collect();
    let lossy: Vec<u64> = sweep_seeds(scenario, &all)
        .iter()
        .filter(|r| lost(r))
        .map(|r| r.seed)
        .collect();
    assert!(
        !lossy.is_empty(),
        "{}: no seed of 0..20 loses acknowledged writes without ELR",
        scenario.name
    );
    lossy
}

#[test]
fn with_eligible_leader_replicas_the_last_replica_standing_loses_no_acknowledged_write() {
    let scenario = registry::find("last-replica-standing").unwrap();
    assert!(!scenario.controller.eligible_leader_replicas);
    let lossy = lossy_seeds(&scenario);
    let results = sweep_seeds(&with_elr(&scenario, true), &lossy);
    for result in &results {
        assert!(
            !lost(result),
            "seed {} lost writes with ELR: {result:?}",
            result.seed
        );
        // With min.insync.replicas=1 the ISR is b1 alone at the power loss: its unclean
        // restart leaves no eligible replica, and the partitions wait offline (Kafka's
        // trade: unavailable, not lossy). Never a safety violation.
        assert_ne!(result.class, OutcomeClass::SafetyViolation, "{result:?}");
    }
}

#[test]
fn with_min_insync_2_the_eligible_replica_leads_and_nothing_is_lost() {
    let elr = registry::find("last-replica-standing-elr").unwrap();
    assert!(elr.controller.eligible_leader_replicas);
    let mut without = elr.clone();
    without.controller.eligible_leader_replicas = false;
    let lossy = lossy_seeds(&without);
    let results = sweep_seeds(&elr, &lossy);
    for result in &results {
        assert!(
            !lost(result),
            "seed {} lost writes with ELR: {result:?}",
            result.seed
        );
        assert_eq!(result.class, OutcomeClass::Pass, "{result:?}");
    }
    assert!(
        results
            .iter()
            .any(|r| r.reached.contains(&RarePath::EligibleLeaderElected)),
        "some seed recovers by electing an eligible leader replica: {results:?}"
    );
}

#[test]
fn an_elr_that_trusts_every_restart_as_a_clean_shutdown_loses_acknowledged_writes() {
    for name in ["last-replica-standing", "last-replica-standing-elr"] {
        let scenario = registry::find(name).unwrap();
        let broken = with_elr(&scenario, false);
        let all: Vec<u64> = (0..20).collect();
        let results = sweep_seeds(&broken, &all);
        assert!(
            results.iter().any(lost),
            "{name}: an ELR that keeps b1 eligible after its power loss elects it without \
             the records it lost, in some seed: {results:?}"
        );
    }
}

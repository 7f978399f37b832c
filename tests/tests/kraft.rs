//! KRaft (issue 7): the controller is a Raft quorum. Quorums of 3 and 5 controllers under
//! crashes, pauses and partitions of controllers and brokers keep every quorum invariant
//! (SingleLeader, MonotonicEpoch, MonotonicHighWatermark, MajorityReachedHighWatermark,
//! no truncation below the high watermark, MetadataLogMatching) and every data-plane
//! property, and recover after the heal (the liveness phase needs an active controller to
//! elect partition leaders and let every send finish); broken quorum protocols are caught.

use kafka_model::raft::RaftVariant;
use kafka_sim::builtin;
use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::outcome::OutcomeClass;
use kafka_sim::scenario::Scenario;
use kafka_sim::sweep::{sweep, SeedResult};

fn controller_failover(voters: u32, protocol: RaftVariant) -> Scenario {
    let mut scenario = builtin::find("controller-failover").unwrap();
    scenario.controller.voters = voters;
    scenario.controller.quorum_protocol = protocol;
    scenario
}

fn sweep_seeds(scenario: &Scenario, seeds: std::ops::Range<u64>) -> Vec<SeedResult> {
    let seeds: Vec<u64> = seeds.collect();
    sweep(scenario, &seeds, |_| {})
}

#[test]
fn quorums_of_three_and_five_keep_every_invariant_over_300_seeds() {
    for voters in [3, 5] {
        let results = sweep_seeds(&controller_failover(voters, RaftVariant::Correct), 0..300);
        let failed: Vec<_> = results
            .iter()
            .filter(|r| r.class != OutcomeClass::Pass || !r.anomalies.is_empty())
            .map(|r| (r.seed, r.class, r.anomalies.clone()))
            .collect();
        assert!(failed.is_empty(), "{voters} voters: {failed:?}");
    }
}

/// The first seed whose run shows a controller-quorum or metadata-log-matching violation.
fn first_caught(results: &[SeedResult]) -> Option<u64> {
    results
        .iter()
        .find(|r| {
            r.anomalies.iter().any(|(kind, verdict)| {
                matches!(
                    kind,
                    AnomalyKind::ControllerQuorum | AnomalyKind::MetadataLogMatching
                ) && *verdict == Verdict::Violation
            })
        })
        .map(|r| r.seed)
}

// Counting a duplicated vote (`RaftVariant::CountVoteTwice`) needs a network that
// duplicates messages, which this one does not: model/src/raft's own cluster tests catch it.
#[test]
fn committing_without_a_majority_is_caught() {
    let results = sweep_seeds(
        &controller_failover(5, RaftVariant::CommitWithoutMajority),
        0..100,
    );
    assert!(
        first_caught(&results).is_some(),
        "a leader that commits on its own log must break a quorum invariant"
    );
}

#[test]
fn a_quorum_that_never_elects_an_active_controller_is_a_liveness_violation() {
    // Election timeouts longer than the whole run: no controller ever stands.
    let mut scenario = controller_failover(3, RaftVariant::Correct);
    scenario.controller.election_timeout_ms = 200_000;
    scenario.controller.fetch_timeout_ms = 400_000;
    scenario.faults = Default::default();
    let outcome = kafka_sim::runner::run(&scenario, 0, Default::default());
    assert_eq!(outcome.class, OutcomeClass::LivenessViolation);
    assert!(
        outcome
            .liveness_problems
            .iter()
            .any(|p| p.contains("controller quorum: no active controller")),
        "{:?}",
        outcome.liveness_problems
    );
}

//! KRaft (issue 7): the controller is a Raft quorum. Quorums of 3 and 5 controllers under
//! crashes, pauses and partitions of controllers and brokers keep every quorum invariant
//! (SingleLeader, MonotonicEpoch, MonotonicHighWatermark, MajorityReachedHighWatermark,
//! no truncation below the high watermark, MetadataLogMatching) and every data-plane
//! property, and recover after the heal (the liveness phase needs an active controller to
//! elect partition leaders and let every send finish); broken quorum protocols are caught.
//! Replaced disks (disk loss) of a minority of the controllers keep all of it, thanks to
//! KIP-853's directory ids; without them, a replaced disk votes again and committed
//! metadata is lost.

use kafka_model::raft::RaftVariant;
use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::faults::{Fault, TimedFault};
use kafka_sim::outcome::OutcomeClass;
use kafka_sim::registry;
use kafka_sim::runner::fault_plan;
use kafka_sim::scenario::Scenario;
use kafka_sim::sweep::{sweep, SeedResult};

fn controller_failover(voters: u32, protocol: RaftVariant) -> Scenario {
    let mut scenario = registry::find("controller-failover").unwrap();
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

fn controller_disk_loss(voters: u32, protocol: RaftVariant) -> Scenario {
    let mut scenario = registry::find("controller-disk-loss").unwrap();
    scenario.controller.voters = voters;
    scenario.controller.quorum_protocol = protocol;
    if voters < 5 {
        // One disk loss is all three voters allow: let the nemesis pick the controller.
        scenario.faults.events.clear();
    }
    scenario
}

fn disk_losses(scenario: &Scenario, seeds: std::ops::Range<u64>) -> usize {
    seeds
        .flat_map(|seed| fault_plan(scenario, seed).1)
        .filter(|e| matches!(e.fault, Fault::DiskLoss { .. }))
        .count()
}

#[test]
fn replaced_disks_of_a_minority_keep_every_invariant_over_300_seeds() {
    for voters in [3, 5] {
        let scenario = controller_disk_loss(voters, RaftVariant::Correct);
        let results = sweep_seeds(&scenario, 0..300);
        let failed: Vec<_> = results
            .iter()
            .filter(|r| r.class != OutcomeClass::Pass || !r.anomalies.is_empty())
            .map(|r| (r.seed, r.class, r.anomalies.clone()))
            .collect();
        assert!(failed.is_empty(), "{voters} voters: {failed:?}");
        let lost = disk_losses(&scenario, 0..300);
        assert!(
            lost > 150,
            "{voters} voters: only {lost} disk losses in 300 seeds"
        );
    }
}

/// Controller-3 is cut off from the start; then controller-1 crashes for long and
/// controller-2's disk is replaced at once: only controller-3 and the empty controller-2
/// are up when the partition heals.
fn replaced_disk_story(protocol: RaftVariant) -> Scenario {
    let mut scenario = controller_disk_loss(3, protocol);
    let others = [
        "controller-1",
        "controller-2",
        "b1",
        "b2",
        "b3",
        "producer-1",
        "consumer-1",
    ];
    let at = |at_ms: u64, fault: Fault| TimedFault {
        on: None,
        at_ms,
        fault,
    };
    scenario.faults.nemesis = None;
    scenario.faults.events = vec![
        at(
            1,
            Fault::Partition {
                groups: vec![
                    vec!["controller-3".into()],
                    others.iter().map(|n| n.to_string()).collect(),
                ],
                duration_ms: 7_000,
            },
        ),
        at(
            5_000,
            Fault::Crash {
                node: "controller-1".into(),
                restart_after_ms: 10_000,
            },
        ),
        at(
            5_000,
            Fault::DiskLoss {
                node: "controller-2".into(),
                restart_after_ms: 1_000,
            },
        ),
    ];
    scenario.validate("replaced-disk story").unwrap();
    scenario
}

#[test]
fn a_replaced_disk_that_votes_again_loses_committed_metadata_unless_directory_ids_are_checked() {
    // With directory ids, controller-2 only observes: controller-3 cannot win alone, and
    // waits for controller-1, which holds the committed metadata log.
    let results = sweep_seeds(&replaced_disk_story(RaftVariant::Correct), 0..10);
    assert!(
        results
            .iter()
            .all(|r| r.class == OutcomeClass::Pass && r.anomalies.is_empty()),
        "{results:?}"
    );
    // Without, controller-2 votes for controller-3, whose log is empty: a leader that
    // lacks what was committed, which then commits other records at the same offsets.
    let scenario = replaced_disk_story(RaftVariant::IgnoreDirectoryId);
    for seed in 0..10 {
        let outcome = kafka_sim::runner::run(&scenario, seed, Default::default());
        let quorum: Vec<&str> = outcome
            .anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::ControllerQuorum && a.verdict == Verdict::Violation)
            .map(|a| a.detail.as_str())
            .collect();
        assert!(
            quorum
                .iter()
                .any(|d| d.starts_with("ConsistentCommittedData")),
            "seed {seed}: {quorum:?}"
        );
    }
}

#[test]
fn ignoring_directory_ids_is_caught_in_a_sweep_of_the_nemesis() {
    let results = sweep_seeds(
        &controller_disk_loss(3, RaftVariant::IgnoreDirectoryId),
        0..40,
    );
    assert!(
        first_caught(&results).is_some(),
        "a replaced disk that counts as a voter must break a quorum invariant"
    );
}

#[test]
fn disk_loss_is_refused_for_unknown_nodes_brokers_and_more_than_a_minority() {
    let event = |node: &str| {
        format!(
            "[[faults.events]]\nat_ms = 1\nkind = \"disk-loss\"\nnode = \"{node}\"\n\
             restart_after_ms = 500\n"
        )
    };
    let quorum = "[controller]\nvoters = 5\n";
    let ok = format!("{quorum}{}{}", event("controller-1"), event("controller-3"));
    let scenario = Scenario::from_toml(&ok, "x.toml").unwrap();
    assert_eq!(scenario.scripted_disk_losses().len(), 2);
    let cases = [
        (
            format!("{quorum}{}", event("controller-7")),
            "unknown node `controller-7`",
        ),
        (
            format!("{quorum}{}", event("b1")),
            "field `faults.events[0]`: `b1`: disk loss is modelled for the controllers",
        ),
        (
            format!("{quorum}{}", event("producer-1")),
            "disk loss is modelled for the controllers of a quorum only",
        ),
        (
            event("controller"),
            "field `faults.events`: disk loss needs a controller quorum of 3 or more",
        ),
        (
            format!("{ok}{}", event("controller-2")),
            "3 controllers lose their disk (controller-1, controller-2, controller-3), but a \
             quorum of 5 voters",
        ),
        (
            "[faults.nemesis]\nkinds = [\"crash\", \"disk-loss\"]\n".to_string(),
            "field `faults.nemesis.kinds`: disk loss needs a controller quorum of 3",
        ),
    ];
    for (text, expected) in cases {
        let err = Scenario::from_toml(&text, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{err}\n{text}");
    }
}

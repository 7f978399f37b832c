//! The reachability map: every rare path the model names is reached by a built-in scenario
//! within a few seeds (a model change that makes one unreachable fails here, naming it),
//! and a path the configuration rules out is never reached: the map reports what happened,
//! not a list it was told.

use kafka_model::reach::RarePath;
use kafka_sim::registry;
use kafka_sim::scenario::Scenario;
use kafka_sim::sweep::sweep;
use std::collections::BTreeSet;

/// Too rare in the built-ins to look for here: `sweep all --seeds 0..300 --coverage`
/// reaches each in about one seed of 5,400. A scenario that aims at one should take it
/// off this list.
const UNREACHED_BY_BUILT_INS: [RarePath; 1] = [RarePath::MemberRebalanceTimedOut];

/// Seeds tried per scenario before a path counts as unreached.
const MAX_SEEDS: u64 = 48;

/// The paths `scenario` reached, sweeping 8 seeds at a time until it reached all of
/// `wanted` or ran `MAX_SEEDS`.
fn reached_until(scenario: &Scenario, wanted: &BTreeSet<RarePath>) -> BTreeSet<RarePath> {
    let mut reached = BTreeSet::new();
    let mut start = 0;
    while start < MAX_SEEDS && !wanted.is_subset(&reached) {
        let seeds: Vec<u64> = (start..start + 8).collect();
        for result in sweep(scenario, &seeds, |_| {}) {
            reached.extend(result.reached);
        }
        start += 8;
    }
    reached
}

fn paths_of(scenario: &str, seeds: std::ops::Range<u64>) -> BTreeSet<RarePath> {
    paths_of_scenario(&registry::find(scenario).unwrap(), seeds)
}

fn paths_of_scenario(scenario: &Scenario, seeds: std::ops::Range<u64>) -> BTreeSet<RarePath> {
    let seeds: Vec<u64> = seeds.collect();
    sweep(scenario, &seeds, |_| {})
        .into_iter()
        .flat_map(|r| r.reached)
        .collect()
}

#[test]
fn every_rare_path_is_reached_by_a_built_in_scenario() {
    // Where to look for each path: the built-in whose faults and settings lead to it.
    let places: [(&str, &[RarePath]); 11] = [
        (
            "power-loss-async-flush",
            &[
                RarePath::DivergenceAnswered,
                RarePath::DivergentSuffixTruncated,
                RarePath::NotEnoughReplicasRefused,
            ],
        ),
        (
            "retention-lag",
            &[
                RarePath::FollowerResetToLeaderLogStart,
                RarePath::RetentionDeletedSegments,
                RarePath::ConsumerResetOutOfRange,
            ],
        ),
        (
            "single-replica-power-loss",
            &[
                RarePath::TornTailCut,
                RarePath::SequenceRefused,
                RarePath::ProducerEpochBumped,
                RarePath::StaleLeaderEpochRefused,
                RarePath::OffsetOutOfRangeAnswered,
                RarePath::PartitionLeaderless,
            ],
        ),
        (
            "crash-restart",
            &[
                RarePath::DuplicateSequenceAnswered,
                RarePath::IsrShrunk,
                RarePath::IsrExpanded,
                RarePath::BrokerFenced,
            ],
        ),
        (
            "controller-failover",
            &[
                RarePath::NotEnoughReplicasAfterAppend,
                RarePath::RaftLogTruncated,
            ],
        ),
        ("acks-all-failover", &[RarePath::RaftCheckQuorumResigned]),
        ("unclean-election", &[RarePath::UncleanElection]),
        (
            "last-replica-standing-elr",
            &[RarePath::EligibleLeaderElected],
        ),
        (
            "group-rebalance",
            &[RarePath::MemberSessionExpired, RarePath::StaleMemberFenced],
        ),
        (
            "commit-before-process",
            &[RarePath::CoordinatorFailedOverMidRebalance],
        ),
        // Its zombie's produce after the successor's init is refused by a leader.
        ("zombie-producer", &[RarePath::ProducerEpochRefused]),
    ];
    let mut placed: BTreeSet<RarePath> = UNREACHED_BY_BUILT_INS.into_iter().collect();
    let mut missing = Vec::new();
    for (name, paths) in places {
        let wanted: BTreeSet<RarePath> = paths.iter().copied().collect();
        let reached = reached_until(&registry::find(name).unwrap(), &wanted);
        for path in wanted.difference(&reached) {
            missing.push(format!("{} in {name}", path.name()));
        }
        placed.extend(wanted);
    }
    assert!(
        missing.is_empty(),
        "not reached within {MAX_SEEDS} seeds: {missing:?}"
    );
    let unplaced: Vec<&str> = RarePath::ALL
        .iter()
        .filter(|p| !placed.contains(p))
        .map(|p| p.name())
        .collect();
    assert!(unplaced.is_empty(), "no scenario named for {unplaced:?}");
}

#[test]
fn a_torn_tail_is_never_cut_where_every_write_is_fsynced() {
    // The same power losses; the fsync variant flushes every write before answering.
    let torn = paths_of("single-replica-power-loss", 0..8);
    assert!(torn.contains(&RarePath::TornTailCut), "{torn:?}");
    let fsynced = paths_of("single-replica-power-loss-fsync", 0..8);
    assert!(!fsynced.contains(&RarePath::TornTailCut), "{fsynced:?}");
}

#[test]
fn an_unclean_election_is_never_reached_with_unclean_election_off() {
    let mut scenario = registry::find("unclean-election").unwrap();
    assert!(paths_of_scenario(&scenario, 0..4).contains(&RarePath::UncleanElection));
    scenario.controller.unclean_leader_election = false;
    let clean = paths_of_scenario(&scenario, 0..8);
    assert!(!clean.contains(&RarePath::UncleanElection), "{clean:?}");
    // The same faults still shrink the ISR: the map is not empty, only the path is gone.
    assert!(clean.contains(&RarePath::IsrShrunk), "{clean:?}");
}

#[test]
fn an_eligible_leader_is_never_elected_without_eligible_leader_replicas() {
    let mut scenario = registry::find("last-replica-standing-elr").unwrap();
    let with = paths_of_scenario(&scenario, 0..4);
    assert!(with.contains(&RarePath::EligibleLeaderElected), "{with:?}");
    assert!(!with.contains(&RarePath::UncleanElection), "{with:?}");
    scenario.controller.eligible_leader_replicas = false;
    let without = paths_of_scenario(&scenario, 0..8);
    assert!(
        !without.contains(&RarePath::EligibleLeaderElected),
        "{without:?}"
    );
}

#[test]
fn no_fault_reaches_no_failover_path() {
    let mut scenario = registry::find("crash-restart").unwrap();
    scenario.faults.events.clear();
    scenario.faults.nemesis = None;
    let quiet = paths_of_scenario(&scenario, 0..4);
    for path in [
        RarePath::DivergenceAnswered,
        RarePath::DivergentSuffixTruncated,
        RarePath::BrokerFenced,
        RarePath::PartitionLeaderless,
        RarePath::UncleanElection,
    ] {
        assert!(!quiet.contains(&path), "{} without a fault", path.name());
    }
}

//! The built-in consumer group scenarios: rebalances under member faults, coordinator
//! failover, and the two commit orders (at-least-once and at-most-once).

use super::parts::{crash, nemesis, replicated};
use crate::checkers::AnomalyKind::{
    CommitBackwards, DuplicateProcessing, GroupOwnership, LostProcessing, StaleCommit,
};
use crate::faults::{FaultKind, TimedFault};
use crate::scenario::{Faults, GroupSpec, Scenario, SweepExpectations};
use kafka_model::group::Assignor;
use kafka_model::member::CommitMode;

/// The replicated cluster with groups instead of standalone consumers, and a shorter
/// first-rebalance delay (Kafka's 3 s is sized for real deployments).
fn with_groups(groups: Vec<GroupSpec>) -> Scenario {
    let mut scenario = replicated();
    scenario.consumers = 0;
    scenario.groups = groups;
    scenario.broker.group.group_initial_rebalance_delay_ms = 1_000;
    scenario
}

fn group(id: &str, members: u32, assignor: Assignor) -> GroupSpec {
    GroupSpec {
        id: id.into(),
        members,
        assignor,
        ..GroupSpec::default()
    }
}

/// Crashes of every member of `group`, one after another, each back after `down_ms`.
fn member_crashes(
    group: &GroupSpec,
    first_ms: u64,
    every_ms: u64,
    down_ms: u64,
) -> Vec<TimedFault> {
    (0..)
        .zip(group.member_names())
        .map(|(i, name)| crash(first_ms + i * every_ms, &name, down_ms))
        .collect()
}

pub fn scenarios() -> Vec<Scenario> {
    let rebalancing = vec![
        GroupSpec {
            member_faults: true,
            ..group("eager", 4, Assignor::Range)
        },
        GroupSpec {
            member_faults: true,
            ..group("sticky", 2, Assignor::CooperativeSticky)
        },
    ];
    let at_most_once = GroupSpec {
        commit_mode: CommitMode::BeforeProcessing,
        process_ms: 200,
        member_faults: true,
        ..group("amo", 3, Assignor::RoundRobin)
    };
    vec![
        Scenario {
            name: "group-rebalance".into(),
            description: "two groups read one topic (range with 4 members for 3 partitions, \
                          cooperative-sticky with 2) while their members crash, pause and \
                          rejoin and brokers fail: one owner per partition per generation, \
                          fenced stale commits, no lost processing (at-least-once may \
                          duplicate), and both groups settle after the heal"
                .into(),
            expect: SweepExpectations::passing()
                .shows_allowed(DuplicateProcessing, 30)
                .never_shows(&[LostProcessing, GroupOwnership, StaleCommit]),
            faults: Faults {
                events: member_crashes(&rebalancing[0], 3_000, 2_500, 1_500),
                nemesis: nemesis(
                    &[FaultKind::Crash, FaultKind::Pause, FaultKind::Partition],
                    1_500,
                ),
                ..Faults::default()
            },
            ..with_groups(rebalancing)
        },
        Scenario {
            name: "coordinator-failover".into(),
            description: "every broker in turn crashes, so each offsets partition's leader \
                          (a group coordinator) fails over: the new coordinator rebuilds the \
                          groups and their commits from the offsets topic, and no committed \
                          offset goes backwards (g1 commits after each poll, g2 auto-commits \
                          every second)"
                .into(),
            expect: SweepExpectations::passing().never_shows(&[CommitBackwards, LostProcessing]),
            faults: Faults {
                events: vec![
                    crash(4_000, "b1", 2_000),
                    crash(9_000, "b2", 2_000),
                    crash(14_000, "b3", 2_000),
                ],
                nemesis: nemesis(
                    &[FaultKind::Crash, FaultKind::Partition, FaultKind::Pause],
                    2_500,
                ),
                ..Faults::default()
            },
            ..with_groups(vec![
                group("g1", 2, Assignor::Range),
                // enable.auto.commit: processed offsets go every second, not every poll.
                GroupSpec {
                    auto_commit_interval_ms: Some(1_000),
                    ..group("g2", 3, Assignor::RoundRobin)
                },
            ])
        },
        Scenario {
            name: "commit-before-process".into(),
            description: "an at-most-once group commits what it polled before processing it; \
                          members crash between the two: processing is lost (allowed), never \
                          duplicated"
                .into(),
            expect: SweepExpectations::passing()
                .shows_allowed(LostProcessing, 10)
                .never_shows(&[DuplicateProcessing]),
            faults: Faults {
                events: member_crashes(&at_most_once, 3_000, 4_000, 1_000),
                nemesis: nemesis(&[FaultKind::Crash], 2_000),
                ..Faults::default()
            },
            ..with_groups(vec![at_most_once.clone()])
        },
    ]
}

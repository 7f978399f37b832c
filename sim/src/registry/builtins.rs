//! The built-in scenarios of today's protocol, each a story of one setting under one kind of
//! fault. Their names are part of the CLI contract.

use super::parts::{
    crash, disk_loss, nemesis, partition, power_loss, producer_with, quorum_of, replicated, tasks,
};
use crate::checkers::AnomalyKind::{
    CommittedRecordLost, ControllerQuorum, Duplicate, InconsistentOffsets, LostWrite,
    MetadataLogMatching, NonmonotonicPoll, NonmonotonicSend, PollSkip,
};
use crate::faults::{FaultKind, NemesisSpec};
use crate::scenario::{Faults, Scenario, SweepExpectations, Workload};
use kafka_model::config::{Acks, LogConfig};

/// The standard scenario of DESIGN.md section 9. Keep it fixed: benchmark figures compare
/// across versions.
pub fn standard() -> Scenario {
    Scenario {
        name: "standard".into(),
        description:
            "3 brokers, tasks x3 at RF 3, acks=all, idempotent producer, 1,000 keyed records \
                      at 100/s, two consumers, swarm nemesis for 30 s, then heal"
                .into(),
        expect: SweepExpectations::passing(),
        topics: tasks(3),
        consumers: 2,
        workload: Workload {
            records: 1_000,
            rate_per_s: 100,
            ..Workload::default()
        },
        faults: Faults {
            events: Vec::new(),
            nemesis: nemesis(&FaultKind::ALL, 3_000),
            ..Faults::default()
        },
        fault_phase_ms: 30_000,
        ..Scenario::default()
    }
}

/// The scenarios of replication, acks levels and failover (issue 3).
fn replication_scenarios() -> Vec<Scenario> {
    let replicated = replicated();
    let failover_faults = Faults {
        events: Vec::new(),
        nemesis: nemesis(
            &[
                FaultKind::Crash,
                FaultKind::Partition,
                FaultKind::PartitionOneWay,
                FaultKind::Pause,
            ],
            1_500,
        ),
        ..Faults::default()
    };
    // Every replica loses power at once, twice: what no disk had fsynced is gone everywhere.
    let correlated_power_loss = Faults {
        events: ["b1", "b2", "b3"]
            .iter()
            .flat_map(|b| [power_loss(4_000, b, 1_000), power_loss(11_000, b, 1_500)])
            .collect(),
        nemesis: nemesis(&[FaultKind::Crash, FaultKind::Pause], 3_000),
        ..Faults::default()
    };
    let fsync_every_append = kafka_model::config::BrokerConfig {
        log: LogConfig {
            flush_messages: Some(1),
            ..LogConfig::default()
        },
        ..replicated.broker.clone()
    };
    vec![
        Scenario {
            name: "acks-all-failover".into(),
            description: "RF 3, min.insync.replicas=2, acks=all, idempotent producer, a \
                          3-controller quorum; brokers and controllers crash, pause and get \
                          cut off: leaders fail over, and no acknowledged write is lost"
                .into(),
            expect: SweepExpectations::passing()
                .never_shows(&[LostWrite, CommittedRecordLost, Duplicate, NonmonotonicSend]),
            faults: failover_faults.clone(),
            controller: quorum_of(3),
            ..replicated.clone()
        },
        Scenario {
            name: "controller-failover".into(),
            description: "a 5-controller KRaft quorum under crashes, pauses and partitions \
                          of controllers and brokers alike, and power losses of controllers: a new active \
                          controller is elected, the metadata log stays one log, and no \
                          acknowledged write is lost"
                .into(),
            expect: SweepExpectations::passing()
                .never_shows(&[
                    LostWrite,
                    CommittedRecordLost,
                    ControllerQuorum,
                    MetadataLogMatching,
                ]),
            // Controllers fsync every write: their power losses are scripted, and the
            // nemesis keeps to crashes, pauses and partitions, so that any acknowledged
            // write lost here is the quorum's doing.
            faults: Faults {
                events: vec![
                    power_loss(6_000, "controller-1", 1_500),
                    power_loss(6_000, "controller-2", 2_500),
                    power_loss(13_000, "controller-3", 1_000),
                ],
                nemesis: nemesis(
                    &[
                        FaultKind::Crash,
                        FaultKind::Pause,
                        FaultKind::Partition,
                        FaultKind::PartitionOneWay,
                    ],
                    1_200,
                ),
                ..Faults::default()
            },
            controller: quorum_of(5),
            ..replicated.clone()
        },
        Scenario {
            name: "controller-disk-loss".into(),
            description: "a 5-controller KRaft quorum whose controllers crash, pause, get \
                          cut off and have their disks replaced (two at most): a voter back \
                          on an empty disk has a new directory id and only observes \
                          (KIP-853), the metadata log stays one log, and no acknowledged \
                          write is lost"
                .into(),
            expect: SweepExpectations::passing()
                .never_shows(&[
                    LostWrite,
                    CommittedRecordLost,
                    ControllerQuorum,
                    MetadataLogMatching,
                ]),
            faults: Faults {
                events: vec![disk_loss(5_000, "controller-1", 1_500)],
                nemesis: nemesis(
                    &[
                        FaultKind::Crash,
                        FaultKind::Pause,
                        FaultKind::Partition,
                        FaultKind::PartitionOneWay,
                        FaultKind::DiskLoss,
                    ],
                    1_200,
                ),
                ..Faults::default()
            },
            controller: quorum_of(5),
            ..replicated.clone()
        },
        Scenario {
            name: "acks1-failover".into(),
            description: "the same failovers with acks=1: a write only the old leader had \
                          is acknowledged, then truncated when it follows the new leader \
                          (allowed)"
                .into(),
            expect: SweepExpectations::passing().shows_allowed(LostWrite, 20),
            producer: producer_with(Acks::Leader),
            faults: failover_faults,
            ..replicated.clone()
        },
        Scenario {
            name: "acks0-lossy".into(),
            description: "acks=0 on a lossy network: the producer never hears of a lost \
                          write, and never resends it (allowed)"
                .into(),
            expect: SweepExpectations::passing()
                .shows_allowed(LostWrite, 10)
                .never_shows(&[Duplicate]),
            producer: producer_with(Acks::None),
            faults: Faults {
                events: Vec::new(),
                nemesis: Some(NemesisSpec {
                    kinds: vec![FaultKind::Loss],
                    mean_interval_ms: 1_000,
                    swarm: false,
                    triggered_percent: 0,
                }),
                ..Faults::default()
            },
            ..replicated.clone()
        },
        Scenario {
            name: "power-loss-async-flush".into(),
            description: "every replica loses power at once, with Kafka's default async \
                          flush: acknowledged acks=all writes vanish, and their offsets are \
                          reused (allowed: Kafka relies on replicas failing independently)"
                .into(),
            expect: SweepExpectations::passing()
                .shows_allowed(LostWrite, 10)
                .shows_allowed(InconsistentOffsets, 10),
            faults: correlated_power_loss.clone(),
            ..replicated.clone()
        },
        Scenario {
            name: "power-loss-fsync".into(),
            description: "the same correlated power losses with flush.messages=1: every \
                          replica fsyncs before it acknowledges, so nothing acknowledged is \
                          lost"
                .into(),
            expect: SweepExpectations::passing()
                .never_shows(&[LostWrite, CommittedRecordLost, InconsistentOffsets]),
            broker: fsync_every_append,
            faults: correlated_power_loss,
            ..replicated.clone()
        },
        Scenario {
            name: "unclean-election".into(),
            description: "unclean.leader.election.enable=true, min.insync.replicas=1: the \
                          followers are cut off until the ISR is the leader alone, then the \
                          leader dies and an out-of-sync follower takes over; writes only \
                          the old leader had are lost (allowed)"
                .into(),
            expect: SweepExpectations::passing().shows_allowed(LostWrite, 20),
            broker: kafka_model::config::BrokerConfig {
                min_insync_replicas: 1,
                ..replicated.broker.clone()
            },
            controller: kafka_model::controller::ControllerConfig {
                unclean_leader_election: true,
                ..replicated.controller.clone()
            },
            faults: Faults {
                events: vec![
                    partition(
                        2_000,
                        &[
                            &["b1", "controller", "producer-1", "consumer-1"],
                            &["b2", "b3"],
                        ],
                        6_000,
                    ),
                    crash(7_000, "b1", 6_000),
                    partition(
                        12_000,
                        &[
                            &["b2", "controller", "producer-1", "consumer-1"],
                            &["b1", "b3"],
                        ],
                        4_000,
                    ),
                    crash(14_000, "b2", 3_000),
                ],
                nemesis: nemesis(&[FaultKind::Crash, FaultKind::Partition], 4_000),
                ..Faults::default()
            },
            ..replicated
        },
    ]
}

/// The single-story built-ins and the replication scenarios, in `list` order.
pub fn scenarios() -> Vec<Scenario> {
    let base = Scenario {
        topics: tasks(3),
        ..Scenario::default()
    };
    let single_replica = Scenario {
        topics: tasks(1),
        ..Scenario::default()
    };
    // The same power losses, with and without fsync on every append.
    let power_losses = Faults {
        events: vec![
            power_loss(1_500, "b1", 1_000),
            power_loss(4_000, "b2", 1_000),
        ],
        nemesis: nemesis(&[FaultKind::PowerLoss], 2_000),
        ..Faults::default()
    };
    vec![
        Scenario {
            name: "smoke".into(),
            description: "no faults: every record is acknowledged once and read in order".into(),
            expect: SweepExpectations::passing().never_shows(&[
                LostWrite,
                Duplicate,
                NonmonotonicSend,
                PollSkip,
                NonmonotonicPoll,
                InconsistentOffsets,
            ]),
            ..base.clone()
        },
        Scenario {
            name: "crash-restart".into(),
            description: "brokers are killed (kill -9) and restarted: the page cache survives, \
                          so no acknowledged record is lost even without fsync"
                .into(),
            expect: SweepExpectations::passing().never_shows(&[
                LostWrite,
                CommittedRecordLost,
                Duplicate,
            ]),
            faults: Faults {
                events: vec![crash(2_000, "b1", 1_500), crash(5_000, "b2", 3_000)],
                nemesis: nemesis(&[FaultKind::Crash], 2_000),
                ..Faults::default()
            },
            ..base.clone()
        },
        Scenario {
            name: "single-replica-power-loss".into(),
            description: "RF 1, default async flush: a power loss drops acknowledged records \
                          that were never fsynced (allowed: Kafka relies on replication)"
                .into(),
            expect: SweepExpectations::passing().shows_allowed(LostWrite, 20),
            faults: power_losses.clone(),
            ..single_replica.clone()
        },
        Scenario {
            name: "single-replica-power-loss-fsync".into(),
            description: "the same power losses with flush.messages=1: every acknowledged \
                          record was fsynced first, so none is lost"
                .into(),
            expect: SweepExpectations::passing().never_shows(&[LostWrite, CommittedRecordLost]),
            broker: kafka_model::config::BrokerConfig {
                log: LogConfig {
                    flush_messages: Some(1),
                    ..LogConfig::default()
                },
                ..Default::default()
            },
            faults: power_losses.clone(),
            ..single_replica.clone()
        },
        Scenario {
            name: "retries-without-idempotence".into(),
            description: "idempotence off, retries on, 5 requests in flight, on a lossy and \
                          slow network: retried batches land out of order and twice (allowed)"
                .into(),
            expect: SweepExpectations::passing()
                .shows_allowed(Duplicate, 10)
                .shows_allowed(NonmonotonicSend, 10)
                .never_shows(&[LostWrite]),
            producer: kafka_model::config::ProducerConfig {
                idempotence: Some(false),
                acks: Acks::All,
                request_timeout_ms: 300,
                ..base.producer.clone()
            },
            faults: Faults {
                events: Vec::new(),
                nemesis: Some(NemesisSpec {
                    kinds: vec![FaultKind::Loss, FaultKind::Delay],
                    mean_interval_ms: 1_000,
                    swarm: false,
                    triggered_percent: 0,
                }),
                ..Faults::default()
            },
            ..base.clone()
        },
        standard(),
    ]
    .into_iter()
    .chain(replication_scenarios())
    .collect()
}

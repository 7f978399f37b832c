//! The catalog of historical Kafka replication bugs (DESIGN.md section 7): one built-in
//! scenario per bug, each running the protocol variant or configuration that had it under
//! the faults that find it from a random seed sweep, and Last Replica Standing with and
//! without its fix (KIP-966's eligible leader replicas), and the hanging transaction of the
//! protocol before KIP-890. The bugs' stories are told in the
//! pinned seeds under seeds/ and in README.md.

use super::parts::replicated;
use crate::checkers::AnomalyKind::{CommittedRecordLost, G1a, LogMatching, LostWrite};
use crate::faults::{Fault, FaultKind, NemesisSpec, TimedFault};
use crate::scenario::{Faults, Scenario, SweepExpectations, TransactionsSpec};
use kafka_model::config::{Acks, ReplicationProtocol};
use kafka_model::txn::IsolationLevel;

/// The replicated baseline (RF 3, `min.insync.replicas=2`, acks=all with an idempotent
/// producer: the setting whose promise each historical bug broke) on `protocol`.
fn durable(protocol: ReplicationProtocol) -> Scenario {
    let mut scenario = replicated();
    scenario.broker.replication_protocol = protocol;
    scenario
}

fn swarm(kinds: &[FaultKind], mean_interval_ms: u64) -> Faults {
    Faults {
        events: Vec::new(),
        nemesis: Some(NemesisSpec {
            kinds: kinds.to_vec(),
            mean_interval_ms,
            swarm: true,
            triggered_percent: 0,
        }),
        ..Faults::default()
    }
}

fn timed(at_ms: u64, fault: Fault) -> TimedFault {
    TimedFault {
        on: None,
        at_ms,
        fault,
    }
}

/// The historical bugs, as built-in scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "pre-kip-101-truncate-to-hw".into(),
            description: "the protocol before KIP-101 (Kafka < 0.11): a new follower \
                          truncates to its own high watermark, which lags the leader's; \
                          two quick leader changes lose committed records (violation)"
                .into(),
            expect: SweepExpectations::default()
                .shows_violation(CommittedRecordLost, 50)
                .shows_violation(LostWrite, 50),
            faults: swarm(&[FaultKind::Crash, FaultKind::Pause], 1_500),
            ..durable(ReplicationProtocol::TruncateToHighWatermark)
        },
        Scenario {
            name: "pre-kip-279-fast-failover".into(),
            description: "KIP-101 without KIP-279 (Kafka 0.11 to 1.1): after back-to-back \
                          leader changes a follower's latest epoch is one the leader never \
                          had, the leader's answer points past where their logs part, and \
                          the replicas diverge below the high watermark (violation)"
                .into(),
            expect: SweepExpectations::default().shows_violation(LogMatching, 2_000),
            faults: swarm(
                &[
                    FaultKind::Crash,
                    FaultKind::Pause,
                    FaultKind::PartitionOneWay,
                    FaultKind::Partition,
                ],
                700,
            ),
            // Two producers, so that two leaders of one offset hold different records,
            // not the same retried batch.
            producers: 2,
            ..durable(ReplicationProtocol::EpochLookupWithoutKip279)
        },
        Scenario {
            name: "pre-kip-320-stale-fetch".into(),
            description: "KIP-101 and KIP-279 without KIP-320 (Kafka 2.0): fetches carry no \
                          leader epoch, so a follower that missed a leader change keeps \
                          fetching from a broker that truncated and led again since; the \
                          replicas diverge below the high watermark (violation)"
                .into(),
            expect: SweepExpectations::default().shows_violation(LogMatching, 500),
            // b3 hears nothing from the controller for 12 s: it is fenced, yet keeps
            // fetching from whoever led when it last heard, while the nemesis moves
            // leadership among b1 and b2.
            faults: Faults {
                events: vec![timed(
                    2_000,
                    Fault::Partition {
                        groups: vec![vec!["b3".into()], vec!["controller".into()]],
                        duration_ms: 12_000,
                    },
                )],
                ..swarm(
                    &[FaultKind::Crash, FaultKind::Pause, FaultKind::Partition],
                    1_500,
                )
            },
            producers: 2,
            ..durable(ReplicationProtocol::NoEpochFencing)
        },
        last_replica_standing(),
        last_replica_standing_with_eligible_leader_replicas(),
        pre_kip_890_hanging_transaction(),
    ]
}

/// KIP-890 part 1's motivating case (Kafka < 3.6): a partition leader appends a
/// transactional batch without asking the coordinator whether its transaction is still
/// open. A produce held up on the wire past `request.timeout.ms` (and so past
/// `delivery.timeout.ms`, set to its floor) fails the transaction, which the producer
/// aborts; its abort marker reaches the partition first, and the late batch opens there a
/// transaction its coordinator knows nothing of. The producer's next transaction on the
/// partition continues it, and its commit marker commits the aborted records (a
/// read_committed consumer reads them: g1a); if none did, the last stable offset would
/// stay below the late batch for good.
fn pre_kip_890_hanging_transaction() -> Scenario {
    let late_produce = |at_ms: u64, partition: u32| TimedFault {
        on: None,
        at_ms,
        fault: Fault::Delay {
            from: vec!["producer-1".into()],
            to: vec![format!("leader of tasks-{partition}")],
            // Past the 3 s request timeout by up to a second: some land after the abort
            // marker, before the producer's next transaction reaches the partition.
            delay_ms: 3_000,
            jitter_ms: 1_000,
            duration_ms: 500,
        },
    };
    let mut scenario = replicated();
    scenario.name = "pre-kip-890-hanging-txn".into();
    scenario.description = "the protocol before KIP-890 (Kafka < 3.6): a leader appends a \
                            transactional produce without verifying it with the coordinator; \
                            a produce delayed past its timeout lands after its transaction's \
                            abort marker, and the producer's next transaction commits it \
                            (violation)"
        .into();
    scenario.expect = SweepExpectations::default().shows_violation(G1a, 20);
    scenario.broker.verify_transactional_produce = false;
    scenario.controller.voters = 3;
    scenario.producer.transactional_id = Some("tx".into());
    scenario.producer.delivery_timeout_ms =
        Some(scenario.producer.request_timeout_ms + scenario.producer.linger_ms);
    scenario.consumer.isolation_level = IsolationLevel::ReadCommitted;
    scenario.transactions = TransactionsSpec {
        records_per_transaction: 5,
        abort_every: 4,
        ..TransactionsSpec::default()
    };
    scenario.fault_phase_ms = 20_000;
    scenario.faults = Faults {
        events: (0..8)
            .map(|i| late_produce(2_000 + i * 2_500, (i % 3) as u32))
            .collect(),
        ..Faults::default()
    };
    scenario
}

/// KIP-966's motivating case: with `min.insync.replicas=1` the ISR shrinks to the leader
/// alone, which keeps acknowledging acks=all writes; a power loss takes its un-fsynced
/// tail, and as the last ISR member it is elected again, cleanly, without those writes.
fn last_replica_standing() -> Scenario {
    let mut scenario = durable(ReplicationProtocol::Modern);
    scenario.name = "last-replica-standing".into();
    scenario.description = "min.insync.replicas=1 and async flush: b2 and b3 are cut off \
                            until every ISR is b1 alone, b1 loses power, and as the last \
                            ISR member it leads again without its un-fsynced tail; \
                            acknowledged acks=all writes are lost under clean election \
                            (allowed: KIP-966 motivates the fix)"
        .into();
    scenario.expect = SweepExpectations::passing().shows_allowed(LostWrite, 10);
    scenario.broker.min_insync_replicas = 1;
    scenario.producer.acks = Acks::All;
    let isolated = || {
        vec![
            vec![
                "b1".to_string(),
                "controller".to_string(),
                "producer-1".to_string(),
                "consumer-1".to_string(),
            ],
            vec!["b2".to_string(), "b3".to_string()],
        ]
    };
    scenario.faults = Faults {
        events: vec![
            timed(
                2_000,
                Fault::Partition {
                    groups: isolated(),
                    duration_ms: 10_000,
                },
            ),
            timed(
                8_000,
                Fault::PowerLoss {
                    node: "b1".into(),
                    restart_after_ms: 1_000,
                },
            ),
        ],
        nemesis: Some(NemesisSpec {
            kinds: vec![FaultKind::Pause, FaultKind::Delay],
            mean_interval_ms: 4_000,
            swarm: true,
            triggered_percent: 0,
        }),
        ..Faults::default()
    };
    scenario
}

/// The same story with KIP-966's fix as Kafka 4.1 ships it and recommends it:
/// `min.insync.replicas=2` and eligible leader replicas. The ISR shrinks to b1 alone, below
/// the minimum, so the high watermark stops and b2 stays eligible with every committed
/// record; b1's restart after its power loss is an unclean shutdown, which takes it out of
/// the ISR, and once b2 is back it is elected from the ELR. Without ELR the same faults
/// re-elect b1, the last ISR member, without its un-fsynced tail.
fn last_replica_standing_with_eligible_leader_replicas() -> Scenario {
    let mut scenario = last_replica_standing();
    scenario.name = "last-replica-standing-elr".into();
    scenario.description = "last-replica-standing with min.insync.replicas=2 and KIP-966's \
                            eligible leader replicas: b1's restart after its power loss is \
                            an unclean shutdown that takes it out of the ISR, b2 left the \
                            ISR below the minimum and is elected from the ELR; no \
                            acknowledged write is lost"
        .into();
    scenario.expect = SweepExpectations::passing().never_shows(&[LostWrite, CommittedRecordLost]);
    scenario.broker.min_insync_replicas = 2;
    scenario.controller.eligible_leader_replicas = true;
    scenario
}

//! Shared pieces of the test suites: proptest strategies that generate fault plans and
//! workloads, and the questions the suites ask of an outcome.

use kafka_model::config::TopicConfig;
use kafka_model::group::Assignor;
use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::faults::{Fault, TimedFault};
use kafka_sim::history::{OpType, Operation};
use kafka_sim::outcome::Outcome;
use kafka_sim::scenario::{GroupSpec, Scenario, Workload};
use proptest::prelude::*;
use std::collections::BTreeSet;

pub mod chains;

/// The ordering anomalies of issue 2 (the producer side and the consumer side).
pub const ORDERING: [AnomalyKind; 5] = [
    AnomalyKind::NonmonotonicSend,
    AnomalyKind::Duplicate,
    AnomalyKind::PollSkip,
    AnomalyKind::NonmonotonicPoll,
    AnomalyKind::InconsistentOffsets,
];

/// Anomaly kinds an outcome shows, with any verdict.
pub fn kinds(outcome: &Outcome) -> BTreeSet<AnomalyKind> {
    outcome.anomalies.iter().map(|a| a.kind).collect()
}

/// Whether `scenario` run with `seed` shows `kind`, with any verdict.
pub fn shows(scenario: &Scenario, seed: u64, kind: AnomalyKind) -> bool {
    kafka_sim::runner::run(scenario, seed, kafka_sim::runner::RunOptions::default())
        .anomalies
        .iter()
        .any(|a| a.kind == kind)
}

/// Anomaly kinds an outcome shows as violations.
pub fn violations(outcome: &Outcome) -> BTreeSet<AnomalyKind> {
    outcome
        .anomalies
        .iter()
        .filter(|a| a.verdict == Verdict::Violation)
        .map(|a| a.kind)
        .collect()
}

/// Values whose send was acknowledged.
pub fn acknowledged_values(outcome: &Outcome) -> BTreeSet<u64> {
    outcome
        .history
        .entries
        .iter()
        .filter(|e| e.op_type == OpType::Ok)
        .filter_map(|e| match &e.op {
            Operation::Send(send) => Some(send.value),
            _ => None,
        })
        .collect()
}

/// Values some consumer read.
pub fn read_values(outcome: &Outcome) -> BTreeSet<u64> {
    outcome
        .history
        .entries
        .iter()
        .filter(|e| e.op_type == OpType::Ok)
        .flat_map(|e| match &e.op {
            Operation::Poll(poll) => poll.records.iter().map(|r| r.value).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// A one-line account of a generated scenario's outcome for assertion messages: the
/// scenario is written to a TOML file so that the printed command replays it exactly.
pub fn explain_generated(scenario: &Scenario, outcome: &Outcome) -> String {
    let dir = std::env::temp_dir().join("kafka-sim-failures");
    let path = dir.join(format!("{}-{}.toml", scenario.name, outcome.seed));
    let written =
        std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, scenario.to_toml()));
    let replay = match written {
        Ok(()) => format!(
            "cargo run --release -- run {} --seed {}",
            path.display(),
            outcome.seed
        ),
        Err(error) => format!(
            "(could not write the scenario to {}: {error})",
            path.display()
        ),
    };
    format!("{} | REPRODUCE WITH: {replay}", explain(outcome))
}

/// A one-line account of an outcome for assertion messages.
pub fn explain(outcome: &Outcome) -> String {
    let anomalies: Vec<String> = outcome
        .anomalies
        .iter()
        .take(5)
        .map(|a| format!("{} {:?}: {}", a.kind, a.verdict, a.detail))
        .collect();
    format!(
        "{} seed {} -> {} | anomalies: {} | liveness: {} | crash: {:?} | replay: {}",
        outcome.scenario,
        outcome.seed,
        outcome.class.as_str(),
        anomalies.join("; "),
        outcome.liveness_problems.join("; "),
        outcome.crash,
        outcome.replay_command(&outcome.scenario)
    )
}

/// A workload and cluster shape, as proptest draws them.
#[derive(Clone, Debug)]
pub struct Shape {
    pub brokers: u32,
    pub partitions: u32,
    pub records: u64,
    pub rate_per_s: u64,
    pub keys: u64,
    pub batch_size_records: usize,
    pub max_in_flight: u32,
    pub linger_ms: u64,
}

pub fn shape() -> impl Strategy<Value = Shape> {
    (
        1u32..=4,
        1u32..=6,
        10u64..150,
        20u64..400,
        0u64..12,
        1usize..24,
        1u32..=5,
        0u64..20,
    )
        .prop_map(
            |(
                brokers,
                partitions,
                records,
                rate_per_s,
                keys,
                batch_size_records,
                max_in_flight,
                linger_ms,
            )| Shape {
                brokers,
                partitions,
                records,
                rate_per_s,
                keys,
                batch_size_records,
                max_in_flight,
                linger_ms,
            },
        )
}

/// How long the fault phase of generated scenarios lasts.
pub const FAULT_PHASE_MS: u64 = 8_000;

/// One generated fault among `brokers` brokers and the clients `producer-1`, `consumer-1`.
pub fn fault(brokers: u32, power_loss: bool) -> impl Strategy<Value = TimedFault> {
    let broker = (1..=brokers).prop_map(|b| format!("b{b}"));
    let node = prop_oneof![
        broker.clone(),
        Just("producer-1".to_string()),
        Just("consumer-1".to_string())
    ];
    fault_with(broker.boxed(), node.boxed(), power_loss)
}

/// One generated fault: crashes, power losses and pauses strike a `process`; network and
/// clock faults any `node`.
fn fault_with(
    process: BoxedStrategy<String>,
    node: BoxedStrategy<String>,
    power_loss: bool,
) -> impl Strategy<Value = TimedFault> {
    let nodes = proptest::collection::btree_set(node.clone(), 1..4)
        .prop_map(|s| s.into_iter().collect::<Vec<_>>());
    let duration = 100u64..4_000;
    let fault = prop_oneof![
        (process.clone(), duration.clone()).prop_map(|(node, restart_after_ms)| Fault::Crash {
            node,
            restart_after_ms
        }),
        (process.clone(), duration.clone(), Just(power_loss)).prop_map(
            |(node, restart_after_ms, power)| if power {
                Fault::PowerLoss {
                    node,
                    restart_after_ms,
                }
            } else {
                Fault::Crash {
                    node,
                    restart_after_ms,
                }
            }
        ),
        (process.clone(), duration.clone())
            .prop_map(|(node, duration_ms)| Fault::Pause { node, duration_ms }),
        // A partition's sides are disjoint (a node is on one side): `b` loses what `a` has.
        (nodes.clone(), nodes.clone(), duration.clone()).prop_filter_map(
            "two disjoint sides",
            |(a, b, duration_ms)| {
                let b: Vec<String> = b.into_iter().filter(|n| !a.contains(n)).collect();
                (!b.is_empty()).then_some(Fault::Partition {
                    groups: vec![a, b],
                    duration_ms,
                })
            }
        ),
        (nodes.clone(), nodes.clone(), duration.clone()).prop_map(|(from, to, duration_ms)| {
            Fault::PartitionOneWay {
                from,
                to,
                duration_ms,
            }
        }),
        (nodes.clone(), nodes.clone(), 0.0f64..1.0, duration.clone()).prop_map(
            |(from, to, rate, duration_ms)| Fault::Loss {
                from,
                to,
                rate,
                duration_ms
            }
        ),
        (
            nodes.clone(),
            nodes,
            1u64..2_000,
            0u64..500,
            duration.clone()
        )
            .prop_map(
                |(from, to, delay_ms, jitter_ms, duration_ms)| Fault::Delay {
                    from,
                    to,
                    delay_ms,
                    jitter_ms,
                    duration_ms
                }
            ),
        (node.clone(), duration).prop_map(|(node, duration_ms)| Fault::Clog { node, duration_ms }),
        // A jump of 0 does nothing, and validation refuses it.
        (node.clone(), prop_oneof![-120_000i64..0, 1i64..120_000])
            .prop_map(|(node, by_ms)| Fault::ClockJump { node, by_ms }),
        (node, -300_000i64..300_000).prop_map(|(node, ppm)| Fault::ClockDrift { node, ppm }),
    ];
    (0..FAULT_PHASE_MS, fault).prop_map(|(at_ms, fault)| TimedFault {
        on: None,
        at_ms,
        fault,
    })
}

/// A scenario of the given shape under a generated fault plan (up to 12 faults).
pub fn scenario(power_loss: bool) -> impl Strategy<Value = Scenario> {
    shape().prop_flat_map(move |shape| {
        let faults = proptest::collection::vec(fault(shape.brokers, power_loss), 0..12);
        (Just(shape), faults).prop_map(|(shape, events)| {
            let mut scenario = Scenario {
                name: "generated".into(),
                brokers: shape.brokers,
                topics: vec![TopicConfig {
                    name: "tasks".into(),
                    partitions: shape.partitions,
                    replication_factor: 1,
                }],
                workload: Workload {
                    topic: "tasks".into(),
                    records: shape.records,
                    rate_per_s: shape.rate_per_s,
                    keys: shape.keys,
                    interval_ms: None,
                },
                fault_phase_ms: FAULT_PHASE_MS,
                ..Scenario::default()
            };
            scenario.producer.batch_size_records = shape.batch_size_records;
            scenario.producer.max_in_flight_requests_per_connection = shape.max_in_flight;
            scenario.producer.linger_ms = shape.linger_ms;
            scenario.faults.events = events;
            scenario
        })
    })
}

/// A replicated cluster as proptest draws it: up to 3 replicas a partition with a
/// `min.insync.replicas` they can meet, a quorum of 1, 3 or 5 controllers, several
/// producers, maybe a consumer group, and a flush policy.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub brokers: u32,
    pub partitions: u32,
    pub replication_factor: u32,
    pub min_insync_replicas: usize,
    pub voters: u32,
    pub producers: u32,
    /// Members and assignor of the one group, if any.
    pub group: Option<(u32, Assignor)>,
    /// `flush.messages`: `None` is Kafka's async flush.
    pub flush_messages: Option<u64>,
    pub records: u64,
    pub rate_per_s: u64,
    pub keys: u64,
}

pub fn cluster() -> impl Strategy<Value = Cluster> {
    let assignor = prop_oneof![
        Just(Assignor::Range),
        Just(Assignor::RoundRobin),
        Just(Assignor::CooperativeSticky)
    ];
    let flush = prop_oneof![Just(None), Just(Some(1)), (2u64..=8).prop_map(Some)];
    (3u32..=4, 1u32..=4, 1u32..=3)
        .prop_flat_map(move |(brokers, partitions, replication_factor)| {
            (
                Just((brokers, partitions, replication_factor)),
                1..=replication_factor as usize,
                prop_oneof![Just(1u32), Just(3), Just(5)],
                1u32..=3,
                proptest::option::of((1u32..=3, assignor.clone())),
                flush.clone(),
                (20u64..80, 20u64..200, 0u64..12),
            )
        })
        .prop_map(
            |(
                (brokers, partitions, replication_factor),
                min_insync_replicas,
                voters,
                producers,
                group,
                flush_messages,
                (records, rate_per_s, keys),
            )| Cluster {
                brokers,
                partitions,
                replication_factor,
                min_insync_replicas,
                voters,
                producers,
                group,
                flush_messages,
                records,
                rate_per_s,
                keys,
            },
        )
}

impl Cluster {
    /// The scenario of this cluster, without faults, at the harness's defaults otherwise
    /// (acks=all, idempotence at Kafka's default, clean election).
    pub fn scenario(&self) -> Scenario {
        let mut scenario = Scenario {
            name: "generated-replicated".into(),
            brokers: self.brokers,
            topics: vec![TopicConfig {
                name: "tasks".into(),
                partitions: self.partitions,
                replication_factor: self.replication_factor,
            }],
            producers: self.producers,
            workload: Workload {
                topic: "tasks".into(),
                records: self.records,
                rate_per_s: self.rate_per_s,
                keys: self.keys,
                interval_ms: None,
            },
            fault_phase_ms: FAULT_PHASE_MS,
            ..Scenario::default()
        };
        scenario.controller.voters = self.voters;
        scenario.broker.min_insync_replicas = self.min_insync_replicas;
        scenario.broker.log.flush_messages = self.flush_messages;
        if let Some((members, assignor)) = self.group {
            scenario.groups = vec![GroupSpec {
                members,
                assignor,
                ..GroupSpec::default()
            }];
        }
        scenario
    }
}

/// A replicated cluster under a generated fault plan (up to 10 faults). Crashes, power
/// losses and pauses strike brokers, the controllers of a quorum (as the nemesis does: a
/// lone controller stays up) and group members; network and clock faults any node.
pub fn replicated_scenario(power_loss: bool) -> impl Strategy<Value = Scenario> {
    cluster().prop_flat_map(move |cluster| {
        let scenario = cluster.scenario();
        let mut processes = scenario.broker_names();
        if cluster.voters > 1 {
            processes.extend(scenario.controller_names());
        }
        processes.extend(scenario.member_names());
        let mut nodes = processes.clone();
        nodes.extend(scenario.client_names());
        nodes.extend(scenario.controller_names());
        nodes.sort();
        nodes.dedup();
        let process = proptest::sample::select(processes).boxed();
        let node = proptest::sample::select(nodes).boxed();
        let faults = proptest::collection::vec(fault_with(process, node, power_loss), 0..10);
        (Just(scenario), faults).prop_map(|(mut scenario, events)| {
            scenario.faults.events = events;
            scenario
        })
    })
}

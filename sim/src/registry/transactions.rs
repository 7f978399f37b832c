//! The transactional built-ins (issue 15): transactions under broker, coordinator and
//! controller failover, an exactly-once pipeline, and a zombie producer, read at
//! read_committed. Each has its TOML twin under examples/, the file a user starts from.

use super::parts::{nemesis, quorum_of, replicated, tasks};
use crate::faults::{Fault, FaultKind, NemesisSpec, TimedFault};
use crate::scenario::{Faults, GroupSpec, Scenario, SweepExpectations, TransactionsSpec, Workload};
use kafka_model::config::{ConsumerConfig, ProducerConfig, TopicConfig};
use kafka_model::member::CommitMode;
use kafka_model::txn::IsolationLevel;

/// The broker, coordinator and controller faults every transactional built-in runs under.
fn failover() -> Option<NemesisSpec> {
    nemesis(
        &[
            FaultKind::Crash,
            FaultKind::Partition,
            FaultKind::PartitionOneWay,
            FaultKind::Pause,
        ],
        1_500,
    )
}

/// The faults of a built-in run under [`failover`] only.
fn failover_faults() -> Faults {
    Faults {
        nemesis: failover(),
        ..Faults::default()
    }
}

/// A producer with the transactional id `tx` (producer p runs as tx-p).
fn transactional(base: &Scenario) -> ProducerConfig {
    ProducerConfig {
        transactional_id: Some("tx".into()),
        ..base.producer.clone()
    }
}

/// A consumer that reads only what committed.
fn read_committed(base: &Scenario) -> ConsumerConfig {
    ConsumerConfig {
        isolation_level: IsolationLevel::ReadCommitted,
        ..base.consumer.clone()
    }
}

/// The transactional built-ins, in `list` order.
pub fn scenarios() -> Vec<Scenario> {
    vec![txn_failover(), eos_pipeline(), zombie_producer()]
}

fn txn_failover() -> Scenario {
    let base = replicated();
    Scenario {
        name: "txn-failover".into(),
        description: "a transactional producer and a read_committed consumer; brokers (the \
                      transaction coordinator among them) and controllers crash, pause and \
                      get cut off"
            .into(),
        expect: SweepExpectations::passing(),
        controller: quorum_of(3),
        producer: transactional(&base),
        consumer: read_committed(&base),
        transactions: TransactionsSpec {
            records_per_transaction: 5,
            abort_every: 4,
            ..TransactionsSpec::default()
        },
        faults: failover_faults(),
        ..base
    }
}

/// `examples/eos-pipeline.toml`: orders -> shipments in transactions with the offsets.
fn eos_pipeline() -> Scenario {
    let base = replicated();
    let topic = |name: &str| TopicConfig {
        name: name.into(),
        partitions: 3,
        replication_factor: 3,
    };
    Scenario {
        name: "eos-pipeline".into(),
        description: "orders -> shipments in transactions with the consumed offsets, read \
                      read_committed downstream; brokers (coordinators among them), \
                      controllers and members crash, pause and get cut off"
            .into(),
        expect: SweepExpectations::passing(),
        topics: vec![topic("orders"), topic("shipments")],
        controller: quorum_of(3),
        producer: ProducerConfig {
            idempotence: Some(true),
            ..base.producer.clone()
        },
        consumer: read_committed(&base),
        groups: vec![GroupSpec {
            id: "shipper".into(),
            members: 3,
            commit_mode: CommitMode::Transactional,
            output_topic: Some("shipments".into()),
            abort_every: Some(5),
            member_faults: true,
            ..GroupSpec::default()
        }],
        workload: Workload {
            topic: "orders".into(),
            records: 450,
            ..base.workload.clone()
        },
        faults: failover_faults(),
        ..base
    }
}

/// `examples/zombie-producer.toml`: a paused producer resumes after its successor took
/// its transactional id over, and must be fenced.
fn zombie_producer() -> Scenario {
    let base = replicated();
    Scenario {
        name: "zombie-producer".into(),
        description: "a transactional producer paused mid-transaction resumes after a \
                      successor with the same transactional.id re-initialized it: it must \
                      be fenced"
            .into(),
        expect: SweepExpectations::passing(),
        fault_phase_ms: 15_000,
        topics: tasks(3),
        controller: quorum_of(3),
        producer: transactional(&base),
        consumer: read_committed(&base),
        transactions: TransactionsSpec {
            records_per_transaction: 20,
            successor_at_ms: Some(5_000),
            ..TransactionsSpec::default()
        },
        workload: Workload {
            records: 200,
            rate_per_s: 10,
            ..base.workload.clone()
        },
        faults: Faults {
            events: vec![TimedFault {
                on: None,
                at_ms: 4_000,
                fault: Fault::Pause {
                    node: "producer-1".into(),
                    duration_ms: 5_000,
                },
            }],
            nemesis: nemesis(
                &[FaultKind::Crash, FaultKind::Partition, FaultKind::Pause],
                2_000,
            ),
            ..Faults::default()
        },
        ..base
    }
}

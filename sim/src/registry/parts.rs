//! The parts the scenario families share: the replicated baseline, the controller quorum,
//! and one-line constructors of scripted faults.

use crate::faults::{Fault, FaultKind, NemesisSpec, TimedFault};
use crate::scenario::{Scenario, Workload};
use kafka_model::config::Acks;

pub(super) fn crash(at_ms: u64, node: &str, restart_after_ms: u64) -> TimedFault {
    TimedFault {
        on: None,
        at_ms,
        fault: Fault::Crash {
            node: node.into(),
            restart_after_ms,
        },
    }
}

pub(super) fn power_loss(at_ms: u64, node: &str, restart_after_ms: u64) -> TimedFault {
    TimedFault {
        on: None,
        at_ms,
        fault: Fault::PowerLoss {
            node: node.into(),
            restart_after_ms,
        },
    }
}

pub(super) fn disk_loss(at_ms: u64, node: &str, restart_after_ms: u64) -> TimedFault {
    TimedFault {
        on: None,
        at_ms,
        fault: Fault::DiskLoss {
            node: node.into(),
            restart_after_ms,
        },
    }
}

pub(super) fn partition(at_ms: u64, groups: &[&[&str]], duration_ms: u64) -> TimedFault {
    TimedFault {
        on: None,
        at_ms,
        fault: Fault::Partition {
            groups: groups
                .iter()
                .map(|g| g.iter().map(|n| n.to_string()).collect())
                .collect(),
            duration_ms,
        },
    }
}

/// One partition's topic at replication factor `rf`.
pub(super) fn tasks(rf: u32) -> Vec<kafka_model::config::TopicConfig> {
    vec![kafka_model::config::TopicConfig {
        name: "tasks".into(),
        partitions: 3,
        replication_factor: rf,
    }]
}

pub(super) fn nemesis(kinds: &[FaultKind], mean_interval_ms: u64) -> Option<NemesisSpec> {
    Some(NemesisSpec {
        kinds: kinds.to_vec(),
        mean_interval_ms,
        swarm: true,
        triggered_percent: 0,
    })
}

/// The replicated scenarios: RF 3, `min.insync.replicas=2`, acks=all with an idempotent
/// producer, 600 records at 30/s through a 20 s fault phase.
pub(super) fn replicated() -> Scenario {
    let base = Scenario::default();
    Scenario {
        topics: tasks(3),
        broker: kafka_model::config::BrokerConfig {
            min_insync_replicas: 2,
            ..base.broker.clone()
        },
        fault_phase_ms: 20_000,
        // Writes keep coming through the whole fault phase, so that a write lost in a
        // failover has later writes above it for readers to get past.
        workload: Workload {
            records: 600,
            rate_per_s: 30,
            ..Workload::default()
        },
        ..base
    }
}

/// The harness's controller settings with a quorum of `voters` controllers.
pub(super) fn quorum_of(voters: u32) -> kafka_model::controller::ControllerConfig {
    kafka_model::controller::ControllerConfig {
        voters,
        ..Scenario::default().controller
    }
}

/// A producer without idempotence at `acks` (Kafka turns idempotence off unless acks=all).
pub(super) fn producer_with(acks: Acks) -> kafka_model::config::ProducerConfig {
    kafka_model::config::ProducerConfig {
        acks,
        idempotence: Some(false),
        ..Scenario::default().producer
    }
}

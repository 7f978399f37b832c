//! The built-in scenarios, each a story of one setting under one kind of fault. Their names
//! are part of the CLI contract.

use crate::faults::{Fault, FaultKind, NemesisSpec, TimedFault};
use crate::scenario::{Faults, Scenario, ScenarioError, Workload};
use kafka_model::config::{Acks, LogConfig};
use std::path::Path;

fn crash(at_ms: u64, node: &str, restart_after_ms: u64) -> TimedFault {
    TimedFault {
        at_ms,
        fault: Fault::Crash {
            node: node.into(),
            restart_after_ms,
        },
    }
}

fn power_loss(at_ms: u64, node: &str, restart_after_ms: u64) -> TimedFault {
    TimedFault {
        at_ms,
        fault: Fault::PowerLoss {
            node: node.into(),
            restart_after_ms,
        },
    }
}

fn nemesis(kinds: &[FaultKind], mean_interval_ms: u64) -> Option<NemesisSpec> {
    Some(NemesisSpec {
        kinds: kinds.to_vec(),
        mean_interval_ms,
        swarm: true,
    })
}

/// The standard scenario of DESIGN.md section 9 (RF 1 until replication exists). Keep it
/// fixed: benchmark figures compare across versions.
pub fn standard() -> Scenario {
    Scenario {
        name: "standard".into(),
        description:
            "3 brokers, tasks x3, acks=all, idempotent producer, 1,000 keyed records at 100/s, \
                      two consumers, swarm nemesis for 30 s, then heal"
                .into(),
        consumers: 2,
        workload: Workload {
            records: 1_000,
            rate_per_s: 100,
            ..Workload::default()
        },
        faults: Faults {
            events: Vec::new(),
            nemesis: nemesis(&FaultKind::ALL, 3_000),
        },
        fault_phase_ms: 30_000,
        ..Scenario::default()
    }
}

/// Every built-in scenario.
pub fn all() -> Vec<Scenario> {
    let base = Scenario::default();
    // The same power losses, with and without fsync on every append.
    let power_losses = Faults {
        events: vec![
            power_loss(1_500, "b1", 1_000),
            power_loss(4_000, "b2", 1_000),
        ],
        nemesis: nemesis(&[FaultKind::PowerLoss], 2_000),
    };
    vec![
        Scenario {
            name: "smoke".into(),
            description: "no faults: every record is acknowledged once and read in order".into(),
            ..base.clone()
        },
        Scenario {
            name: "crash-restart".into(),
            description: "brokers are killed (kill -9) and restarted: the page cache survives, \
                          so no acknowledged record is lost even without fsync"
                .into(),
            faults: Faults {
                events: vec![crash(2_000, "b1", 1_500), crash(5_000, "b2", 3_000)],
                nemesis: nemesis(&[FaultKind::Crash], 2_000),
            },
            ..base.clone()
        },
        Scenario {
            name: "single-replica-power-loss".into(),
            description: "RF 1, default async flush: a power loss drops acknowledged records \
                          that were never fsynced (allowed: Kafka relies on replication)"
                .into(),
            faults: power_losses.clone(),
            ..base.clone()
        },
        Scenario {
            name: "single-replica-power-loss-fsync".into(),
            description: "the same power losses with flush.messages=1: every acknowledged \
                          record was fsynced first, so none is lost"
                .into(),
            broker: kafka_model::config::BrokerConfig {
                log: LogConfig {
                    flush_messages: Some(1),
                    ..LogConfig::default()
                },
                ..Default::default()
            },
            faults: power_losses.clone(),
            ..base.clone()
        },
        Scenario {
            name: "retries-without-idempotence".into(),
            description: "idempotence off, retries on, 5 requests in flight, on a lossy and \
                          slow network: retried batches land out of order and twice (allowed)"
                .into(),
            producer: kafka_model::config::ProducerConfig {
                idempotence: false,
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
                }),
            },
            ..base.clone()
        },
        standard(),
    ]
}

pub fn names() -> Vec<String> {
    all().into_iter().map(|s| s.name).collect()
}

pub fn find(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

/// A built-in name or a TOML file path.
pub fn resolve(arg: &str) -> Result<Scenario, ScenarioError> {
    if let Some(scenario) = find(arg) {
        return Ok(scenario);
    }
    let path = Path::new(arg);
    if path.exists() || arg.ends_with(".toml") {
        return Scenario::from_file(path);
    }
    Err(ScenarioError::Unknown(arg.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_valid_and_uniquely_named() {
        let scenarios = all();
        for scenario in &scenarios {
            scenario.validate(&scenario.name).unwrap();
        }
        let mut names = names();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), scenarios.len());
    }
}

//! The guarantee matrix's cells as scenarios (DESIGN.md section 6): the configurations
//! (rows), the fault classes (columns), and the scenario of each cell, named
//! `matrix/<configuration>/<faults>` so that its seeds replay with `kafka-sim run`.

use super::parts::{quorum_of, replicated};
use crate::faults::{Fault, FaultKind, NemesisSpec, TimedFault};
use crate::scenario::{Faults, Scenario};
use kafka_model::config::{Acks, ReplicationProtocol};
use kafka_model::txn::IsolationLevel;
use serde::Serialize;

/// One row: the replicated baseline with one setting changed.
pub struct Configuration {
    pub name: &'static str,
    /// The setting that differs from the baseline, as Kafka names it.
    pub setting: &'static str,
    apply: fn(&mut Scenario),
}

/// Kafka turns idempotence off below acks=all; so does this row.
fn acks_without_idempotence(scenario: &mut Scenario, acks: Acks) {
    scenario.producer.acks = acks;
    scenario.producer.idempotence = Some(false);
}

/// Transactions (KIP-98): the producer is transactional (every 4th transaction aborted by
/// its application) and the consumers read at `isolation`.
fn transactional(scenario: &mut Scenario, isolation: IsolationLevel) {
    scenario.producer.transactional_id = Some("tx".into());
    scenario.transactions.abort_every = 4;
    scenario.consumer.isolation_level = isolation;
}

/// The rows: the strongest setting Kafka offers (RF 3, acks=all, min.insync.replicas=2,
/// idempotence, clean election, async flush, today's protocol), then one change each.
pub fn configurations() -> Vec<Configuration> {
    vec![
        Configuration {
            name: "strong",
            setting: "acks=all, min.insync.replicas=2, idempotence, clean election",
            apply: |_| {},
        },
        Configuration {
            name: "acks-1",
            setting: "acks=1 (idempotence off)",
            apply: |s| acks_without_idempotence(s, Acks::Leader),
        },
        Configuration {
            name: "acks-0",
            setting: "acks=0 (idempotence off)",
            apply: |s| acks_without_idempotence(s, Acks::None),
        },
        Configuration {
            name: "min-insync-1",
            setting: "min.insync.replicas=1",
            apply: |s| s.broker.min_insync_replicas = 1,
        },
        Configuration {
            name: "unclean-election",
            setting: "unclean.leader.election.enable=true",
            apply: |s| s.controller.unclean_leader_election = true,
        },
        Configuration {
            name: "no-idempotence",
            setting: "enable.idempotence=false (retries, 5 in flight)",
            apply: |s| s.producer.idempotence = Some(false),
        },
        Configuration {
            name: "flush-every-append",
            setting: "flush.messages=1",
            apply: |s| s.broker.log.flush_messages = Some(1),
        },
        Configuration {
            name: "txn-read-committed",
            setting: "transactional.id, isolation.level=read_committed",
            apply: |s| transactional(s, IsolationLevel::ReadCommitted),
        },
        Configuration {
            name: "txn-read-uncommitted",
            setting: "transactional.id, isolation.level=read_uncommitted",
            apply: |s| transactional(s, IsolationLevel::ReadUncommitted),
        },
        Configuration {
            name: "pre-kip-101",
            setting: "protocol: truncate to HW (Kafka < 0.11)",
            apply: |s| s.broker.replication_protocol = ReplicationProtocol::TruncateToHighWatermark,
        },
        Configuration {
            name: "pre-kip-279",
            setting: "protocol: KIP-101 without KIP-279 (0.11 to 1.1)",
            apply: |s| {
                s.broker.replication_protocol = ReplicationProtocol::EpochLookupWithoutKip279
            },
        },
        Configuration {
            name: "pre-kip-320",
            setting: "protocol: no epoch fencing of fetches (2.0)",
            apply: |s| s.broker.replication_protocol = ReplicationProtocol::NoEpochFencing,
        },
    ]
}

/// The columns: which faults the nemesis may throw. `All` is every kind, power loss
/// included; the power-loss column adds one power loss of every broker at once (see
/// [`FaultClass::faults`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultClass {
    Network,
    Crashes,
    PowerLoss,
    PausesAndClocks,
    All,
}

impl FaultClass {
    pub const ALL: [FaultClass; 5] = [
        FaultClass::Network,
        FaultClass::Crashes,
        FaultClass::PowerLoss,
        FaultClass::PausesAndClocks,
        FaultClass::All,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultClass::Network => "network",
            FaultClass::Crashes => "crashes",
            FaultClass::PowerLoss => "power-loss",
            FaultClass::PausesAndClocks => "pauses-clocks",
            FaultClass::All => "all",
        }
    }

    fn kinds(self) -> Vec<FaultKind> {
        match self {
            FaultClass::Network => vec![
                FaultKind::Partition,
                FaultKind::PartitionOneWay,
                FaultKind::Loss,
                FaultKind::Delay,
                FaultKind::Clog,
            ],
            FaultClass::Crashes => vec![FaultKind::Crash],
            FaultClass::PowerLoss => vec![FaultKind::PowerLoss],
            FaultClass::PausesAndClocks => vec![
                FaultKind::Pause,
                FaultKind::ClockJump,
                FaultKind::ClockDrift,
            ],
            FaultClass::All => FaultKind::ALL.to_vec(),
        }
    }

    /// Power losses strike one broker at a time from the nemesis, and in the power-loss
    /// column once every broker at the same moment: the correlated failure that async
    /// flush does not survive. In `all` they strike among every other kind: a power loss
    /// excuses only the records it cut from a replica that then led (`crate::excuse`), so
    /// it hides none of the cell's other anomalies.
    fn faults(self, brokers: &[String]) -> Faults {
        let correlated = self == FaultClass::PowerLoss;
        Faults {
            events: brokers
                .iter()
                .filter(|_| correlated)
                .map(|node| TimedFault {
                    on: None,
                    at_ms: 9_000,
                    fault: Fault::PowerLoss {
                        node: node.clone(),
                        restart_after_ms: 1_500,
                    },
                })
                .collect(),
            nemesis: Some(NemesisSpec {
                kinds: self.kinds(),
                mean_interval_ms: 1_500,
                swarm: true,
                triggered_percent: 0,
            }),
            ..Faults::default()
        }
    }
}

/// The scenario of one cell.
pub fn scenario(configuration: &Configuration, faults: FaultClass) -> Scenario {
    let mut scenario = replicated();
    scenario.controller = quorum_of(3);
    (configuration.apply)(&mut scenario);
    scenario.name = format!("matrix/{}/{}", configuration.name, faults.name());
    scenario.description = format!(
        "guarantee matrix cell: {} under {} faults",
        configuration.setting,
        faults.name()
    );
    scenario.faults = faults.faults(&scenario.broker_names());
    scenario
}

/// The cell scenario `matrix/<configuration>/<faults>`, if `name` is one.
pub fn find(name: &str) -> Option<Scenario> {
    let rest = name.strip_prefix("matrix/")?;
    let (row, column) = rest.split_once('/')?;
    let configuration = configurations().into_iter().find(|c| c.name == row)?;
    let faults = FaultClass::ALL.into_iter().find(|f| f.name() == column)?;
    Some(scenario(&configuration, faults))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_is_a_valid_scenario_found_by_its_name() {
        for configuration in configurations() {
            for faults in FaultClass::ALL {
                let cell = scenario(&configuration, faults);
                cell.validate(&cell.name).unwrap();
                assert_eq!(find(&cell.name), Some(cell));
            }
        }
        assert_eq!(find("matrix/strong/meteor"), None);
        assert_eq!(find("matrix/strong"), None);
        assert_eq!(find("strong/network"), None);
    }
}

//! A Rust API that reads like the fault story of a scenario:
//!
//! ```
//! use kafka_sim::scenario_builder::ScenarioBuilder;
//! use kafka_model::config::Acks;
//!
//! let scenario = ScenarioBuilder::new("leader-cut-off")
//!     .brokers(3)
//!     .topic("tasks", 6)
//!     .acks(Acks::All)
//!     .records(300, 100)
//!     .at_ms(5_000).isolate(&ScenarioBuilder::leader_of(3, 0)).for_ms(3_000)
//!     .at_ms(7_000).power_loss("b2").restart_after_ms(2_000)
//!     .heal_at_ms(10_000)
//!     .build()
//!     .expect("a valid scenario");
//! assert_eq!(scenario.faults.events.len(), 2);
//! ```
//!
//! It builds the same [`Scenario`] a TOML file does, checked by the same `validate`.

use crate::faults::{Fault, FaultKind, NemesisSpec, TimedFault};
use crate::scenario::{Scenario, ScenarioError};
use kafka_model::config::{Acks, TopicConfig};

/// Builds a [`Scenario`] step by step. Fault methods apply at the time set by the last
/// `at_ms`; `for_ms` and `restart_after_ms` set the duration of the fault just added.
#[derive(Clone, Debug)]
pub struct ScenarioBuilder {
    scenario: Scenario,
    at_ms: u64,
}

impl ScenarioBuilder {
    /// A scenario with the harness defaults (see `Scenario::default`).
    pub fn new(name: &str) -> Self {
        ScenarioBuilder {
            scenario: Scenario {
                name: name.to_string(),
                ..Scenario::default()
            },
            at_ms: 0,
        }
    }

    /// The broker that initially leads `partition` in a cluster of `brokers`: its
    /// preferred leader, broker `p % brokers + 1` (later elections may move it).
    pub fn leader_of(brokers: u32, partition: u32) -> String {
        format!("b{}", partition % brokers.max(1) + 1)
    }

    pub fn describe(mut self, description: &str) -> Self {
        self.scenario.description = description.to_string();
        self
    }

    pub fn brokers(mut self, brokers: u32) -> Self {
        self.scenario.brokers = brokers;
        self
    }

    /// The workload's topic (replaces the default `tasks` topic).
    pub fn topic(mut self, name: &str, partitions: u32) -> Self {
        self.scenario.topics = vec![TopicConfig {
            name: name.to_string(),
            partitions,
            replication_factor: 1,
        }];
        self.scenario.workload.topic = name.to_string();
        self
    }

    pub fn acks(mut self, acks: Acks) -> Self {
        self.scenario.producer.acks = acks;
        self
    }

    pub fn idempotence(mut self, on: bool) -> Self {
        self.scenario.producer.idempotence = Some(on);
        self
    }

    /// `flush.messages=1`: fsync every append before acknowledging it.
    pub fn fsync_every_append(mut self) -> Self {
        self.scenario.broker.log.flush_messages = Some(1);
        self
    }

    /// Each producer sends `records` at `rate_per_s`.
    pub fn records(mut self, records: u64, rate_per_s: u64) -> Self {
        self.scenario.workload.records = records;
        self.scenario.workload.rate_per_s = rate_per_s;
        self
    }

    pub fn clients(mut self, producers: u32, consumers: u32) -> Self {
        self.scenario.producers = producers;
        self.scenario.consumers = consumers;
        self
    }

    /// The time of the faults that follow.
    pub fn at_ms(mut self, at_ms: u64) -> Self {
        self.at_ms = at_ms;
        self
    }

    fn fault(mut self, fault: Fault) -> Self {
        self.scenario.faults.events.push(TimedFault {
            at_ms: self.at_ms,
            fault,
        });
        self
    }

    pub fn crash(self, node: &str) -> Self {
        self.fault(Fault::Crash {
            node: node.into(),
            restart_after_ms: 1_000,
        })
    }

    pub fn power_loss(self, node: &str) -> Self {
        self.fault(Fault::PowerLoss {
            node: node.into(),
            restart_after_ms: 1_000,
        })
    }

    /// The node's disk is replaced (a controller of a quorum): it restarts empty.
    pub fn disk_loss(self, node: &str) -> Self {
        self.fault(Fault::DiskLoss {
            node: node.into(),
            restart_after_ms: 1_000,
        })
    }

    pub fn pause(self, node: &str) -> Self {
        self.fault(Fault::Pause {
            node: node.into(),
            duration_ms: 1_000,
        })
    }

    /// Cuts `node` off from every other node, both ways.
    pub fn isolate(self, node: &str) -> Self {
        let others: Vec<String> = self
            .scenario
            .broker_names()
            .into_iter()
            .chain(self.scenario.controller_names())
            .chain(self.scenario.client_names())
            .filter(|n| n != node)
            .collect();
        self.fault(Fault::Partition {
            groups: vec![vec![node.to_string()], others],
            duration_ms: 1_000,
        })
    }

    pub fn partition(self, side_a: &[&str], side_b: &[&str]) -> Self {
        let group = |side: &[&str]| side.iter().map(|n| n.to_string()).collect();
        self.fault(Fault::Partition {
            groups: vec![group(side_a), group(side_b)],
            duration_ms: 1_000,
        })
    }

    pub fn loss(self, from: &[&str], to: &[&str], rate: f64) -> Self {
        let list = |side: &[&str]| side.iter().map(|n| n.to_string()).collect();
        self.fault(Fault::Loss {
            from: list(from),
            to: list(to),
            rate,
            duration_ms: 1_000,
        })
    }

    /// Messages on the links between the two sets wait `delay_ms` more.
    pub fn delay(self, from: &[&str], to: &[&str], delay_ms: u64) -> Self {
        let list = |side: &[&str]| side.iter().map(|n| n.to_string()).collect();
        self.fault(Fault::Delay {
            from: list(from),
            to: list(to),
            delay_ms,
            jitter_ms: 0,
            duration_ms: 1_000,
        })
    }

    pub fn clock_jump(self, node: &str, by_ms: i64) -> Self {
        self.fault(Fault::ClockJump {
            node: node.into(),
            by_ms,
        })
    }

    /// How long the fault just added lasts.
    pub fn for_ms(mut self, duration: u64) -> Self {
        if let Some(last) = self.scenario.faults.events.last_mut() {
            match &mut last.fault {
                Fault::Pause { duration_ms, .. }
                | Fault::Partition { duration_ms, .. }
                | Fault::PartitionOneWay { duration_ms, .. }
                | Fault::Loss { duration_ms, .. }
                | Fault::Delay { duration_ms, .. }
                | Fault::Clog { duration_ms, .. } => *duration_ms = duration,
                Fault::Crash {
                    restart_after_ms, ..
                }
                | Fault::PowerLoss {
                    restart_after_ms, ..
                }
                | Fault::DiskLoss {
                    restart_after_ms, ..
                } => *restart_after_ms = duration,
                Fault::ClockJump { .. } | Fault::ClockDrift { .. } => {}
            }
        }
        self
    }

    /// After a crash, power or disk loss: when the node comes back.
    pub fn restart_after_ms(self, duration: u64) -> Self {
        self.for_ms(duration)
    }

    /// Adds the random nemesis, drawing from these fault kinds.
    pub fn nemesis(mut self, kinds: &[FaultKind], mean_interval_ms: u64) -> Self {
        self.scenario.faults.nemesis = Some(NemesisSpec {
            kinds: kinds.to_vec(),
            mean_interval_ms,
            swarm: true,
        });
        self
    }

    /// When every fault ends; the liveness phase follows.
    pub fn heal_at_ms(mut self, at_ms: u64) -> Self {
        self.scenario.fault_phase_ms = at_ms;
        self
    }

    /// The scenario, validated like a TOML file.
    pub fn build(self) -> Result<Scenario, ScenarioError> {
        self.scenario
            .validate(&format!("scenario `{}`", self.scenario.name))?;
        Ok(self.scenario)
    }
}

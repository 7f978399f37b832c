//! A scenario: the cluster, its configuration, the workload and the faults of one kind of
//! run. Built-in scenarios and user TOML files are both this type; `validate` turns any
//! impossible setting into an error that names the field.

use crate::faults::{Fault, NemesisSpec, TimedFault};
pub use expect::{SweepExpectations, SweepOutcome};
pub use group_spec::GroupSpec;
use kafka_model::config::{Acks, BrokerConfig, ConsumerConfig, ProducerConfig, TopicConfig};
use kafka_model::controller::ControllerConfig;
pub use minimal_toml::to_minimal_toml;
pub use network_settings::{NetworkSettings, Transport};
use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;
pub use transactions_spec::{successor_name, transactional_id_of, TransactionsSpec};

mod expect;
mod fault_checks;
mod group_spec;
mod minimal_toml;
mod network_settings;
mod transactions_spec;
mod trigger_checks;
mod validate;

/// The records producers send: `records` per producer, `rate_per_s` each, keys drawn from
/// `keys` distinct keys (0 sends keyless records, spread by the sticky partitioner).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workload {
    pub topic: String,
    pub records: u64,
    pub rate_per_s: u64,
    pub keys: u64,
    /// The time between a producer's records, for rates below one a second (a record every
    /// few minutes over a simulated week); replaces `rate_per_s` when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
}

impl Workload {
    /// The time between a producer's records.
    pub fn gap_ms(&self) -> u64 {
        self.interval_ms
            .unwrap_or_else(|| 1_000 / self.rate_per_s.max(1))
    }
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            topic: "tasks".into(),
            records: 200,
            rate_per_s: 100,
            keys: 16,
            interval_ms: None,
        }
    }
}

/// Faults: a scripted list, a random nemesis, or both.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    pub events: Vec<TimedFault>,
    pub nemesis: Option<NemesisSpec>,
    /// Each node's clock starts off by up to this many milliseconds either way, drawn per
    /// node from a stream of its own (`Stream::Clocks`): real clocks are never in step.
    /// 0 (the default) starts every clock together.
    #[serde(skip_serializing_if = "is_zero")]
    pub clock_skew_ms: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// One kind of run. Every field has a default, so a TOML file names only what differs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub brokers: u32,
    pub topics: Vec<TopicConfig>,
    pub producers: u32,
    pub consumers: u32,
    /// Consumer groups reading the workload topic (`[[groups]]`), each independently.
    /// The plain consumers read the workload topic and every pipeline group's output.
    pub groups: Vec<GroupSpec>,
    /// Partitions of the internal offsets topic, created (at replication factor
    /// min(3, brokers)) when there are groups. Kafka's default is 50; fewer keep runs lean.
    pub offsets_topic_partitions: u32,
    pub broker: BrokerConfig,
    /// The controller's settings: the broker session timeout and
    /// `unclean.leader.election.enable`.
    pub controller: ControllerConfig,
    pub producer: ProducerConfig,
    pub consumer: ConsumerConfig,
    pub workload: Workload,
    pub faults: Faults,
    /// `[transactions]`: the transactional producers' transactions (with `[producer]
    /// transactional_id`).
    #[serde(skip_serializing_if = "TransactionsSpec::is_default")]
    pub transactions: TransactionsSpec,
    /// `[network]`: datagrams (the default) or Kafka's connections.
    #[serde(skip_serializing_if = "NetworkSettings::is_default")]
    pub network: NetworkSettings,
    /// Faults strike during `[0, fault_phase_ms)`; then every fault is healed.
    pub fault_phase_ms: u64,
    /// After the heal, how long the cluster has to deliver every pending send and let the
    /// consumers catch up before that counts as a liveness violation.
    pub liveness_ms: u64,
    /// What a sweep of this scenario must show (`[expect]`); a single run ignores it.
    #[serde(skip_serializing_if = "SweepExpectations::is_empty")]
    pub expect: SweepExpectations,
    /// User services (`ScenarioBuilder::service`): Rust code, so never in a file.
    #[serde(skip)]
    pub services: crate::app::Services,
}

/// `request.timeout.ms` and `replica.socket.timeout.ms`'s default in Kafka.
pub const KAFKA_REQUEST_TIMEOUT_MS: u64 = 30_000;

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "custom".into(),
            description: String::new(),
            brokers: 3,
            topics: vec![TopicConfig {
                name: "tasks".into(),
                partitions: 3,
                replication_factor: 1,
            }],
            producers: 1,
            consumers: 1,
            groups: Vec::new(),
            offsets_topic_partitions: 3,
            // Kafka's timeouts are tens of seconds, sized for real networks; runs last
            // tens of simulated seconds, so the harness scales them down together.
            broker: BrokerConfig {
                replica_lag_time_max_ms: 3_000,
                heartbeat_interval_ms: 500,
                inter_broker_request_timeout_ms: 3_000,
                ..BrokerConfig::default()
            },
            controller: ControllerConfig {
                session_timeout_ms: 3_000,
                ..ControllerConfig::default()
            },
            producer: ProducerConfig {
                // Simulated networks lose messages silently: a short timeout keeps retries
                // within the run (Kafka's default is 30 s, with TCP noticing dead peers).
                request_timeout_ms: 3_000,
                delivery_timeout_ms: Some(60_000),
                ..ProducerConfig::default()
            },
            consumer: ConsumerConfig {
                request_timeout_ms: 3_000,
                ..ConsumerConfig::default()
            },
            workload: Workload::default(),
            faults: Faults::default(),
            transactions: TransactionsSpec::default(),
            network: NetworkSettings::default(),
            fault_phase_ms: 10_000,
            liveness_ms: 90_000,
            expect: SweepExpectations::default(),
            services: crate::app::Services::default(),
        }
    }
}

/// Why a scenario cannot run.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file}: {reason}")]
    Malformed { file: String, reason: String },
    #[error("{file}: field `{field}`: {reason}")]
    Invalid {
        file: String,
        field: String,
        reason: String,
    },
    /// A setting Kafka's client refuses at construction; `reason` names every setting
    /// involved.
    #[error("{file}: {reason}")]
    Refused { file: String, reason: String },
    #[error("unknown scenario `{0}`: not a built-in name (see `kafka-sim list`) and no such file")]
    Unknown(String),
}

impl Scenario {
    /// The settings each broker runs with: the `[broker]` table, with what it takes from
    /// the cluster-wide features of `[controller]` (eligible leader replicas bring the
    /// strict min ISR).
    pub fn broker_config(&self) -> BrokerConfig {
        BrokerConfig {
            strict_min_insync: self.controller.eligible_leader_replicas,
            ..self.broker.clone()
        }
    }

    /// The settings each controller runs with: the `[controller]` table, with the
    /// cluster's `min.insync.replicas` from `[broker]`, which eligible leader replicas
    /// are kept against.
    pub fn controller_config(&self) -> ControllerConfig {
        ControllerConfig {
            min_insync_replicas: self.broker.min_insync_replicas,
            ..self.controller.clone()
        }
    }

    /// The controller quorum's node names: `controller`, or `controller-1`...
    pub fn controller_names(&self) -> Vec<String> {
        let voters = self.controller.voters;
        crate::world::controller_ids(voters)
            .into_iter()
            .map(|id| crate::world::controller_name(id, voters))
            .collect()
    }

    pub fn broker_names(&self) -> Vec<String> {
        (1..=self.brokers).map(|b| format!("b{b}")).collect()
    }

    pub fn client_names(&self) -> Vec<String> {
        (1..=self.producers)
            .map(|p| format!("producer-{p}"))
            .chain(self.successor_names())
            .chain((1..=self.consumers).map(|c| format!("consumer-{c}")))
            .chain(self.member_names())
            .chain(self.services.names())
            .collect()
    }

    /// The transactional producers' successors (`[transactions] successor_at_ms`), in
    /// producer order.
    pub fn successor_names(&self) -> Vec<String> {
        let successors =
            self.producer.transactional_id.is_some() && self.transactions.successor_at_ms.is_some();
        (1..=self.producers)
            .filter(|_| successors)
            .map(successor_name)
            .collect()
    }

    /// Every group member's node name, group by group.
    pub fn member_names(&self) -> Vec<String> {
        self.groups
            .iter()
            .flat_map(GroupSpec::member_names)
            .collect()
    }

    /// The topics the cluster is created with: the scenario's, plus the offsets topic
    /// when there are groups and the transaction state topic when producers (or a
    /// pipeline group's members) are transactional.
    pub fn cluster_topics(&self) -> Vec<TopicConfig> {
        let mut topics = self.topics.clone();
        if !self.groups.is_empty() || !self.services.list.is_empty() {
            topics.push(TopicConfig {
                name: kafka_model::group::OFFSETS_TOPIC.to_string(),
                partitions: self.offsets_topic_partitions,
                replication_factor: self.brokers.min(3),
            });
        }
        if self.producer.transactional_id.is_some()
            || self.groups.iter().any(GroupSpec::is_pipeline)
        {
            topics.push(TopicConfig {
                name: kafka_model::txn::TRANSACTION_STATE_TOPIC.to_string(),
                partitions: self.transactions.state_partitions,
                replication_factor: self.brokers.min(3),
            });
        }
        topics
    }

    /// Producer `p`'s settings (from 1): the scenario's, with its own transactional id.
    pub fn producer_config(&self, p: u32) -> ProducerConfig {
        ProducerConfig {
            transactional_id: transactional_id_of(self.producer.transactional_id.as_deref(), p),
            ..self.producer.clone()
        }
    }

    /// The controllers whose disk a scripted event replaces, named by name (`active
    /// controller` is known only when it strikes).
    pub fn scripted_disk_losses(&self) -> std::collections::BTreeSet<String> {
        self.faults
            .events
            .iter()
            .filter_map(|e| match &e.fault {
                Fault::DiskLoss { node, .. }
                    if crate::faults::alias::NodeAlias::parse(node).is_none() =>
                {
                    Some(node.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// The end of the run at the latest (global ms).
    pub fn end_ms(&self) -> u64 {
        self.fault_phase_ms + self.liveness_ms
    }

    /// Reads a TOML scenario file, then validates it.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let (file, text) = read_text(path)?;
        Scenario::from_toml(&text, &file)
    }

    /// Parses and validates TOML; `file` names the source in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let given: toml::Value = toml::from_str(text).map_err(|e| malformed(file, text, &e))?;
        expect::check_kind_names(&given, file)?;
        let _checked: Scenario = toml::from_str(text).map_err(|e| malformed(file, text, &e))?;
        // Parsed alone, a table such as `[producer]` takes the model's defaults for the
        // fields it omits; laid over the scenario defaults, it keeps the harness's
        // (shorter timeouts, for instance). The first parse only reports errors with
        // their line.
        let transport = given
            .get("network")
            .and_then(|network| network.get("transport"))
            .and_then(|transport| transport.as_str());
        let defaults = match transport {
            Some("connections") => Scenario::defaults_for(Transport::Connections),
            _ => Scenario::default(),
        };
        let mut merged = toml::Value::try_from(defaults).expect("the defaults serialize");
        overlay(&mut merged, given);
        let scenario: Scenario =
            merged
                .try_into()
                .map_err(|e: toml::de::Error| ScenarioError::Malformed {
                    file: file.to_string(),
                    reason: one_line(e.message()),
                })?;
        scenario.validate(file)?;
        Ok(scenario)
    }

    /// The defaults a scenario file on `transport` is read over. Over connections a dead
    /// peer is noticed at once, so the request timeouts are Kafka's own 30 s instead of
    /// the 3 s that datagrams need to notice one within a run.
    pub fn defaults_for(transport: Transport) -> Scenario {
        let mut scenario = Scenario::default();
        if transport == Transport::Connections {
            scenario.network.transport = transport;
            scenario.producer.request_timeout_ms = KAFKA_REQUEST_TIMEOUT_MS;
            scenario.consumer.request_timeout_ms = KAFKA_REQUEST_TIMEOUT_MS;
            scenario.broker.inter_broker_request_timeout_ms = KAFKA_REQUEST_TIMEOUT_MS;
        }
        scenario
    }

    /// Every field, defaults included.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a scenario always serializes")
    }

    /// Only what differs from the defaults: what `show` and `shrink` write (see
    /// [`to_minimal_toml`]).
    pub fn to_minimal_toml(&self) -> String {
        to_minimal_toml(self)
    }

    pub fn acks(&self) -> Acks {
        self.producer.acks
    }
}

/// The text of a file, and its name for error messages.
pub(crate) fn read_text(path: &Path) -> Result<(String, String), ScenarioError> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((file, text)),
        Err(e) => Err(ScenarioError::Unreadable {
            file,
            reason: e.to_string(),
        }),
    }
}

/// A TOML error in `text` (read from `file`) as one line naming its line and column.
pub(crate) fn malformed(file: &str, text: &str, error: &toml::de::Error) -> ScenarioError {
    let reason = match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            let message = one_line(error.message());
            match field_at_line(text, line) {
                Some(field) if !message.contains(&format!("`{field}`")) => {
                    format!("line {line}, column {column}: field `{field}`: {message}")
                }
                _ => format!("line {line}, column {column}: {message}"),
            }
        }
        None => one_line(error.message()),
    };
    ScenarioError::Malformed {
        file: file.to_string(),
        reason,
    }
}

/// The dotted name of the key set on line `line` (1-based) of a TOML text, with the table
/// header above it (`[[faults.events]]` counted: `faults.events[2].at_ms`), if that line sets
/// a plain key.
fn field_at_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let (key, _) = lines.get(line.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim();
    let bare = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if !bare(key) {
        return None;
    }
    let Some(header) = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
    else {
        return Some(key.to_string());
    };
    let Some(array) = header.strip_prefix("[[").and_then(|h| h.strip_suffix("]]")) else {
        let table = header.strip_prefix('[')?.strip_suffix(']')?.trim();
        return Some(format!("{table}.{key}"));
    };
    let array = array.trim();
    let index = lines[..line - 1]
        .iter()
        .filter(|l| {
            l.trim()
                .strip_prefix("[[")
                .and_then(|h| h.strip_suffix("]]"))
                .map(str::trim)
                == Some(array)
        })
        .count()
        - 1;
    Some(format!("{array}[{index}].{key}"))
}

/// Lays `over` onto `base`: tables merge key by key, anything else replaces.
fn overlay(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(base), toml::Value::Table(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => overlay(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_file_takes_defaults_and_errors_name_the_field() {
        let scenario = Scenario::from_toml("name = \"x\"\nbrokers = 2", "x.toml").unwrap();
        assert_eq!(scenario.brokers, 2);
        assert_eq!(scenario.topics[0].name, "tasks");
        let err = Scenario::from_toml("brokers = 0", "x.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.toml: field `brokers`: must be 1..=89, got 0"
        );
        let err = Scenario::from_toml("[broker]\nmin_insync_replicas = 2", "x.toml").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "x.toml: field `broker.min_insync_replicas`: must be 1..=replication_factor (1)"
            ),
            "{err}"
        );
        let err =
            Scenario::from_toml("[controller]\nsession_timeout_ms = 100", "x.toml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.toml: field `broker.heartbeat_interval_ms`"),
            "{err}"
        );
        let err = Scenario::from_toml("liveness_ms = 18446744073709551615", "x.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.toml: line 1, column 15: field `liveness_ms`: number too large to fit in target type"
        );
        let err = Scenario::from_toml(
            "[[faults.events]]\nat_ms = 1\nkind = \"crash\"\nnode = \"b1\"\nrestart_after_ms = 5\n\
             [[faults.events]]\nat_ms = -1\n",
            "x.toml",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.toml: line 7, column 9: field `faults.events[1].at_ms`: "),
            "{err}"
        );
        let err = Scenario::from_toml("brokerz = 3", "x.toml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.toml: line 1, column 1: unknown field `brokerz`"),
            "{err}"
        );
        let err = Scenario::from_toml(
            "[[faults.events]]\nat_ms = 1\nkind = \"crash\"\nnode = \"b9\"\nrestart_after_ms = 5",
            "y.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown node `b9`"), "{err}");
    }

    #[test]
    fn a_table_keeps_the_scenario_defaults_it_does_not_name() {
        let scenario = Scenario::from_toml("[producer]\nacks = \"1\"", "x.toml").unwrap();
        assert_eq!(scenario.producer.acks, Acks::Leader);
        assert_eq!(
            scenario.producer.request_timeout_ms,
            Scenario::default().producer.request_timeout_ms
        );
    }

    #[test]
    fn expectations_read_from_toml_and_survive_a_round_trip() {
        use crate::checkers::AnomalyKind;
        let text = "[expect]\noutcome = \"pass\"\nallowed_within = { lost-write = 30 }\n\
                    never = [\"duplicate\"]\n";
        let scenario = Scenario::from_toml(text, "x.toml").unwrap();
        assert_eq!(
            scenario.expect,
            SweepExpectations::passing()
                .shows_allowed(AnomalyKind::LostWrite, 30)
                .never_shows(&[AnomalyKind::Duplicate])
        );
        let back = Scenario::from_toml(&scenario.to_toml(), "round-trip").unwrap();
        assert_eq!(back, scenario);
        let err = Scenario::from_toml("[expect]\nallowed_within = { lost-write = 0 }", "x.toml")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.toml: field `expect.allowed_within.lost-write`: must be at least 1 seed"
        );
        let err = Scenario::from_toml(
            "[expect]\noutcome = \"pass\"\nviolations_within = { log-matching = 9 }",
            "x.toml",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.toml: field `expect.outcome`"),
            "{err}"
        );
    }

    #[test]
    fn a_scenario_survives_a_toml_round_trip() {
        let scenario = Scenario::default();
        let back = Scenario::from_toml(&scenario.to_toml(), "round-trip").unwrap();
        assert_eq!(back, scenario);
    }
}

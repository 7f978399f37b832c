//! Validating a scenario: every setting that would make a run meaningless or impossible,
//! or that Kafka's clients refuse, is an error naming its field; and the defaults Kafka's
//! clients switch off for the settings a scenario has.

use super::fault_checks::RUN_MAX_MS;
use super::{NetworkSettings, Scenario, ScenarioError};

/// Record values are `producer * 1,000,000 + i + 1` (`crate::workload`).
pub(crate) const RECORDS_PER_PRODUCER_MAX: u64 = 1_000_000;

/// Records of all producers in one run: the history holds each send twice (invoke and
/// completion) and each read per consumer, about a kilobyte a record in all.
const RECORDS_PER_RUN_MAX: u64 = 2_000_000;

impl Scenario {
    /// Checks every setting that would make the run meaningless or impossible.
    pub fn validate(&self, file: &str) -> Result<(), ScenarioError> {
        let invalid = |field: &str, reason: String| {
            Err(ScenarioError::Invalid {
                file: file.to_string(),
                field: field.to_string(),
                reason,
            })
        };
        let refused = |refusal: kafka_model::client_settings::ConfigRefusal, table: &str| {
            Err(ScenarioError::Refused {
                file: file.to_string(),
                reason: refusal.describe(table),
            })
        };
        let day_ms = 24 * 3_600_000;
        if self.brokers == 0 || self.brokers > 89 {
            return invalid("brokers", format!("must be 1..=89, got {}", self.brokers));
        }
        if self.topics.is_empty() {
            return invalid("topics", "at least one topic is needed".into());
        }
        for (i, topic) in self.topics.iter().enumerate() {
            if topic.partitions == 0 || topic.partitions > 1000 {
                return invalid(
                    &format!("topics[{i}].partitions"),
                    format!("must be 1..=1000, got {}", topic.partitions),
                );
            }
            if topic.replication_factor == 0 || topic.replication_factor > self.brokers {
                return invalid(
                    &format!("topics[{i}].replication_factor"),
                    format!(
                        "must be 1..=brokers ({}), got {}",
                        self.brokers, topic.replication_factor
                    ),
                );
            }
            if topic.name.is_empty() || topic.name.contains(['/', ' ']) {
                return invalid(
                    &format!("topics[{i}].name"),
                    format!("`{}` is not a valid topic name", topic.name),
                );
            }
            // Kafka refuses to create a topic that exists (TopicExistsException).
            if self.topics[..i].iter().any(|t| t.name == topic.name) {
                return invalid(
                    &format!("topics[{i}].name"),
                    format!("`{}` is used twice: topic names are unique", topic.name),
                );
            }
        }
        let partitions: u64 = self.topics.iter().map(|t| u64::from(t.partitions)).sum();
        if partitions > 1000 {
            return invalid(
                "topics",
                format!("at most 1000 partitions in all topics together, got {partitions}"),
            );
        }
        if !self.topics.iter().any(|t| t.name == self.workload.topic) {
            return invalid(
                "workload.topic",
                format!("`{}` is not one of the topics", self.workload.topic),
            );
        }
        if self.producers > 50 || self.consumers > 50 {
            return invalid("producers", "at most 50 producers and 50 consumers".into());
        }
        if self.groups.len() > 10 {
            return invalid(
                "groups",
                format!("at most 10 groups, got {}", self.groups.len()),
            );
        }
        let coordinator = &self.broker.group;
        if coordinator.group_min_session_timeout_ms > coordinator.group_max_session_timeout_ms
            || coordinator.group_max_session_timeout_ms > day_ms
        {
            return invalid(
                "broker.group.group_max_session_timeout_ms",
                format!(
                    "must be at least group_min_session_timeout_ms ({}) and at most a day, got {}",
                    coordinator.group_min_session_timeout_ms,
                    coordinator.group_max_session_timeout_ms
                ),
            );
        }
        for (i, group) in self.groups.iter().enumerate() {
            if let Some((field, reason)) = group.problem(
                coordinator.group_min_session_timeout_ms,
                coordinator.group_max_session_timeout_ms,
            ) {
                return invalid(&format!("groups[{i}].{field}"), reason);
            }
            let topics: Vec<&str> = self.topics.iter().map(|t| t.name.as_str()).collect();
            if let Some((field, reason)) = group.pipeline_problem(
                &topics,
                &self.workload.topic,
                self.producer.idempotence_enabled(),
            ) {
                return invalid(&format!("groups[{i}].{field}"), reason);
            }
            if let Some(refusal) = group.member_config().refusal() {
                return refused(refusal, &format!("groups[{i}]"));
            }
            if self.groups[..i].iter().any(|g| g.id == group.id) {
                return invalid(
                    &format!("groups[{i}].id"),
                    format!("`{}` is used twice", group.id),
                );
            }
        }
        for (i, group) in self.groups.iter().enumerate() {
            if group.commit_mode == kafka_model::member::CommitMode::Manual {
                return invalid(
                    &format!("groups[{i}].commit_mode"),
                    "`manual` is a service consumer's mode (the service commits): a group \
                     of the harness commits after-processing, before-processing or \
                     transactional"
                        .into(),
                );
            }
        }
        // The clients' names end with the services'.
        let mut clients = self.client_names();
        clients.truncate(clients.len() - self.services.names().len());
        let others: Vec<String> = self
            .broker_names()
            .into_iter()
            .chain(self.controller_names())
            .chain([
                crate::world::CONTROLLER_NAME.to_string(),
                "wire".to_string(),
            ])
            .chain(clients)
            .collect();
        let topics: Vec<&str> = self.topics.iter().map(|t| t.name.as_str()).collect();
        if let Some((field, reason)) = self.services.problem(&others, &topics) {
            return invalid(&field, reason);
        }
        if (!self.groups.is_empty() || !self.services.list.is_empty())
            && !(1..=100).contains(&self.offsets_topic_partitions)
        {
            return invalid(
                "offsets_topic_partitions",
                format!("must be 1..=100, got {}", self.offsets_topic_partitions),
            );
        }
        let coordinator_default = kafka_model::group::GroupCoordinatorConfig::default();
        if self.broker.group.offsets_topic_partitions
            != coordinator_default.offsets_topic_partitions
        {
            return invalid(
                "broker.group.offsets_topic_partitions",
                "is taken from the cluster layout: set the top-level offsets_topic_partitions"
                    .into(),
            );
        }
        if self
            .topics
            .iter()
            .any(|t| t.name == kafka_model::group::OFFSETS_TOPIC)
        {
            return invalid(
                "topics",
                format!(
                    "`{}` is the internal offsets topic",
                    kafka_model::group::OFFSETS_TOPIC
                ),
            );
        }
        // Producer p sends values p * 1,000,000 + 1.., so more would collide with the next
        // producer's; and every send and read stays in memory for the checkers.
        if self.workload.records > RECORDS_PER_PRODUCER_MAX {
            return invalid(
                "workload.records",
                format!(
                    "at most {RECORDS_PER_PRODUCER_MAX} per producer (record values are \
                     producer * {RECORDS_PER_PRODUCER_MAX} + 1..), got {}",
                    self.workload.records
                ),
            );
        }
        let records = self.workload.records * u64::from(self.producers);
        if records > RECORDS_PER_RUN_MAX {
            return invalid(
                "workload.records",
                format!(
                    "at most {RECORDS_PER_RUN_MAX} records in a run (the history keeps every \
                     send and read in memory), got {} x {} producers",
                    self.workload.records, self.producers
                ),
            );
        }
        if self.workload.records > 0 && self.workload.rate_per_s == 0 {
            return invalid(
                "workload.rate_per_s",
                "must be positive when records are sent".into(),
            );
        }
        if let Some(interval_ms) = self.workload.interval_ms {
            if interval_ms == 0 || interval_ms > day_ms {
                return invalid(
                    "workload.interval_ms",
                    format!("must be 1..=a day ({day_ms}), got {interval_ms}"),
                );
            }
        }
        if self.producer.batch_size_records == 0 {
            return invalid("producer.batch_size_records", "must be positive".into());
        }
        if let Err(refusal) = self.producer.resolve() {
            return refused(refusal, "producer");
        }
        let transactional = self.producer.transactional_id.is_some();
        if let Some((field, reason)) = self.transactions.refusal(transactional, self.end_ms()) {
            return invalid(field, reason);
        }
        if let Some(id) = self.producer.transactional_id.as_deref() {
            if id.is_empty() || id.contains(char::is_whitespace) {
                return invalid(
                    "producer.transactional_id",
                    format!("`{id}` is not a usable transactional id"),
                );
            }
            let timeout_ms = self.producer.effective_transaction_timeout_ms();
            let max_ms = self.broker.txn.transaction_max_timeout_ms;
            if timeout_ms == 0 || timeout_ms > max_ms {
                // The coordinator would refuse every InitProducerId
                // (INVALID_TRANSACTION_TIMEOUT): no transaction could start.
                return invalid(
                    "producer.transaction_timeout_ms",
                    format!("must be 1..=broker.txn.transaction_max_timeout_ms ({max_ms}), got {timeout_ms}"),
                );
            }
        }
        if let Some(refusal) = self.consumer.refusal() {
            return refused(refusal, "consumer");
        }
        if self.producer.request_timeout_ms == 0 || self.consumer.request_timeout_ms == 0 {
            return invalid(
                "producer.request_timeout_ms",
                "timeouts must be positive".into(),
            );
        }
        let timeouts = [
            (
                "producer.delivery_timeout_ms",
                self.producer.effective_delivery_timeout_ms(),
            ),
            (
                "producer.request_timeout_ms",
                self.producer.request_timeout_ms,
            ),
            ("producer.retry_backoff_ms", self.producer.retry_backoff_ms),
            ("producer.linger_ms", self.producer.linger_ms),
            (
                "consumer.request_timeout_ms",
                self.consumer.request_timeout_ms,
            ),
            ("consumer.retry_backoff_ms", self.consumer.retry_backoff_ms),
            (
                "consumer.processing_delay_ms",
                self.consumer.processing_delay_ms,
            ),
            (
                "broker.log.retention_check_interval_ms",
                self.broker.log.retention_check_interval_ms,
            ),
            (
                "consumer.fetch_max_wait_ms",
                self.consumer.fetch_max_wait_ms,
            ),
            ("broker.fetch_max_wait_ms", self.broker.fetch_max_wait_ms),
            (
                "broker.replica_lag_time_max_ms",
                self.broker.replica_lag_time_max_ms,
            ),
            (
                "broker.replica_fetch_wait_max_ms",
                self.broker.replica_fetch_wait_max_ms,
            ),
            (
                "broker.inter_broker_request_timeout_ms",
                self.broker.inter_broker_request_timeout_ms,
            ),
            (
                "controller.session_timeout_ms",
                self.controller.session_timeout_ms,
            ),
            (
                "controller.election_timeout_ms",
                self.controller.election_timeout_ms,
            ),
            (
                "controller.fetch_timeout_ms",
                self.controller.fetch_timeout_ms,
            ),
            (
                "broker.metadata_fetch_max_wait_ms",
                self.broker.metadata_fetch_max_wait_ms,
            ),
            (
                "broker.offsets_commit_timeout_ms",
                self.broker.offsets_commit_timeout_ms,
            ),
            (
                "broker.group.group_initial_rebalance_delay_ms",
                self.broker.group.group_initial_rebalance_delay_ms,
            ),
            (
                "broker.group.new_member_join_timeout_ms",
                self.broker.group.new_member_join_timeout_ms,
            ),
            (
                "producer.metadata_max_age_ms",
                self.producer.metadata_max_age_ms,
            ),
            ("network.reset_after_ms", self.network.reset_after_ms),
        ];
        if let Some((field, value)) = timeouts.iter().find(|(_, v)| *v > day_ms) {
            return invalid(field, format!("{value} ms is more than a day"));
        }
        if !self.network.connections()
            && self.network.reset_after_ms != NetworkSettings::default().reset_after_ms
        {
            return invalid(
                "network.reset_after_ms",
                "only connections reset: set `transport = \"connections\"` too".into(),
            );
        }
        // A timer of 0 would fire again and again at one simulated instant.
        let timers = [
            (
                "controller.election_timeout_ms",
                self.controller.election_timeout_ms,
            ),
            (
                "controller.fetch_timeout_ms",
                self.controller.fetch_timeout_ms,
            ),
            (
                "broker.offsets_commit_timeout_ms",
                self.broker.offsets_commit_timeout_ms,
            ),
            (
                "broker.group.new_member_join_timeout_ms",
                self.broker.group.new_member_join_timeout_ms,
            ),
            (
                "producer.metadata_max_age_ms",
                self.producer.metadata_max_age_ms,
            ),
        ];
        if let Some((field, _)) = timers.iter().find(|(_, v)| *v == 0) {
            return invalid(
                field,
                "must be positive: a timer of 0 ms would fire forever at one instant".into(),
            );
        }
        for (i, group) in self.groups.iter().enumerate() {
            let group_timeouts = [
                ("process_ms", group.process_ms),
                ("session_timeout_ms", group.session_timeout_ms),
                ("heartbeat_interval_ms", group.heartbeat_interval_ms),
                ("rebalance_timeout_ms", group.rebalance_timeout_ms),
                (
                    "auto_commit_interval_ms",
                    group.auto_commit_interval_ms.unwrap_or(0),
                ),
            ];
            if let Some((field, value)) = group_timeouts.iter().find(|(_, v)| *v > day_ms) {
                return invalid(
                    &format!("groups[{i}].{field}"),
                    format!("{value} ms is more than a day"),
                );
            }
        }
        let max_rf = self
            .topics
            .iter()
            .map(|t| t.replication_factor as usize)
            .max()
            .unwrap_or(1);
        if self.broker.min_insync_replicas == 0 || self.broker.min_insync_replicas > max_rf {
            return invalid(
                "broker.min_insync_replicas",
                format!(
                    "must be 1..=replication_factor ({max_rf}), got {}: acks=all writes \
                     could never succeed",
                    self.broker.min_insync_replicas
                ),
            );
        }
        if self.broker.spurious_error.is_some_and(|s| s.every == 0) {
            return invalid(
                "broker.spurious_error.every",
                "must be at least 1 (every N-th request gets the error)".to_string(),
            );
        }
        if self.broker.heartbeat_interval_ms == 0
            || self.broker.heartbeat_interval_ms >= self.controller.session_timeout_ms
        {
            return invalid(
                "broker.heartbeat_interval_ms",
                format!(
                    "must be positive and below controller.session_timeout_ms ({}), got {}",
                    self.controller.session_timeout_ms, self.broker.heartbeat_interval_ms
                ),
            );
        }
        if self.broker.replica_lag_time_max_ms == 0
            || self.broker.inter_broker_request_timeout_ms == 0
            || self.broker.replica_fetch_max_records == 0
        {
            return invalid(
                "broker.replica_lag_time_max_ms",
                "replica_lag_time_max_ms, inter_broker_request_timeout_ms and \
                 replica_fetch_max_records must be positive"
                    .into(),
            );
        }
        if self.broker.log.segment_bytes < 64 {
            return invalid("broker.log.segment_bytes", "must be at least 64".into());
        }
        if self.broker.log.retention_check_interval_ms == 0 {
            return invalid(
                "broker.log.retention_check_interval_ms",
                "must be positive".into(),
            );
        }
        if self.broker.log.flush_messages == Some(0) {
            return invalid(
                "broker.log.flush_messages",
                "must be positive (omit it for async flush)".into(),
            );
        }
        if self.liveness_ms == 0 {
            return invalid(
                "liveness_ms",
                "must be positive: the heal phase needs time".into(),
            );
        }
        for (field, value) in [
            ("fault_phase_ms", self.fault_phase_ms),
            ("liveness_ms", self.liveness_ms),
        ] {
            if value > RUN_MAX_MS {
                return invalid(
                    field,
                    format!(
                        "{value} ms: a run may last at most 30 simulated days ({RUN_MAX_MS} ms)"
                    ),
                );
            }
        }
        if self.end_ms() > RUN_MAX_MS {
            return invalid(
                "liveness_ms",
                format!(
                    "fault_phase_ms + liveness_ms = {} ms: a run may last at most 30 simulated \
                     days ({RUN_MAX_MS} ms)",
                    self.end_ms()
                ),
            );
        }
        if !(1..=9).contains(&self.controller.voters) {
            return invalid(
                "controller.voters",
                format!(
                    "a quorum of 1 to 9 controllers (1, 3 or 5 as a rule), got {}",
                    self.controller.voters
                ),
            );
        }
        if !self.controller.unclean_shutdown_detection && !self.controller.eligible_leader_replicas
        {
            return invalid(
                "controller.unclean_shutdown_detection",
                "false breaks eligible leader replicas, which are off: set \
                 controller.eligible_leader_replicas = true too (without ELR no election \
                 reads it)"
                    .to_string(),
            );
        }
        self.validate_faults(file)?;
        self.expect.validate(file)
    }
}

impl Scenario {
    /// One line for each setting left at its default that Kafka's clients switch off or
    /// adjust because of the scenario's other settings (none for an invalid scenario).
    pub fn default_overrides(&self) -> Vec<String> {
        self.producer
            .resolve()
            .map(|resolved| {
                resolved
                    .overrides
                    .iter()
                    .map(|o| o.describe("producer"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

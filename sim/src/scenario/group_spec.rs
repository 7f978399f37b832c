//! A consumer group in a scenario: its members and how they process and commit.

use kafka_model::group::Assignor;
use kafka_model::member::{CommitMode, MemberConfig};
use serde::{Deserialize, Serialize};

/// One consumer group reading the workload topic. Its members are nodes named
/// `{id}-m1`, `{id}-m2`...
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupSpec {
    /// `group.id`.
    pub id: String,
    pub members: u32,
    /// `partition.assignment.strategy`: `range`, `roundrobin` or `cooperative-sticky`.
    pub assignor: Assignor,
    /// `after-processing` (at-least-once) or `before-processing` (at-most-once).
    pub commit_mode: CommitMode,
    /// `enable.auto.commit` with this interval; absent: commit after each processed poll.
    pub auto_commit_interval_ms: Option<u64>,
    /// How long processing one poll's records takes.
    pub process_ms: u64,
    pub session_timeout_ms: u64,
    pub heartbeat_interval_ms: u64,
    /// `max.poll.interval.ms`: how long a rebalance waits for a member to rejoin.
    pub rebalance_timeout_ms: u64,
    /// Whether the random nemesis may crash, pause and restart this group's members.
    pub member_faults: bool,
}

impl Default for GroupSpec {
    fn default() -> Self {
        // Kafka's 45 s session and 5 min poll interval are scaled down like the harness's
        // other timeouts, to the coordinator's 6 s minimum session.
        GroupSpec {
            id: "g1".into(),
            members: 2,
            assignor: Assignor::Range,
            commit_mode: CommitMode::AfterProcessing,
            auto_commit_interval_ms: None,
            process_ms: 20,
            session_timeout_ms: 6_000,
            heartbeat_interval_ms: 1_000,
            rebalance_timeout_ms: 10_000,
            member_faults: false,
        }
    }
}

impl GroupSpec {
    pub fn member_names(&self) -> Vec<String> {
        (1..=self.members)
            .map(|m| format!("{}-m{m}", self.id))
            .collect()
    }

    /// The model's settings for one member.
    pub fn member_config(&self) -> MemberConfig {
        MemberConfig {
            group: self.id.clone(),
            assignors: vec![self.assignor],
            session_timeout_ms: self.session_timeout_ms,
            heartbeat_interval_ms: self.heartbeat_interval_ms,
            rebalance_timeout_ms: self.rebalance_timeout_ms,
            commit_mode: self.commit_mode,
            auto_commit_interval_ms: self.auto_commit_interval_ms,
            process_ms: self.process_ms,
        }
    }

    /// Why the group cannot run in the harness, naming the field; what Kafka's consumer
    /// itself refuses is `MemberConfig::refusal`.
    pub fn problem(
        &self,
        min_session_ms: u64,
        max_session_ms: u64,
    ) -> Option<(&'static str, String)> {
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Some((
                "id",
                format!(
                    "`{}`: letters, digits and `_` only (members are named `{{id}}-m1`...)",
                    self.id
                ),
            ));
        }
        if !(1..=20).contains(&self.members) {
            return Some(("members", format!("must be 1..=20, got {}", self.members)));
        }
        if self.session_timeout_ms < min_session_ms || self.session_timeout_ms > max_session_ms {
            return Some((
                "session_timeout_ms",
                format!(
                    "{} is outside the coordinator's group.min/max.session.timeout.ms ({min_session_ms}..={max_session_ms})",
                    self.session_timeout_ms
                ),
            ));
        }
        // Kafka's own bounds (heartbeat below session, a positive poll interval) are the
        // model's `MemberConfig::refusal`; a zero heartbeat Kafka accepts would spin.
        if self.heartbeat_interval_ms == 0 {
            return Some(("heartbeat_interval_ms", "must be above 0".into()));
        }
        if self.auto_commit_interval_ms == Some(0) {
            return Some((
                "auto_commit_interval_ms",
                "must be above 0 (or absent)".into(),
            ));
        }
        None
    }
}

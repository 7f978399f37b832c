//! A consumer group in a scenario: its members and how they process and commit (or, as
//! an exactly-once pipeline, what they produce).

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
    /// `after-processing` (at-least-once), `before-processing` (at-most-once), or
    /// `transactional` (an exactly-once pipeline: each member produces to `output_topic`
    /// and commits its offsets in the same transaction).
    pub commit_mode: CommitMode,
    /// A transactional group's output topic (one of `[[topics]]`): one record per input
    /// record. The scenario's plain consumers read it too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_topic: Option<String>,
    /// A transactional group seeks back to its committed offsets after a transaction that
    /// did not commit; `false` is the broken application that keeps its positions.
    pub rewind_after_abort: bool,
    /// A transactional group's members abort every this many transactions on purpose
    /// (after flushing: the aborted output is in the log), as on a processing error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_every: Option<u64>,
    /// KIP-447: a transactional group's offsets carry the member's generation and id, so
    /// that the coordinator refuses a zombie's. `false` is the pre-KIP-447 application
    /// (`sendOffsetsToTransaction(offsets, groupId)`) with a transactional id per member.
    pub fence_with_generation: bool,
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
            output_topic: None,
            rewind_after_abort: true,
            abort_every: None,
            fence_with_generation: true,
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
            rewind_after_abort: self.rewind_after_abort,
        }
    }

    pub fn is_pipeline(&self) -> bool {
        self.commit_mode == CommitMode::Transactional
    }

    /// A pipeline member's transactional id: its node name, stable across restarts, so
    /// that a restarted member fences its predecessor's transaction.
    pub fn transactional_id(member_name: &str) -> String {
        member_name.to_string()
    }

    /// Why the group's pipeline settings cannot run: a transactional group needs an
    /// output topic that exists and is not its input, and idempotent producers.
    pub fn pipeline_problem(
        &self,
        topics: &[&str],
        input_topic: &str,
        idempotent_producers: bool,
    ) -> Option<(&'static str, String)> {
        if !self.is_pipeline() {
            if self.output_topic.is_some() {
                return Some((
                    "output_topic",
                    "only a transactional group produces: set commit_mode = \"transactional\""
                        .into(),
                ));
            }
            if self.abort_every.is_some() {
                return Some((
                    "abort_every",
                    "only a transactional group runs transactions".into(),
                ));
            }
            if !self.fence_with_generation {
                return Some((
                    "fence_with_generation",
                    "only a transactional group sends offsets to a transaction".into(),
                ));
            }
            if !self.rewind_after_abort {
                return Some((
                    "rewind_after_abort",
                    "only a transactional group rewinds after an abort".into(),
                ));
            }
            return None;
        }
        let Some(output) = self.output_topic.as_deref() else {
            return Some((
                "output_topic",
                "a transactional group must name the topic it produces to".into(),
            ));
        };
        if !topics.contains(&output) {
            return Some((
                "output_topic",
                format!("`{output}` is not one of the scenario's [[topics]]"),
            ));
        }
        if output == input_topic {
            return Some((
                "output_topic",
                format!("`{output}` is the workload topic the group reads"),
            ));
        }
        if self.abort_every == Some(0) {
            return Some(("abort_every", "must be at least 1 (or absent)".into()));
        }
        if self.auto_commit_interval_ms.is_some() {
            return Some((
                "auto_commit_interval_ms",
                "a transactional group commits with its transactions, not on a timer".into(),
            ));
        }
        if !idempotent_producers {
            return Some((
                "commit_mode",
                "a transactional group's producers need idempotence (Kafka refuses a \
                 transactional.id without it): [producer] turns it off"
                    .into(),
            ));
        }
        None
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

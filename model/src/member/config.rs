//! A group member's settings: the Java consumer's group configs, and how the application
//! processes and commits.

use crate::group::Assignor;
use serde::{Deserialize, Serialize};

/// When the member commits relative to processing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitMode {
    /// Process, then commit last processed + 1: a member that dies in between leaves its
    /// records to be processed again (at-least-once).
    #[default]
    AfterProcessing,
    /// Commit the polled end, then process: a member that dies in between loses those
    /// records' processing (at-most-once).
    BeforeProcessing,
    /// Exactly-once (consume-transform-produce): the member does not commit; the
    /// application takes what was processed ([`super::GroupMember::take_processed`]) and
    /// commits its offsets with its transaction (`sendOffsetsToTransaction`); after an
    /// abort the member goes back to the group's committed offsets.
    Transactional,
    /// The application commits (a service's `commitSync`): the member hands it what was
    /// polled ([`super::GroupMember::take_polled`]) and commits the offsets it names
    /// ([`super::GroupMember::commit_manually`]), never on its own.
    Manual,
}

impl CommitMode {
    pub fn name(self) -> &'static str {
        match self {
            CommitMode::AfterProcessing => "after-processing",
            CommitMode::BeforeProcessing => "before-processing",
            CommitMode::Transactional => "transactional",
            CommitMode::Manual => "manual",
        }
    }
}

/// One group member's settings (Kafka's consumer defaults unless the scenario scales them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemberConfig {
    /// `group.id`.
    pub group: String,
    /// `partition.assignment.strategy`: the assignors offered, preferred first.
    pub assignors: Vec<Assignor>,
    /// `session.timeout.ms`: without a heartbeat for this long the member is removed.
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval_ms: u64,
    /// `max.poll.interval.ms`, sent as the rebalance timeout.
    pub rebalance_timeout_ms: u64,
    pub commit_mode: CommitMode,
    /// `enable.auto.commit` with `auto.commit.interval.ms`: commit the processed offsets
    /// every this many ms. `None`: commit after each processed poll.
    pub auto_commit_interval_ms: Option<u64>,
    /// How long the application takes to process one poll's records.
    pub process_ms: u64,
    /// Transactional mode: after a transaction that did not commit, seek every owned
    /// partition back to its committed offset, as Kafka's exactly-once applications do.
    /// `false` is a broken application that keeps its positions and so skips the aborted
    /// transaction's input.
    pub rewind_after_abort: bool,
}

impl Default for MemberConfig {
    fn default() -> Self {
        MemberConfig {
            group: "group".into(),
            assignors: vec![Assignor::Range, Assignor::CooperativeSticky],
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 3_000,
            rebalance_timeout_ms: 300_000,
            commit_mode: CommitMode::AfterProcessing,
            auto_commit_interval_ms: None,
            process_ms: 0,
            rewind_after_abort: true,
        }
    }
}

//! Checkers: read a run's history and report anomalies, each classified against what the
//! run's configuration promises (DESIGN.md section 6). One checker per file, each citing
//! where its rule comes from.

use crate::history::History;
use serde::{Deserialize, Serialize};
use std::fmt;

pub mod duplicate;
pub mod inconsistent_offsets;
pub mod lost_write;
pub mod nonmonotonic_poll;
pub mod nonmonotonic_send;
pub mod poll_skip;
mod view;

/// Jepsen's queue anomaly taxonomy, as used by its Kafka workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    NonmonotonicSend,
    Duplicate,
    PollSkip,
    NonmonotonicPoll,
    InconsistentOffsets,
    LostWrite,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 6] = [
        AnomalyKind::NonmonotonicSend,
        AnomalyKind::Duplicate,
        AnomalyKind::PollSkip,
        AnomalyKind::NonmonotonicPoll,
        AnomalyKind::InconsistentOffsets,
        AnomalyKind::LostWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::NonmonotonicSend => "nonmonotonic-send",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::PollSkip => "poll-skip",
            AnomalyKind::NonmonotonicPoll => "nonmonotonic-poll",
            AnomalyKind::InconsistentOffsets => "inconsistent-offsets",
            AnomalyKind::LostWrite => "lost-write",
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the run's configuration promises the anomaly cannot happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Kafka does not promise its absence under this configuration: reported, not failed.
    Allowed,
    /// A broken promise: the run fails.
    Violation,
}

/// One anomaly found in a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub verdict: Verdict,
    /// Why it is allowed or a violation, in one line.
    pub why: String,
    /// What was seen, in one line (values, offsets, processes).
    pub detail: String,
    /// The values of the records involved, to follow them (`kafka-sim explain`).
    #[serde(default)]
    pub values: Vec<u64>,
    /// The history index of the operation where it shows.
    pub index: u64,
}

/// What a run's configuration and faults promise, for classifying anomalies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promises {
    /// Idempotent producer: no duplicates and send order kept, per partition.
    pub idempotence: bool,
    /// Retries are on (`retries > 0`).
    pub retries: bool,
    /// `max.in.flight.requests.per.connection > 1`.
    pub max_in_flight_above_one: bool,
    /// `acks` as the history writes it: "0", "1" or "all".
    pub acks: String,
    /// Power losses happen and appends are not fsynced: un-fsynced acknowledged records
    /// may vanish, and offsets may be reused.
    pub power_loss_with_async_flush: bool,
}

/// Runs every checker over the history.
pub fn check_all(history: &History, promises: &Promises) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    anomalies.extend(nonmonotonic_send::check(history, promises));
    anomalies.extend(duplicate::check(history, promises));
    anomalies.extend(poll_skip::check(history, promises));
    anomalies.extend(nonmonotonic_poll::check(history, promises));
    anomalies.extend(inconsistent_offsets::check(history, promises));
    anomalies.extend(lost_write::check(history, promises));
    anomalies
}

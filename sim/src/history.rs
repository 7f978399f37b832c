//! The history: every client operation as Jepsen's Kafka workload records it, one JSON object
//! per line. It is the whole input of the checkers, and enough for an independent checker.

use kafka_model::effect::ObservedRecord;
use kafka_model::txn::IsolationLevel;
pub use projection::HistoryProjection;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

mod projection;
mod refusal;
mod txn;
mod txn_projection;

pub use refusal::{FetchRefusal, GroupRefusal, ProduceRefusal, RefusalRef};
pub use txn::{is_read_uncommitted, Mop, TxnValue};

/// Jepsen's operation types: `info` means indeterminate (it may or may not have happened).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// A `send`: one record handed to a producer, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendValue {
    pub topic: String,
    pub key: Option<String>,
    pub value: u64,
    pub acks: String,
    /// On `ok`: where the record was written (offset absent with acks=0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A `poll`: one fetch; on `ok`, the records it returned in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollValue {
    #[serde(default)]
    pub records: Vec<ObservedRecord>,
    /// On `ok`: the high watermark each fetched partition's leader reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub high_watermarks: Vec<HighWatermarkSeen>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The consumer's `isolation.level`; read_uncommitted (Kafka's default) is not
    /// written, so histories without transactions keep their shape.
    #[serde(default, skip_serializing_if = "is_read_uncommitted")]
    pub isolation: IsolationLevel,
}

/// A partition's high watermark as a fetch response reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HighWatermarkSeen {
    pub topic: String,
    pub partition: u32,
    pub high_watermark: u64,
}

/// An `assign`: the consumer's position for a partition was set (start, or reset after
/// OffsetOutOfRange). Reads on the two sides of it belong to different assignments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignValue {
    pub topic: String,
    pub partition: u32,
    /// The new position.
    pub offset: u64,
    /// Why: `auto.offset.reset=...` at start, [`OFFSET_OUT_OF_RANGE`] for a reset.
    pub reason: String,
    /// For a reset: the position that was out of range (below the log start, or past the
    /// log end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<u64>,
    /// For a reset: the `auto.offset.reset` that chose the new position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_offset_reset: Option<String>,
}

/// The `reason` of an `assign` that resets a position found out of range.
pub const OFFSET_OUT_OF_RANGE: &str = "offset-out-of-range";

impl AssignValue {
    /// For a reset that moved the position forward (`auto.offset.reset=earliest` past
    /// records retention deleted, or `latest`): the offsets skipped, `[from, offset)`.
    pub fn skipped(&self) -> Option<std::ops::Range<u64>> {
        let from = self.from.filter(|_| self.reason == OFFSET_OUT_OF_RANGE)?;
        (from < self.offset).then_some(from..self.offset)
    }
}

/// The operation: Jepsen's `f` and its `value`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "lowercase")]
pub enum Operation {
    Send(SendValue),
    Poll(PollValue),
    Assign(AssignValue),
    /// A group member's assignment for a generation (its SyncGroup answer).
    Assignment(AssignmentValue),
    Commit(CommitValue),
    Process(ProcessValue),
    /// A broker refused one partition of a produce request (see `refusal.rs`).
    Produce(ProduceRefusal),
    /// A broker refused one partition of a consumer fetch.
    Fetch(FetchRefusal),
    /// A group coordinator refused a request.
    Group(GroupRefusal),
    /// A transaction of a transactional producer (see `txn.rs`).
    Txn(TxnValue),
}

/// A partition named in a group operation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartitionRef {
    pub topic: String,
    pub partition: u32,
}

/// An `assignment`: `member` of `group` owns `partitions` in `generation` (empty: idle).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentValue {
    pub group: String,
    pub member: String,
    pub generation: u32,
    pub partitions: Vec<PartitionRef>,
}

/// One partition's committed offset (last processed + 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
}

/// A `commit`: invoke when sent, ok once durable in the offsets topic, fail when refused
/// (fenced by generation, coordinator moved) or timed out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitValue {
    pub group: String,
    pub member: String,
    pub generation: u32,
    pub offsets: Vec<CommittedOffset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A `process`: a group member finished processing these records, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessValue {
    pub group: String,
    pub member: String,
    pub generation: u32,
    pub records: Vec<ObservedRecord>,
}

/// One line of the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub index: u64,
    /// Global simulated time (not any node's skewed clock).
    pub time_ms: u64,
    pub process: String,
    #[serde(rename = "type")]
    pub op_type: OpType,
    #[serde(flatten)]
    pub op: Operation,
}

/// The first line of a history file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryMeta {
    #[serde(rename = "type")]
    pub kind: String,
    pub seed: u64,
    pub scenario: String,
    pub config: serde_json::Value,
    /// How the run ended ("pass", "safety violation"...), when written after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// What the checkers found, each with its verdict (allowed or violation) and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<crate::checkers::Anomaly>,
}

/// A run's history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub entries: Vec<HistoryEntry>,
}

impl History {
    pub fn push(&mut self, time_ms: u64, process: &str, op_type: OpType, op: Operation) {
        let index = self.entries.len() as u64;
        self.entries.push(HistoryEntry {
            index,
            time_ms,
            process: process.to_string(),
            op_type,
            op,
        });
    }

    /// Writes the meta line then one line per operation.
    pub fn write_jsonl(&self, meta: &HistoryMeta, mut to: impl Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut to, meta)?;
        writeln!(to)?;
        for entry in &self.entries {
            serde_json::to_writer(&mut to, entry)?;
            writeln!(to)?;
        }
        Ok(())
    }

    /// Reads a history written by `write_jsonl`. Errors name the line.
    pub fn read_jsonl(from: impl BufRead) -> Result<(HistoryMeta, History), String> {
        let mut lines = from.lines().enumerate();
        let meta = match lines.next() {
            Some((_, Ok(line))) => serde_json::from_str::<HistoryMeta>(&line)
                .map_err(|e| format!("line 1: not a meta record: {e}"))?,
            Some((_, Err(e))) => return Err(format!("line 1: {e}")),
            None => return Err("empty history".into()),
        };
        let mut history = History::default();
        for (n, line) in lines {
            let line = line.map_err(|e| format!("line {}: {e}", n + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let entry = serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", n + 1))?;
            history.entries.push(entry);
        }
        Ok((meta, history))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_have_jepsens_shape_and_round_trip() {
        let mut history = History::default();
        history.push(
            12,
            "producer-1",
            OpType::Ok,
            Operation::Send(SendValue {
                topic: "tasks".into(),
                key: Some("k1".into()),
                value: 7,
                acks: "all".into(),
                partition: Some(2),
                offset: Some(40),
                error: None,
            }),
        );
        let line = serde_json::to_string(&history.entries[0]).unwrap();
        assert_eq!(
            line,
            r#"{"index":0,"time_ms":12,"process":"producer-1","type":"ok","f":"send","value":{"topic":"tasks","key":"k1","value":7,"acks":"all","partition":2,"offset":40}}"#
        );
        let meta = HistoryMeta {
            kind: "meta".into(),
            seed: 1,
            scenario: "x".into(),
            config: serde_json::json!({}),
            outcome: Some("pass".into()),
            anomalies: Vec::new(),
        };
        let mut bytes = Vec::new();
        history.write_jsonl(&meta, &mut bytes).unwrap();
        let (back_meta, back) = History::read_jsonl(&bytes[..]).unwrap();
        assert_eq!(back_meta, meta);
        assert_eq!(back, history);
    }
}

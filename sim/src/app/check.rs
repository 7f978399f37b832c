//! User checks: the user's own contract over a run, as Rust code over its history and the
//! payloads its services sent. A failing check fails the run like a built-in violation
//! (`user-check`), with its replay command; built-in checks stay on.

use crate::checkers::{Anomaly, AnomalyKind, Verdict};
use crate::history::{History, HistoryEntry, OpType, Operation};
use kafka_model::effect::ObservedRecord;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A check's code: `Err(why)` fails the run.
pub type CheckFn = Arc<dyn Fn(&CheckInput) -> Result<(), String> + Send + Sync>;

/// One named check.
#[derive(Clone)]
pub struct UserCheck {
    pub name: String,
    pub run: CheckFn,
}

impl fmt::Debug for UserCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCheck")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl PartialEq for UserCheck {
    /// The same code (one closure) under the same name.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.run, &other.run)
    }
}

/// A record as a check sees it: where it is, its key, and its payload (a service's bytes,
/// or a workload record's number as text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedRecord {
    /// The process that sent or read it (`producer-1`, `relay-2`, `consumer-1`).
    pub process: String,
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub key: Option<String>,
    pub payload: Vec<u8>,
    /// The run-unique value the checkers name it by (`kafka-sim explain` follows it).
    pub id: u64,
}

/// What a check reads: the run's history and what the services sent.
pub struct CheckInput<'a> {
    pub history: &'a History,
    payloads: &'a BTreeMap<u64, Vec<u8>>,
}

impl<'a> CheckInput<'a> {
    pub fn new(history: &'a History, payloads: &'a BTreeMap<u64, Vec<u8>>) -> Self {
        CheckInput { history, payloads }
    }

    /// The payload of the record named `id`.
    pub fn payload(&self, id: u64) -> Vec<u8> {
        self.payloads
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string().into_bytes())
    }

    /// Every send to `topic` that was acknowledged, in history order.
    pub fn acknowledged_sends(&self, topic: &str) -> Vec<CheckedRecord> {
        self.history
            .entries
            .iter()
            .filter(|e| e.op_type == OpType::Ok)
            .filter_map(|e| match &e.op {
                Operation::Send(send) if send.topic == topic => Some(CheckedRecord {
                    process: e.process.clone(),
                    topic: send.topic.clone(),
                    partition: send.partition?,
                    offset: send.offset?,
                    key: send.key.clone(),
                    payload: self.payload(send.value),
                    id: send.value,
                }),
                _ => None,
            })
            .collect()
    }

    /// Every record of `topic` a consumer's poll returned (a service's consumer too), in
    /// history order: a record read twice is here twice.
    pub fn records_read(&self, topic: &str) -> Vec<CheckedRecord> {
        self.records_of(topic, |entry| match (&entry.op_type, &entry.op) {
            (OpType::Ok, Operation::Poll(poll)) => Some(&poll.records),
            _ => None,
        })
    }

    /// Every record of `topic` a group member handed to its application (a service's
    /// `recv`, a built-in member's processing), in history order.
    pub fn records_processed(&self, topic: &str) -> Vec<CheckedRecord> {
        self.records_of(topic, |entry| match &entry.op {
            Operation::Process(process) => Some(&process.records),
            _ => None,
        })
    }

    fn records_of(
        &self,
        topic: &str,
        records: impl Fn(&'a HistoryEntry) -> Option<&'a Vec<ObservedRecord>>,
    ) -> Vec<CheckedRecord> {
        let mut found = Vec::new();
        for entry in &self.history.entries {
            let Some(records) = records(entry) else {
                continue;
            };
            found.extend(
                records
                    .iter()
                    .filter(|r| r.topic == topic)
                    .map(|r| CheckedRecord {
                        process: entry.process.clone(),
                        topic: r.topic.clone(),
                        partition: r.partition,
                        offset: r.offset,
                        key: r.key.clone(),
                        payload: self.payload(r.value),
                        id: r.value,
                    }),
            );
        }
        found
    }
}

/// Runs every check over the run; a check that fails (or panics) is a `user-check`
/// violation naming it, at the end of the history.
pub fn run_checks(
    checks: &[UserCheck],
    history: &History,
    payloads: &BTreeMap<u64, Vec<u8>>,
) -> Vec<Anomaly> {
    let input = CheckInput::new(history, payloads);
    let end = history.entries.len() as u64;
    checks
        .iter()
        .filter_map(|check| {
            let verdict =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (check.run)(&input)))
                    .unwrap_or_else(|payload| {
                        let message = payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "a panic with a non-string payload".into());
                        Err(format!("the check panicked: {message}"))
                    });
            let why = verdict.err()?;
            Some(Anomaly::new(
                AnomalyKind::UserCheck,
                (Verdict::Violation, "the scenario's own check must hold"),
                format!("{}: {why}", check.name),
                Vec::new(),
                end,
            ))
        })
        .collect()
}

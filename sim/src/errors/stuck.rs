//! Liveness counts errors too: after the heal, with every fault gone, a client that keeps
//! getting retriable errors is stuck on them. The liveness phase names the errors a client
//! it waits for got since the heal, and a send handed over after the heal that ends failed
//! or indeterminate after retriable errors is a liveness violation on its own (the cluster
//! was healthy for its whole delivery timeout).

use crate::history::HistoryEntry;
use crate::history::{History, OpType, Operation, RefusalRef};
use std::collections::{BTreeMap, BTreeSet};

/// The retriable errors one client got since the heal.
#[derive(Clone, Debug, Default)]
struct ErrorsSinceHeal {
    counts: BTreeMap<String, u64>,
    /// The last one: its error, the broker that answered, and when.
    last: (String, String, u64),
}

/// Per client, the retriable errors it got since the heal.
#[derive(Clone, Debug, Default)]
pub struct StuckClients {
    healed_at_ms: Option<u64>,
    by_process: BTreeMap<String, ErrorsSinceHeal>,
}

impl StuckClients {
    /// Every fault ended at `time_ms`.
    pub fn on_healed(&mut self, time_ms: u64) {
        self.healed_at_ms = Some(time_ms);
    }

    pub fn healed_at_ms(&self) -> Option<u64> {
        self.healed_at_ms
    }

    pub(super) fn on_refusal(&mut self, entry: &HistoryEntry, refusal: &RefusalRef<'_>) {
        if !refusal.retriable || self.healed_at_ms.is_none_or(|heal| entry.time_ms < heal) {
            return;
        }
        let errors = self.by_process.entry(entry.process.clone()).or_default();
        *errors.counts.entry(refusal.error.to_string()).or_default() += 1;
        errors.last = (
            refusal.error.to_string(),
            refusal.broker.to_string(),
            entry.time_ms,
        );
    }

    /// "stuck on retriable errors since the heal: NOT_ENOUGH_REPLICAS x12, the last from b1
    /// @12345ms", for a client that got any.
    pub fn describe(&self, process: &str) -> Option<String> {
        let errors = self.by_process.get(process)?;
        let counts: Vec<String> = errors
            .counts
            .iter()
            .map(|(error, n)| format!("{error} x{n}"))
            .collect();
        let (error, broker, time_ms) = &errors.last;
        Some(format!(
            "stuck on retriable errors since the heal: {}, the last {error} from {broker} @{time_ms}ms",
            counts.join(", ")
        ))
    }
}

/// Sends handed to a producer at or after the heal (`healed_at_ms`) that ended failed or
/// indeterminate after retriable errors: one line per producer.
pub fn failed_after_heal(history: &History, healed_at_ms: u64) -> Vec<String> {
    let mut sent_after: BTreeSet<u64> = BTreeSet::new();
    // value -> (retriable errors, the last one and its broker)
    let mut refused: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    // producer -> (sends that failed so, the first of them)
    let mut stuck: BTreeMap<&str, (u64, String)> = BTreeMap::new();
    // A transaction's send may fail with its transaction and be sent again, as a new
    // record, in the next: whether its records got through is the transactions' to say.
    let transactional = crate::checkers::txn::transactional_values(history);
    for entry in &history.entries {
        match (&entry.op, entry.op_type) {
            (Operation::Send(send), OpType::Invoke) if entry.time_ms >= healed_at_ms => {
                sent_after.insert(send.value);
            }
            (Operation::Produce(p), _) if p.retriable && entry.time_ms >= healed_at_ms => {
                for value in &p.values {
                    let seen = refused.entry(*value).or_default();
                    seen.0 += 1;
                    seen.1 = format!("{} from {} @{}ms", p.error, p.broker, entry.time_ms);
                }
            }
            (Operation::Send(send), OpType::Fail | OpType::Info)
                if sent_after.contains(&send.value) && !transactional.contains(&send.value) =>
            {
                let Some((count, last)) = refused.get(&send.value) else {
                    continue;
                };
                let line = stuck.entry(entry.process.as_str()).or_default();
                if line.0 == 0 {
                    line.1 = format!(
                        "v{} ended {} ({}) after {count} retriable errors, the last {last}",
                        send.value,
                        if entry.op_type == OpType::Fail {
                            "failed"
                        } else {
                            "indeterminate"
                        },
                        send.error.as_deref().unwrap_or("")
                    );
                }
                line.0 += 1;
            }
            _ => {}
        }
    }
    stuck
        .into_iter()
        .map(|(process, (count, first))| {
            format!(
                "{process}: {count} sends handed over after the heal did not get through a \
                 healed cluster (first: {first})"
            )
        })
        .collect()
}

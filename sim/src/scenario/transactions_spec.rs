//! The scenario's `[transactions]` table: how a transactional producer's application
//! groups its records into transactions, and the transaction state topic's size.
//!
//! A producer is transactional when `[producer] transactional_id` is set: producer `p`
//! runs with the id `{transactional_id}-{p}` (Kafka's ids are per application instance).
//! With `successor_at_ms`, each such producer is an application instance replaced while it
//! runs: a successor with the same id takes over the records due from that time on.

use serde::{Deserialize, Serialize};

/// `[transactions]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransactionsSpec {
    /// Records each transaction sends (the last may send fewer).
    pub records_per_transaction: u64,
    /// Every `abort_every`-th transaction is aborted by its application instead of
    /// committed (0: every one commits).
    pub abort_every: u64,
    /// Partitions of `__transaction_state`, created (at replication factor
    /// min(3, brokers)) when producers are transactional. Kafka's default is 50; fewer keep
    /// runs lean.
    pub state_partitions: u32,
    /// When set, each transactional producer `p` has a successor: a second instance,
    /// `producer-{p}-successor`, with the same transactional id, that starts at this time
    /// (global ms), initializes the id (InitProducerId bumps its epoch, fencing the first
    /// instance and aborting its open transaction) and sends the producer's records due
    /// from then on; the first instance sends only those due before. A first instance
    /// paused or cut off across this time comes back a zombie, which must be fenced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub successor_at_ms: Option<u64>,
}

impl Default for TransactionsSpec {
    fn default() -> Self {
        TransactionsSpec {
            records_per_transaction: 5,
            abort_every: 0,
            state_partitions: 3,
            successor_at_ms: None,
        }
    }
}

impl TransactionsSpec {
    pub fn is_default(&self) -> bool {
        *self == TransactionsSpec::default()
    }

    /// Whether transaction `number` (from 1) of a producer is to be committed.
    pub fn commits(&self, number: u64) -> bool {
        self.abort_every == 0 || !number.is_multiple_of(self.abort_every)
    }

    /// Splits a producer's records between its first instance and its successor (none
    /// without `successor_at_ms`): the successor takes those due from its start.
    pub fn split_work<T>(&self, items: Vec<T>, due_ms: impl Fn(&T) -> u64) -> (Vec<T>, Vec<T>) {
        match self.successor_at_ms {
            Some(at_ms) => items.into_iter().partition(|item| due_ms(item) < at_ms),
            None => (items, Vec::new()),
        }
    }

    /// The field and why, for a table no run can honour (`run_end_ms`: the scenario's end).
    pub fn refusal(&self, transactional: bool, run_end_ms: u64) -> Option<(&'static str, String)> {
        if self.records_per_transaction == 0 {
            return Some((
                "transactions.records_per_transaction",
                "must be at least 1".into(),
            ));
        }
        if self.state_partitions == 0 || self.state_partitions > 50 {
            return Some((
                "transactions.state_partitions",
                format!("must be 1..=50, got {}", self.state_partitions),
            ));
        }
        if let Some(at_ms) = self.successor_at_ms {
            if at_ms == 0 || at_ms >= run_end_ms {
                return Some((
                    "transactions.successor_at_ms",
                    format!(
                        "must be 1..{run_end_ms} (within the run: fault_phase_ms + \
                         liveness_ms), got {at_ms}"
                    ),
                ));
            }
        }
        if !transactional && !self.is_default() {
            return Some((
                "transactions",
                "only transactional producers run transactions: set `[producer] \
                 transactional_id` too"
                    .into(),
            ));
        }
        None
    }
}

/// The transactional id of producer `p` (from 1), if producers are transactional.
pub fn transactional_id_of(prefix: Option<&str>, p: u32) -> Option<String> {
    prefix.map(|prefix| format!("{prefix}-{p}"))
}

/// The node name of producer `p`'s successor (`successor_at_ms`).
pub fn successor_name(p: u32) -> String {
    format!("producer-{p}-successor")
}

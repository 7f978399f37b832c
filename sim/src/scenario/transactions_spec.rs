//! The scenario's `[transactions]` table: how a transactional producer's application
//! groups its records into transactions, and the transaction state topic's size.
//!
//! A producer is transactional when `[producer] transactional_id` is set: producer `p`
//! runs with the id `{transactional_id}-{p}` (Kafka's ids are per application instance).

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
}

impl Default for TransactionsSpec {
    fn default() -> Self {
        TransactionsSpec {
            records_per_transaction: 5,
            abort_every: 0,
            state_partitions: 3,
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

    /// The field and why, for a table no run can honour.
    pub fn refusal(&self, transactional: bool) -> Option<(&'static str, String)> {
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

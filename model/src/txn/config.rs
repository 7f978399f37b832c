//! The transaction coordinator's broker settings (`transaction.*` broker configs).

use serde::{Deserialize, Serialize};

/// Kafka's defaults unless a field says otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TxnCoordinatorConfig {
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` a producer may ask
    /// for (INVALID_TRANSACTION_TIMEOUT above it).
    pub transaction_max_timeout_ms: u64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often the
    /// coordinator looks for transactions open longer than their timeout, and aborts them.
    pub abort_timed_out_check_interval_ms: u64,
}

impl Default for TxnCoordinatorConfig {
    fn default() -> Self {
        TxnCoordinatorConfig {
            transaction_max_timeout_ms: 900_000,
            abort_timed_out_check_interval_ms: 10_000,
        }
    }
}

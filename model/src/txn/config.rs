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
    /// How long a WriteTxnMarkers request may go unanswered before its markers are sent
    /// again (the coordinator's inter-broker `request.timeout.ms`).
    pub marker_request_timeout_ms: u64,
    /// How long a refused marker, or a failed state write, waits before it goes again
    /// (`retry.backoff.ms`).
    pub retry_backoff_ms: u64,
    /// How long a `__transaction_state` write may wait for the ISR before it fails with
    /// COORDINATOR_NOT_AVAILABLE (Kafka appends with `request.timeout.ms`).
    pub state_write_timeout_ms: u64,
    /// `offsets.topic.num.partitions`, for AddOffsetsToTxn's partition: the hosting broker
    /// sets it from its metadata.
    pub offsets_topic_partitions: u32,
    /// A deliberately broken variant: `false` completes an abort without writing abort
    /// markers to the transaction's partitions, so their aborted records are never marked
    /// aborted. Kafka's coordinator writes a marker to every partition in the transaction,
    /// commit or abort.
    pub write_abort_markers: bool,
}

impl Default for TxnCoordinatorConfig {
    fn default() -> Self {
        TxnCoordinatorConfig {
            transaction_max_timeout_ms: 900_000,
            abort_timed_out_check_interval_ms: 10_000,
            marker_request_timeout_ms: 30_000,
            retry_backoff_ms: 100,
            state_write_timeout_ms: 30_000,
            offsets_topic_partitions: 50,
            write_abort_markers: true,
        }
    }
}

//! Transactions (KIP-98, with KIP-890's part 1): the identifiers and wire messages the
//! transactional producer, the transaction coordinator and the partition leaders share.
//!
//! Design decisions:
//! - A transactional id lives on partition [`txn_coordinator_partition`] of
//!   [`TRANSACTION_STATE_TOPIC`]; the leader of that partition is its coordinator, as the
//!   leader of an offsets partition is a group's.
//! - The coordinator's requests travel wrapped in `Message::TxnRequest` and
//!   `Message::TxnResponse`, as the group coordinator's do, so that the broker's message type
//!   names them once.
//! - Markers are the coordinator's broker's `WriteTxnMarkers` to each partition's leader,
//!   which appends a control batch (`record::TxnPart::Marker`) that takes an offset.
//! - The coordinator ([`TransactionCoordinator`]) is pure, one per state partition, and
//!   follows the group coordinator's shape: its writes are [`TxnOutput::Write`]s the
//!   broker appends with acks=all and confirms through `write_completed`; failover is
//!   `resign` on the old leader and `from_records` on the new one, which finishes the
//!   transactions it finds prepared. Its markers leave as [`TxnOutput::SendMarkers`], one
//!   request per leader, and are retried by the coordinator's marker channel until every
//!   partition answered.
//! - Not modelled: Dead (expiry of idle ids, `transactional.id.expiration.ms`), KIP-890
//!   part 2's epoch bump per transaction, and epoch exhaustion while aborting (an init
//!   with an exhausted epoch does take a fresh producer id).

mod config;
mod coordinator;
mod log_records;
mod markers;
mod metadata;
mod output;
mod pending;
mod protocol;

pub use config::TxnCoordinatorConfig;
pub use coordinator::TransactionCoordinator;
pub use log_records::{TxnLogRecord, TxnState};
pub use metadata::TransactionMetadata;
pub use output::{MarkerRequestId, TxnOutput, TxnWriteId};
pub use protocol::{
    AbortedTxn, IsolationLevel, MarkerResults, TxnInit, TxnMarker, TxnRequest, TxnResponse,
};

use serde::{Deserialize, Serialize};
use std::fmt;

#[cfg(test)]
mod tests;

/// The topic whose partitions hold the transaction coordinators' state.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// The bit that marks a control record's value as a transaction marker's (the offsets
/// topic's records use bit 62, the transaction coordinator's 61), so that values stay
/// unique per run and a loss of a marker can be told from a loss of data.
pub const MARKER_VALUE_BIT: u64 = 1 << 60;

/// A producer's `transactional.id`: what survives its restarts, so that a new instance
/// fences the old one and finishes what it left open.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TransactionalId(pub String);

impl TransactionalId {
    pub fn new(id: impl Into<String>) -> Self {
        TransactionalId(id.into())
    }
}

impl fmt::Display for TransactionalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The partition of the transaction state topic whose leader coordinates `id`: Kafka's
/// `abs(transactionalId.hashCode()) % transaction.state.log.num.partitions`, the hash the
/// group coordinator uses for group ids.
pub fn txn_coordinator_partition(id: &TransactionalId, state_topic_partitions: u32) -> u32 {
    crate::group::coordinator_partition(
        &crate::group::GroupId::new(id.0.clone()),
        state_topic_partitions,
    )
}

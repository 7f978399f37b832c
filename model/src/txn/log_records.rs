//! What the transaction coordinator writes to `__transaction_state`: one record per state
//! change of a transactional id (Kafka's TransactionLogValue), keyed by the id. A new
//! coordinator replays them in log order, the latest per id winning, as compaction keeps.

use super::TransactionalId;
use crate::ids::{Millis, ProducerEpoch, ProducerId, TopicPartition};
use serde::{Deserialize, Serialize};

/// A transactional id's state (Kafka's TransactionState, without Dead).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TxnState {
    /// Initialized, no transaction open.
    Empty,
    /// A transaction is open: partitions were added to it.
    Ongoing,
    /// The producer asked to commit; the markers are being written.
    PrepareCommit,
    /// The producer (or the coordinator: a timeout, a new instance) asked to abort; the
    /// markers are being written.
    PrepareAbort,
    /// Every marker of the committed transaction is written.
    CompleteCommit,
    /// Every marker of the aborted transaction is written.
    CompleteAbort,
    /// In memory only, never written: the coordinator bumped the epoch to abort an open
    /// transaction (a new instance's InitProducerId, or a timeout) and is writing the
    /// PrepareAbort.
    PrepareEpochFence,
}

impl TxnState {
    /// Whether markers are being written (the transaction is ending).
    pub fn is_prepared(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }

    /// Whether no transaction is open: a new one may begin.
    pub fn is_idle(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }
}

/// One record of `__transaction_state`: everything the coordinator knows of one id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnLogRecord {
    pub transactional_id: TransactionalId,
    pub producer_id: ProducerId,
    pub producer_epoch: ProducerEpoch,
    pub transaction_timeout_ms: u64,
    pub state: TxnState,
    /// The partitions of the open (or ending) transaction; empty once it completed.
    pub partitions: Vec<TopicPartition>,
    /// When the transaction began (its first AddPartitions), on the coordinator's clock:
    /// the timeout counts from here.
    pub txn_start_ms: Millis,
    pub last_update_ms: Millis,
}

impl TxnLogRecord {
    /// The record as one JSON line, for a log whose records carry text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("transaction log records always serialize")
    }

    pub fn from_json(text: &str) -> Result<TxnLogRecord, serde_json::Error> {
        serde_json::from_str(text)
    }
}

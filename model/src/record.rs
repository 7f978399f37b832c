//! Records and record batches: what producers send, brokers store and consumers read.

use crate::ids::{LeaderEpoch, Millis, Offset, ProducerEpoch, ProducerId};
use serde::{Deserialize, Serialize};

/// One record as the application sees it. `value` is unique per run so that the history
/// can name every record; `key` picks the partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub key: Option<String>,
    pub value: u64,
    pub timestamp_ms: Millis,
}

/// Identity of an idempotent producer's batch (KIP-98): the broker uses it to drop
/// duplicates and to reject out-of-order sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerStamp {
    pub producer_id: ProducerId,
    pub producer_epoch: ProducerEpoch,
    /// Sequence number of the first record in the batch.
    pub base_sequence: u32,
}

/// A batch of records as stored in the log: Kafka's RecordBatch, reduced to what the
/// simulation needs. Offsets are assigned by the leader on append.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordBatch {
    pub base_offset: Offset,
    /// The leader epoch of the leader that appended the batch (KIP-101).
    pub leader_epoch: LeaderEpoch,
    pub producer: Option<ProducerStamp>,
    /// Set for a transactional producer's batch and for a commit or abort marker (Kafka's
    /// `isTransactional` and `isControl` attributes); both need a producer stamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn: Option<TxnPart>,
    pub records: Vec<Record>,
}

/// What a transactional batch is: the producer's data, or the coordinator's marker that ends
/// the producer's transaction on this partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnPart {
    Data,
    /// A control batch: one record, never handed to an application.
    Marker(ControlMarker),
}

/// A commit or abort marker (Kafka's EndTransactionMarker), written by a partition's leader
/// when the transaction coordinator asks (WriteTxnMarkers). It takes an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlMarker {
    pub commit: bool,
    /// The coordinator's epoch (its `__transaction_state` partition's leader epoch), so a
    /// deposed coordinator's late marker can be refused.
    pub coordinator_epoch: u32,
}

impl RecordBatch {
    /// Offset one past the last record of the batch.
    pub fn next_offset(&self) -> Offset {
        Offset(self.base_offset.0 + self.records.len() as u64)
    }

    pub fn last_offset(&self) -> Offset {
        Offset(self.next_offset().0 - 1)
    }

    /// Whether this is a commit or abort marker rather than records for applications.
    pub fn is_control(&self) -> bool {
        matches!(self.txn, Some(TxnPart::Marker(_)))
    }

    /// Whether the batch belongs to a transaction (its data or its marker).
    pub fn is_transactional(&self) -> bool {
        self.txn.is_some()
    }

    pub fn last_sequence(&self) -> Option<u32> {
        self.producer
            .map(|stamp| stamp.base_sequence + self.records.len() as u32 - 1)
    }
}

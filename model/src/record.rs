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
    pub records: Vec<Record>,
}

impl RecordBatch {
    /// Offset one past the last record of the batch.
    pub fn next_offset(&self) -> Offset {
        Offset(self.base_offset.0 + self.records.len() as u64)
    }

    pub fn last_offset(&self) -> Offset {
        Offset(self.next_offset().0 - 1)
    }

    pub fn last_sequence(&self) -> Option<u32> {
        self.producer
            .map(|stamp| stamp.base_sequence + self.records.len() as u32 - 1)
    }
}

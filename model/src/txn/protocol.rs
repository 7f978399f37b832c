//! The transaction coordinator's requests and answers (Kafka's AddPartitionsToTxn,
//! AddOffsetsToTxn and EndTxn), the markers it asks leaders to write (WriteTxnMarkers), and
//! what a read_committed fetch needs (the isolation level, the aborted transactions).

use super::TransactionalId;
use crate::group::GroupId;
use crate::ids::{Offset, ProducerEpoch, ProducerId, TopicPartition};
use crate::protocol::ErrorCode;
use serde::{Deserialize, Serialize};

/// A transactional InitProducerId: the id to take over and the timeout after which the
/// coordinator aborts a transaction the producer left open (`transaction.timeout.ms`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnInit {
    pub transactional_id: TransactionalId,
    pub transaction_timeout_ms: u64,
}

/// A request to the transaction coordinator. Each names the producer id and epoch the
/// producer holds, so that a fenced instance (an older epoch) is refused with
/// PRODUCER_FENCED.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnRequest {
    /// Adds partitions to the producer's transaction before it produces to them (it
    /// begins the transaction if none is open). With `verify_only` (KIP-890 part 1, sent by
    /// a partition leader, not the producer) it adds nothing and answers whether each
    /// partition is already in the open transaction.
    AddPartitions {
        transactional_id: TransactionalId,
        producer_id: ProducerId,
        producer_epoch: ProducerEpoch,
        partitions: Vec<TopicPartition>,
        verify_only: bool,
    },
    /// Adds the group's offsets partition to the transaction, before TxnOffsetCommit
    /// (`sendOffsetsToTransaction`).
    AddOffsets {
        transactional_id: TransactionalId,
        producer_id: ProducerId,
        producer_epoch: ProducerEpoch,
        group: GroupId,
    },
    /// Commits or aborts the open transaction. Answered once the coordinator has logged
    /// PrepareCommit or PrepareAbort; the markers follow.
    EndTxn {
        transactional_id: TransactionalId,
        producer_id: ProducerId,
        producer_epoch: ProducerEpoch,
        commit: bool,
    },
}

impl TxnRequest {
    pub fn transactional_id(&self) -> &TransactionalId {
        match self {
            TxnRequest::AddPartitions {
                transactional_id, ..
            }
            | TxnRequest::AddOffsets {
                transactional_id, ..
            }
            | TxnRequest::EndTxn {
                transactional_id, ..
            } => transactional_id,
        }
    }

    /// A short name for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            TxnRequest::AddPartitions {
                verify_only: true, ..
            } => "VerifyTxnReq",
            TxnRequest::AddPartitions { .. } => "AddPartitionsToTxnReq",
            TxnRequest::AddOffsets { .. } => "AddOffsetsToTxnReq",
            TxnRequest::EndTxn { .. } => "EndTxnReq",
        }
    }
}

/// The coordinator's answer to a [`TxnRequest`] of the same kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnResponse {
    AddPartitions {
        results: Vec<(TopicPartition, Result<(), ErrorCode>)>,
    },
    AddOffsets {
        result: Result<(), ErrorCode>,
    },
    EndTxn {
        result: Result<(), ErrorCode>,
    },
}

impl TxnResponse {
    /// A short name for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            TxnResponse::AddPartitions { .. } => "AddPartitionsToTxnResp",
            TxnResponse::AddOffsets { .. } => "AddOffsetsToTxnResp",
            TxnResponse::EndTxn { .. } => "EndTxnResp",
        }
    }
}

/// One producer's marker for some partitions, as the coordinator sends it to their leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnMarker {
    pub producer_id: ProducerId,
    pub producer_epoch: ProducerEpoch,
    pub commit: bool,
    /// The coordinator's epoch: a leader refuses a marker older than one it already wrote
    /// for the producer (a deposed coordinator's).
    pub coordinator_epoch: u32,
    pub partitions: Vec<TopicPartition>,
}

/// A WriteTxnMarkers answer: per producer, per partition, whether its marker is written
/// (and replicated, as an acks=all write is) or why not.
pub type MarkerResults = Vec<(ProducerId, Vec<(TopicPartition, Result<(), ErrorCode>)>)>;

/// `isolation.level`: how far a consumer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IsolationLevel {
    /// To the high watermark, open and aborted transactions included.
    #[default]
    ReadUncommitted,
    /// To the last stable offset, skipping aborted transactions' records.
    ReadCommitted,
}

/// An aborted transaction a read_committed fetch may meet: the consumer skips this
/// producer's transactional records from `first_offset` until the producer's abort marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AbortedTxn {
    pub producer_id: ProducerId,
    pub first_offset: Offset,
}

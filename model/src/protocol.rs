//! The wire protocol between clients and brokers: requests, responses and error codes.

use crate::config::{Acks, OffsetReset};
use crate::ids::{BrokerId, LeaderEpoch, Offset, ProducerEpoch, ProducerId, TopicPartition};
use crate::record::RecordBatch;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Kafka error codes the model produces. Each is retriable or not as in Kafka.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum ErrorCode {
    #[error("NOT_LEADER_OR_FOLLOWER")]
    NotLeaderOrFollower,
    #[error("UNKNOWN_TOPIC_OR_PARTITION")]
    UnknownTopicOrPartition,
    #[error("OUT_OF_ORDER_SEQUENCE_NUMBER")]
    OutOfOrderSequence,
    #[error("INVALID_PRODUCER_EPOCH")]
    InvalidProducerEpoch,
    #[error("OFFSET_OUT_OF_RANGE")]
    OffsetOutOfRange,
    #[error("NOT_ENOUGH_REPLICAS")]
    NotEnoughReplicas,
    #[error("REQUEST_TIMED_OUT")]
    RequestTimedOut,
}

impl ErrorCode {
    /// Whether a client retries after this error (Kafka's `RetriableException`).
    pub fn is_retriable(self) -> bool {
        !matches!(self, ErrorCode::InvalidProducerEpoch)
    }

    /// Whether the client's view of leadership is stale and metadata must be refreshed.
    pub fn needs_metadata_refresh(self) -> bool {
        matches!(
            self,
            ErrorCode::NotLeaderOrFollower | ErrorCode::UnknownTopicOrPartition
        )
    }
}

/// One partition's leadership as a metadata response reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionMetadata {
    pub tp: TopicPartition,
    pub leader: Option<BrokerId>,
    pub leader_epoch: LeaderEpoch,
}

/// What a fetch returns for one partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedPartition {
    /// Whole batches; the first may start before the fetch offset (as in Kafka), so the
    /// reader skips records below its position.
    pub batches: Vec<RecordBatch>,
    pub high_watermark: Offset,
    pub log_start_offset: Offset,
}

/// Every message exchanged in the simulated cluster. `correlation_id` pairs a response
/// with its request, as in Kafka's request header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    MetadataRequest {
        correlation_id: u64,
    },
    MetadataResponse {
        correlation_id: u64,
        brokers: Vec<BrokerId>,
        partitions: Vec<PartitionMetadata>,
    },
    InitProducerIdRequest {
        correlation_id: u64,
    },
    InitProducerIdResponse {
        correlation_id: u64,
        producer_id: ProducerId,
        producer_epoch: ProducerEpoch,
    },
    ProduceRequest {
        correlation_id: u64,
        acks: Acks,
        batches: Vec<(TopicPartition, RecordBatch)>,
    },
    ProduceResponse {
        correlation_id: u64,
        /// Per partition: the base offset the batch was written at, or why not.
        results: Vec<(TopicPartition, Result<Offset, ErrorCode>)>,
    },
    /// Where a partition starts or ends, for a consumer whose position is unknown or out
    /// of range (`auto.offset.reset`).
    ListOffsetsRequest {
        correlation_id: u64,
        partitions: Vec<(TopicPartition, OffsetReset)>,
    },
    ListOffsetsResponse {
        correlation_id: u64,
        results: Vec<(TopicPartition, Result<Offset, ErrorCode>)>,
    },
    FetchRequest {
        correlation_id: u64,
        max_wait_ms: u64,
        max_records: usize,
        partitions: Vec<(TopicPartition, Offset)>,
    },
    FetchResponse {
        correlation_id: u64,
        results: Vec<(TopicPartition, Result<FetchedPartition, ErrorCode>)>,
    },
}

impl Message {
    /// A short name for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::MetadataRequest { .. } => "MetadataReq",
            Message::MetadataResponse { .. } => "MetadataResp",
            Message::InitProducerIdRequest { .. } => "InitPidReq",
            Message::InitProducerIdResponse { .. } => "InitPidResp",
            Message::ProduceRequest { .. } => "ProduceReq",
            Message::ProduceResponse { .. } => "ProduceResp",
            Message::ListOffsetsRequest { .. } => "ListOffsetsReq",
            Message::ListOffsetsResponse { .. } => "ListOffsetsResp",
            Message::FetchRequest { .. } => "FetchReq",
            Message::FetchResponse { .. } => "FetchResp",
        }
    }
}

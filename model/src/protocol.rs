//! The wire protocol between clients and brokers: requests, responses and error codes.

use crate::config::{Acks, OffsetReset};
use crate::controller::AlterPartitionError;
use crate::group::{GroupError, GroupId, GroupRequest, GroupResponse};
use crate::ids::{
    BrokerId, LeaderEpoch, NodeId, Offset, ProducerEpoch, ProducerId, TopicPartition,
};
use crate::metadata::MetadataRecord;
use crate::raft::RaftMessage;
use crate::record::RecordBatch;
use crate::txn::{
    AbortedTxn, IsolationLevel, MarkerResults, TransactionalId, TxnInit, TxnMarker, TxnRequest,
    TxnResponse,
};
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
    /// The write reached the leader's log but the ISR shrank below `min.insync.replicas`
    /// before it was replicated: the producer retries (and idempotence dedups).
    #[error("NOT_ENOUGH_REPLICAS_AFTER_APPEND")]
    NotEnoughReplicasAfterAppend,
    /// The request names an older leader epoch than this replica's (KIP-320).
    #[error("FENCED_LEADER_EPOCH")]
    FencedLeaderEpoch,
    /// The request names a newer leader epoch than this replica knows: it is stale.
    #[error("UNKNOWN_LEADER_EPOCH")]
    UnknownLeaderEpoch,
    /// A new leader does not know the committed end yet (its high watermark is below the
    /// start of its epoch): clients retry shortly (Kafka's OFFSET_NOT_AVAILABLE).
    #[error("OFFSET_NOT_AVAILABLE")]
    OffsetNotAvailable,
    /// Never on the wire: the client's own verdict on a request whose connection closed
    /// before the answer came (Kafka's NETWORK_EXCEPTION, a retriable
    /// InvalidMetadataException).
    #[error("NETWORK_EXCEPTION")]
    NetworkException,
    /// A newer instance of the transactional id holds a higher epoch: this one is a zombie
    /// and must stop.
    #[error("PRODUCER_FENCED")]
    ProducerFenced,
    /// The request does not fit the transaction's state (an EndTxn with no transaction
    /// open, a produce to a partition the transaction never added: KIP-890's verification).
    #[error("INVALID_TXN_STATE")]
    InvalidTxnState,
    /// The coordinator is still completing the previous transaction (writing its markers):
    /// the producer retries shortly.
    #[error("CONCURRENT_TRANSACTIONS")]
    ConcurrentTransactions,
    /// This broker does not coordinate the transactional id (any more): find it again.
    #[error("NOT_COORDINATOR")]
    NotCoordinator,
    /// No broker leads the id's transaction state partition, or its write failed.
    #[error("COORDINATOR_NOT_AVAILABLE")]
    CoordinatorNotAvailable,
    /// The coordinator is rebuilding its state from the transaction log after a failover.
    #[error("COORDINATOR_LOAD_IN_PROGRESS")]
    CoordinatorLoadInProgress,
    /// The producer id does not belong to the transactional id (it expired or was never
    /// issued): the producer must initialize again.
    #[error("INVALID_PRODUCER_ID_MAPPING")]
    InvalidProducerIdMapping,
    /// `transaction.timeout.ms` is above the broker's `transaction.max.timeout.ms`.
    #[error("INVALID_TRANSACTION_TIMEOUT")]
    InvalidTransactionTimeout,
    /// A marker from a coordinator older than one the leader already heard from.
    #[error("TRANSACTION_COORDINATOR_FENCED")]
    TransactionCoordinatorFenced,
}

impl ErrorCode {
    /// Whether a client retries after this error (Kafka's `RetriableException`).
    pub fn is_retriable(self) -> bool {
        !matches!(
            self,
            ErrorCode::InvalidProducerEpoch
                | ErrorCode::ProducerFenced
                | ErrorCode::InvalidTxnState
                | ErrorCode::InvalidProducerIdMapping
                | ErrorCode::InvalidTransactionTimeout
                | ErrorCode::TransactionCoordinatorFenced
        )
    }

    /// Whether the client must look its transaction coordinator up again before retrying.
    pub fn needs_coordinator_lookup(self) -> bool {
        matches!(
            self,
            ErrorCode::NotCoordinator
                | ErrorCode::CoordinatorNotAvailable
                | ErrorCode::NetworkException
                | ErrorCode::RequestTimedOut
        )
    }

    /// Whether a produce that failed with this error may still be in the log: the leader
    /// appends before it waits for the ISR, and then answers a timeout, a shrunk ISR or a
    /// lost leadership with these (a refused append gets NotLeaderOrFollower too, and the
    /// producer cannot tell the two apart). A request cut off by a disconnect may have
    /// been appended before the connection closed.
    pub fn may_have_been_written(self) -> bool {
        matches!(
            self,
            ErrorCode::RequestTimedOut
                | ErrorCode::NotEnoughReplicasAfterAppend
                | ErrorCode::NotLeaderOrFollower
                | ErrorCode::NetworkException
        )
    }

    /// Whether the client's view of leadership is stale and metadata must be refreshed.
    pub fn needs_metadata_refresh(self) -> bool {
        matches!(
            self,
            ErrorCode::NotLeaderOrFollower
                | ErrorCode::UnknownTopicOrPartition
                | ErrorCode::FencedLeaderEpoch
                | ErrorCode::UnknownLeaderEpoch
                | ErrorCode::NetworkException
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
    /// The last stable offset: below it no transaction is open (the high watermark when
    /// none is). A read_committed fetch returns nothing at or past it.
    pub last_stable_offset: Offset,
    /// For a read_committed fetch: the aborted transactions whose records the returned
    /// batches may hold, by first offset (empty for read_uncommitted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aborted: Vec<AbortedTxn>,
}

/// One partition of a follower's fetch (KIP-320: it names the leader epoch it believes in
/// and the epoch of the last records it has, so that the leader can fence it or tell it
/// where its log diverges).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaFetchPartition {
    pub tp: TopicPartition,
    /// The follower's log end.
    pub fetch_offset: Offset,
    pub last_fetched_epoch: Option<LeaderEpoch>,
    pub current_leader_epoch: LeaderEpoch,
}

/// One partition of a consumer's fetch: where to read, and the leader epoch the consumer
/// believes current (KIP-320), so that a deposed leader, or one newer than the consumer's
/// metadata, refuses it rather than serving a log the consumer has moved past.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerFetchPartition {
    pub tp: TopicPartition,
    pub fetch_offset: Offset,
    pub current_leader_epoch: LeaderEpoch,
}

/// What a leader returns to a follower for one partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaFetched {
    /// Whole batches from the fetch offset, up to the leader's log end.
    pub batches: Vec<RecordBatch>,
    pub high_watermark: Offset,
    /// KIP-320's `divergingEpoch`: the follower's log diverges; it truncates to the end
    /// offset (or its own log end, if shorter) and fetches again. No batches then.
    pub diverging: Option<(LeaderEpoch, Offset)>,
    /// The leader's log start: a follower deletes what lies below it (up to its own high
    /// watermark), and one whose fetch offset is below it restarts its log there.
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
    /// An idempotent producer's (any broker answers) or, with `transactional`, a
    /// transactional producer's, sent to its transaction coordinator, which fences every
    /// earlier instance of the id by bumping the epoch and aborts what they left open.
    InitProducerIdRequest {
        correlation_id: u64,
        transactional: Option<TxnInit>,
    },
    InitProducerIdResponse {
        correlation_id: u64,
        result: Result<(ProducerId, ProducerEpoch), ErrorCode>,
    },
    ProduceRequest {
        correlation_id: u64,
        acks: Acks,
        /// How long the leader may wait for the ISR (acks=all) before it answers
        /// REQUEST_TIMED_OUT (Kafka's produce `timeout_ms`).
        timeout_ms: u64,
        /// A transactional producer's id, which KIP-890's leader verifies its batches
        /// against.
        transactional_id: Option<TransactionalId>,
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
        /// A read_committed consumer's latest is the last stable offset, not the high
        /// watermark (Kafka's ListOffsets `isolation_level`).
        #[serde(default)]
        isolation: IsolationLevel,
    },
    ListOffsetsResponse {
        correlation_id: u64,
        results: Vec<(TopicPartition, Result<Offset, ErrorCode>)>,
    },
    FetchRequest {
        correlation_id: u64,
        max_wait_ms: u64,
        max_records: usize,
        isolation: IsolationLevel,
        partitions: Vec<ConsumerFetchPartition>,
    },
    FetchResponse {
        correlation_id: u64,
        results: Vec<(TopicPartition, Result<FetchedPartition, ErrorCode>)>,
    },
    /// Broker to controller: I am alive as `incarnation`, and have applied the metadata
    /// log up to `metadata_offset` (exclusive).
    BrokerHeartbeatRequest {
        broker: BrokerId,
        incarnation: u32,
        metadata_offset: u64,
    },
    /// The active controller took the heartbeat. (Brokers learn metadata as observers of
    /// the quorum, by Raft fetches: see `Raft`.)
    BrokerHeartbeatResponse,
    /// A controller that is not the active one, to a broker: ask `leader` (if known).
    NotController {
        leader: Option<NodeId>,
    },
    /// The KRaft quorum's own protocol, between controllers, and brokers' fetches of the
    /// committed metadata log as observers.
    Raft(RaftMessage<MetadataRecord>),
    /// A leader asks the controller to change a partition's ISR.
    AlterPartitionRequest {
        correlation_id: u64,
        broker: BrokerId,
        tp: TopicPartition,
        leader_epoch: LeaderEpoch,
        partition_epoch: u32,
        new_isr: Vec<BrokerId>,
    },
    /// The committed ISR and partition epoch, or why not.
    AlterPartitionResponse {
        correlation_id: u64,
        tp: TopicPartition,
        result: Result<(Vec<BrokerId>, u32), AlterPartitionError>,
    },
    /// A follower fetches from its leader.
    ReplicaFetchRequest {
        correlation_id: u64,
        replica: BrokerId,
        max_wait_ms: u64,
        max_records: usize,
        partitions: Vec<ReplicaFetchPartition>,
    },
    ReplicaFetchResponse {
        correlation_id: u64,
        results: Vec<(TopicPartition, Result<ReplicaFetched, ErrorCode>)>,
    },
    /// Which broker coordinates `group`: the leader of its offsets-topic partition.
    FindCoordinatorRequest {
        correlation_id: u64,
        group: GroupId,
    },
    FindCoordinatorResponse {
        correlation_id: u64,
        result: Result<BrokerId, GroupError>,
    },
    /// A consumer group request (join, sync, heartbeat, leave, commit, offset fetch).
    GroupRequest {
        correlation_id: u64,
        request: GroupRequest,
    },
    GroupResponse {
        correlation_id: u64,
        response: GroupResponse,
    },
    /// Which broker coordinates `transactional_id`: the leader of its transaction state
    /// partition.
    FindTxnCoordinatorRequest {
        correlation_id: u64,
        transactional_id: TransactionalId,
    },
    FindTxnCoordinatorResponse {
        correlation_id: u64,
        result: Result<BrokerId, ErrorCode>,
    },
    /// A request to a transaction coordinator (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn).
    TxnRequest {
        correlation_id: u64,
        request: TxnRequest,
    },
    TxnResponse {
        correlation_id: u64,
        response: TxnResponse,
    },
    /// A transaction coordinator asks a partition leader to end transactions there.
    WriteTxnMarkersRequest {
        correlation_id: u64,
        markers: Vec<TxnMarker>,
    },
    WriteTxnMarkersResponse {
        correlation_id: u64,
        results: MarkerResults,
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
            Message::BrokerHeartbeatRequest { .. } => "HeartbeatReq",
            Message::BrokerHeartbeatResponse => "HeartbeatResp",
            Message::NotController { .. } => "NotController",
            Message::Raft(msg) => msg.name(),
            Message::AlterPartitionRequest { .. } => "AlterPartitionReq",
            Message::AlterPartitionResponse { .. } => "AlterPartitionResp",
            Message::ReplicaFetchRequest { .. } => "ReplicaFetchReq",
            Message::ReplicaFetchResponse { .. } => "ReplicaFetchResp",
            Message::FindCoordinatorRequest { .. } => "FindCoordinatorReq",
            Message::FindCoordinatorResponse { .. } => "FindCoordinatorResp",
            Message::GroupRequest { request, .. } => request.kind(),
            Message::GroupResponse { response, .. } => response.kind(),
            Message::FindTxnCoordinatorRequest { .. } => "FindTxnCoordinatorReq",
            Message::FindTxnCoordinatorResponse { .. } => "FindTxnCoordinatorResp",
            Message::TxnRequest { request, .. } => request.kind(),
            Message::TxnResponse { response, .. } => response.kind(),
            Message::WriteTxnMarkersRequest { .. } => "WriteTxnMarkersReq",
            Message::WriteTxnMarkersResponse { .. } => "WriteTxnMarkersResp",
        }
    }
}

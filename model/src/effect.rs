//! What a state machine asks its driver to do: send, write to disk, record an observation.

use crate::config::OffsetReset;
use crate::ids::{BrokerId, LeaderEpoch, NodeId, Offset, TopicPartition};
use crate::metadata::MetadataRecord;
use crate::protocol::Message;
use crate::raft::RaftEvent;
use crate::record::ProducerStamp;
use serde::{Deserialize, Serialize};

/// A disk operation on the node's own disk. Paths are relative to the node's data dir.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskOp {
    /// Append to the page cache (creates the file if needed).
    Append {
        path: String,
        bytes: Vec<u8>,
    },
    /// Make everything written to the file so far survive a power loss.
    Fsync {
        path: String,
    },
    /// Cut the file to `len` bytes.
    Truncate {
        path: String,
        len: u64,
    },
    Delete {
        path: String,
    },
}

/// A record as a client saw it, with its place in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedRecord {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub key: Option<String>,
    pub value: u64,
}

/// A client-visible event that goes into the history (Jepsen's operation shape).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    SendInvoke {
        topic: String,
        key: Option<String>,
        value: u64,
    },
    SendOk {
        value: u64,
        tp: TopicPartition,
        offset: Option<Offset>,
    },
    /// Definitely not written (never left the client, or a non-retriable refusal).
    SendFail {
        value: u64,
        error: String,
    },
    /// May or may not have been written (timed out after being sent).
    SendInfo {
        value: u64,
        error: String,
    },
    PollInvoke {
        partitions: Vec<TopicPartition>,
        /// The consumer's `isolation.level`: what its polls may return.
        isolation: crate::txn::IsolationLevel,
    },
    PollOk {
        records: Vec<ObservedRecord>,
        /// The high watermark each partition's leader reported in this fetch
        /// (MonotonicHighWatermark is checked on these).
        high_watermarks: Vec<(TopicPartition, Offset)>,
    },
    PollFail {
        error: String,
    },
    /// The consumer's position for a partition was set: at start, or reset after
    /// OffsetOutOfRange. Reads on either side of a reset are different assignments.
    Assign {
        tp: TopicPartition,
        offset: Offset,
        reason: String,
    },
    /// A group member's SyncGroup answer: it owns `partitions` in `generation` (none: idle).
    GroupAssignment {
        group: String,
        member: String,
        generation: u32,
        partitions: Vec<TopicPartition>,
    },
    /// A group member sends an offset commit (committed offset = last processed + 1).
    CommitInvoke(CommitObservation),
    /// The coordinator accepted the commit: it is durable in the offsets topic.
    CommitOk(CommitObservation),
    /// The commit was refused (`error`) or timed out.
    CommitFail {
        commit: CommitObservation,
        error: String,
    },
    /// A group member finished processing these records (the application's side effect).
    Process {
        group: String,
        member: String,
        generation: u32,
        records: Vec<ObservedRecord>,
    },
    /// The consumer's position `from` was out of range (below the log start, which
    /// retention raised, or past the log end, which a failover cut) and `auto.offset.reset`
    /// (`policy`) moved it to `to`. Reads on either side are different assignments.
    OffsetReset {
        tp: TopicPartition,
        from: Offset,
        to: Offset,
        policy: OffsetReset,
    },
    /// A broker answered one of this client's requests with an error, for one partition or
    /// for a group request, before the client decided what to do about it (retry, reset,
    /// rejoin, give up). The send, poll or commit it belongs to completes on its own.
    Refused(Refusal),
    /// A transactional producer's transaction, as its application calls and learns it.
    Txn(TxnObservation),
}

/// One step of a transaction in the history's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnObservation {
    /// `beginTransaction`, with the records the application means to send in it.
    Begin {
        transactional_id: String,
        producer_epoch: Option<u16>,
        sends: Vec<PlannedSend>,
    },
    /// What a consume-transform-produce application polled for the transaction it begins
    /// next: the records its sends derive from, read at `isolation`.
    Polled {
        records: Vec<ObservedRecord>,
        isolation: crate::txn::IsolationLevel,
    },
    /// `sendOffsetsToTransaction`: the offsets (last processed + 1) it commits for `group`.
    Offsets {
        group: String,
        offsets: Vec<(TopicPartition, Offset)>,
    },
    /// How it ended, as far as the producer knows.
    End {
        outcome: crate::producer::TxnOutcome,
        error: Option<String>,
    },
}

/// A record an application means to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedSend {
    pub topic: String,
    pub key: Option<String>,
    pub value: u64,
}

/// One error a broker answered, with the request it answered as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The broker that answered.
    pub broker: BrokerId,
    /// The request's correlation id, which pairs the answer with the broker's.
    pub correlation_id: u64,
    /// Kafka's name for the error (`NOT_ENOUGH_REPLICAS`).
    pub error: String,
    /// Whether the client may retry after it (Kafka's `RetriableException`).
    pub retriable: bool,
    pub request: RefusedRequest,
}

/// What the refused request asked, as far as its error depends on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefusedRequest {
    /// One partition's batch of a produce request.
    Produce {
        tp: TopicPartition,
        values: Vec<u64>,
        /// An idempotent producer's batch identity.
        stamp: Option<ProducerStamp>,
        /// A transactional producer's batch: its leader verifies it with the transaction
        /// coordinator first (KIP-890), and answers NOT_ENOUGH_REPLICAS when it cannot.
        transactional: bool,
        /// Whether the batch may still be in the log (the leader appended, then timed out
        /// or saw the ISR shrink): the history marks such an answer `info`.
        maybe_written: bool,
    },
    /// One partition of a consumer fetch.
    Fetch {
        tp: TopicPartition,
        fetch_offset: Offset,
        leader_epoch: LeaderEpoch,
    },
    /// A group coordinator request (`api`: join, sync, heartbeat, leave, commit,
    /// offset-fetch), with the member id and generation it named.
    Group {
        api: &'static str,
        group: String,
        member: Option<String>,
        generation: Option<u32>,
    },
}

/// One offset commit as the member sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitObservation {
    pub group: String,
    pub member: String,
    pub generation: u32,
    pub offsets: Vec<(TopicPartition, Offset)>,
}

/// One record as a replica's log holds it, for the cluster invariants: its value (unique per
/// run) and the leader epoch it was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaRecord {
    pub value: u64,
    pub epoch: LeaderEpoch,
    /// An idempotent producer's record: its producer id, epoch and this record's own
    /// sequence (`base_sequence`), so that the harness can tell what producer state the
    /// replica's log implies without asking the broker.
    pub producer: Option<ProducerStamp>,
}

/// A change of one replica's state. The harness mirrors these to check the cluster
/// invariants (LogMatching, StrongIsr, SingleLeader...) after every change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplicaEvent {
    /// The broker started and recovered this log from its disk: the whole content, from
    /// `log_start`.
    Recovered {
        tp: TopicPartition,
        log_start: Offset,
        records: Vec<ReplicaRecord>,
    },
    /// Records written at `base` (appended as leader, or copied from the leader).
    Appended {
        tp: TopicPartition,
        base: Offset,
        records: Vec<ReplicaRecord>,
    },
    /// The log was cut to end at `log_end` (a divergent suffix removed).
    Truncated { tp: TopicPartition, log_end: Offset },
    /// The replica became leader of `epoch`, with this ISR, its log ending at `log_end`.
    BecameLeader {
        tp: TopicPartition,
        epoch: LeaderEpoch,
        isr: Vec<BrokerId>,
        log_end: Offset,
    },
    /// The replica follows `leader` (or nobody) in `epoch`.
    BecameFollower {
        tp: TopicPartition,
        epoch: LeaderEpoch,
        leader: Option<BrokerId>,
    },
    /// The leader's ISR changed (the controller committed it).
    IsrChanged {
        tp: TopicPartition,
        epoch: LeaderEpoch,
        isr: Vec<BrokerId>,
    },
    /// The replica's high watermark moved.
    HighWatermark {
        tp: TopicPartition,
        high_watermark: Offset,
    },
    /// The log start rose to `log_start`: every record below it is gone (`cause` says why).
    LogStartRaised {
        tp: TopicPartition,
        log_start: Offset,
        cause: LogStartCause,
    },
}

/// Why a replica's log start rose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStartCause {
    /// Its own retention deleted its oldest segments (`retention.ms`, `retention.bytes`).
    Retention,
    /// A follower deleted the segments below its leader's log start, as the leader's fetch
    /// answer reported it (Kafka's `maybeIncrementLogStartOffset(LeaderOffsetIncremented)`).
    LeaderLogStart,
    /// A follower whose log ended below its leader's log start emptied it and restarted it
    /// there (Kafka's `truncateFullyAndStartAt`): its log end is `log_start` too.
    Reset,
}

impl LogStartCause {
    pub fn as_str(self) -> &'static str {
        match self {
            LogStartCause::Retention => "retention",
            LogStartCause::LeaderLogStart => "the leader's log start",
            LogStartCause::Reset => "a reset to the leader's log start",
        }
    }
}

/// One effect of handling an input.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Send {
        to: NodeId,
        message: Message,
    },
    Disk(DiskOp),
    Observe(Observation),
    /// An internal decision worth a line in the trace (an epoch bump, a reset).
    Note(String),
    /// A replica's state changed (brokers only).
    Replica(ReplicaEvent),
    /// The metadata record at `index` of the committed metadata log: committed, as a
    /// controller learns it, or applied, as a broker does.
    Metadata {
        index: u64,
        record: MetadataRecord,
    },
    /// A controller's quorum state changed.
    Raft(RaftEvent),
    /// A group coordinator's decision (brokers only), for the trace and the checkers.
    Group(crate::group::GroupEvent),
    /// The model took one of its rare paths (for the sweep's coverage; no trace line).
    Reached(crate::reach::RarePath),
}

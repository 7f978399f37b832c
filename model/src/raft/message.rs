//! What quorum members say to each other (KIP-595's Vote, BeginQuorumEpoch and Fetch, in
//! their KRaft shape), and the log entries that Fetch carries.

use super::directory::DirectoryId;
use crate::ids::{LeaderEpoch, Millis, NodeId, Offset};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What a log entry holds: the driver's payload, or the marker a new leader writes first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftRecord<T> {
    /// Written by a new leader at the start of its epoch (Kafka's LeaderChangeMessage). Its
    /// commit is what lets the leader's high watermark move: entries of older epochs are
    /// committed only indirectly, by this one or a later entry of the current epoch.
    LeaderChange {
        leader: NodeId,
    },
    Data(T),
}

/// One entry of the replicated log. The offset is stored so that a recovered log can check
/// that its lines are dense, and a follower that its fetch answer starts where it asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry<T> {
    pub offset: Offset,
    pub epoch: LeaderEpoch,
    pub record: RaftRecord<T>,
}

/// Error codes of quorum answers (Kafka's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum RaftError {
    /// The request's epoch is older than the receiver's; the answer names the current
    /// epoch and leader, so the sender catches up at once.
    #[error("FENCED_LEADER_EPOCH")]
    FencedLeaderEpoch,
    /// The request's epoch is newer than the receiver's: the receiver has not heard of it
    /// yet and cannot serve it.
    #[error("UNKNOWN_LEADER_EPOCH")]
    UnknownLeaderEpoch,
    /// The receiver is not the leader of the request's epoch; the answer's `leader` is who
    /// it believes is (or nobody).
    #[error("NOT_LEADER_OR_FOLLOWER")]
    NotLeader,
    /// A vote or begin-epoch request between nodes that are not both voters (a node on a
    /// replaced disk is no voter).
    #[error("INCONSISTENT_VOTER")]
    NotVoter,
}

/// What a fetch answer carries when it is not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FetchResult<T> {
    /// Entries from the request's `fetch_offset` on (maybe none), and the leader's high
    /// watermark once it has one in this epoch.
    Entries {
        entries: Vec<LogEntry<T>>,
        high_watermark: Option<Offset>,
    },
    /// The follower's log diverges from the leader's (KIP-595's DivergingEpoch, as KIP-320
    /// answers OffsetsForLeaderEpoch): the leader's log holds `epoch` (the largest epoch at
    /// most the follower's last fetched one) up to `end_offset`; the follower truncates
    /// there, or further back if its own log disagrees, and fetches again.
    Diverging {
        epoch: LeaderEpoch,
        end_offset: Offset,
    },
    Error(RaftError),
}

/// A message between quorum members. Every answer carries the responder's epoch and the
/// leader it knows for it (Kafka's CurrentLeader), which is how nodes find the leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftMessage<T> {
    VoteRequest {
        candidate_epoch: LeaderEpoch,
        candidate_id: NodeId,
        /// The candidate's disk (KIP-853): a voter grants only to a candidate that is in
        /// the voter set with this directory.
        candidate_directory: DirectoryId,
        /// The epoch of the candidate's last entry, and its log end: a voter grants only to
        /// a log at least as up to date as its own.
        last_epoch: LeaderEpoch,
        last_epoch_end_offset: Offset,
    },
    VoteResponse {
        epoch: LeaderEpoch,
        leader: Option<NodeId>,
        vote_granted: bool,
        error: Option<RaftError>,
    },
    /// A new leader tells the voters, so that they follow at once instead of waiting for
    /// an election timeout.
    BeginQuorumEpoch {
        epoch: LeaderEpoch,
        leader_id: NodeId,
    },
    BeginQuorumEpochResponse {
        epoch: LeaderEpoch,
        leader: Option<NodeId>,
        error: Option<RaftError>,
    },
    /// A follower or observer asks for entries from `fetch_offset`, its log end. Everything
    /// below `fetch_offset` is on its disk (fsynced), so the leader counts it.
    FetchRequest {
        epoch: LeaderEpoch,
        fetch_offset: Offset,
        last_fetched_epoch: LeaderEpoch,
        replica_id: NodeId,
        /// The fetcher's disk (KIP-853): the leader counts the fetch offset towards the
        /// high watermark only for a voter on the directory the voter set names.
        replica_directory: DirectoryId,
        /// How long the leader may hold the fetch when it has nothing new for it (0:
        /// answer at once), and the fetcher's high watermark, which tells "nothing new"
        /// apart from a high watermark the fetcher has not heard of (Kafka's Fetch v17).
        max_wait_ms: Millis,
        high_watermark: Offset,
    },
    FetchResponse {
        epoch: LeaderEpoch,
        leader: Option<NodeId>,
        /// The request's fetch offset and last fetched epoch, so that a late or duplicated
        /// answer is recognised: the offset alone can come round again after a truncation
        /// (a stale divergence answer then cut a log that already agreed with the leader).
        fetch_offset: Offset,
        last_fetched_epoch: LeaderEpoch,
        result: FetchResult<T>,
    },
}

impl<T> RaftMessage<T> {
    /// The message's name, for traces.
    pub fn name(&self) -> &'static str {
        match self {
            RaftMessage::VoteRequest { .. } => "VoteRequest",
            RaftMessage::VoteResponse { .. } => "VoteResponse",
            RaftMessage::BeginQuorumEpoch { .. } => "BeginQuorumEpoch",
            RaftMessage::BeginQuorumEpochResponse { .. } => "BeginQuorumEpochResponse",
            RaftMessage::FetchRequest { .. } => "FetchRequest",
            RaftMessage::FetchResponse { .. } => "FetchResponse",
        }
    }
}

//! The group coordinator's requests, responses and error codes (Kafka's JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup, OffsetCommit and OffsetFetch APIs, reduced to what
//! the model needs). They are kept out of `crate::protocol` so that the broker can wrap
//! them in its own message type.

use super::assignor::{Assignor, Subscription};
use super::ids::{Generation, GroupId, MemberId};
use crate::ids::{Offset, ProducerEpoch, ProducerId, TopicPartition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Kafka error codes the coordinator answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Error)]
pub enum GroupError {
    /// The group id is empty.
    #[error("INVALID_GROUP_ID")]
    InvalidGroupId,
    /// The offsets topic could not take the write (not enough in-sync replicas, a timeout).
    #[error("COORDINATOR_NOT_AVAILABLE")]
    CoordinatorNotAvailable,
    /// This broker no longer leads the group's offsets partition: find the coordinator again.
    #[error("NOT_COORDINATOR")]
    NotCoordinator,
    /// The member id is not (or no longer) in the group: the member was removed (session
    /// timeout, rebalance timeout, leave) or never was. It rejoins with no member id.
    #[error("UNKNOWN_MEMBER_ID")]
    UnknownMemberId,
    /// The request names another generation than the group's: the member missed a
    /// rebalance (or a stale coordinator lost one). It rejoins.
    #[error("ILLEGAL_GENERATION")]
    IllegalGeneration,
    /// The group is rebalancing: the member rejoins.
    #[error("REBALANCE_IN_PROGRESS")]
    RebalanceInProgress,
    /// KIP-394: a new member is given its id first and must join again with it, so that a
    /// member whose first answer is lost does not linger in the group.
    #[error("MEMBER_ID_REQUIRED")]
    MemberIdRequired,
    /// No assignor is supported by every member, or none was offered.
    #[error("INCONSISTENT_GROUP_PROTOCOL")]
    InconsistentGroupProtocol,
    /// The session timeout is outside `group.min.session.timeout.ms` ..
    /// `group.max.session.timeout.ms`.
    #[error("INVALID_SESSION_TIMEOUT")]
    InvalidSessionTimeout,
    /// OffsetFetch with `require_stable`: a commit for the partition is being written.
    #[error("UNSTABLE_OFFSET_COMMIT")]
    UnstableOffsetCommit,
}

impl GroupError {
    /// Whether the member must rejoin the group (and, for UNKNOWN_MEMBER_ID, forget its
    /// member id first). Its partitions are then lost: it must not commit for them.
    pub fn needs_rejoin(self) -> bool {
        matches!(
            self,
            GroupError::UnknownMemberId
                | GroupError::IllegalGeneration
                | GroupError::RebalanceInProgress
                | GroupError::MemberIdRequired
        )
    }

    /// Whether the client must look the coordinator up again before retrying.
    pub fn needs_coordinator_lookup(self) -> bool {
        matches!(
            self,
            GroupError::NotCoordinator | GroupError::CoordinatorNotAvailable
        )
    }

    /// Whether a commit or fetch refused with this may simply be retried.
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            GroupError::CoordinatorNotAvailable
                | GroupError::NotCoordinator
                | GroupError::UnstableOffsetCommit
                | GroupError::RebalanceInProgress
        )
    }
}

/// A request to the group coordinator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupRequest {
    /// Join (or rejoin) the group. A new member sends no member id.
    JoinGroup {
        group: GroupId,
        member: Option<MemberId>,
        client_id: String,
        /// `session.timeout.ms`: without a heartbeat for this long the member is removed.
        session_timeout_ms: u64,
        /// `max.poll.interval.ms`: how long a rebalance waits for the member to rejoin.
        rebalance_timeout_ms: u64,
        /// Assignors the member supports, preferred first.
        protocols: Vec<Assignor>,
        subscription: Subscription,
    },
    /// After a join: the leader sends the assignment, the others send nothing and receive
    /// theirs.
    SyncGroup {
        group: GroupId,
        generation: Generation,
        member: MemberId,
        assignments: Vec<(MemberId, Vec<TopicPartition>)>,
    },
    Heartbeat {
        group: GroupId,
        generation: Generation,
        member: MemberId,
    },
    LeaveGroup {
        group: GroupId,
        member: MemberId,
    },
    /// Committed offset = last processed + 1. A group member names its generation and
    /// member id; a standalone consumer (manual assignment) names neither, which is
    /// accepted only while the group has no members.
    OffsetCommit {
        group: GroupId,
        generation: Option<Generation>,
        member: Option<MemberId>,
        offsets: Vec<(TopicPartition, Offset)>,
    },
    /// Offsets committed inside a producer's transaction (`sendOffsetsToTransaction`),
    /// after AddOffsetsToTxn added this group's offsets partition to it. The group checks
    /// the generation and member as for OffsetCommit (KIP-447).
    TxnOffsetCommit {
        group: GroupId,
        transactional_id: crate::txn::TransactionalId,
        producer_id: ProducerId,
        producer_epoch: ProducerEpoch,
        generation: Option<Generation>,
        member: Option<MemberId>,
        offsets: Vec<(TopicPartition, Offset)>,
    },
    /// The committed offsets of `partitions`, or of every partition with one if `None`.
    OffsetFetch {
        group: GroupId,
        partitions: Option<Vec<TopicPartition>>,
        /// KIP-447: refuse partitions with a commit still being written.
        require_stable: bool,
    },
}

/// What a member learns when a join phase completes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinedGeneration {
    pub generation: Generation,
    pub protocol: Assignor,
    pub leader: MemberId,
    /// The leader gets every member's subscription, to run `protocol` on; the others
    /// get nothing.
    pub members: Vec<(MemberId, Subscription)>,
}

impl JoinedGeneration {
    /// What the leader sends in SyncGroup: `protocol` run over the members'
    /// subscriptions, given each topic's partition count from the leader's metadata.
    /// Followers (who get no subscriptions) send nothing.
    pub fn leader_assignments(
        &self,
        partitions_per_topic: &BTreeMap<String, u32>,
    ) -> Vec<(MemberId, Vec<TopicPartition>)> {
        if self.members.is_empty() {
            return Vec::new();
        }
        let subscriptions = self.members.iter().cloned().collect();
        self.protocol
            .assign(&subscriptions, partitions_per_topic)
            .into_sync_assignments()
    }
}

/// What a member learns when a sync phase completes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncedGeneration {
    pub generation: Generation,
    pub protocol: Assignor,
    pub assignment: Vec<TopicPartition>,
}

/// OffsetFetch's answer per partition: the committed offset (`None`: nothing committed),
/// or why it cannot be given.
pub type OffsetFetchResults = Vec<(TopicPartition, Result<Option<Offset>, GroupError>)>;

/// A response from the group coordinator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupResponse {
    JoinGroup {
        group: GroupId,
        /// The member id: set on success and with MEMBER_ID_REQUIRED.
        member: Option<MemberId>,
        result: Result<JoinedGeneration, GroupError>,
    },
    SyncGroup {
        group: GroupId,
        result: Result<SyncedGeneration, GroupError>,
    },
    Heartbeat {
        group: GroupId,
        result: Result<(), GroupError>,
    },
    LeaveGroup {
        group: GroupId,
        result: Result<(), GroupError>,
    },
    OffsetCommit {
        group: GroupId,
        results: Vec<(TopicPartition, Result<(), GroupError>)>,
    },
    OffsetFetch {
        group: GroupId,
        result: Result<OffsetFetchResults, GroupError>,
    },
    TxnOffsetCommit {
        group: GroupId,
        results: Vec<(TopicPartition, Result<(), GroupError>)>,
    },
}

impl GroupRequest {
    pub fn group(&self) -> &GroupId {
        match self {
            GroupRequest::JoinGroup { group, .. }
            | GroupRequest::SyncGroup { group, .. }
            | GroupRequest::Heartbeat { group, .. }
            | GroupRequest::LeaveGroup { group, .. }
            | GroupRequest::OffsetCommit { group, .. }
            | GroupRequest::TxnOffsetCommit { group, .. }
            | GroupRequest::OffsetFetch { group, .. } => group,
        }
    }

    /// The response that refuses this request with `error` as a whole.
    pub fn refuse(&self, error: GroupError) -> GroupResponse {
        let group = self.group().clone();
        match self {
            GroupRequest::JoinGroup { .. } => GroupResponse::JoinGroup {
                group,
                member: None,
                result: Err(error),
            },
            GroupRequest::SyncGroup { .. } => GroupResponse::SyncGroup {
                group,
                result: Err(error),
            },
            GroupRequest::Heartbeat { .. } => GroupResponse::Heartbeat {
                group,
                result: Err(error),
            },
            GroupRequest::LeaveGroup { .. } => GroupResponse::LeaveGroup {
                group,
                result: Err(error),
            },
            GroupRequest::OffsetCommit { offsets, .. } => GroupResponse::OffsetCommit {
                group,
                results: offsets
                    .iter()
                    .map(|(tp, _)| (tp.clone(), Err(error)))
                    .collect(),
            },
            GroupRequest::OffsetFetch { .. } => GroupResponse::OffsetFetch {
                group,
                result: Err(error),
            },
            GroupRequest::TxnOffsetCommit { offsets, .. } => GroupResponse::TxnOffsetCommit {
                group,
                results: offsets
                    .iter()
                    .map(|(tp, _)| (tp.clone(), Err(error)))
                    .collect(),
            },
        }
    }

    /// A short name for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            GroupRequest::JoinGroup { .. } => "JoinGroup",
            GroupRequest::SyncGroup { .. } => "SyncGroup",
            GroupRequest::Heartbeat { .. } => "Heartbeat",
            GroupRequest::LeaveGroup { .. } => "LeaveGroup",
            GroupRequest::OffsetCommit { .. } => "OffsetCommit",
            GroupRequest::OffsetFetch { .. } => "OffsetFetch",
            GroupRequest::TxnOffsetCommit { .. } => "TxnOffsetCommit",
        }
    }
}

impl GroupResponse {
    /// A short name for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            GroupResponse::JoinGroup { .. } => "JoinGroupResp",
            GroupResponse::SyncGroup { .. } => "SyncGroupResp",
            GroupResponse::Heartbeat { .. } => "HeartbeatResp",
            GroupResponse::LeaveGroup { .. } => "LeaveGroupResp",
            GroupResponse::OffsetCommit { .. } => "OffsetCommitResp",
            GroupResponse::OffsetFetch { .. } => "OffsetFetchResp",
            GroupResponse::TxnOffsetCommit { .. } => "TxnOffsetCommitResp",
        }
    }
}

//! One member of a classic group: what it joined with, its assignment, its session, and
//! the JoinGroup or SyncGroup answer it is waiting for.

use super::assignor::{Assignor, Subscription};
use super::ids::{ClientRef, MemberId};
use super::records::MemberMetadata;
use crate::ids::{Millis, TopicPartition};

/// What a JoinGroup asks for, beyond the group and member id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct JoinParams {
    pub(super) client_id: String,
    pub(super) session_timeout_ms: u64,
    pub(super) rebalance_timeout_ms: u64,
    pub(super) protocols: Vec<Assignor>,
    pub(super) subscription: Subscription,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Member {
    pub(super) id: MemberId,
    pub(super) params: JoinParams,
    /// The member's partitions in the group's last durable generation.
    pub(super) assignment: Vec<TopicPartition>,
    pub(super) last_heartbeat_ms: Millis,
    /// A JoinGroup held until the join phase completes.
    pub(super) awaiting_join: Option<ClientRef>,
    /// A SyncGroup held until the generation's assignment is durable.
    pub(super) awaiting_sync: Option<ClientRef>,
    /// Joined but not yet through a join phase: its wait is bounded separately.
    pub(super) is_new: bool,
}

impl Member {
    pub(super) fn new(id: MemberId, params: JoinParams, now: Millis, from: ClientRef) -> Self {
        Member {
            id,
            params,
            assignment: Vec::new(),
            last_heartbeat_ms: now,
            awaiting_join: Some(from),
            awaiting_sync: None,
            is_new: true,
        }
    }

    /// A member loaded from the offsets topic: its session starts now.
    pub(super) fn load(metadata: MemberMetadata, now: Millis) -> Self {
        Member {
            id: metadata.member,
            params: JoinParams {
                client_id: metadata.client_id,
                session_timeout_ms: metadata.session_timeout_ms,
                rebalance_timeout_ms: metadata.rebalance_timeout_ms,
                protocols: metadata.protocols,
                subscription: metadata.subscription,
            },
            assignment: metadata.assignment,
            last_heartbeat_ms: now,
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
        }
    }

    pub(super) fn metadata(&self) -> MemberMetadata {
        MemberMetadata {
            member: self.id.clone(),
            client_id: self.params.client_id.clone(),
            session_timeout_ms: self.params.session_timeout_ms,
            rebalance_timeout_ms: self.params.rebalance_timeout_ms,
            protocols: self.params.protocols.clone(),
            subscription: self.params.subscription.clone(),
            assignment: self.assignment.clone(),
        }
    }

    /// When the member is removed unless it is heard from. A member waiting for a join or
    /// sync answer has done its part (Kafka's `hasSatisfiedHeartbeat`), except a new one,
    /// which waits at most `new_member_join_timeout_ms`.
    pub(super) fn expiry_ms(&self, new_member_join_timeout_ms: u64) -> Option<Millis> {
        if self.is_new && self.awaiting_join.is_some() {
            return Some(
                self.last_heartbeat_ms
                    .saturating_add(new_member_join_timeout_ms),
            );
        }
        if self.awaiting_join.is_some() || self.awaiting_sync.is_some() {
            return None;
        }
        Some(
            self.last_heartbeat_ms
                .saturating_add(self.params.session_timeout_ms),
        )
    }

    /// Whether a rejoin asks for nothing new (then no rebalance is needed for it).
    pub(super) fn joins_as_before(&self, params: &JoinParams) -> bool {
        self.params.protocols == params.protocols && self.params.subscription == params.subscription
    }

    pub(super) fn supports(&self, protocol: Assignor) -> bool {
        self.params.protocols.contains(&protocol)
    }
}

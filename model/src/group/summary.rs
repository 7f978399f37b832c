//! A group as seen from outside: its state, generation, leader and assignments.

use super::assignor::Assignor;
use super::ids::{Generation, MemberId};
use crate::ids::TopicPartition;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Kafka's classic group states (Dead is not modelled: groups are never deleted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GroupState {
    /// No members (offsets may still be committed by standalone consumers).
    Empty,
    /// Waiting for the members to rejoin.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment (SyncGroup) and its write.
    CompletingRebalance,
    /// Every member has its assignment for the current generation.
    Stable,
}

/// A snapshot of one group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub state: GroupState,
    pub generation: Generation,
    pub protocol: Option<Assignor>,
    pub leader: Option<MemberId>,
    /// Every member with its assignment in the last durable generation (empty: idle, or
    /// not yet assigned).
    pub members: BTreeMap<MemberId, Vec<TopicPartition>>,
}

impl GroupSummary {
    pub fn idle_members(&self) -> Vec<MemberId> {
        self.members
            .iter()
            .filter(|(_, partitions)| partitions.is_empty())
            .map(|(member, _)| member.clone())
            .collect()
    }
}

//! What the group coordinator asks its driver to do (answer, write to the offsets topic)
//! and the events it reports for the checkers.

use super::assignor::Assignor;
use super::ids::{ClientRef, Generation, GroupId, MemberId, WriteId};
use super::protocol::{GroupError, GroupResponse};
use super::records::OffsetsRecord;
use crate::ids::{Offset, ProducerEpoch, ProducerId, TopicPartition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One effect of handling an input, to be carried out in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupOutput {
    Respond {
        to: ClientRef,
        response: GroupResponse,
    },
    /// Append `records` to the group's offsets-topic partition with acks=all, then call
    /// [`super::GroupCoordinator::write_completed`] with `write` and the outcome. What
    /// waits on the write (commit answers, a generation's assignment) waits until then.
    Write {
        write: WriteId,
        records: Vec<OffsetsRecord>,
    },
    /// As `Write`, in the producer's transactional batch (a TxnOffsetCommit): the marker
    /// that later ends the transaction on the partition decides whether the offsets count.
    TxnWrite {
        write: WriteId,
        records: Vec<OffsetsRecord>,
        producer_id: ProducerId,
        producer_epoch: ProducerEpoch,
    },
    Event(GroupEvent),
}

/// Why a member left the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemovalReason {
    /// No heartbeat within `session.timeout.ms`.
    SessionTimeout,
    /// It sent LeaveGroup.
    Left,
    /// It did not rejoin before the join phase ended (the rebalance timeout).
    JoinTimeout,
    /// It did not send SyncGroup before the sync phase ended (the rebalance timeout).
    SyncTimeout,
    /// A new member that never completed its first join (`new_member_join_timeout_ms`).
    NewMemberJoinTimeout,
}

/// A coordinator decision, for the history and the checkers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupEvent {
    MemberJoined {
        group: GroupId,
        member: MemberId,
        client_id: String,
    },
    MemberRemoved {
        group: GroupId,
        member: MemberId,
        reason: RemovalReason,
    },
    /// The group left `generation` to rebalance: members must rejoin.
    RebalanceStarted {
        group: GroupId,
        generation: Generation,
        reason: String,
    },
    /// A join phase completed: these members form `generation`.
    GenerationStarted {
        group: GroupId,
        generation: Generation,
        protocol: Assignor,
        leader: MemberId,
        members: Vec<MemberId>,
    },
    /// The leader's assignment for `generation` is durable: `member` owns `partitions` in
    /// it (empty: idle). One event per member of the generation.
    Assigned {
        group: GroupId,
        generation: Generation,
        member: MemberId,
        partitions: Vec<TopicPartition>,
    },
    /// The last member left: the group moved to `generation` with nobody in it.
    GroupEmpty {
        group: GroupId,
        generation: Generation,
    },
    /// A coordinator took the group over from the offsets topic (failover): the
    /// generation and assignments in force from now on.
    GroupLoaded {
        group: GroupId,
        generation: Generation,
        assignments: BTreeMap<MemberId, Vec<TopicPartition>>,
    },
    /// Offsets are durable in the offsets topic. `generation` and `member` are the
    /// request's; `group_generation` is the group's when the commit was accepted (they
    /// differ only under `accept_stale_generation_commits`, or for a standalone commit).
    Committed {
        group: GroupId,
        generation: Option<Generation>,
        member: Option<MemberId>,
        group_generation: Generation,
        offsets: Vec<(TopicPartition, Offset)>,
    },
    /// A commit refused because its sender is not (or no longer) a member of the group's
    /// current generation.
    Fenced {
        group: GroupId,
        generation: Option<Generation>,
        member: Option<MemberId>,
        group_generation: Generation,
        error: GroupError,
    },
}

/// "[tasks-0, tasks-1]".
fn partition_list(partitions: &[TopicPartition]) -> String {
    let names: Vec<String> = partitions.iter().map(|tp| tp.to_string()).collect();
    format!("[{}]", names.join(", "))
}

impl GroupEvent {
    /// One trace line.
    pub fn describe(&self) -> String {
        match self {
            GroupEvent::MemberJoined { group, member, .. } => format!("{group}: {member} joined"),
            GroupEvent::MemberRemoved {
                group,
                member,
                reason,
            } => format!("{group}: {member} removed ({reason:?})"),
            GroupEvent::RebalanceStarted {
                group,
                generation,
                reason,
            } => format!("{group}: rebalance from generation {generation}: {reason}"),
            GroupEvent::GenerationStarted {
                group,
                generation,
                leader,
                members,
                ..
            } => format!(
                "{group}: generation {generation} with {} members, leader {leader}",
                members.len()
            ),
            GroupEvent::Assigned {
                group,
                generation,
                member,
                partitions,
            } => format!(
                "{group}: generation {generation} gives {member} {}",
                partition_list(partitions)
            ),
            GroupEvent::GroupEmpty { group, generation } => {
                format!("{group}: empty at generation {generation}")
            }
            GroupEvent::GroupLoaded {
                group,
                generation,
                assignments,
            } => format!(
                "{group}: loaded from the offsets topic at generation {generation}, {} members",
                assignments.len()
            ),
            GroupEvent::Committed {
                group,
                member,
                offsets,
                ..
            } => {
                let offsets: Vec<String> = offsets
                    .iter()
                    .map(|(tp, o)| format!("{tp}@{}", o.0))
                    .collect();
                let member = member
                    .as_ref()
                    .map_or("a standalone consumer".into(), |m| m.to_string());
                format!("{group}: {member} committed {}", offsets.join(", "))
            }
            GroupEvent::Fenced {
                group,
                generation,
                member,
                error,
                ..
            } => format!(
                "{group}: commit of {} at generation {} refused: {error}",
                member.as_ref().map_or("?".into(), |m| m.to_string()),
                generation.map_or("-".into(), |g| g.to_string())
            ),
        }
    }
}

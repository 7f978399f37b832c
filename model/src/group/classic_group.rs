//! One consumer group under the classic protocol (Kafka's ClassicGroup and the parts of
//! GroupMetadataManager that drive it): members join, the join phase completes into a new
//! generation with a leader, the leader's assignment is written and handed out (sync), and
//! heartbeats, leaves and timeouts send the group back to rebalancing.

mod join;
mod sync;
mod timers;

use super::assignor::Assignor;
use super::config::GroupCoordinatorConfig;
use super::ids::{ClientRef, Generation, GroupId, MemberId, WriteId};
use super::member::Member;
use super::output::{GroupEvent, GroupOutput, RemovalReason};
use super::protocol::{GroupError, GroupResponse};
use super::records::GroupMetadata;
use super::summary::{GroupState, GroupSummary};
use super::writes::PendingWrites;
use crate::ids::{Millis, TopicPartition};
use std::collections::BTreeMap;

/// What a group step needs from the coordinator around it.
pub(super) struct Ctx<'a> {
    pub(super) now: Millis,
    pub(super) config: &'a GroupCoordinatorConfig,
    pub(super) writes: &'a mut PendingWrites,
    pub(super) out: &'a mut Vec<GroupOutput>,
}

impl Ctx<'_> {
    fn respond(&mut self, to: ClientRef, response: GroupResponse) {
        self.out.push(GroupOutput::Respond { to, response });
    }

    fn event(&mut self, event: GroupEvent) {
        self.out.push(GroupOutput::Event(event));
    }
}

/// Who is joining: a new member (with the id the coordinator made for it) or a known id.
pub(super) enum Joiner {
    New(MemberId),
    Known(MemberId),
}

#[derive(Clone, Debug)]
pub(super) struct ClassicGroup {
    id: GroupId,
    state: GroupState,
    generation: Generation,
    protocol: Option<Assignor>,
    leader: Option<MemberId>,
    members: BTreeMap<MemberId, Member>,
    /// KIP-394: ids handed out with MEMBER_ID_REQUIRED, and when they lapse unused.
    pending_members: BTreeMap<MemberId, Millis>,
    /// When the current phase ends at the latest: the join phase (PreparingRebalance) or
    /// the sync phase (CompletingRebalance).
    phase_deadline_ms: Millis,
    /// A join phase starting from Empty does not end before this (the initial delay).
    join_not_before_ms: Millis,
    /// The leader's assignment for this generation, while its write is under way.
    assignment_in_flight: Option<(WriteId, BTreeMap<MemberId, Vec<TopicPartition>>)>,
}

impl ClassicGroup {
    pub(super) fn new(id: GroupId) -> Self {
        ClassicGroup {
            id,
            state: GroupState::Empty,
            generation: Generation(0),
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending_members: BTreeMap::new(),
            phase_deadline_ms: 0,
            join_not_before_ms: 0,
            assignment_in_flight: None,
        }
    }

    /// The group as its last metadata record left it: Stable with those members (their
    /// sessions starting now), or Empty.
    pub(super) fn load(metadata: GroupMetadata, now: Millis) -> Self {
        let members: BTreeMap<MemberId, Member> = metadata
            .members
            .into_iter()
            .map(|m| (m.member.clone(), Member::load(m, now)))
            .collect();
        let mut group = ClassicGroup {
            generation: metadata.generation,
            ..ClassicGroup::new(metadata.group)
        };
        if members.is_empty() || metadata.protocol.is_none() {
            return group;
        }
        group.state = GroupState::Stable;
        group.protocol = metadata.protocol;
        group.leader = metadata
            .leader
            .filter(|l| members.contains_key(l))
            .or_else(|| members.keys().next().cloned());
        group.members = members;
        group
    }

    pub(super) fn generation(&self) -> Generation {
        self.generation
    }

    pub(super) fn summary(&self) -> GroupSummary {
        GroupSummary {
            state: self.state,
            generation: self.generation,
            protocol: self.protocol,
            leader: self.leader.clone(),
            members: self
                .members
                .values()
                .map(|m| (m.id.clone(), m.assignment.clone()))
                .collect(),
        }
    }

    pub(super) fn loaded_event(&self) -> GroupEvent {
        GroupEvent::GroupLoaded {
            group: self.id.clone(),
            generation: self.generation,
            assignments: self.summary().members,
        }
    }

    fn metadata(&self) -> GroupMetadata {
        GroupMetadata {
            group: self.id.clone(),
            generation: self.generation,
            protocol: self.protocol,
            leader: self.leader.clone(),
            members: self.members.values().map(Member::metadata).collect(),
        }
    }

    // ---- Heartbeat, LeaveGroup, commits ----

    pub(super) fn heartbeat(
        &mut self,
        now: Millis,
        generation: Generation,
        id: &MemberId,
    ) -> Result<(), GroupError> {
        let Some(member) = self.members.get_mut(id) else {
            return Err(GroupError::UnknownMemberId);
        };
        if generation != self.generation {
            return Err(GroupError::IllegalGeneration);
        }
        member.last_heartbeat_ms = now;
        match self.state {
            GroupState::Empty => Err(GroupError::UnknownMemberId),
            GroupState::PreparingRebalance => Err(GroupError::RebalanceInProgress),
            GroupState::CompletingRebalance | GroupState::Stable => Ok(()),
        }
    }

    pub(super) fn leave(&mut self, ctx: &mut Ctx, id: &MemberId) -> Result<(), GroupError> {
        if self.pending_members.remove(id).is_some() {
            self.maybe_complete_join(ctx);
            return Ok(());
        }
        if !self.members.contains_key(id) {
            return Err(GroupError::UnknownMemberId);
        }
        self.remove_and_rebalance(ctx, id, RemovalReason::Left);
        Ok(())
    }

    /// Kafka's `ClassicGroup.validateOffsetCommit`: a standalone commit (no generation)
    /// only while the group is empty; otherwise a member of the current generation, and
    /// not between join and sync.
    pub(super) fn validate_commit(
        &self,
        generation: Option<Generation>,
        member: Option<&MemberId>,
    ) -> Result<(), GroupError> {
        if generation.is_none() && self.state == GroupState::Empty {
            return Ok(());
        }
        if generation.is_some() || member.is_some() {
            if !member.is_some_and(|m| self.members.contains_key(m)) {
                return Err(GroupError::UnknownMemberId);
            }
            if generation != Some(self.generation) {
                return Err(GroupError::IllegalGeneration);
            }
        } else if self.state != GroupState::Empty {
            return Err(GroupError::UnknownMemberId);
        }
        if self.state == GroupState::CompletingRebalance {
            return Err(GroupError::RebalanceInProgress);
        }
        Ok(())
    }

    // ---- Removal and timers ----

    /// Takes a member out: its held answers are refused, a new leader is named if needed.
    fn remove(&mut self, ctx: &mut Ctx, id: &MemberId, reason: RemovalReason) {
        let Some(member) = self.members.remove(id) else {
            return;
        };
        // The removal is on record before the member hears of it: an UNKNOWN_MEMBER_ID it
        // is told is explained by what the coordinator did first.
        ctx.event(GroupEvent::MemberRemoved {
            group: self.id.clone(),
            member: id.clone(),
            reason,
        });
        if let Some(to) = member.awaiting_join {
            self.reply_join(ctx, to, None, Err(GroupError::UnknownMemberId));
        }
        if let Some(to) = member.awaiting_sync {
            self.reply_sync(ctx, to, Err(GroupError::UnknownMemberId));
        }
        if self.leader.as_ref() == Some(id) {
            self.leader = self.members.keys().next().cloned();
        }
    }

    fn remove_and_rebalance(&mut self, ctx: &mut Ctx, id: &MemberId, reason: RemovalReason) {
        self.remove(ctx, id, reason);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(ctx, format!("{id} removed: {reason:?}"));
            }
            GroupState::PreparingRebalance | GroupState::Empty => {}
        }
        self.maybe_complete_join(ctx);
    }

    /// Refuses every held answer with NOT_COORDINATOR (the coordinator is resigning).
    pub(super) fn resign(&mut self, ctx: &mut Ctx) {
        let held: Vec<(Option<ClientRef>, Option<ClientRef>)> = self
            .members
            .values_mut()
            .map(|m| (m.awaiting_join.take(), m.awaiting_sync.take()))
            .collect();
        for (join, sync) in held {
            if let Some(to) = join {
                self.reply_join(ctx, to, None, Err(GroupError::NotCoordinator));
            }
            if let Some(to) = sync {
                self.reply_sync(ctx, to, Err(GroupError::NotCoordinator));
            }
        }
    }
}

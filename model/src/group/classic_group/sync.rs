//! The sync phase of a classic group: the leader's assignment is written to the offsets
//! topic, and once durable every member gets its partitions and the group is Stable.

use super::{ClassicGroup, Ctx};
use crate::group::ids::{ClientRef, Generation, MemberId, WriteId};
use crate::group::output::GroupEvent;
use crate::group::protocol::{GroupError, GroupResponse, SyncedGeneration};
use crate::group::records::OffsetsRecord;
use crate::group::summary::GroupState;
use crate::group::writes::PendingWrite;
use crate::ids::TopicPartition;
use std::collections::BTreeMap;

impl ClassicGroup {
    pub(crate) fn sync(
        &mut self,
        ctx: &mut Ctx,
        from: ClientRef,
        generation: Generation,
        id: &MemberId,
        assignments: Vec<(MemberId, Vec<TopicPartition>)>,
    ) {
        let refusal = if !self.members.contains_key(id) {
            Some(GroupError::UnknownMemberId)
        } else if generation != self.generation {
            Some(GroupError::IllegalGeneration)
        } else {
            match self.state {
                GroupState::Empty => Some(GroupError::UnknownMemberId),
                GroupState::PreparingRebalance => Some(GroupError::RebalanceInProgress),
                GroupState::CompletingRebalance | GroupState::Stable => None,
            }
        };
        if let Some(error) = refusal {
            return self.reply_sync(ctx, from, Err(error));
        }
        if self.state == GroupState::Stable {
            let result = self.synced_generation(id);
            return self.reply_sync(ctx, from, result);
        }
        let member = self.members.get_mut(id).expect("checked above");
        if let Some(superseded) = member.awaiting_sync.replace(from) {
            self.reply_sync(ctx, superseded, Err(GroupError::RebalanceInProgress));
        }
        if self.leader.as_ref() == Some(id) && self.assignment_in_flight.is_none() {
            self.write_assignment(ctx, assignments);
        }
    }

    /// Writes the leader's assignment as the generation's metadata. Members it does not
    /// name get nothing; names that are not members are ignored.
    fn write_assignment(&mut self, ctx: &mut Ctx, given: Vec<(MemberId, Vec<TopicPartition>)>) {
        let mut assignment: BTreeMap<MemberId, Vec<TopicPartition>> = self
            .members
            .keys()
            .map(|m| (m.clone(), Vec::new()))
            .collect();
        for (member, mut partitions) in given {
            if let Some(slot) = assignment.get_mut(&member) {
                partitions.sort();
                partitions.dedup();
                *slot = partitions;
            }
        }
        let mut metadata = self.metadata();
        for m in &mut metadata.members {
            m.assignment = assignment.get(&m.member).cloned().unwrap_or_default();
        }
        let write = ctx.writes.start(
            vec![OffsetsRecord::GroupMetadata(metadata)],
            PendingWrite::Assignment {
                group: self.id.clone(),
            },
            ctx.out,
        );
        self.assignment_in_flight = Some((write, assignment));
    }

    /// The assignment's write is done: on success the group is Stable and every waiting
    /// member gets its partitions; on failure the group rebalances again.
    pub(crate) fn assignment_written(
        &mut self,
        ctx: &mut Ctx,
        write: WriteId,
        result: Result<(), GroupError>,
    ) {
        let current = self
            .assignment_in_flight
            .as_ref()
            .is_some_and(|(w, _)| *w == write);
        if !current || self.state != GroupState::CompletingRebalance {
            return; // the group has moved on: this generation's assignment is moot
        }
        let (_, assignment) = self.assignment_in_flight.take().expect("checked above");
        if let Err(error) = result {
            self.fail_syncs(ctx, error);
            return self.prepare_rebalance(ctx, format!("assignment write failed: {error}"));
        }
        self.state = GroupState::Stable;
        for (id, partitions) in assignment {
            let Some(member) = self.members.get_mut(&id) else {
                continue;
            };
            member.assignment = partitions.clone();
            ctx.event(GroupEvent::Assigned {
                group: self.id.clone(),
                generation: self.generation,
                member: id.clone(),
                partitions,
            });
        }
        let waiting: Vec<(MemberId, ClientRef)> = self
            .members
            .values_mut()
            .filter_map(|m| Some((m.id.clone(), m.awaiting_sync.take()?)))
            .collect();
        for (id, to) in waiting {
            let result = self.synced_generation(&id);
            self.reply_sync(ctx, to, result);
        }
    }

    fn synced_generation(&self, id: &MemberId) -> Result<SyncedGeneration, GroupError> {
        let (Some(protocol), Some(member)) = (self.protocol, self.members.get(id)) else {
            return Err(GroupError::UnknownMemberId);
        };
        Ok(SyncedGeneration {
            generation: self.generation,
            protocol,
            assignment: member.assignment.clone(),
        })
    }

    pub(super) fn reply_sync(
        &self,
        ctx: &mut Ctx,
        to: ClientRef,
        result: Result<SyncedGeneration, GroupError>,
    ) {
        ctx.respond(
            to,
            GroupResponse::SyncGroup {
                group: self.id.clone(),
                result,
            },
        );
    }

    pub(super) fn fail_syncs(&mut self, ctx: &mut Ctx, error: GroupError) {
        let waiting: Vec<ClientRef> = self
            .members
            .values_mut()
            .filter_map(|m| m.awaiting_sync.take())
            .collect();
        for to in waiting {
            self.reply_sync(ctx, to, Err(error));
        }
    }
}

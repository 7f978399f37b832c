//! The join phase of a classic group: JoinGroup, starting a rebalance, and completing it
//! into a new generation with a leader and a chosen assignor.

use super::{ClassicGroup, Ctx, Joiner};
use crate::group::assignor::Assignor;
use crate::group::ids::{ClientRef, MemberId};
use crate::group::member::{JoinParams, Member};
use crate::group::output::{GroupEvent, RemovalReason};
use crate::group::protocol::{GroupError, GroupResponse, JoinedGeneration};
use crate::group::records::OffsetsRecord;
use crate::group::summary::GroupState;
use crate::group::writes::PendingWrite;
use std::collections::BTreeMap;

impl ClassicGroup {
    pub(crate) fn join(
        &mut self,
        ctx: &mut Ctx,
        from: ClientRef,
        joiner: Joiner,
        params: JoinParams,
    ) {
        let id = match &joiner {
            Joiner::New(id) | Joiner::Known(id) => id.clone(),
        };
        if !self.supports_protocols(&id, &params.protocols) {
            return self.reply_join(ctx, from, None, Err(GroupError::InconsistentGroupProtocol));
        }
        match joiner {
            Joiner::New(id) if ctx.config.require_member_id => {
                let expiry = ctx.now.saturating_add(params.session_timeout_ms);
                self.pending_members.insert(id.clone(), expiry);
                self.reply_join(ctx, from, Some(id), Err(GroupError::MemberIdRequired));
            }
            Joiner::New(id) => self.add_member(ctx, from, id, params),
            Joiner::Known(id) if self.pending_members.remove(&id).is_some() => {
                self.add_member(ctx, from, id, params);
            }
            Joiner::Known(id) if self.members.contains_key(&id) => {
                self.rejoin(ctx, from, id, params);
            }
            Joiner::Known(_) => {
                self.reply_join(ctx, from, None, Err(GroupError::UnknownMemberId));
            }
        }
    }

    /// Whether one of `protocols` is supported by every other member (any will do while
    /// the joiner would be alone).
    fn supports_protocols(&self, joiner: &MemberId, protocols: &[Assignor]) -> bool {
        let mut others = self.members.values().filter(|m| &m.id != joiner).peekable();
        if protocols.is_empty() {
            return false;
        }
        if others.peek().is_none() {
            return true;
        }
        let others: Vec<&Member> = others.collect();
        protocols
            .iter()
            .any(|p| others.iter().all(|m| m.supports(*p)))
    }

    fn add_member(&mut self, ctx: &mut Ctx, from: ClientRef, id: MemberId, params: JoinParams) {
        ctx.event(GroupEvent::MemberJoined {
            group: self.id.clone(),
            member: id.clone(),
            client_id: params.client_id.clone(),
        });
        let member = Member::new(id.clone(), params, ctx.now, from);
        self.members.insert(id.clone(), member);
        if self.leader.is_none() {
            self.leader = Some(id.clone());
        }
        if self.state == GroupState::PreparingRebalance {
            // Still in the initial delay: wait as long again for more, up to the deadline.
            if self.join_not_before_ms > ctx.now {
                self.join_not_before_ms = ctx
                    .now
                    .saturating_add(ctx.config.group_initial_rebalance_delay_ms)
                    .min(self.phase_deadline_ms);
            }
        } else {
            self.prepare_rebalance(ctx, format!("{id} joined"));
        }
        self.maybe_complete_join(ctx);
    }

    fn rejoin(&mut self, ctx: &mut Ctx, from: ClientRef, id: MemberId, params: JoinParams) {
        let is_leader = self.leader.as_ref() == Some(&id);
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        let as_before = member.joins_as_before(&params);
        match self.state {
            // A member that lost its join answer asks again: it gets the same answer.
            GroupState::CompletingRebalance if as_before => {
                let result = self.joined_generation(&id);
                self.reply_join(ctx, from, Some(id), result);
            }
            // A follower with nothing new needs no rebalance: it goes on to sync.
            GroupState::Stable if as_before && !is_leader => {
                let result = self.joined_generation(&id);
                self.reply_join(ctx, from, Some(id), result);
            }
            _ => {
                member.params = params;
                if let Some(superseded) = member.awaiting_join.replace(from) {
                    ctx.respond(
                        superseded,
                        GroupResponse::JoinGroup {
                            group: self.id.clone(),
                            member: Some(id.clone()),
                            result: Err(GroupError::RebalanceInProgress),
                        },
                    );
                }
                if self.state != GroupState::PreparingRebalance {
                    self.prepare_rebalance(ctx, format!("{id} rejoined"));
                }
                self.maybe_complete_join(ctx);
            }
        }
    }

    fn joined_generation(&self, member: &MemberId) -> Result<JoinedGeneration, GroupError> {
        let (Some(protocol), Some(leader)) = (self.protocol, self.leader.clone()) else {
            return Err(GroupError::RebalanceInProgress);
        };
        let members = if &leader == member {
            self.members
                .values()
                .map(|m| (m.id.clone(), m.params.subscription.clone()))
                .collect()
        } else {
            Vec::new()
        };
        Ok(JoinedGeneration {
            generation: self.generation,
            protocol,
            leader,
            members,
        })
    }

    pub(super) fn reply_join(
        &self,
        ctx: &mut Ctx,
        to: ClientRef,
        member: Option<MemberId>,
        result: Result<JoinedGeneration, GroupError>,
    ) {
        ctx.respond(
            to,
            GroupResponse::JoinGroup {
                group: self.id.clone(),
                member,
                result,
            },
        );
    }

    /// Sends the group back to the join phase: pending syncs learn of it, members learn
    /// of it from their next heartbeat.
    pub(super) fn prepare_rebalance(&mut self, ctx: &mut Ctx, reason: String) {
        if self.state == GroupState::CompletingRebalance {
            self.assignment_in_flight = None;
            self.fail_syncs(ctx, GroupError::RebalanceInProgress);
        }
        let from_empty = self.state == GroupState::Empty;
        self.state = GroupState::PreparingRebalance;
        self.phase_deadline_ms = ctx.now.saturating_add(self.rebalance_timeout_ms());
        self.join_not_before_ms = if from_empty {
            ctx.now
                .saturating_add(ctx.config.group_initial_rebalance_delay_ms)
                .min(self.phase_deadline_ms)
        } else {
            ctx.now
        };
        ctx.event(GroupEvent::RebalanceStarted {
            group: self.id.clone(),
            generation: self.generation,
            reason,
        });
    }

    fn rebalance_timeout_ms(&self) -> u64 {
        self.members
            .values()
            .map(|m| m.params.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    pub(super) fn all_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.values().all(|m| m.awaiting_join.is_some())
    }

    pub(super) fn maybe_complete_join(&mut self, ctx: &mut Ctx) {
        if self.state == GroupState::PreparingRebalance
            && self.all_joined()
            && ctx.now >= self.join_not_before_ms
        {
            self.complete_join(ctx);
        }
    }

    /// Ends the join phase: members that did not rejoin are out, the rest form the next
    /// generation, and each gets its JoinGroup answer (the leader with the subscriptions).
    pub(super) fn complete_join(&mut self, ctx: &mut Ctx) {
        let stragglers: Vec<MemberId> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in stragglers {
            self.remove(ctx, &id, RemovalReason::JoinTimeout);
        }
        // The broken variant keeps the first generation for good.
        if !ctx.config.keep_generation_on_rebalance || self.generation.0 == 0 {
            self.generation = self.generation.next();
        }
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol = None;
            self.leader = None;
            ctx.event(GroupEvent::GroupEmpty {
                group: self.id.clone(),
                generation: self.generation,
            });
            let record = OffsetsRecord::GroupMetadata(self.metadata());
            ctx.writes
                .start(vec![record], PendingWrite::Metadata, ctx.out);
            return;
        }
        self.protocol = self.select_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.state = GroupState::CompletingRebalance;
        self.phase_deadline_ms = ctx.now.saturating_add(self.rebalance_timeout_ms());
        let ids: Vec<MemberId> = self.members.keys().cloned().collect();
        for id in &ids {
            let result = self.joined_generation(id);
            let member = self.members.get_mut(id).expect("listed above");
            member.is_new = false;
            member.last_heartbeat_ms = ctx.now;
            if let Some(to) = member.awaiting_join.take() {
                self.reply_join(ctx, to, Some(id.clone()), result);
            }
        }
        if let (Some(protocol), Some(leader)) = (self.protocol, self.leader.clone()) {
            ctx.event(GroupEvent::GenerationStarted {
                group: self.id.clone(),
                generation: self.generation,
                protocol,
                leader,
                members: ids,
            });
        }
    }

    /// Kafka's vote: among the assignors every member supports, each member votes for its
    /// most preferred; most votes wins (ties: the first in [`Assignor::ALL`] order).
    fn select_protocol(&self) -> Option<Assignor> {
        let candidates: Vec<Assignor> = Assignor::ALL
            .into_iter()
            .filter(|p| self.members.values().all(|m| m.supports(*p)))
            .collect();
        let mut votes: BTreeMap<Assignor, usize> = BTreeMap::new();
        for member in self.members.values() {
            if let Some(choice) = member
                .params
                .protocols
                .iter()
                .find(|p| candidates.contains(p))
            {
                *votes.entry(*choice).or_default() += 1;
            }
        }
        let most = votes.values().copied().max()?;
        votes.into_iter().find(|(_, n)| *n == most).map(|(p, _)| p)
    }
}

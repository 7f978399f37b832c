//! The group coordinator of one offsets-topic partition (Kafka's GroupCoordinator and
//! GroupMetadataManager for classic groups): routes requests to its groups, stores their
//! committed offsets, and rebuilds itself from the offsets topic after a failover.
//!
//! Durability: nothing a client is told depends on memory alone. An accepted commit, and a
//! generation's assignment, are answered only after the driver reports their records
//! written to the offsets topic (acks=all) through [`GroupCoordinator::write_completed`];
//! until then a commit is not visible to OffsetFetch. So a coordinator rebuilt from the
//! topic by [`GroupCoordinator::from_records`] knows everything that was acknowledged.

use super::assignor::{Assignor, Subscription};
use super::classic_group::{ClassicGroup, Ctx, Joiner};
use super::config::GroupCoordinatorConfig;
use super::ids::{ClientRef, Generation, GroupId, MemberId, WriteId};
use super::member::JoinParams;
use super::output::{GroupEvent, GroupOutput};
use super::protocol::{GroupError, GroupRequest, GroupResponse};
use super::records::OffsetsRecord;
use super::summary::GroupSummary;
use super::txn_offsets::{OffsetsLogEntry, TxnOffsets};
use super::writes::{PendingWrite, PendingWrites};
use crate::ids::{Millis, Offset, TopicPartition};
use std::collections::BTreeMap;

/// The coordinator state machine for the groups of one offsets-topic partition.
#[derive(Clone, Debug)]
pub struct GroupCoordinator {
    config: GroupCoordinatorConfig,
    /// Part of every member id it hands out, so that ids from an earlier coordinator of
    /// the partition are never reused: the partition's leader epoch serves.
    coordinator_epoch: u32,
    next_member_seq: u64,
    groups: BTreeMap<GroupId, ClassicGroup>,
    committed: BTreeMap<GroupId, BTreeMap<TopicPartition, Offset>>,
    writes: PendingWrites,
    txn_offsets: TxnOffsets,
}

impl GroupCoordinator {
    /// A coordinator for a partition with an empty offsets log.
    pub fn new(config: GroupCoordinatorConfig, coordinator_epoch: u32) -> Self {
        GroupCoordinator {
            config,
            coordinator_epoch,
            next_member_seq: 0,
            groups: BTreeMap::new(),
            committed: BTreeMap::new(),
            writes: PendingWrites::default(),
            txn_offsets: TxnOffsets::default(),
        }
    }

    /// A coordinator taking over a partition (failover): replays its records in log order,
    /// the latest per key winning. Groups come back as their last metadata record left
    /// them (Stable with those members and assignments, their sessions starting at `now`,
    /// or Empty); a group with offsets but no metadata comes back Empty.
    pub fn from_records<'a>(
        config: GroupCoordinatorConfig,
        coordinator_epoch: u32,
        records: impl IntoIterator<Item = &'a OffsetsRecord>,
        now: Millis,
    ) -> Self {
        let entries = records.into_iter().map(OffsetsLogEntry::Record);
        GroupCoordinator::from_log(config, coordinator_epoch, entries, now)
    }

    /// [`GroupCoordinator::from_records`] over a log that may hold transactions: offsets
    /// a transaction committed count once its commit marker follows them, and are
    /// pending (invisible) while no marker does.
    pub fn from_log<'a>(
        config: GroupCoordinatorConfig,
        coordinator_epoch: u32,
        entries: impl IntoIterator<Item = OffsetsLogEntry<'a>>,
        now: Millis,
    ) -> Self {
        let mut coordinator = GroupCoordinator::new(config, coordinator_epoch);
        for entry in entries {
            let OffsetsLogEntry::Record(record) = entry else {
                coordinator.replay_txn(entry);
                continue;
            };
            match record {
                OffsetsRecord::OffsetCommit {
                    group, tp, offset, ..
                } => {
                    coordinator
                        .committed
                        .entry(group.clone())
                        .or_default()
                        .insert(tp.clone(), *offset);
                    coordinator
                        .txn_offsets
                        .plain_commit(group, &[(tp.clone(), *offset)]);
                    coordinator
                        .groups
                        .entry(group.clone())
                        .or_insert_with(|| ClassicGroup::new(group.clone()));
                }
                OffsetsRecord::GroupMetadata(metadata) => {
                    let group = ClassicGroup::load(metadata.clone(), now);
                    coordinator.groups.insert(metadata.group.clone(), group);
                }
            }
        }
        coordinator
    }

    /// What a coordinator built by [`GroupCoordinator::from_records`] took over, one
    /// `GroupLoaded` per group, for the checkers.
    pub fn loaded_events(&self) -> Vec<GroupEvent> {
        self.groups
            .values()
            .map(ClassicGroup::loaded_event)
            .collect()
    }

    pub fn config(&self) -> &GroupCoordinatorConfig {
        &self.config
    }

    /// Handles one request from `from`. Answers may come now or later (JoinGroup and
    /// SyncGroup wait for their phase; commits for their write).
    pub fn handle(
        &mut self,
        now: Millis,
        from: ClientRef,
        request: GroupRequest,
    ) -> Vec<GroupOutput> {
        let mut out = Vec::new();
        if request.group().0.is_empty() {
            out.push(GroupOutput::Respond {
                to: from,
                response: request.refuse(GroupError::InvalidGroupId),
            });
            return out;
        }
        match request {
            GroupRequest::JoinGroup {
                group,
                member,
                client_id,
                session_timeout_ms,
                rebalance_timeout_ms,
                protocols,
                subscription,
            } => {
                let params = JoinParams {
                    client_id,
                    session_timeout_ms,
                    rebalance_timeout_ms,
                    protocols,
                    subscription,
                };
                self.join(now, from, group, member, params, &mut out);
            }
            GroupRequest::SyncGroup {
                group,
                generation,
                member,
                assignments,
            } => {
                let (mut ctx, groups) = self.ctx(now, &mut out);
                match groups.get_mut(&group) {
                    Some(g) => g.sync(&mut ctx, from, generation, &member, assignments),
                    None => ctx.out.push(GroupOutput::Respond {
                        to: from,
                        response: GroupResponse::SyncGroup {
                            group,
                            result: Err(GroupError::UnknownMemberId),
                        },
                    }),
                }
            }
            GroupRequest::Heartbeat {
                group,
                generation,
                member,
            } => {
                let result = match self.groups.get_mut(&group) {
                    Some(g) => g.heartbeat(now, generation, &member),
                    None => Err(GroupError::UnknownMemberId),
                };
                let response = GroupResponse::Heartbeat { group, result };
                out.push(GroupOutput::Respond { to: from, response });
            }
            GroupRequest::LeaveGroup { group, member } => {
                let (mut ctx, groups) = self.ctx(now, &mut out);
                let result = match groups.get_mut(&group) {
                    Some(g) => g.leave(&mut ctx, &member),
                    None => Err(GroupError::UnknownMemberId),
                };
                let response = GroupResponse::LeaveGroup { group, result };
                out.push(GroupOutput::Respond { to: from, response });
            }
            GroupRequest::OffsetCommit {
                group,
                generation,
                member,
                offsets,
            } => self.commit_into(now, from, group, generation, member, offsets, &mut out),
            GroupRequest::TxnOffsetCommit {
                group,
                producer_id,
                producer_epoch,
                generation,
                member,
                offsets,
                ..
            } => self.txn_commit_into(
                now,
                from,
                group,
                (producer_id, producer_epoch),
                generation,
                member,
                offsets,
                &mut out,
            ),
            GroupRequest::OffsetFetch {
                group,
                partitions,
                require_stable,
            } => {
                let response = self.fetch(group, partitions, require_stable);
                out.push(GroupOutput::Respond { to: from, response });
            }
        }
        out
    }

    /// OffsetCommit, as a call: `handle` with [`GroupRequest::OffsetCommit`].
    pub fn commit(
        &mut self,
        now: Millis,
        from: ClientRef,
        group: GroupId,
        generation: Option<Generation>,
        member: Option<MemberId>,
        offsets: Vec<(TopicPartition, Offset)>,
    ) -> Vec<GroupOutput> {
        let request = GroupRequest::OffsetCommit {
            group,
            generation,
            member,
            offsets,
        };
        self.handle(now, from, request)
    }

    /// The group's committed offset for `tp`: the last one made durable, whether or not
    /// it is lower than before (a reset may commit lower; Kafka stores what it is given).
    pub fn committed(&self, group: &GroupId, tp: &TopicPartition) -> Option<Offset> {
        self.committed.get(group)?.get(tp).copied()
    }

    pub fn committed_offsets(&self, group: &GroupId) -> BTreeMap<TopicPartition, Offset> {
        self.committed.get(group).cloned().unwrap_or_default()
    }

    pub fn group(&self, group: &GroupId) -> Option<GroupSummary> {
        self.groups.get(group).map(ClassicGroup::summary)
    }

    pub fn group_ids(&self) -> impl Iterator<Item = &GroupId> {
        self.groups.keys()
    }

    /// A write handed out as [`GroupOutput::Write`] is done: `Ok` once the records are in
    /// the offsets topic (acks=all), or the error to answer with (NOT_COORDINATOR when
    /// this broker lost the partition's leadership, COORDINATOR_NOT_AVAILABLE when the
    /// write failed or timed out). An unknown write id is ignored.
    pub fn write_completed(
        &mut self,
        now: Millis,
        write: WriteId,
        result: Result<(), GroupError>,
    ) -> Vec<GroupOutput> {
        let mut out = Vec::new();
        match self.writes.finish(write) {
            None | Some(PendingWrite::Metadata) => {}
            Some(PendingWrite::Commit {
                group,
                generation,
                member,
                group_generation,
                offsets,
                reply,
            }) => {
                if result.is_ok() {
                    self.txn_offsets.plain_commit(&group, &offsets);
                    let committed = self.committed.entry(group.clone()).or_default();
                    committed.extend(offsets.iter().cloned());
                    out.push(GroupOutput::Event(GroupEvent::Committed {
                        group: group.clone(),
                        generation,
                        member,
                        group_generation,
                        offsets: offsets.clone(),
                    }));
                }
                let results = offsets.into_iter().map(|(tp, _)| (tp, result)).collect();
                out.push(GroupOutput::Respond {
                    to: reply,
                    response: GroupResponse::OffsetCommit { group, results },
                });
            }
            Some(PendingWrite::TxnCommit {
                group,
                producer_id,
                generation,
                member,
                group_generation,
                offsets,
                reply,
            }) => self.txn_commit_written(
                group,
                producer_id,
                generation,
                member,
                group_generation,
                offsets,
                reply,
                result,
                &mut out,
            ),
            Some(PendingWrite::Assignment { group }) => {
                let (mut ctx, groups) = self.ctx(now, &mut out);
                if let Some(g) = groups.get_mut(&group) {
                    g.assignment_written(&mut ctx, write, result);
                }
            }
        }
        out
    }

    /// When [`GroupCoordinator::tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.groups
            .values()
            .filter_map(|g| g.next_deadline(&self.config))
            .min()
    }

    /// Expires sessions and pending member ids, and ends overdue join and sync phases.
    pub fn tick(&mut self, now: Millis) -> Vec<GroupOutput> {
        let mut out = Vec::new();
        let (mut ctx, groups) = self.ctx(now, &mut out);
        for group in groups.values_mut() {
            group.tick(&mut ctx);
        }
        out
    }

    /// This broker no longer leads the partition: every held answer and pending write is
    /// refused with NOT_COORDINATOR (clients find the new coordinator and retry). The
    /// coordinator is spent; the new leader builds its own with `from_records`.
    pub fn resign(mut self) -> Vec<GroupOutput> {
        let mut out = Vec::new();
        let (mut ctx, groups) = self.ctx(0, &mut out);
        for group in groups.values_mut() {
            group.resign(&mut ctx);
        }
        for write in self.writes.take_all() {
            let (reply, response) = match write {
                PendingWrite::Commit {
                    group,
                    offsets,
                    reply,
                    ..
                } => {
                    let results = refuse_all(&offsets, GroupError::NotCoordinator);
                    (reply, GroupResponse::OffsetCommit { group, results })
                }
                PendingWrite::TxnCommit {
                    group,
                    offsets,
                    reply,
                    ..
                } => {
                    let results = refuse_all(&offsets, GroupError::NotCoordinator);
                    (reply, GroupResponse::TxnOffsetCommit { group, results })
                }
                PendingWrite::Assignment { .. } | PendingWrite::Metadata => continue,
            };
            out.push(GroupOutput::Respond {
                to: reply,
                response,
            });
        }
        out
    }

    /// Splits the borrow: a step context over the writes, and the groups to step.
    fn ctx<'a>(
        &'a mut self,
        now: Millis,
        out: &'a mut Vec<GroupOutput>,
    ) -> (Ctx<'a>, &'a mut BTreeMap<GroupId, ClassicGroup>) {
        let ctx = Ctx {
            now,
            config: &self.config,
            writes: &mut self.writes,
            out,
        };
        (ctx, &mut self.groups)
    }

    fn join(
        &mut self,
        now: Millis,
        from: ClientRef,
        group: GroupId,
        member: Option<MemberId>,
        params: JoinParams,
        out: &mut Vec<GroupOutput>,
    ) {
        let refusal = if !(self.config.group_min_session_timeout_ms
            ..=self.config.group_max_session_timeout_ms)
            .contains(&params.session_timeout_ms)
        {
            Some(GroupError::InvalidSessionTimeout)
        } else if params.protocols.is_empty() {
            Some(GroupError::InconsistentGroupProtocol)
        } else if member.is_some() && !self.groups.contains_key(&group) {
            Some(GroupError::UnknownMemberId)
        } else {
            None
        };
        if let Some(error) = refusal {
            let response = GroupResponse::JoinGroup {
                group,
                member: None,
                result: Err(error),
            };
            return out.push(GroupOutput::Respond { to: from, response });
        }
        let joiner = match member {
            Some(id) => Joiner::Known(id),
            None => Joiner::New(self.new_member_id(&params.client_id)),
        };
        let (mut ctx, groups) = self.ctx(now, out);
        groups
            .entry(group.clone())
            .or_insert_with(|| ClassicGroup::new(group))
            .join(&mut ctx, from, joiner, params);
    }

    fn new_member_id(&mut self, client_id: &str) -> MemberId {
        let id = MemberId(format!(
            "{client_id}-{}-{}",
            self.coordinator_epoch, self.next_member_seq
        ));
        self.next_member_seq += 1;
        id
    }

    #[allow(clippy::too_many_arguments)] // one request's fields, named
    fn commit_into(
        &mut self,
        now: Millis,
        from: ClientRef,
        group: GroupId,
        generation: Option<Generation>,
        member: Option<MemberId>,
        offsets: Vec<(TopicPartition, Offset)>,
        out: &mut Vec<GroupOutput>,
    ) {
        let group_generation = self.group_generation(&group);
        if let Err(error) = self.validate_commit(&group, generation, member.as_ref()) {
            if matches!(
                error,
                GroupError::UnknownMemberId | GroupError::IllegalGeneration
            ) {
                out.push(GroupOutput::Event(GroupEvent::Fenced {
                    group: group.clone(),
                    generation,
                    member,
                    group_generation,
                    error,
                }));
            }
            let results = offsets
                .into_iter()
                .map(|(tp, _)| (tp, Err(error)))
                .collect();
            let response = GroupResponse::OffsetCommit { group, results };
            return out.push(GroupOutput::Respond { to: from, response });
        }
        self.groups
            .entry(group.clone())
            .or_insert_with(|| ClassicGroup::new(group.clone()));
        if offsets.is_empty() {
            let response = GroupResponse::OffsetCommit {
                group,
                results: Vec::new(),
            };
            return out.push(GroupOutput::Respond { to: from, response });
        }
        let records = offsets
            .iter()
            .map(|(tp, offset)| OffsetsRecord::OffsetCommit {
                group: group.clone(),
                tp: tp.clone(),
                offset: *offset,
                commit_timestamp_ms: now,
            })
            .collect();
        let waiting = PendingWrite::Commit {
            group,
            generation,
            member,
            group_generation,
            offsets,
            reply: from,
        };
        self.writes.start(records, waiting, out);
    }

    /// The group's current generation (0 for a group it does not know).
    pub(super) fn group_generation(&self, group: &GroupId) -> Generation {
        self.groups
            .get(group)
            .map_or(Generation(0), ClassicGroup::generation)
    }

    /// Whether a commit from `member` of `generation` may be taken (KIP-447 for a
    /// transactional one as well).
    pub(super) fn validate_commit(
        &self,
        group: &GroupId,
        generation: Option<Generation>,
        member: Option<&MemberId>,
    ) -> Result<(), GroupError> {
        if self.config.accept_stale_generation_commits {
            return Ok(());
        }
        match self.groups.get(group) {
            Some(g) => g.validate_commit(generation, member),
            None if generation.is_none() && member.is_none() => Ok(()),
            // Kafka before OffsetCommit v9; later versions say GROUP_ID_NOT_FOUND.
            None => Err(GroupError::IllegalGeneration),
        }
    }

    pub(super) fn set_committed(&mut self, group: &GroupId, tp: &TopicPartition, offset: Offset) {
        self.groups
            .entry(group.clone())
            .or_insert_with(|| ClassicGroup::new(group.clone()));
        self.committed
            .entry(group.clone())
            .or_default()
            .insert(tp.clone(), offset);
    }

    pub(super) fn writes_mut(&mut self) -> &mut PendingWrites {
        &mut self.writes
    }

    pub(super) fn txn_offsets_mut(&mut self) -> &mut TxnOffsets {
        &mut self.txn_offsets
    }

    fn fetch(
        &self,
        group: GroupId,
        partitions: Option<Vec<TopicPartition>>,
        require_stable: bool,
    ) -> GroupResponse {
        let partitions =
            partitions.unwrap_or_else(|| self.committed_offsets(&group).into_keys().collect());
        let results = partitions
            .into_iter()
            .map(|tp| {
                let unstable =
                    self.writes.commit_pending(&group, &tp) || self.txn_offsets.holds(&group, &tp);
                let result = if require_stable && unstable {
                    Err(GroupError::UnstableOffsetCommit)
                } else {
                    Ok(self.committed(&group, &tp))
                };
                (tp, result)
            })
            .collect();
        GroupResponse::OffsetFetch {
            group,
            result: Ok(results),
        }
    }
}

fn refuse_all(
    offsets: &[(TopicPartition, Offset)],
    error: GroupError,
) -> Vec<(TopicPartition, Result<(), GroupError>)> {
    offsets
        .iter()
        .map(|(tp, _)| (tp.clone(), Err(error)))
        .collect()
}

/// A JoinGroup request with Kafka's consumer defaults (45 s session, 5 min rebalance
/// timeout), for tests and for clients that do not tune them.
pub fn join_request(
    group: &GroupId,
    member: Option<MemberId>,
    client_id: &str,
    protocols: Vec<Assignor>,
    subscription: Subscription,
) -> GroupRequest {
    GroupRequest::JoinGroup {
        group: group.clone(),
        member,
        client_id: client_id.to_string(),
        session_timeout_ms: 45_000,
        rebalance_timeout_ms: 300_000,
        protocols,
        subscription,
    }
}

//! A group member's requests to the coordinator, and what it does with each answer.

use super::{CommitInFlight, GroupMember, MemberAction};
use crate::effect::{CommitObservation, Observation, Output, Refusal, RefusedRequest};
use crate::group::{GroupError, GroupRequest, GroupResponse, Subscription};
use crate::ids::{BrokerId, Millis, Offset, TopicPartition};
use crate::metadata_client::InFlight;
use crate::protocol::Message;
use std::collections::{BTreeMap, BTreeSet};

/// How many recent coordinator requests a member remembers for its refusals' history.
const SENT_REMEMBERED: usize = 64;

/// What a coordinator request named, as the history records a refusal of it.
#[derive(Clone, Debug)]
pub(super) struct SentRequest {
    api: &'static str,
    member: Option<String>,
    generation: Option<u32>,
}

impl SentRequest {
    fn of(request: &GroupRequest) -> Self {
        let (api, member, generation) = match request {
            GroupRequest::JoinGroup { member, .. } => ("join", member.clone(), None),
            GroupRequest::SyncGroup {
                member, generation, ..
            } => ("sync", Some(member.clone()), Some(*generation)),
            GroupRequest::Heartbeat {
                member, generation, ..
            } => ("heartbeat", Some(member.clone()), Some(*generation)),
            GroupRequest::LeaveGroup { member, .. } => ("leave", Some(member.clone()), None),
            GroupRequest::OffsetCommit {
                member, generation, ..
            } => ("commit", member.clone(), *generation),
            GroupRequest::OffsetFetch { .. } => ("offset-fetch", None, None),
            GroupRequest::TxnOffsetCommit {
                member, generation, ..
            } => ("txn-offset-commit", member.clone(), *generation),
        };
        SentRequest {
            api,
            member: member.map(|m| m.0),
            generation: generation.map(|g| g.0),
        }
    }
}

/// The first error a coordinator's answer carries, if any.
fn answered_error(response: &GroupResponse) -> Option<GroupError> {
    match response {
        GroupResponse::JoinGroup { result, .. } => result.as_ref().err().copied(),
        GroupResponse::SyncGroup { result, .. } => result.as_ref().err().copied(),
        GroupResponse::Heartbeat { result, .. } | GroupResponse::LeaveGroup { result, .. } => {
            result.as_ref().err().copied()
        }
        GroupResponse::OffsetCommit { results, .. }
        | GroupResponse::TxnOffsetCommit { results, .. } => {
            results.iter().find_map(|(_, r)| r.as_ref().err().copied())
        }
        GroupResponse::OffsetFetch { result, .. } => match result {
            Err(error) => Some(*error),
            Ok(partitions) => partitions
                .iter()
                .find_map(|(_, r)| r.as_ref().err().copied()),
        },
    }
}

impl GroupMember {
    /// Tells the history that `from` refused request `correlation_id` with `error`.
    fn report_refusal(
        &mut self,
        from: BrokerId,
        correlation_id: u64,
        error: GroupError,
        out: &mut Vec<Output>,
    ) {
        let Some(at) = self.sent.iter().position(|(id, _)| *id == correlation_id) else {
            return;
        };
        let (_, sent) = self.sent.remove(at).expect("found above");
        out.push(Output::Observe(Observation::Refused(Refusal {
            broker: from,
            correlation_id,
            error: error.to_string(),
            retriable: error.is_retriable(),
            request: RefusedRequest::Group {
                api: sent.api,
                group: self.group.0.clone(),
                member: sent.member,
                generation: sent.generation,
            },
        })));
    }

    fn request(&mut self, now: Millis, to: BrokerId, last_correlation_id: &mut u64) -> InFlight {
        *last_correlation_id += 1;
        InFlight {
            correlation_id: *last_correlation_id,
            to: to.node(),
            sent_ms: now,
        }
    }

    pub(super) fn send_find_coordinator(
        &mut self,
        now: Millis,
        to: BrokerId,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        let request = self.request(now, to, last_correlation_id);
        self.find_coordinator = Some(request);
        out.push(Output::Send {
            to: to.node(),
            message: Message::FindCoordinatorRequest {
                correlation_id: request.correlation_id,
                group: self.group.clone(),
            },
        });
    }

    fn send_group_request(
        &mut self,
        now: Millis,
        to: BrokerId,
        request: GroupRequest,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) -> InFlight {
        let in_flight = self.request(now, to, last_correlation_id);
        if self.sent.len() >= SENT_REMEMBERED {
            self.sent.pop_front();
        }
        self.sent
            .push_back((in_flight.correlation_id, SentRequest::of(&request)));
        out.push(Output::Send {
            to: to.node(),
            message: Message::GroupRequest {
                correlation_id: in_flight.correlation_id,
                request,
            },
        });
        in_flight
    }

    pub(super) fn send_join(
        &mut self,
        now: Millis,
        coordinator: BrokerId,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        let request = GroupRequest::JoinGroup {
            group: self.group.clone(),
            member: self.member_id.clone(),
            client_id: self.client_id.clone(),
            session_timeout_ms: self.config.session_timeout_ms,
            rebalance_timeout_ms: self.config.rebalance_timeout_ms,
            protocols: self.config.assignors.clone(),
            subscription: Subscription {
                topics: self.topics.clone(),
                owned_partitions: self.owned.iter().cloned().collect(),
                generation: self.generation,
            },
        };
        let in_flight =
            self.send_group_request(now, coordinator, request, last_correlation_id, out);
        self.join = Some(in_flight);
        self.join_owned = self.owned.clone();
    }

    pub(super) fn send_heartbeat(
        &mut self,
        now: Millis,
        coordinator: BrokerId,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        let (Some(member), Some(generation)) = (self.member_id.clone(), self.generation) else {
            return;
        };
        let request = GroupRequest::Heartbeat {
            group: self.group.clone(),
            generation,
            member,
        };
        let in_flight =
            self.send_group_request(now, coordinator, request, last_correlation_id, out);
        self.heartbeat = Some(in_flight);
        self.next_heartbeat_ms = now + self.config.heartbeat_interval_ms;
    }

    pub(super) fn send_offset_fetch(
        &mut self,
        now: Millis,
        coordinator: BrokerId,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        let request = GroupRequest::OffsetFetch {
            group: self.group.clone(),
            partitions: Some(self.awaiting_offsets.iter().cloned().collect()),
            require_stable: true,
        };
        let in_flight =
            self.send_group_request(now, coordinator, request, last_correlation_id, out);
        self.offset_fetch = Some(in_flight);
    }

    /// Sends a commit of `offsets` in the current generation; returns its correlation id,
    /// or `None` if there is no coordinator or generation to commit to.
    pub(super) fn send_commit(
        &mut self,
        now: Millis,
        offsets: Vec<(TopicPartition, Offset)>,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) -> Option<u64> {
        let coordinator = self.coordinator?;
        let generation = self.generation?;
        let member = self.member_id.clone()?;
        let commit = CommitObservation {
            group: self.group.0.clone(),
            member: member.0.clone(),
            generation: generation.0,
            offsets: offsets.clone(),
        };
        out.push(Output::Observe(Observation::CommitInvoke(commit.clone())));
        let request = GroupRequest::OffsetCommit {
            group: self.group.clone(),
            generation: Some(generation),
            member: Some(member),
            offsets,
        };
        let in_flight =
            self.send_group_request(now, coordinator, request, last_correlation_id, out);
        self.commits.insert(
            in_flight.correlation_id,
            CommitInFlight {
                request: in_flight,
                commit,
            },
        );
        Some(in_flight.correlation_id)
    }

    /// A commit was refused or timed out: in before-processing mode its polls are never
    /// processed and their partitions are fetched again from the committed offset.
    pub(super) fn commit_failed(
        &mut self,
        correlation_id: u64,
        commit: CommitObservation,
        error: String,
        out: &mut Vec<Output>,
    ) {
        out.push(Output::Observe(Observation::CommitFail {
            commit: commit.clone(),
            error,
        }));
        self.queue.commit_refused(correlation_id);
        if self.config.commit_mode == super::CommitMode::BeforeProcessing {
            for (tp, _) in &commit.offsets {
                self.restart_from_committed(tp);
            }
        } else if self.config.commit_mode == super::CommitMode::AfterProcessing {
            // Processed but not committed: commit again with what comes next, unless the
            // membership changed since (the partition's position now comes from the
            // group's committed offset, and this one may be behind it).
            let same_membership = self.same_membership(&commit);
            for (tp, offset) in commit.offsets {
                if same_membership && self.owned.contains(&tp) {
                    let entry = self.processed.entry(tp).or_insert(offset);
                    *entry = (*entry).max(offset);
                }
            }
        }
    }

    pub fn on_find_coordinator(
        &mut self,
        now: Millis,
        correlation_id: u64,
        result: Result<BrokerId, GroupError>,
    ) {
        if self.find_coordinator.map(|r| r.correlation_id) != Some(correlation_id) {
            return;
        }
        self.find_coordinator = None;
        match result {
            Ok(broker) => self.coordinator = Some(broker),
            Err(_) => self.not_before_ms = now + self.retry_backoff_ms,
        }
    }

    /// Takes a coordinator's answer. `partition_counts` sizes the assignment when this
    /// member leads the generation.
    #[allow(clippy::too_many_arguments)] // one answer and where it came from, named
    pub fn on_group_response(
        &mut self,
        now: Millis,
        from: BrokerId,
        correlation_id: u64,
        response: GroupResponse,
        partition_counts: &BTreeMap<String, u32>,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        match answered_error(&response) {
            Some(error) => self.report_refusal(from, correlation_id, error, out),
            None => self.sent.retain(|(id, _)| *id != correlation_id),
        }
        match response {
            GroupResponse::JoinGroup { member, result, .. } => {
                if self.join.map(|r| r.correlation_id) != Some(correlation_id) {
                    return;
                }
                self.join = None;
                match result {
                    Ok(joined) => {
                        self.member_id = member.or(self.member_id.take());
                        let leads = Some(&joined.leader) == self.member_id.as_ref();
                        self.assigned_from = leads.then(|| partition_counts.clone());
                        let assignments = if leads {
                            joined.leader_assignments(partition_counts)
                        } else {
                            Vec::new()
                        };
                        let (Some(coordinator), Some(me)) =
                            (self.coordinator, self.member_id.clone())
                        else {
                            return;
                        };
                        let request = GroupRequest::SyncGroup {
                            group: self.group.clone(),
                            generation: joined.generation,
                            member: me,
                            assignments,
                        };
                        let in_flight = self.send_group_request(
                            now,
                            coordinator,
                            request,
                            last_correlation_id,
                            out,
                        );
                        self.sync = Some((in_flight, joined));
                    }
                    Err(GroupError::MemberIdRequired) => self.member_id = member,
                    Err(error) => self.group_error(now, error, last_correlation_id, out),
                }
            }
            GroupResponse::SyncGroup { result, .. } => {
                if self.sync.as_ref().map(|(r, _)| r.correlation_id) != Some(correlation_id) {
                    return;
                }
                self.sync = None;
                match result {
                    Ok(synced) => {
                        self.rejoin_needed = false;
                        self.generation = Some(synced.generation);
                        self.confirmed_ms = Some(now);
                        self.next_heartbeat_ms = now + self.config.heartbeat_interval_ms;
                        let assigned: BTreeSet<TopicPartition> =
                            synced.assignment.iter().cloned().collect();
                        out.push(Output::Observe(Observation::GroupAssignment {
                            group: self.group.0.clone(),
                            member: self.member_label(),
                            generation: synced.generation.0,
                            partitions: synced.assignment,
                        }));
                        let revoked: BTreeSet<TopicPartition> =
                            self.owned.difference(&assigned).cloned().collect();
                        self.revoke(now, &revoked, true, last_correlation_id, out);
                        for tp in assigned.difference(&self.owned.clone()) {
                            self.owned.insert(tp.clone());
                            self.awaiting_offsets.insert(tp.clone());
                        }
                        // KIP-429: having given partitions up, rejoin so that the next
                        // round can hand them out.
                        let withheld = self.join_owned.difference(&assigned).next().is_some();
                        if !revoked.is_empty() || withheld {
                            self.rejoin_needed = true;
                        }
                    }
                    Err(error) => self.group_error(now, error, last_correlation_id, out),
                }
            }
            GroupResponse::Heartbeat { result, .. } => {
                if self.heartbeat.map(|r| r.correlation_id) != Some(correlation_id) {
                    return;
                }
                self.heartbeat = None;
                match result {
                    Ok(()) => self.confirmed_ms = Some(now),
                    Err(error) => self.group_error(now, error, last_correlation_id, out),
                }
            }
            GroupResponse::LeaveGroup { .. } => {}
            GroupResponse::OffsetCommit { results, .. } => {
                let Some(commit) = self.commits.remove(&correlation_id) else {
                    return;
                };
                let errors: Vec<GroupError> = results.iter().filter_map(|(_, r)| r.err()).collect();
                match errors.first() {
                    None => {
                        out.push(Output::Observe(Observation::CommitOk(commit.commit)));
                        self.queue
                            .commit_acknowledged(now, correlation_id, self.config.process_ms);
                    }
                    Some(&error) => {
                        if error.is_retriable() && !error.needs_rejoin() && self.commits_may_retry()
                        {
                            self.retry_commit(
                                now,
                                correlation_id,
                                commit,
                                error,
                                last_correlation_id,
                                out,
                            );
                        } else {
                            self.commit_failed(
                                correlation_id,
                                commit.commit,
                                error.to_string(),
                                out,
                            );
                            self.group_error(now, error, last_correlation_id, out);
                        }
                    }
                }
            }
            GroupResponse::OffsetFetch { result, .. } => {
                if self.offset_fetch.map(|r| r.correlation_id) != Some(correlation_id) {
                    return;
                }
                self.offset_fetch = None;
                match result {
                    Ok(results) => {
                        for (tp, result) in results {
                            match result {
                                Ok(offset) if self.awaiting_offsets.remove(&tp) => {
                                    self.actions.push(MemberAction::Start { tp, offset })
                                }
                                Ok(_) => {}
                                Err(error) => {
                                    self.not_before_ms = now + self.retry_backoff_ms;
                                    if error.needs_coordinator_lookup() {
                                        self.coordinator = None;
                                    }
                                }
                            }
                        }
                    }
                    Err(error) => self.group_error(now, error, last_correlation_id, out),
                }
            }
            // A member never sends TxnOffsetCommit (its transactional producer does).
            GroupResponse::TxnOffsetCommit { .. } => {}
        }
    }

    /// A retriable commit refusal in before-processing mode is sent again (its polls keep
    /// waiting); in after-processing mode the offsets go back to be committed later.
    fn commits_may_retry(&self) -> bool {
        self.config.commit_mode == super::CommitMode::BeforeProcessing
    }

    fn retry_commit(
        &mut self,
        now: Millis,
        correlation_id: u64,
        commit: CommitInFlight,
        error: GroupError,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        out.push(Output::Observe(Observation::CommitFail {
            commit: commit.commit.clone(),
            error: error.to_string(),
        }));
        if error.needs_coordinator_lookup() {
            self.coordinator = None;
        }
        // A commit of an earlier membership is not resent under the new one: it names
        // positions of the old assignment.
        let resent = if self.same_membership(&commit.commit) {
            self.send_commit(now, commit.commit.offsets.clone(), last_correlation_id, out)
        } else {
            None
        };
        match resent {
            Some(retry) => self.queue.commit_resent(correlation_id, retry),
            None => {
                self.queue.commit_refused(correlation_id);
                for (tp, _) in &commit.commit.offsets {
                    self.restart_from_committed(tp);
                }
            }
        }
    }

    /// Whether `commit` was sent by the membership the member has now.
    fn same_membership(&self, commit: &CommitObservation) -> bool {
        Some(commit.generation) == self.generation.map(|g| g.0)
            && self
                .member_id
                .as_ref()
                .is_some_and(|m| m.0 == commit.member)
    }

    /// What a coordinator error means for the membership.
    fn group_error(
        &mut self,
        now: Millis,
        error: GroupError,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        self.not_before_ms = now + self.retry_backoff_ms;
        match error {
            GroupError::NotCoordinator | GroupError::CoordinatorNotAvailable => {
                self.coordinator = None;
            }
            GroupError::UnknownMemberId => {
                self.lose_membership(now, true, last_correlation_id, out)
            }
            GroupError::IllegalGeneration => {
                self.lose_membership(now, false, last_correlation_id, out)
            }
            GroupError::RebalanceInProgress => self.need_rejoin(now, last_correlation_id, out),
            GroupError::MemberIdRequired => self.rejoin_needed = true,
            GroupError::UnstableOffsetCommit => {}
            GroupError::InvalidGroupId
            | GroupError::InconsistentGroupProtocol
            | GroupError::InvalidSessionTimeout => {
                out.push(Output::Note(format!("group {}: {error}", self.group)));
            }
        }
    }
}

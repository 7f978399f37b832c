//! A consumer's membership of a group, classic protocol (the Java client's
//! ConsumerCoordinator): finds the coordinator, joins and syncs (running the assignor when
//! it leads), heartbeats, revokes and takes partitions, fetches their committed offsets,
//! processes what the consumer polled and commits it (after processing: at-least-once;
//! before: at-most-once), or hands it to a transaction (exactly-once).
//!
//! The consumer owns fetching; this tells it which partitions to fetch from where
//! ([`MemberAction`]) and takes the records it polls ([`GroupMember::polled`]).

mod config;
mod failures;
mod manual;
mod processing;
mod requests;
mod transactional;

pub use config::{CommitMode, MemberConfig};
pub use manual::ManualCommitRefused;
pub use transactional::TransactionInput;

use crate::effect::{CommitObservation, Observation, ObservedRecord, Output};
use crate::group::{Generation, GroupId, JoinedGeneration, MemberId, RebalanceProtocol};
use crate::ids::{BrokerId, Millis, Offset, TopicPartition};
use crate::metadata_client::{InFlight, MetadataClient};
use processing::{Polled, ProcessingQueue};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What the consumer must do with its fetch positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberAction {
    /// Start fetching `tp` at `offset` (the group's committed offset), or, if `None`,
    /// where `auto.offset.reset` says.
    Start {
        tp: TopicPartition,
        offset: Option<Offset>,
    },
    /// Stop fetching `tp`: the member gave it up.
    Stop { tp: TopicPartition },
}

/// An offset commit in flight.
#[derive(Clone, Debug)]
struct CommitInFlight {
    request: InFlight,
    commit: CommitObservation,
}

/// The member's state.
#[derive(Clone, Debug)]
pub struct GroupMember {
    config: MemberConfig,
    group: GroupId,
    client_id: String,
    topics: Vec<String>,
    request_timeout_ms: u64,
    retry_backoff_ms: u64,
    coordinator: Option<BrokerId>,
    find_coordinator: Option<InFlight>,
    member_id: Option<MemberId>,
    /// The generation the member's partitions belong to (`None`: not in one yet).
    generation: Option<Generation>,
    rejoin_needed: bool,
    join: Option<InFlight>,
    /// The partitions the last JoinGroup said the member owned: a cooperative assignor
    /// withholds those it moves, and the member must rejoin to let them go.
    join_owned: BTreeSet<TopicPartition>,
    /// As the generation's leader: the partition counts its assignment was made from. When
    /// the metadata shows others (it knew nothing yet, or a topic grew), it rejoins, as the
    /// Java client does when its metadata snapshot changes.
    assigned_from: Option<BTreeMap<String, u32>>,
    sync: Option<(InFlight, JoinedGeneration)>,
    heartbeat: Option<InFlight>,
    next_heartbeat_ms: Millis,
    /// When the coordinator last confirmed the membership (a heartbeat or a sync).
    confirmed_ms: Option<Millis>,
    owned: BTreeSet<TopicPartition>,
    /// Owned partitions whose starting offset is not known yet.
    awaiting_offsets: BTreeSet<TopicPartition>,
    offset_fetch: Option<InFlight>,
    commits: BTreeMap<u64, CommitInFlight>,
    queue: ProcessingQueue,
    /// After-processing mode: last processed + 1, per partition, not yet committed.
    processed: BTreeMap<TopicPartition, Offset>,
    /// Transactional mode: processed polls waiting for the application's next transaction.
    txn_ready: Vec<Polled>,
    /// Transactional mode: the application's transaction holds offsets handed to it.
    in_transaction: bool,
    next_auto_commit_ms: Millis,
    /// No coordinator request before this (a backoff after an error).
    not_before_ms: Millis,
    actions: Vec<MemberAction>,
    /// The member id and generation each recent coordinator request named, by correlation
    /// id, for the history of a refusal (the member's own may have moved on by the answer).
    sent: VecDeque<(u64, requests::SentRequest)>,
}

impl GroupMember {
    pub fn new(
        config: MemberConfig,
        client_id: String,
        topics: Vec<String>,
        request_timeout_ms: u64,
        retry_backoff_ms: u64,
    ) -> Self {
        GroupMember {
            topics,
            group: GroupId::new(config.group.clone()),
            next_auto_commit_ms: config.auto_commit_interval_ms.unwrap_or(0),
            config,
            client_id,
            request_timeout_ms,
            retry_backoff_ms,
            coordinator: None,
            find_coordinator: None,
            member_id: None,
            generation: None,
            rejoin_needed: true,
            join: None,
            join_owned: BTreeSet::new(),
            assigned_from: None,
            sync: None,
            heartbeat: None,
            next_heartbeat_ms: 0,
            confirmed_ms: None,
            owned: BTreeSet::new(),
            awaiting_offsets: BTreeSet::new(),
            offset_fetch: None,
            commits: BTreeMap::new(),
            queue: ProcessingQueue::default(),
            processed: BTreeMap::new(),
            txn_ready: Vec::new(),
            in_transaction: false,
            not_before_ms: 0,
            actions: Vec::new(),
            sent: VecDeque::new(),
        }
    }

    pub fn group(&self) -> &GroupId {
        &self.group
    }

    pub fn member_id(&self) -> Option<&MemberId> {
        self.member_id.as_ref()
    }

    pub fn generation(&self) -> Option<Generation> {
        self.generation
    }

    pub fn owned(&self) -> &BTreeSet<TopicPartition> {
        &self.owned
    }

    /// In a generation, with every owned partition's offset known and nothing left to
    /// process or commit: as of when the coordinator last confirmed the membership.
    pub fn settled_as_of(&self) -> Option<Millis> {
        let settled = self.generation.is_some()
            && !self.rejoin_needed
            && self.join.is_none()
            && self.sync.is_none()
            && self.awaiting_offsets.is_empty()
            && self.queue.is_empty()
            && self.processed.is_empty()
            && !self.transaction_pending()
            && self.commits.is_empty();
        if settled {
            self.confirmed_ms
        } else {
            None
        }
    }

    /// What the member waits for, in one line.
    pub fn waiting_for(&self) -> String {
        if self.coordinator.is_none() {
            "looking for the group coordinator".into()
        } else if self.generation.is_none() || self.rejoin_needed || self.sync.is_some() {
            "joining the group".into()
        } else if !self.awaiting_offsets.is_empty() {
            "fetching committed offsets".into()
        } else if !self.queue.is_empty()
            || !self.processed.is_empty()
            || !self.commits.is_empty()
            || self.transaction_pending()
        {
            "processing and committing".into()
        } else {
            "no heartbeat answer lately".into()
        }
    }

    /// The actions decided since the last call, in order.
    pub fn take_actions(&mut self) -> Vec<MemberAction> {
        std::mem::take(&mut self.actions)
    }

    /// The consumer polled `records` of `tp`, ending before `next`: they are processed
    /// (and committed) as the commit mode says.
    pub fn polled(
        &mut self,
        now: Millis,
        tp: TopicPartition,
        records: Vec<ObservedRecord>,
        next: Offset,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        let Some(generation) = self.generation else {
            return;
        };
        if records.is_empty() || !self.owned.contains(&tp) {
            return;
        }
        let item = Polled {
            tp: tp.clone(),
            records,
            next,
            generation,
            waiting_for_commit: None,
            done_ms: None,
        };
        match self.config.commit_mode {
            CommitMode::AfterProcessing | CommitMode::Transactional | CommitMode::Manual => {
                self.queue.push_ready(now, item, self.config.process_ms)
            }
            CommitMode::BeforeProcessing => self.queue.push_uncommitted(item),
        }
        self.send_next_commit(now, last_correlation_id, out);
    }

    /// Commits are sent one at a time, like the Java client's commitSync: two in flight
    /// could be written in either order, and the committed offset go back.
    fn send_next_commit(
        &mut self,
        now: Millis,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        if !self.commits.is_empty() || now < self.not_before_ms {
            return;
        }
        match self.config.commit_mode {
            CommitMode::AfterProcessing => {
                if self.config.auto_commit_interval_ms.is_none() {
                    self.commit_processed(now, last_correlation_id, out);
                }
            }
            CommitMode::BeforeProcessing => {
                let Some((tp, next)) = self.queue.next_to_commit() else {
                    return;
                };
                match self.send_commit(now, vec![(tp.clone(), next)], last_correlation_id, out) {
                    Some(correlation_id) => self.queue.commit_sent(correlation_id),
                    // No coordinator to commit to: the records are not processed, and
                    // the partition is fetched again from its committed offset.
                    None => self.restart_from_committed(&tp),
                }
            }
            // The application commits with its transaction, or itself.
            CommitMode::Transactional | CommitMode::Manual => {}
        }
    }

    /// When `drive` next has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        let timeout = self.request_timeout_ms;
        let join_timeout = timeout.max(self.config.rebalance_timeout_ms + 5_000);
        let requests = [self.find_coordinator, self.heartbeat, self.offset_fetch];
        let group_requests = [self.join, self.sync.as_ref().map(|(r, _)| *r)];
        let stable = self.generation.is_some() && self.join.is_none() && self.sync.is_none();
        // Anything else `drive` would have done already, unless a backoff holds it, and
        // the backoff is a deadline of its own: a deadline in the past would wake the
        // member every millisecond.
        let heartbeat_due = stable && self.heartbeat.is_none() && self.coordinator.is_some();
        let auto_commit_due = self.config.auto_commit_interval_ms.is_some()
            && !self.processed.is_empty()
            && self.commits.is_empty();
        requests
            .into_iter()
            .flatten()
            .map(|r| r.sent_ms + timeout)
            .chain(
                group_requests
                    .into_iter()
                    .flatten()
                    .map(|r| r.sent_ms + join_timeout),
            )
            .chain(self.commits.values().map(|c| c.request.sent_ms + timeout))
            .chain(self.queue.next_deadline())
            .chain(heartbeat_due.then_some(self.next_heartbeat_ms))
            .chain(auto_commit_due.then_some(self.next_auto_commit_ms))
            .chain((self.not_before_ms > 0).then_some(self.not_before_ms))
            .min()
    }

    /// Processes what is due, then sends what the member's state calls for.
    pub fn drive(
        &mut self,
        now: Millis,
        metadata: &mut MetadataClient,
        partition_counts: &BTreeMap<String, u32>,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        if now >= self.not_before_ms {
            self.not_before_ms = 0;
        }
        self.expire_requests(now, out);
        let in_generation = self.join.is_none() && self.sync.is_none() && !self.rejoin_needed;
        if in_generation
            && self
                .assigned_from
                .as_ref()
                .is_some_and(|counts| counts != partition_counts && !partition_counts.is_empty())
        {
            self.assigned_from = None;
            self.need_rejoin(now, last_correlation_id, out);
        }
        self.process_due(now, last_correlation_id, out);
        if let Some(interval) = self.config.auto_commit_interval_ms {
            if now >= self.next_auto_commit_ms && self.commits.is_empty() {
                self.next_auto_commit_ms = now + interval;
                self.commit_processed(now, last_correlation_id, out);
            }
        }
        if now < self.not_before_ms {
            return;
        }
        self.send_next_commit(now, last_correlation_id, out);
        let Some(coordinator) = self.coordinator else {
            if self.find_coordinator.is_none() {
                let any_broker = metadata.next_bootstrap();
                self.send_find_coordinator(now, any_broker, last_correlation_id, out);
            }
            return;
        };
        if self.rejoin_needed && self.join.is_none() && self.sync.is_none() {
            self.send_join(now, coordinator, last_correlation_id, out);
        }
        let stable = self.generation.is_some() && self.join.is_none() && self.sync.is_none();
        if stable && self.heartbeat.is_none() && now >= self.next_heartbeat_ms {
            self.send_heartbeat(now, coordinator, last_correlation_id, out);
        }
        if stable && !self.awaiting_offsets.is_empty() && self.offset_fetch.is_none() {
            self.send_offset_fetch(now, coordinator, last_correlation_id, out);
        }
    }

    /// Ends the processing that is due: a `process` in the history, then (after
    /// processing) the commit of last processed + 1.
    pub(super) fn process_due(
        &mut self,
        now: Millis,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        let done = self.queue.take_done(now);
        if done.is_empty() {
            return;
        }
        for item in done {
            // Transactional processing is the application's transaction, which the
            // history records whole; the member only hands the records over.
            if matches!(
                self.config.commit_mode,
                CommitMode::Transactional | CommitMode::Manual
            ) {
                self.processed_for_transaction(item);
                continue;
            }
            out.push(Output::Observe(Observation::Process {
                group: self.group.0.clone(),
                member: self.member_label(),
                generation: item.generation.0,
                records: item.records,
            }));
            if self.config.commit_mode == CommitMode::AfterProcessing {
                self.processed.insert(item.tp, item.next);
            }
        }
        self.send_next_commit(now, last_correlation_id, out);
    }

    /// Commits every processed offset not yet committed (after-processing mode).
    fn commit_processed(
        &mut self,
        now: Millis,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        if self.processed.is_empty() || self.generation.is_none() {
            return;
        }
        let offsets: Vec<(TopicPartition, Offset)> = std::mem::take(&mut self.processed)
            .into_iter()
            .filter(|(tp, _)| self.owned.contains(tp))
            .collect();
        if !offsets.is_empty()
            && self
                .send_commit(now, offsets.clone(), last_correlation_id, out)
                .is_none()
        {
            // No coordinator: keep them for the next try.
            self.processed.extend(offsets);
        }
    }

    /// Forgets `tp`'s position so that it is fetched again from the committed offset.
    fn restart_from_committed(&mut self, tp: &TopicPartition) {
        // Later polls of the partition go too: they will be read again.
        self.queue
            .drop_partitions(Some(&BTreeSet::from([tp.clone()])));
        if self.owned.contains(tp) && self.awaiting_offsets.insert(tp.clone()) {
            self.actions.push(MemberAction::Stop { tp: tp.clone() });
        }
    }

    /// The member's name in the history: its member id once it has one.
    pub fn member_label(&self) -> String {
        self.member_id
            .as_ref()
            .map_or_else(|| self.client_id.clone(), |m| m.0.clone())
    }

    /// Rejoins. Eager assignors give up every partition first (committing what was
    /// processed, as the Java client's revocation callback does); cooperative ones keep
    /// them through the rebalance.
    fn need_rejoin(&mut self, now: Millis, last_correlation_id: &mut u64, out: &mut Vec<Output>) {
        if self.rejoin_needed {
            return;
        }
        self.rejoin_needed = true;
        let eager = self
            .config
            .assignors
            .first()
            .is_none_or(|a| a.rebalance_protocol() == RebalanceProtocol::Eager);
        if eager {
            let all = self.owned.clone();
            self.revoke(now, &all, true, last_correlation_id, out);
        }
    }

    /// Gives up `partitions`: commits their processed offsets first if `commit` (a
    /// member that lost its membership cannot), drops their unprocessed polls, and tells
    /// the consumer to stop fetching them.
    fn revoke(
        &mut self,
        now: Millis,
        partitions: &BTreeSet<TopicPartition>,
        commit: bool,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        if partitions.is_empty() {
            return;
        }
        let processed: Vec<(TopicPartition, Offset)> = self
            .processed
            .iter()
            .filter(|(tp, _)| partitions.contains(*tp))
            .map(|(tp, o)| (tp.clone(), *o))
            .collect();
        self.processed.retain(|tp, _| !partitions.contains(tp));
        // With a commit in flight a second could overtake it: the processed records
        // are left to be processed again (at-least-once allows it).
        if commit && !processed.is_empty() && self.commits.is_empty() {
            self.send_commit(now, processed, last_correlation_id, out);
        }
        self.queue.drop_partitions(Some(partitions));
        self.txn_ready.retain(|item| !partitions.contains(&item.tp));
        for tp in partitions {
            self.owned.remove(tp);
            self.awaiting_offsets.remove(tp);
            self.actions.push(MemberAction::Stop { tp: tp.clone() });
        }
    }

    /// The membership is gone (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION): every partition
    /// is lost without a commit, and the member joins again.
    fn lose_membership(
        &mut self,
        now: Millis,
        forget_id: bool,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        let all = self.owned.clone();
        self.revoke(now, &all, false, last_correlation_id, out);
        self.queue.drop_partitions(None);
        self.processed.clear();
        self.txn_ready.clear();
        self.generation = None;
        if forget_id {
            self.member_id = None;
        }
        self.rejoin_needed = true;
    }
}

//! A standalone consumer (manual assignment of every partition of its topics): finds
//! leaders, resolves its starting position with `auto.offset.reset`, fetches with one
//! request in flight per broker, and reports every poll.

use crate::config::ConsumerConfig;
use crate::effect::{Observation, ObservedRecord, Output, Refusal, RefusedRequest};
use crate::ids::{BrokerId, LeaderEpoch, Millis, NodeId, Offset, TopicPartition};
use crate::member::{GroupMember, MemberAction, MemberConfig};
use crate::metadata_client::{InFlight as Request, MetadataClient};
use crate::protocol::{ConsumerFetchPartition, ErrorCode, FetchedPartition, Message};
use std::collections::BTreeMap;

mod fetched_records;
mod open_transactions;
#[cfg(test)]
mod tests;

pub use fetched_records::{fetched_records, FetchedRecords};
pub use open_transactions::HeldPartition;

#[derive(Clone, Debug)]
struct FetchInFlight {
    request: Request,
    positions: Vec<(TopicPartition, Offset)>,
    /// The leader epoch the fetch named for each partition (KIP-320), for the history
    /// of a refusal.
    epochs: Vec<LeaderEpoch>,
}

/// The consumer state machine.
#[derive(Clone, Debug)]
pub struct Consumer {
    config: ConsumerConfig,
    topics: Vec<String>,
    metadata: MetadataClient,
    /// `None`: unknown, to be resolved with ListOffsets.
    positions: BTreeMap<TopicPartition, Option<Offset>>,
    /// The last high watermark and last stable offset each partition's leader reported,
    /// and when (local ms).
    high_watermarks: BTreeMap<TopicPartition, (Offset, Offset, Millis)>,
    list_offsets: BTreeMap<BrokerId, Request>,
    fetches: BTreeMap<BrokerId, FetchInFlight>,
    not_before_ms: BTreeMap<BrokerId, Millis>,
    /// Positions found out of range, until `auto.offset.reset` gives the new one: the
    /// history tells where a reset came from.
    reset_from: BTreeMap<TopicPartition, Offset>,
    /// The application works on its last poll's records until then (`processing_delay_ms`).
    processing_until_ms: Option<Millis>,
    next_correlation_id: u64,
    /// A group member reads the partitions its group gives it; without one, the
    /// consumer reads every partition of its topics.
    member: Option<GroupMember>,
}

impl Consumer {
    pub fn new(config: ConsumerConfig, bootstrap: Vec<BrokerId>, topics: Vec<String>) -> Self {
        Consumer {
            config,
            topics,
            metadata: MetadataClient::new(bootstrap),
            positions: BTreeMap::new(),
            high_watermarks: BTreeMap::new(),
            list_offsets: BTreeMap::new(),
            fetches: BTreeMap::new(),
            not_before_ms: BTreeMap::new(),
            reset_from: BTreeMap::new(),
            processing_until_ms: None,
            next_correlation_id: 0,
            member: None,
        }
    }

    /// A consumer in a group: it reads what the group's coordinator assigns it.
    pub fn in_group(
        config: ConsumerConfig,
        bootstrap: Vec<BrokerId>,
        topics: Vec<String>,
        member: MemberConfig,
        client_id: String,
    ) -> Self {
        let member = GroupMember::new(
            member,
            client_id,
            topics.clone(),
            config.request_timeout_ms,
            config.retry_backoff_ms,
        );
        let mut consumer = Consumer::new(config, bootstrap, topics);
        consumer.member = Some(member);
        consumer
    }

    /// The group membership, if the consumer is in a group.
    pub fn member(&self) -> Option<&GroupMember> {
        self.member.as_ref()
    }

    /// The group membership, for the application's transactions (transactional mode).
    pub fn member_mut(&mut self) -> Option<&mut GroupMember> {
        self.member.as_mut()
    }

    /// The application commits `offsets` (manual commit mode): see
    /// [`GroupMember::commit_manually`]. Its correlation id, or why it was not sent.
    pub fn commit_manually(
        &mut self,
        now: Millis,
        offsets: Vec<(TopicPartition, Offset)>,
        out: &mut Vec<Output>,
    ) -> Result<u64, crate::member::ManualCommitRefused> {
        let member = self
            .member
            .as_mut()
            .ok_or(crate::member::ManualCommitRefused::NotInGeneration)?;
        member.commit_manually(now, offsets, &mut self.next_correlation_id, out)
    }

    /// If the consumer has read up to the high watermark of every partition, the time
    /// (local ms) of the oldest report that says so: a caller decides how fresh is fresh
    /// enough, since a leader that stopped answering leaves its last report standing.
    pub fn caught_up_as_of(&self) -> Option<Millis> {
        let mut oldest = Millis::MAX;
        if let Some(member) = &self.member {
            // A group member is done when its group settled it and it processed all it
            // owns; an idle member is done on its membership alone.
            oldest = member.settled_as_of()?;
        } else if self.positions.is_empty() {
            return None;
        }
        for (tp, position) in &self.positions {
            let (hw, _, seen_ms) = self.high_watermarks.get(tp)?;
            if *position != Some(*hw) {
                return None;
            }
            oldest = oldest.min(*seen_ms);
        }
        Some(oldest)
    }

    /// What the consumer still lacks, in one line ("tasks-0 at 40 of 52, tasks-1 unknown").
    pub fn lag_summary(&self) -> String {
        if let Some(member) = self.member.as_ref().filter(|m| m.settled_as_of().is_none()) {
            return format!("{}: {}", member.group(), member.waiting_for());
        }
        let lagging: Vec<String> = self
            .positions
            .iter()
            .filter_map(|(tp, position)| {
                match (position, self.high_watermarks.get(tp).map(|h| &h.0)) {
                    (Some(p), Some(hw)) if p == hw => None,
                    (Some(p), Some(hw)) => Some(format!("{tp} at {} of {}", p.0, hw.0)),
                    (Some(p), None) => Some(format!("{tp} at {}, high watermark unknown", p.0)),
                    (None, _) => Some(format!("{tp} position unknown")),
                }
            })
            .collect();
        if self.positions.is_empty() && self.member.is_none() {
            "no metadata yet".into()
        } else {
            lagging.join(", ")
        }
    }

    pub fn start(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.drive(now, out);
    }

    pub fn next_deadline(&self) -> Option<Millis> {
        let timeout = self.config.request_timeout_ms;
        let mut deadline: Option<Millis> = None;
        let mut at = |t: Millis| deadline = Some(deadline.map_or(t, |d| d.min(t)));
        if let Some(t) = self.metadata.next_deadline(timeout) {
            at(t);
        }
        for r in self.list_offsets.values() {
            at(r.sent_ms + timeout);
        }
        for f in self.fetches.values() {
            at(f.request.sent_ms + timeout);
        }
        for t in self.not_before_ms.values() {
            at(*t);
        }
        if let Some(t) = self.member.as_ref().and_then(GroupMember::next_deadline) {
            at(t);
        }
        if let Some(t) = self.processing_until_ms {
            at(t);
        }
        deadline
    }

    pub fn tick(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.drive(now, out);
    }

    pub fn on_message(
        &mut self,
        now: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        let broker = BrokerId(from.0);
        match message {
            Message::MetadataResponse {
                correlation_id,
                partitions,
                ..
            } => {
                let mine: Vec<_> = partitions
                    .into_iter()
                    .filter(|p| self.topics.contains(&p.tp.topic))
                    .collect();
                let tps: Vec<TopicPartition> = mine.iter().map(|p| p.tp.clone()).collect();
                if self.metadata.accept(correlation_id, mine) && self.member.is_none() {
                    for tp in tps {
                        self.positions.entry(tp).or_insert(None);
                    }
                }
            }
            Message::ListOffsetsResponse {
                correlation_id,
                results,
            } if self.list_offsets.get(&broker).map(|r| r.correlation_id)
                == Some(correlation_id) =>
            {
                self.list_offsets.remove(&broker);
                for (tp, result) in results {
                    match result {
                        Ok(offset) => {
                            if let Some(position @ None) = self.positions.get_mut(&tp) {
                                *position = Some(offset);
                                let policy = self.config.auto_offset_reset;
                                let observation = match self.reset_from.remove(&tp) {
                                    Some(from) => Observation::OffsetReset {
                                        tp,
                                        from,
                                        to: offset,
                                        policy,
                                    },
                                    None => Observation::Assign {
                                        tp,
                                        offset,
                                        reason: format!("auto.offset.reset={policy:?}")
                                            .to_lowercase(),
                                    },
                                };
                                out.push(Output::Observe(observation));
                            }
                        }
                        Err(_) => {
                            self.metadata.refresh();
                            self.not_before_ms
                                .insert(broker, now + self.config.retry_backoff_ms);
                        }
                    }
                }
            }
            Message::FetchResponse {
                correlation_id,
                results,
            } if self.fetches.get(&broker).map(|f| f.request.correlation_id)
                == Some(correlation_id) =>
            {
                let fetch = self.fetches.remove(&broker).expect("matched above");
                self.fetched(now, broker, fetch, results, out);
            }
            Message::FindCoordinatorResponse {
                correlation_id,
                result,
            } => {
                if let Some(member) = &mut self.member {
                    member.on_find_coordinator(now, correlation_id, result);
                }
            }
            Message::GroupResponse {
                correlation_id,
                response,
            } => {
                let counts = self.partition_counts();
                if let Some(member) = &mut self.member {
                    member.on_group_response(
                        now,
                        broker,
                        correlation_id,
                        response,
                        &counts,
                        &mut self.next_correlation_id,
                        out,
                    );
                }
            }
            _ => {}
        }
        self.drive(now, out);
    }

    /// The connection to `peer` closed (Kafka's NetworkClient on a disconnect): every
    /// request in flight to it failed at once. A fetch fails as a timeout does (the poll
    /// fails, metadata is refreshed), and so does a ListOffsets; both are sent to that
    /// broker again after `retry.backoff.ms` (Kafka's client does not reconnect to a node
    /// within its reconnect backoff). The Metadata request and the group member's requests
    /// to it fail too; a disconnected coordinator becomes unknown.
    pub fn on_disconnected(&mut self, now: Millis, peer: NodeId, out: &mut Vec<Output>) {
        let broker = BrokerId(peer.0);
        let backoff_ms = self.config.retry_backoff_ms;
        self.metadata.on_disconnected(now, peer, backoff_ms);
        let list_offsets_failed = self.list_offsets.remove(&broker).is_some();
        let fetch_failed = self.fetches.remove(&broker).is_some();
        if fetch_failed {
            out.push(Output::Observe(Observation::PollFail {
                error: format!("{broker}: disconnected"),
            }));
        }
        if list_offsets_failed || fetch_failed {
            self.metadata.refresh();
            self.not_before_ms.insert(broker, now + backoff_ms);
        }
        if let Some(member) = &mut self.member {
            member.on_disconnected(now, peer, out);
        }
        self.drive(now, out);
    }

    fn fetched(
        &mut self,
        now: Millis,
        broker: BrokerId,
        fetch: FetchInFlight,
        results: Vec<(TopicPartition, Result<FetchedPartition, ErrorCode>)>,
        out: &mut Vec<Output>,
    ) {
        let mut records = Vec::new();
        let mut high_watermarks = Vec::new();
        let mut errors = Vec::new();
        let mut polled: Vec<(TopicPartition, usize, Offset)> = Vec::new();
        for (tp, result) in results {
            let at = fetch.positions.iter().position(|(t, _)| *t == tp);
            let asked = at.map(|i| fetch.positions[i].1);
            if let (Err(error), Some(i)) = (&result, at) {
                out.push(Output::Observe(Observation::Refused(Refusal {
                    broker,
                    correlation_id: fetch.request.correlation_id,
                    error: error.to_string(),
                    retriable: error.is_retriable(),
                    request: RefusedRequest::Fetch {
                        tp: tp.clone(),
                        fetch_offset: fetch.positions[i].1,
                        leader_epoch: fetch.epochs.get(i).copied().unwrap_or_default(),
                    },
                })));
            }
            // The position moved (a reset) since the request: this data is stale.
            if asked.is_none() || self.positions.get(&tp).copied().flatten() != asked {
                continue;
            }
            let mut position = asked.expect("checked");
            match result {
                Ok(data) => {
                    let first = records.len();
                    self.high_watermarks.insert(
                        tp.clone(),
                        (data.high_watermark, data.last_stable_offset, now),
                    );
                    high_watermarks.push((tp.clone(), data.high_watermark));
                    for batch in &data.batches {
                        self.metadata.observe_epoch(&tp, batch.leader_epoch);
                    }
                    let room = self.config.max_poll_records.saturating_sub(records.len());
                    let read = fetched_records(&data, self.config.isolation_level, position, room);
                    for (offset, record) in read.records {
                        records.push(ObservedRecord {
                            topic: tp.topic.clone(),
                            partition: tp.partition,
                            offset: offset.0,
                            key: record.key.clone(),
                            value: record.value,
                        });
                    }
                    position = read.next_position;
                    polled.push((tp.clone(), first, position));
                    self.positions.insert(tp, Some(position));
                }
                Err(ErrorCode::OffsetOutOfRange) => {
                    errors.push(format!("{tp}: {}", ErrorCode::OffsetOutOfRange));
                    self.reset_from.insert(tp.clone(), position);
                    self.positions.insert(tp, None);
                }
                Err(error) => {
                    errors.push(format!("{tp}: {error}"));
                    self.metadata.refresh();
                    self.not_before_ms
                        .insert(broker, now + self.config.retry_backoff_ms);
                }
            }
        }
        if !records.is_empty() && self.config.processing_delay_ms > 0 {
            self.processing_until_ms = Some(now + self.config.processing_delay_ms);
        }
        // A group member processes each partition's records: split them off before the
        // poll's observation takes the whole list (standalone consumers copy nothing).
        let mut per_partition = Vec::new();
        if self.member.is_some() {
            let ends: Vec<usize> = polled
                .iter()
                .skip(1)
                .map(|(_, first, _)| *first)
                .chain([records.len()])
                .collect();
            for ((tp, first, next), end) in polled.into_iter().zip(ends) {
                per_partition.push((tp, records[first..end].to_vec(), next));
            }
        }
        if records.is_empty() && !errors.is_empty() {
            out.push(Output::Observe(Observation::PollFail {
                error: errors.join(", "),
            }));
        } else {
            out.push(Output::Observe(Observation::PollOk {
                records,
                high_watermarks,
            }));
        }
        if let Some(member) = &mut self.member {
            for (tp, mine, next) in per_partition {
                member.polled(now, tp, mine, next, &mut self.next_correlation_id, out);
            }
        }
    }

    /// Each subscribed topic's partition count, as the metadata tells it.
    fn partition_counts(&self) -> BTreeMap<String, u32> {
        let mut counts = BTreeMap::new();
        for (tp, _) in self.metadata.leaders() {
            if self.topics.contains(&tp.topic) {
                *counts.entry(tp.topic.clone()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Drives the group membership and applies what it decided to the positions.
    fn drive_member(&mut self, now: Millis, out: &mut Vec<Output>) {
        if self.member.is_none() {
            return;
        }
        let counts = self.partition_counts();
        let member = self.member.as_mut().expect("checked");
        member.drive(
            now,
            &mut self.metadata,
            &counts,
            &mut self.next_correlation_id,
            out,
        );
        for action in member.take_actions() {
            match action {
                MemberAction::Start { tp, offset } => {
                    if let Some(offset) = offset {
                        out.push(Output::Observe(Observation::Assign {
                            tp: tp.clone(),
                            offset,
                            reason: "committed offset".into(),
                        }));
                    }
                    self.positions.insert(tp, offset);
                }
                MemberAction::Stop { tp } => {
                    self.positions.remove(&tp);
                    self.high_watermarks.remove(&tp);
                }
            }
        }
    }

    fn next_correlation(&mut self) -> u64 {
        self.next_correlation_id += 1;
        self.next_correlation_id
    }

    fn drive(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.drive_member(now, out);
        let timeout = self.config.request_timeout_ms;
        self.list_offsets.retain(|_, r| r.sent_ms + timeout > now);
        let timed_out: Vec<BrokerId> = self
            .fetches
            .iter()
            .filter(|(_, f)| f.request.sent_ms + timeout <= now)
            .map(|(b, _)| *b)
            .collect();
        for broker in timed_out {
            self.fetches.remove(&broker);
            self.metadata.refresh();
            out.push(Output::Observe(Observation::PollFail {
                error: format!("{}: request timed out", broker),
            }));
        }
        self.not_before_ms.retain(|_, t| *t > now);
        if self.processing_until_ms.is_some_and(|t| t <= now) {
            self.processing_until_ms = None;
        }
        let backoff_ms = self.config.retry_backoff_ms;
        self.metadata
            .poll(now, timeout, backoff_ms, &mut self.next_correlation_id, out);
        let mut unknown: BTreeMap<BrokerId, Vec<TopicPartition>> = BTreeMap::new();
        let mut known: BTreeMap<BrokerId, Vec<(TopicPartition, Offset)>> = BTreeMap::new();
        for (tp, position) in &self.positions {
            let Some(leader) = self.metadata.leader(tp) else {
                continue;
            };
            match position {
                None => unknown.entry(leader).or_default().push(tp.clone()),
                Some(offset) => known.entry(leader).or_default().push((tp.clone(), *offset)),
            }
        }
        for (broker, tps) in unknown {
            if self.list_offsets.contains_key(&broker) || self.not_before_ms.contains_key(&broker) {
                continue;
            }
            let correlation_id = self.next_correlation();
            self.list_offsets.insert(
                broker,
                Request {
                    correlation_id,
                    to: broker.node(),
                    sent_ms: now,
                },
            );
            let reset = self.config.auto_offset_reset;
            out.push(Output::Send {
                to: broker.node(),
                message: Message::ListOffsetsRequest {
                    correlation_id,
                    partitions: tps.into_iter().map(|tp| (tp, reset)).collect(),
                    isolation: self.config.isolation_level,
                },
            });
        }
        for (broker, positions) in known {
            if self.fetches.contains_key(&broker)
                || self.not_before_ms.contains_key(&broker)
                || self.processing_until_ms.is_some()
            {
                continue;
            }
            let correlation_id = self.next_correlation();
            out.push(Output::Observe(Observation::PollInvoke {
                partitions: positions.iter().map(|(tp, _)| tp.clone()).collect(),
                isolation: self.config.isolation_level,
            }));
            out.push(Output::Send {
                to: broker.node(),
                message: Message::FetchRequest {
                    correlation_id,
                    max_wait_ms: self.config.fetch_max_wait_ms,
                    max_records: self.config.max_poll_records,
                    isolation: self.config.isolation_level,
                    partitions: positions
                        .iter()
                        .map(|(tp, offset)| ConsumerFetchPartition {
                            tp: tp.clone(),
                            fetch_offset: *offset,
                            current_leader_epoch: self.metadata.epoch(tp).unwrap_or_default(),
                        })
                        .collect(),
                },
            });
            let epochs = positions
                .iter()
                .map(|(tp, _)| self.metadata.epoch(tp).unwrap_or_default())
                .collect();
            self.fetches.insert(
                broker,
                FetchInFlight {
                    request: Request {
                        correlation_id,
                        to: broker.node(),
                        sent_ms: now,
                    },
                    positions,
                    epochs,
                },
            );
        }
    }
}

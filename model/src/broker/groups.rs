//! The broker's group coordinators: one per offsets-topic partition it leads, rebuilt from
//! that partition's log when it takes the lead and resigned when it loses it. Their writes
//! are the leader's own acks=all appends to the partition, confirmed once the high
//! watermark passes them (Kafka's GroupMetadataManager over the replica manager).

use super::Broker;
use crate::config::Acks;
use crate::config::SpuriousErrorCode;
use crate::effect::Output;
use crate::group::{
    coordinator_partition, ClientRef, GroupCoordinator, GroupError, GroupId, GroupOutput,
    GroupRequest, OffsetsLogEntry, OffsetsRecord, WriteId, OFFSETS_TOPIC,
};
use crate::ids::{BrokerId, LeaderEpoch, Millis, NodeId, Offset, TopicPartition};
use crate::ids::{ProducerEpoch, ProducerId};
use crate::protocol::Message;
use crate::record::{ProducerStamp, Record, RecordBatch, TxnPart};
use std::collections::BTreeMap;

/// Offsets-topic records carry their whole content, as JSON, in the key: the model's
/// records have no payload, and the key is what names them in traces anyway. Values are
/// unique per run (the invariants follow records by value): this bit keeps them apart from
/// the producers' values.
const OFFSETS_VALUE_BIT: u64 = 1 << 62;

/// One offsets-topic write waiting for the high watermark.
#[derive(Clone, Debug)]
struct PendingWrite {
    write: WriteId,
    last: Offset,
    deadline_ms: Millis,
}

/// The coordinator of one led offsets-topic partition.
#[derive(Clone, Debug)]
struct Hosted {
    coordinator: GroupCoordinator,
    /// The leader epoch it was loaded in: a new epoch means a new coordinator.
    epoch: LeaderEpoch,
    writes: Vec<PendingWrite>,
}

/// Every coordinator this broker runs, by offsets-topic partition.
#[derive(Clone, Debug, Default)]
pub(super) struct HostedCoordinators {
    by_partition: BTreeMap<u32, Hosted>,
    writes_issued: u64,
}

impl HostedCoordinators {
    pub(super) fn next_deadline(&self) -> Option<Millis> {
        self.by_partition
            .values()
            .flat_map(|h| {
                h.coordinator
                    .next_deadline()
                    .into_iter()
                    .chain(h.writes.iter().map(|w| w.deadline_ms))
            })
            .min()
    }

    /// Each hosted group's state, for the harness's liveness check.
    pub(super) fn summaries(&self) -> Vec<(String, crate::group::GroupSummary)> {
        self.by_partition
            .values()
            .flat_map(|h| {
                h.coordinator
                    .group_ids()
                    .filter_map(|g| h.coordinator.group(g).map(|s| (g.0.clone(), s)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl Broker {
    /// A transaction's marker is written and replicated on offsets partition `partition`:
    /// the offsets the producer committed in it become the group's (commit) or are
    /// dropped (abort), as Kafka's `GroupCoordinator.onTransactionCompleted`.
    pub(super) fn txn_offsets_completed(
        &mut self,
        now: Millis,
        partition: u32,
        producer_id: ProducerId,
        commit: bool,
        out: &mut Vec<Output>,
    ) {
        let Some(hosted) = self.coordinators.by_partition.get_mut(&partition) else {
            return;
        };
        let outputs = hosted.coordinator.txn_completed(producer_id, commit);
        self.carry_out(now, partition, outputs, out);
    }

    /// How many partitions the offsets topic has, as the metadata says (0: no groups).
    fn offsets_partitions(&self) -> u32 {
        self.image
            .partitions
            .keys()
            .filter(|tp| tp.topic == OFFSETS_TOPIC)
            .count() as u32
    }

    /// FindCoordinator: the leader of the group's offsets-topic partition, if it has one.
    pub(super) fn find_coordinator(&self, group: &GroupId) -> Result<BrokerId, GroupError> {
        let partitions = self.offsets_partitions();
        if partitions == 0 {
            return Err(GroupError::CoordinatorNotAvailable);
        }
        let tp = TopicPartition::new(OFFSETS_TOPIC, coordinator_partition(group, partitions));
        self.image
            .partitions
            .get(&tp)
            .and_then(|p| p.leader)
            .ok_or(GroupError::CoordinatorNotAvailable)
    }

    /// Hands a group request to the coordinator of its partition, or refuses it with
    /// NOT_COORDINATOR when this broker does not lead that partition.
    pub(super) fn on_group_request(
        &mut self,
        now: Millis,
        from: NodeId,
        correlation_id: u64,
        request: GroupRequest,
        out: &mut Vec<Output>,
    ) {
        let partitions = self.offsets_partitions().max(1);
        let partition = coordinator_partition(request.group(), partitions);
        let client = ClientRef {
            node: from,
            correlation_id,
        };
        let spurious = self.spurious_group_error(correlation_id, &request);
        match self.coordinators.by_partition.get_mut(&partition) {
            Some(_) if spurious.is_some() => out.push(Output::Send {
                to: from,
                message: Message::GroupResponse {
                    correlation_id,
                    response: request.refuse(spurious.expect("checked")),
                },
            }),
            Some(hosted) => {
                let outputs = hosted.coordinator.handle(now, client, request);
                self.carry_out(now, partition, outputs, out);
            }
            None => out.push(Output::Send {
                to: from,
                message: Message::GroupResponse {
                    correlation_id,
                    response: request.refuse(GroupError::NotCoordinator),
                },
            }),
        }
    }

    /// The error a deliberately broken coordinator (`spurious_error`) answers a heartbeat
    /// with, without removing the member or looking at its generation, if this request is
    /// one it strikes.
    fn spurious_group_error(
        &self,
        correlation_id: u64,
        request: &GroupRequest,
    ) -> Option<GroupError> {
        let spurious = self.config.spurious_error?;
        if !matches!(request, GroupRequest::Heartbeat { .. }) {
            return None;
        }
        if spurious.strikes(SpuriousErrorCode::UnknownMemberId, correlation_id) {
            Some(GroupError::UnknownMemberId)
        } else if spurious.strikes(SpuriousErrorCode::IllegalGeneration, correlation_id) {
            Some(GroupError::IllegalGeneration)
        } else {
            None
        }
    }

    /// After the metadata changed: a coordinator for each offsets partition this broker
    /// now leads (rebuilt from its log), none for the others.
    pub(super) fn sync_coordinators(&mut self, now: Millis, out: &mut Vec<Output>) {
        let led: BTreeMap<u32, LeaderEpoch> = self
            .partitions
            .iter()
            .filter(|(tp, p)| tp.topic == OFFSETS_TOPIC && p.is_leader())
            .map(|(tp, p)| (tp.partition, p.leader_epoch()))
            .collect();
        let stale: Vec<u32> = self
            .coordinators
            .by_partition
            .iter()
            .filter(|(partition, hosted)| led.get(partition) != Some(&hosted.epoch))
            .map(|(partition, _)| *partition)
            .collect();
        for partition in stale {
            if let Some(hosted) = self.coordinators.by_partition.remove(&partition) {
                out.push(Output::Note(format!(
                    "resign as coordinator of {OFFSETS_TOPIC}-{partition}"
                )));
                let outputs = hosted.coordinator.resign();
                self.carry_out(now, partition, outputs, out);
            }
        }
        for (partition, epoch) in led {
            if !self.coordinators.by_partition.contains_key(&partition) {
                self.load_coordinator(now, partition, epoch, out);
            }
        }
    }

    /// Rebuilds the coordinator of a partition this broker just became leader of, from
    /// every record of its log: the new leader's log is the one followers converge to.
    fn load_coordinator(
        &mut self,
        now: Millis,
        partition: u32,
        epoch: LeaderEpoch,
        out: &mut Vec<Output>,
    ) {
        let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
        let Some(p) = self.partitions.get(&tp) else {
            return;
        };
        // Each record with the producer of the transaction its batch belongs to, if any,
        // and each marker, in log order.
        let mut loaded: Vec<(OffsetsRecord, Option<ProducerId>)> = Vec::new();
        let mut markers: Vec<(usize, ProducerId, bool)> = Vec::new();
        for batch in p.batches() {
            let producer_id = batch.producer.map(|stamp| stamp.producer_id);
            if let (Some(TxnPart::Marker(marker)), Some(producer_id)) = (batch.txn, producer_id) {
                markers.push((loaded.len(), producer_id, marker.commit));
                continue;
            }
            let txn_producer = producer_id.filter(|_| batch.is_transactional());
            for record in &batch.records {
                match record.key.as_deref().map(OffsetsRecord::from_json) {
                    Some(Ok(parsed)) => loaded.push((parsed, txn_producer)),
                    Some(Err(error)) => out.push(Output::Note(format!(
                        "{tp}: skipping a record that is not an offsets record: {error}"
                    ))),
                    None => out.push(Output::Note(format!(
                        "{tp}: skipping a record without a key"
                    ))),
                }
            }
        }
        let mut config = self.config.group.clone();
        config.offsets_topic_partitions = self.offsets_partitions();
        let coordinator =
            GroupCoordinator::from_log(config, epoch.0, log_entries(&loaded, &markers), now);
        out.push(Output::Note(format!(
            "coordinator of {tp} in epoch {}: loaded {} records",
            epoch.0,
            loaded.len()
        )));
        for event in coordinator.loaded_events() {
            out.push(Output::Group(event));
        }
        self.coordinators.by_partition.insert(
            partition,
            Hosted {
                coordinator,
                epoch,
                writes: Vec::new(),
            },
        );
    }

    /// Carries out a coordinator's outputs in order: answers, events, and writes, whose
    /// own outcome (a refused append) may produce more.
    fn carry_out(
        &mut self,
        now: Millis,
        partition: u32,
        outputs: Vec<GroupOutput>,
        out: &mut Vec<Output>,
    ) {
        let mut queue: std::collections::VecDeque<GroupOutput> = outputs.into();
        let mut appended = false;
        while let Some(output) = queue.pop_front() {
            match output {
                GroupOutput::Respond { to, response } => out.push(Output::Send {
                    to: to.node,
                    message: Message::GroupResponse {
                        correlation_id: to.correlation_id,
                        response,
                    },
                }),
                GroupOutput::Event(event) => out.push(Output::Group(event)),
                GroupOutput::Write { write, records } => {
                    appended |=
                        self.write_offsets(now, partition, write, &records, None, &mut queue, out);
                }
                GroupOutput::TxnWrite {
                    write,
                    records,
                    producer_id,
                    producer_epoch,
                } => {
                    let txn = Some((producer_id, producer_epoch));
                    appended |=
                        self.write_offsets(now, partition, write, &records, txn, &mut queue, out);
                }
            }
        }
        if appended {
            self.maybe_wake_followers(now, out);
        }
    }

    /// Appends one coordinator write, and says whether it did; a refused append is the
    /// write's completion, whose outputs join the queue to be carried out in turn.
    #[allow(clippy::too_many_arguments)] // one write, and where its consequences go
    fn write_offsets(
        &mut self,
        now: Millis,
        partition: u32,
        write: WriteId,
        records: &[OffsetsRecord],
        txn: Option<(ProducerId, ProducerEpoch)>,
        queue: &mut std::collections::VecDeque<GroupOutput>,
        out: &mut Vec<Output>,
    ) -> bool {
        let Err(error) = self.append_offsets(now, partition, write, records, txn, out) else {
            return true;
        };
        if let Some(hosted) = self.coordinators.by_partition.get_mut(&partition) {
            queue.extend(hosted.coordinator.write_completed(now, write, Err(error)));
        }
        false
    }

    /// Appends a coordinator's records to its partition as an acks=all write.
    fn append_offsets(
        &mut self,
        now: Millis,
        partition: u32,
        write: WriteId,
        records: &[OffsetsRecord],
        txn: Option<(ProducerId, ProducerEpoch)>,
        out: &mut Vec<Output>,
    ) -> Result<(), GroupError> {
        if !self.coordinators.by_partition.contains_key(&partition) {
            return Err(GroupError::NotCoordinator);
        }
        let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
        let mut batch_records = Vec::with_capacity(records.len());
        for record in records {
            self.coordinators.writes_issued += 1;
            batch_records.push(Record {
                key: Some(record.to_json()),
                value: OFFSETS_VALUE_BIT
                    | (u64::from(self.id.0) << 48)
                    | (u64::from(self.incarnation) << 32)
                    | self.coordinators.writes_issued,
                timestamp_ms: now,
            });
        }
        // A TxnOffsetCommit goes in the producer's transactional batch, with no sequence (as
        // Kafka writes it): the partition's producer state opens the transaction there, and
        // its marker closes it.
        let batch = RecordBatch {
            base_offset: Offset(0),
            leader_epoch: LeaderEpoch(0),
            producer: txn.map(|(producer_id, producer_epoch)| ProducerStamp {
                producer_id,
                producer_epoch,
                base_sequence: 0,
            }),
            txn: txn.map(|_| TxnPart::Data),
            records: batch_records,
        };
        let check_sequences = txn.is_none() && self.config.check_producer_sequences;
        let appended = self
            .append_with(&tp, Acks::All, batch, check_sequences, out)
            .map_err(|_| GroupError::CoordinatorNotAvailable)?;
        let deadline_ms = now + self.config.offsets_commit_timeout_ms;
        if let Some(hosted) = self.coordinators.by_partition.get_mut(&partition) {
            hosted.writes.push(PendingWrite {
                write,
                last: appended.last,
                deadline_ms,
            });
        }
        Ok(())
    }

    /// Confirms the writes the high watermark has passed (with the ISR still at
    /// `min.insync.replicas`, as for a producer's acks=all), fails those past their
    /// deadline, and runs the coordinators' timers.
    pub(super) fn drive_coordinators(&mut self, now: Millis, out: &mut Vec<Output>) {
        let partitions: Vec<u32> = self.coordinators.by_partition.keys().copied().collect();
        for partition in partitions {
            let tp = TopicPartition::new(OFFSETS_TOPIC, partition);
            let standing = self.partitions.get(&tp).map(|p| {
                let isr = p.replica().leader_isr().map_or(0, |(isr, _)| isr.len());
                (p.high_watermark(), isr >= self.config.min_insync_replicas)
            });
            let Some(hosted) = self.coordinators.by_partition.get_mut(&partition) else {
                continue;
            };
            let mut outputs = Vec::new();
            let mut waiting = Vec::new();
            for pending in std::mem::take(&mut hosted.writes) {
                let result = match standing {
                    Some((hw, true)) if hw > pending.last => Some(Ok(())),
                    Some((hw, false)) if hw > pending.last => {
                        Some(Err(GroupError::CoordinatorNotAvailable))
                    }
                    _ if now >= pending.deadline_ms => {
                        Some(Err(GroupError::CoordinatorNotAvailable))
                    }
                    _ => None,
                };
                match result {
                    Some(result) => outputs.extend(hosted.coordinator.write_completed(
                        now,
                        pending.write,
                        result,
                    )),
                    None => waiting.push(pending),
                }
            }
            hosted.writes = waiting;
            if hosted.coordinator.next_deadline().is_some_and(|t| t <= now) {
                outputs.extend(hosted.coordinator.tick(now));
            }
            if !outputs.is_empty() {
                self.carry_out(now, partition, outputs, out);
            }
        }
    }
}

/// The loaded log in order: each record (of a transaction, if its batch was
/// transactional), each marker where it stood among them.
fn log_entries<'a>(
    loaded: &'a [(OffsetsRecord, Option<ProducerId>)],
    markers: &'a [(usize, ProducerId, bool)],
) -> Vec<OffsetsLogEntry<'a>> {
    let marker = |&(_, producer_id, commit): &(usize, ProducerId, bool)| OffsetsLogEntry::Marker {
        producer_id,
        commit,
    };
    let mut markers = markers.iter().peekable();
    let mut entries = Vec::with_capacity(loaded.len() + markers.len());
    for (at, (record, producer)) in loaded.iter().enumerate() {
        entries.extend(std::iter::from_fn(|| markers.next_if(|m| m.0 <= at)).map(marker));
        entries.push(match producer {
            Some(producer_id) => OffsetsLogEntry::TxnRecord {
                record,
                producer_id: *producer_id,
            },
            None => OffsetsLogEntry::Record(record),
        });
    }
    entries.extend(markers.map(marker));
    entries
}

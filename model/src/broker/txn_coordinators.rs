//! The broker's transaction coordinators: one per `__transaction_state` partition it leads,
//! rebuilt from that partition's log when it takes the lead and resigned when it loses it,
//! as `groups.rs` hosts the group coordinators. Their state writes are the leader's own
//! acks=all appends, confirmed once the high watermark passes them; their markers leave as
//! WriteTxnMarkers to the leaders the broker's metadata names (to this broker's own node id
//! when it leads the partition itself: the same message path).

use super::Broker;
use crate::config::Acks;
use crate::effect::Output;
use crate::group::OFFSETS_TOPIC;
use crate::ids::{BrokerId, LeaderEpoch, Millis, NodeId, Offset, TopicPartition};
use crate::protocol::{ErrorCode, Message};
use crate::record::{Record, RecordBatch};
use crate::txn::{
    MarkerRequestId, TransactionCoordinator, TxnLogRecord, TxnOutput, TxnWriteId,
    TRANSACTION_STATE_TOPIC,
};
use std::collections::{BTreeMap, VecDeque};

/// `__transaction_state` records carry their whole content, as JSON, in the key, as the
/// offsets topic's do; this bit (61; the offsets topic has 62) keeps their unique values
/// apart from the producers' and the offsets topic's.
const TXN_STATE_VALUE_BIT: u64 = 1 << 61;

/// One `__transaction_state` write waiting for the high watermark.
#[derive(Clone, Debug)]
struct PendingStateWrite {
    write: TxnWriteId,
    last: Offset,
    deadline_ms: Millis,
}

/// The coordinator of one led `__transaction_state` partition.
#[derive(Clone, Debug)]
struct HostedTxn {
    coordinator: TransactionCoordinator,
    /// The leader epoch it was loaded in: a new epoch means a new coordinator.
    epoch: LeaderEpoch,
    writes: Vec<PendingStateWrite>,
}

/// A WriteTxnMarkers request in flight, by correlation id.
#[derive(Clone, Debug)]
struct MarkerInFlight {
    partition: u32,
    epoch: LeaderEpoch,
    request: MarkerRequestId,
    to: NodeId,
    sent_ms: Millis,
}

/// Every transaction coordinator this broker runs, by `__transaction_state` partition.
#[derive(Clone, Debug, Default)]
pub(super) struct HostedTxnCoordinators {
    by_partition: BTreeMap<u32, HostedTxn>,
    markers_in_flight: BTreeMap<u64, MarkerInFlight>,
    writes_issued: u64,
}

impl HostedTxnCoordinators {
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

    /// The coordinator of `partition`, if this broker runs it.
    #[cfg(test)]
    pub(super) fn coordinator(&self, partition: u32) -> Option<&TransactionCoordinator> {
        self.by_partition.get(&partition).map(|h| &h.coordinator)
    }

    pub(super) fn coordinator_mut(
        &mut self,
        partition: u32,
    ) -> Option<&mut TransactionCoordinator> {
        self.by_partition
            .get_mut(&partition)
            .map(|h| &mut h.coordinator)
    }
}

impl Broker {
    /// How many partitions a topic has, as the metadata says.
    fn partitions_of(&self, topic: &str) -> u32 {
        self.image
            .partitions
            .keys()
            .filter(|tp| tp.topic == topic)
            .count() as u32
    }

    /// How many partitions `__transaction_state` has (0: no transactions).
    pub(super) fn txn_state_partitions(&self) -> u32 {
        self.partitions_of(TRANSACTION_STATE_TOPIC)
    }

    fn txn_coordinator_mut(&mut self, partition: u32) -> Option<&mut TransactionCoordinator> {
        self.txn_coordinators.coordinator_mut(partition)
    }

    /// After the metadata changed: a coordinator for each `__transaction_state` partition
    /// this broker now leads (rebuilt from its log), none for the others.
    pub(super) fn sync_txn_coordinators(&mut self, now: Millis, out: &mut Vec<Output>) {
        let led: BTreeMap<u32, LeaderEpoch> = self
            .partitions
            .iter()
            .filter(|(tp, p)| tp.topic == TRANSACTION_STATE_TOPIC && p.is_leader())
            .map(|(tp, p)| (tp.partition, p.leader_epoch()))
            .collect();
        let stale: Vec<u32> = self
            .txn_coordinators
            .by_partition
            .iter()
            .filter(|(partition, hosted)| led.get(partition) != Some(&hosted.epoch))
            .map(|(partition, _)| *partition)
            .collect();
        for partition in stale {
            if let Some(hosted) = self.txn_coordinators.by_partition.remove(&partition) {
                out.push(Output::Note(format!(
                    "resign as transaction coordinator of {TRANSACTION_STATE_TOPIC}-{partition}"
                )));
                self.txn_coordinators
                    .markers_in_flight
                    .retain(|_, m| m.partition != partition);
                let outputs = hosted.coordinator.resign();
                self.carry_out_txn(now, partition, outputs, out);
            }
        }
        for (partition, epoch) in led {
            if !self.txn_coordinators.by_partition.contains_key(&partition) {
                self.load_txn_coordinator(now, partition, epoch, out);
            }
        }
    }

    /// Rebuilds the coordinator of a partition this broker just became leader of, from
    /// every record of its log, in the partition's leader epoch.
    fn load_txn_coordinator(
        &mut self,
        now: Millis,
        partition: u32,
        epoch: LeaderEpoch,
        out: &mut Vec<Output>,
    ) {
        let tp = TopicPartition::new(TRANSACTION_STATE_TOPIC, partition);
        let Some(p) = self.partitions.get(&tp) else {
            return;
        };
        let mut records = Vec::new();
        for batch in p.batches() {
            for record in &batch.records {
                match record.key.as_deref().map(TxnLogRecord::from_json) {
                    Some(Ok(parsed)) => records.push(parsed),
                    Some(Err(error)) => out.push(Output::Note(format!(
                        "{tp}: skipping a record that is not a transaction state record: {error}"
                    ))),
                    None => out.push(Output::Note(format!(
                        "{tp}: skipping a record without a key"
                    ))),
                }
            }
        }
        let mut config = self.config.txn.clone();
        config.offsets_topic_partitions = self.partitions_of(OFFSETS_TOPIC);
        let coordinator = TransactionCoordinator::from_records(config, epoch.0, &records, now);
        out.push(Output::Note(format!(
            "transaction coordinator of {tp} in epoch {}: loaded {} records",
            epoch.0,
            records.len()
        )));
        self.txn_coordinators.by_partition.insert(
            partition,
            HostedTxn {
                coordinator,
                epoch,
                writes: Vec::new(),
            },
        );
        // The transactions it found prepared send their markers now.
        self.poll_txn_markers(now, partition, out);
    }

    /// Sends what markers `partition`'s coordinator has due, to the leaders the metadata
    /// names.
    fn poll_txn_markers(&mut self, now: Millis, partition: u32, out: &mut Vec<Output>) {
        let image = &self.image;
        let leader_of = |tp: &TopicPartition| image.partitions.get(tp).and_then(|p| p.leader);
        let Some(hosted) = self.txn_coordinators.by_partition.get_mut(&partition) else {
            return;
        };
        let outputs = hosted.coordinator.poll_markers(now, &leader_of);
        if !outputs.is_empty() {
            self.carry_out_txn(now, partition, outputs, out);
        }
    }

    /// Carries out a coordinator's outputs in order: answers, writes (whose refusal may
    /// produce more) and marker requests.
    pub(super) fn carry_out_txn(
        &mut self,
        now: Millis,
        partition: u32,
        outputs: Vec<TxnOutput>,
        out: &mut Vec<Output>,
    ) {
        let mut queue: VecDeque<TxnOutput> = outputs.into();
        let mut appended = false;
        while let Some(output) = queue.pop_front() {
            match output {
                TxnOutput::InitProducerId { to, result } => out.push(Output::Send {
                    to: to.node,
                    message: Message::InitProducerIdResponse {
                        correlation_id: to.correlation_id,
                        result,
                    },
                }),
                TxnOutput::Respond { to, response } => out.push(Output::Send {
                    to: to.node,
                    message: Message::TxnResponse {
                        correlation_id: to.correlation_id,
                        response,
                    },
                }),
                TxnOutput::Write { write, record } => {
                    match self.append_txn_state(now, partition, write, &record, out) {
                        Ok(()) => appended = true,
                        Err(error) => {
                            if let Some(coordinator) = self.txn_coordinator_mut(partition) {
                                queue.extend(coordinator.write_completed(now, write, Err(error)));
                            }
                        }
                    }
                }
                TxnOutput::SendMarkers {
                    request,
                    to,
                    markers,
                } => self.send_txn_markers(now, partition, request, to, markers, out),
                TxnOutput::Note(note) => out.push(Output::Note(note)),
            }
        }
        if appended {
            self.maybe_wake_followers(now, out);
        }
    }

    fn send_txn_markers(
        &mut self,
        now: Millis,
        partition: u32,
        request: MarkerRequestId,
        to: BrokerId,
        markers: Vec<crate::txn::TxnMarker>,
        out: &mut Vec<Output>,
    ) {
        let Some(epoch) = self
            .txn_coordinators
            .by_partition
            .get(&partition)
            .map(|h| h.epoch)
        else {
            return;
        };
        self.last_correlation_id += 1;
        let correlation_id = self.last_correlation_id;
        self.txn_coordinators.markers_in_flight.insert(
            correlation_id,
            MarkerInFlight {
                partition,
                epoch,
                request,
                to: to.node(),
                sent_ms: now,
            },
        );
        out.push(Output::Send {
            to: to.node(),
            message: Message::WriteTxnMarkersRequest {
                correlation_id,
                markers,
            },
        });
    }

    /// A leader's answer to one of this broker's WriteTxnMarkers: to the coordinator that
    /// sent it, if it still runs (a resigned one's answers are dropped).
    pub(super) fn txn_markers_answered(
        &mut self,
        now: Millis,
        from: NodeId,
        correlation_id: u64,
        results: crate::txn::MarkerResults,
        out: &mut Vec<Output>,
    ) {
        let Some(sent) = self
            .txn_coordinators
            .markers_in_flight
            .remove(&correlation_id)
        else {
            return;
        };
        let Some(hosted) = self
            .txn_coordinators
            .by_partition
            .get_mut(&sent.partition)
            .filter(|h| h.epoch == sent.epoch && sent.to == from)
        else {
            return;
        };
        let outputs =
            hosted
                .coordinator
                .markers_answered(now, sent.request, BrokerId(from.0), &results);
        self.carry_out_txn(now, sent.partition, outputs, out);
        self.poll_txn_markers(now, sent.partition, out);
    }

    /// The connection to `peer` closed: the marker requests in flight to it failed, and go
    /// again after the coordinator's backoff.
    pub(super) fn txn_markers_disconnected(&mut self, now: Millis, peer: NodeId) {
        let failed: Vec<u64> = self
            .txn_coordinators
            .markers_in_flight
            .iter()
            .filter(|(_, m)| m.to == peer)
            .map(|(c, _)| *c)
            .collect();
        for correlation_id in failed {
            let sent = self
                .txn_coordinators
                .markers_in_flight
                .remove(&correlation_id)
                .expect("collected from the map");
            if let Some(hosted) = self.txn_coordinators.by_partition.get_mut(&sent.partition) {
                if hosted.epoch == sent.epoch {
                    hosted.coordinator.markers_failed(now, sent.request);
                }
            }
        }
    }

    /// Appends a coordinator's record to its partition as an acks=all write.
    fn append_txn_state(
        &mut self,
        now: Millis,
        partition: u32,
        write: TxnWriteId,
        record: &TxnLogRecord,
        out: &mut Vec<Output>,
    ) -> Result<(), ErrorCode> {
        if !self.txn_coordinators.by_partition.contains_key(&partition) {
            return Err(ErrorCode::NotCoordinator);
        }
        let tp = TopicPartition::new(TRANSACTION_STATE_TOPIC, partition);
        self.txn_coordinators.writes_issued += 1;
        let batch = RecordBatch {
            base_offset: Offset(0),
            leader_epoch: LeaderEpoch(0),
            producer: None,
            txn: None,
            records: vec![Record {
                key: Some(record.to_json()),
                value: TXN_STATE_VALUE_BIT
                    | (u64::from(self.id.0) << 48)
                    | (u64::from(self.incarnation) << 32)
                    | self.txn_coordinators.writes_issued,
                timestamp_ms: now,
            }],
        };
        // Kafka's coordinator maps a refused append so: a lost leadership sends the
        // producer to find its coordinator again, anything else is retried.
        let appended = self
            .append(&tp, Acks::All, batch, out)
            .map_err(|error| match error {
                ErrorCode::NotLeaderOrFollower | ErrorCode::UnknownTopicOrPartition => {
                    ErrorCode::NotCoordinator
                }
                _ => ErrorCode::CoordinatorNotAvailable,
            })?;
        let deadline_ms = now + self.config.txn.state_write_timeout_ms;
        if let Some(hosted) = self.txn_coordinators.by_partition.get_mut(&partition) {
            hosted.writes.push(PendingStateWrite {
                write,
                last: appended.last,
                deadline_ms,
            });
        }
        Ok(())
    }

    /// Confirms the state writes the high watermark has passed (with the ISR still at
    /// `min.insync.replicas`), fails those past their deadline, runs the coordinators'
    /// timers and sends their due markers.
    pub(super) fn drive_txn_coordinators(&mut self, now: Millis, out: &mut Vec<Output>) {
        let timeout_ms = self.config.txn.marker_request_timeout_ms;
        self.txn_coordinators
            .markers_in_flight
            .retain(|_, m| now < m.sent_ms.saturating_add(timeout_ms));
        let partitions: Vec<u32> = self.txn_coordinators.by_partition.keys().copied().collect();
        for partition in partitions {
            let tp = TopicPartition::new(TRANSACTION_STATE_TOPIC, partition);
            let standing = self.partitions.get(&tp).map(|p| {
                let isr = p.replica().leader_isr().map_or(0, |(isr, _)| isr.len());
                (p.high_watermark(), isr >= self.config.min_insync_replicas)
            });
            let Some(hosted) = self.txn_coordinators.by_partition.get_mut(&partition) else {
                continue;
            };
            let mut outputs = Vec::new();
            let mut waiting = Vec::new();
            for pending in std::mem::take(&mut hosted.writes) {
                let result = match standing {
                    Some((hw, true)) if hw > pending.last => Some(Ok(())),
                    Some((hw, false)) if hw > pending.last => {
                        Some(Err(ErrorCode::CoordinatorNotAvailable))
                    }
                    _ if now >= pending.deadline_ms => {
                        Some(Err(ErrorCode::CoordinatorNotAvailable))
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
                self.carry_out_txn(now, partition, outputs, out);
            }
            self.poll_txn_markers(now, partition, out);
        }
    }
}

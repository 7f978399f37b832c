//! A broker: hosts partition replicas, leads or follows each as the controller's metadata
//! says, answers producers (with `acks=all` writes waiting in a purgatory until the ISR has
//! them), consumers and followers, fetches from the leaders it follows, and heartbeats to
//! the controller. Metadata reaches it as the committed records of the quorum's metadata
//! log, which it fetches as a Raft observer (`broker/metadata_log.rs`), applied in order.

use crate::config::{BrokerConfig, OffsetReset};
use crate::controller::AlterPartitionError;
use crate::effect::Output;
use crate::ids::{BrokerId, Millis, NodeId, Offset, ProducerEpoch, ProducerId, TopicPartition};
use crate::layout::ClusterLayout;
use crate::log::{Log, RecoveryReport};
use crate::metadata::{MetadataImage, MetadataRecord};
use crate::metadata_client::InFlight;
use crate::partition::Partition;
use crate::protocol::{ConsumerFetchPartition, ErrorCode, Message, PartitionMetadata};
use crate::purgatory::Purgatory;
use crate::raft::RaftNode;
use crate::replica_fetcher::ReplicaFetcher;
use std::collections::BTreeMap;

mod consumer_fetch;
mod disconnect;
#[cfg(test)]
mod disconnect_tests;
mod groups;
mod metadata_log;
mod produce;
mod replication;
mod retention;
#[cfg(test)]
mod retention_tests;
#[cfg(test)]
mod tests;
mod transactions;
#[cfg(test)]
mod txn_coordinator_tests;
mod txn_coordinators;
mod txn_markers;
#[cfg(test)]
mod txn_tests;
#[cfg(test)]
mod zombie_tests;

/// A consumer fetch that found nothing new and waits for data or its deadline.
#[derive(Clone, Debug)]
struct ParkedFetch {
    from: NodeId,
    correlation_id: u64,
    max_records: usize,
    partitions: Vec<ConsumerFetchPartition>,
    isolation: crate::txn::IsolationLevel,
    deadline_ms: Millis,
}

/// A follower fetch that found nothing new.
#[derive(Clone, Debug)]
struct ParkedReplicaFetch {
    from: NodeId,
    request: Message,
    deadline_ms: Millis,
}

/// How long a follower waits after an error before fetching again.
const REPLICA_FETCH_BACKOFF_MS: u64 = 100;
/// How long after a NOT_CONTROLLER answer an AlterPartition goes again (Kafka's
/// `retry.backoff.ms` default), to whichever controller the broker turns to.
const NOT_CONTROLLER_RETRY_MS: u64 = 100;

/// A producer id never issued before: `broker << 40 | incarnation << 20 | counter`, unique
/// across restarts without a disk write. Idempotent producers and the transaction
/// coordinator's new transactional ids both take theirs from here.
fn issue_producer_id(broker: BrokerId, incarnation: u32, issued: &mut u64) -> ProducerId {
    *issued += 1;
    ProducerId((u64::from(broker.0) << 40) | (u64::from(incarnation) << 20) | *issued)
}

/// The broker state machine.
#[derive(Clone, Debug)]
pub struct Broker {
    id: BrokerId,
    config: BrokerConfig,
    /// The controller quorum's nodes, and the one this broker takes for the active one.
    controllers: Vec<NodeId>,
    controller: NodeId,
    /// When the active controller last answered: a silent one is replaced by the next.
    controller_answered_ms: Millis,
    image: MetadataImage,
    /// The metadata log as this broker fetched it; `image` applies its committed part.
    metadata_log: RaftNode<MetadataRecord>,
    /// How many times the observer's timers ran: its stand-in for a random number.
    metadata_discoveries: u64,
    partitions: BTreeMap<TopicPartition, Partition>,
    /// Producer ids are `broker << 40 | incarnation << 20 | counter`, unique across restarts
    /// without a disk write.
    incarnation: u32,
    producer_ids_issued: u64,
    parked: Vec<ParkedFetch>,
    parked_replica: Vec<ParkedReplicaFetch>,
    purgatory: Purgatory,
    fetcher: ReplicaFetcher,
    alter_partition_in_flight: BTreeMap<TopicPartition, InFlight>,
    /// AlterPartition requests a disconnect failed, with when each is sent again.
    alter_partition_retry_ms: BTreeMap<TopicPartition, Millis>,
    next_heartbeat_ms: Millis,
    next_isr_check_ms: Millis,
    next_retention_check_ms: Millis,
    last_correlation_id: u64,
    coordinators: groups::HostedCoordinators,
    txn_work: txn_markers::LeaderTxnWork,
    txn_coordinators: txn_coordinators::HostedTxnCoordinators,
}

impl Broker {
    /// Starts a broker from whatever its disk holds (`files`: path and bytes, as the
    /// process sees them after a crash). The layout says which replicas it hosts; who
    /// leads them it learns from the controller. Returns what recovery found.
    #[allow(clippy::too_many_arguments)] // a broker's whole starting state, named
    pub fn start(
        id: BrokerId,
        incarnation: u32,
        config: BrokerConfig,
        layout: &ClusterLayout,
        controllers: &[NodeId],
        files: Vec<(String, Vec<u8>)>,
        now: Millis,
        out: &mut Vec<Output>,
    ) -> (Broker, Vec<(TopicPartition, RecoveryReport)>) {
        let mut partitions = BTreeMap::new();
        let mut reports = Vec::new();
        let mut files = files;
        let hosted: Vec<TopicPartition> = layout
            .partitions()
            .filter(|tp| layout.replicas_of(tp).contains(&id))
            .collect();
        for tp in hosted {
            let prefix = format!("{}/", Log::dir(&tp));
            let (mine, rest): (Vec<_>, Vec<_>) = files
                .into_iter()
                .partition(|(path, _)| path.starts_with(&prefix));
            files = rest;
            let (partition, report) = Partition::recover(id, tp.clone(), &config, mine, out);
            reports.push((tp.clone(), report));
            partitions.insert(tp, partition);
        }
        // Kafka's first check waits too; a whole interval keeps short runs free of it.
        let next_retention_check_ms = now + config.log.retention_check_interval_ms.max(1);
        // What no partition claimed is the metadata log's.
        let metadata_log = metadata_log::start_observer(
            id,
            incarnation,
            controllers,
            config.metadata_fetch_max_wait_ms,
            files,
            now,
            out,
        );
        let mut broker = Broker {
            id,
            config,
            controllers: controllers.to_vec(),
            controller: controllers[0],
            controller_answered_ms: now,
            image: MetadataImage::default(),
            metadata_log,
            metadata_discoveries: 0,
            partitions,
            incarnation,
            producer_ids_issued: 0,
            parked: Vec::new(),
            parked_replica: Vec::new(),
            purgatory: Purgatory::default(),
            fetcher: ReplicaFetcher::default(),
            alter_partition_in_flight: BTreeMap::new(),
            alter_partition_retry_ms: BTreeMap::new(),
            next_heartbeat_ms: now,
            next_isr_check_ms: now,
            next_retention_check_ms,
            last_correlation_id: 0,
            coordinators: groups::HostedCoordinators::default(),
            txn_work: txn_markers::LeaderTxnWork::default(),
            txn_coordinators: txn_coordinators::HostedTxnCoordinators::default(),
        };
        broker.drive(now, out);
        (broker, reports)
    }

    pub fn id(&self) -> BrokerId {
        self.id
    }

    /// The log end offset of each hosted partition, for traces.
    pub fn log_end_offsets(&self) -> Vec<(TopicPartition, Offset)> {
        self.partitions
            .iter()
            .map(|(tp, p)| (tp.clone(), p.log_end()))
            .collect()
    }

    /// The log of a hosted partition.
    pub fn log(&self, tp: &TopicPartition) -> Option<&Log> {
        self.partitions
            .get(tp)
            .map(crate::partition::Partition::log)
    }

    /// When `tick` must run next.
    pub fn next_deadline(&self) -> Option<Millis> {
        let timeout_ms = self.config.inter_broker_request_timeout_ms;
        [
            Some(self.next_heartbeat_ms),
            Some(self.metadata_log.next_deadline()),
            self.parked.iter().map(|p| p.deadline_ms).min(),
            self.parked_replica.iter().map(|p| p.deadline_ms).min(),
            self.purgatory.next_deadline(),
            self.fetcher.next_deadline(timeout_ms),
            self.alter_partition_in_flight
                .values()
                .map(|r| r.sent_ms + timeout_ms)
                .min(),
            self.alter_partition_retry_ms.values().min().copied(),
            self.partitions
                .values()
                .any(Partition::is_leader)
                .then_some(self.next_isr_check_ms),
            self.coordinators.next_deadline(),
            self.txn_work.next_deadline(),
            self.txn_coordinators.next_deadline(),
            self.retention_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn tick(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.answer_parked(|_, fetch| fetch.deadline_ms <= now, out);
        for parked in std::mem::take(&mut self.parked_replica) {
            if parked.deadline_ms <= now {
                self.serve_replica_fetch(now, parked.from, parked.request, false, out);
            } else {
                self.parked_replica.push(parked);
            }
        }
        self.tick_metadata_log(now, out);
        self.drive(now, out);
    }

    /// Turns to `next` as the active controller, or to the next one of the quorum when
    /// the answer named none, and heartbeats it at once.
    fn switch_controller(&mut self, now: Millis, next: Option<NodeId>) {
        let position = self.controllers.iter().position(|c| *c == self.controller);
        let following = self.controllers[position.map_or(0, |p| (p + 1) % self.controllers.len())];
        self.controller = next.unwrap_or(following);
        self.controller_answered_ms = now;
        // A named leader is asked at once; while the quorum has none, at the usual pace.
        if next.is_some() {
            self.next_heartbeat_ms = now;
        }
    }

    /// Moves the broker's own work forward: heartbeats, follower fetches, ISR checks, and
    /// the purgatory's timeouts.
    fn drive(&mut self, now: Millis, out: &mut Vec<Output>) {
        let silent_ms = now.saturating_sub(self.controller_answered_ms);
        if self.controllers.len() > 1 && silent_ms > self.config.inter_broker_request_timeout_ms {
            self.switch_controller(now, None);
        }
        if now >= self.next_heartbeat_ms {
            out.push(Output::Send {
                to: self.controller,
                message: Message::BrokerHeartbeatRequest {
                    broker: self.id,
                    incarnation: self.incarnation,
                    metadata_offset: self.image.applied,
                },
            });
            self.next_heartbeat_ms = now + self.config.heartbeat_interval_ms;
        }
        let timeout_ms = self.config.inter_broker_request_timeout_ms;
        let expired: Vec<TopicPartition> = self
            .alter_partition_in_flight
            .iter()
            .filter(|(_, r)| r.timed_out(now, timeout_ms))
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in expired {
            self.alter_partition_in_flight.remove(&tp);
            self.maybe_alter_isr(&tp, now, out);
        }
        self.retry_failed_alter_partitions(now, out);
        if now >= self.next_isr_check_ms {
            // Kafka checks ISR expiry every half lag time.
            self.next_isr_check_ms = now + (self.config.replica_lag_time_max_ms / 2).max(1);
            let led: Vec<TopicPartition> = self
                .partitions
                .iter()
                .filter(|(_, p)| p.is_leader())
                .map(|(tp, _)| tp.clone())
                .collect();
            for tp in led {
                self.maybe_alter_isr(&tp, now, out);
            }
        }
        self.check_retention_if_due(now, out);
        self.fetcher.poll(
            self.id,
            now,
            &self.config,
            &self.partitions,
            &mut self.last_correlation_id,
            out,
        );
        self.complete_delayed_produces(now, out);
        self.drive_coordinators(now, out);
        self.drive_txn_coordinators(now, out);
    }

    /// The consumer groups this broker coordinates, as they stand.
    pub fn group_summaries(&self) -> Vec<(String, crate::group::GroupSummary)> {
        self.coordinators.summaries()
    }

    pub fn on_message(
        &mut self,
        now: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        match message {
            Message::MetadataRequest { correlation_id } => out.push(Output::Send {
                to: from,
                message: Message::MetadataResponse {
                    correlation_id,
                    brokers: self
                        .image
                        .brokers
                        .iter()
                        .filter(|(_, b)| !b.fenced)
                        .map(|(id, _)| *id)
                        .collect(),
                    partitions: self
                        .image
                        .partitions
                        .iter()
                        .map(|(tp, p)| PartitionMetadata {
                            tp: tp.clone(),
                            leader: p.leader,
                            leader_epoch: p.leader_epoch,
                        })
                        .collect(),
                },
            }),
            Message::InitProducerIdRequest {
                correlation_id,
                transactional: Some(init),
            } => self.on_txn_init(now, from, correlation_id, init, out),
            Message::InitProducerIdRequest {
                correlation_id,
                transactional: None,
            } => {
                let pid =
                    issue_producer_id(self.id, self.incarnation, &mut self.producer_ids_issued);
                out.push(Output::Send {
                    to: from,
                    message: Message::InitProducerIdResponse {
                        correlation_id,
                        result: Ok((pid, ProducerEpoch(0))),
                    },
                });
            }
            request @ Message::ProduceRequest { .. } => self.on_produce(now, from, request, out),
            Message::ListOffsetsRequest {
                correlation_id,
                partitions,
                isolation,
            } => {
                let results = partitions
                    .into_iter()
                    .map(|(tp, reset)| {
                        let result = match self.partitions.get(&tp) {
                            None => Err(ErrorCode::NotLeaderOrFollower),
                            Some(p) => match reset {
                                OffsetReset::Earliest => p.committed_end().map(|_| p.log_start()),
                                OffsetReset::Latest => {
                                    p.committed_end().map(|_| p.readable_end(isolation))
                                }
                            },
                        };
                        (tp, result)
                    })
                    .collect();
                out.push(Output::Send {
                    to: from,
                    message: Message::ListOffsetsResponse {
                        correlation_id,
                        results,
                    },
                });
            }
            Message::FetchRequest {
                correlation_id,
                max_wait_ms,
                max_records,
                isolation,
                partitions,
            } => {
                if self.has_news_for_consumer(&partitions, isolation) || max_wait_ms == 0 {
                    self.answer_fetch(
                        from,
                        correlation_id,
                        &partitions,
                        isolation,
                        max_records,
                        out,
                    );
                } else {
                    let wait_ms = max_wait_ms.min(self.config.fetch_max_wait_ms);
                    self.parked.push(ParkedFetch {
                        from,
                        correlation_id,
                        max_records,
                        partitions,
                        isolation,
                        deadline_ms: now + wait_ms,
                    });
                }
            }
            Message::BrokerHeartbeatResponse => {
                if from == self.controller {
                    self.controller_answered_ms = now;
                }
            }
            Message::Raft(msg) => self.on_metadata_message(now, from, msg, out),
            Message::NotController { leader } => {
                // Kafka's controller channel sends a request refused with NOT_CONTROLLER
                // again, to the new controller, instead of waiting out its timeout.
                self.retry_alter_partitions_sent_to(from, now + NOT_CONTROLLER_RETRY_MS);
                let next = leader.filter(|l| self.controllers.contains(l));
                self.switch_controller(now, next);
            }
            Message::AlterPartitionResponse {
                correlation_id,
                tp,
                result,
            } => {
                if self
                    .alter_partition_in_flight
                    .get(&tp)
                    .is_some_and(|r| r.correlation_id == correlation_id)
                {
                    self.alter_partition_in_flight.remove(&tp);
                    if let Some(p) = self.partitions.get_mut(&tp) {
                        match result {
                            Ok((isr, partition_epoch)) => {
                                p.isr_committed(isr, partition_epoch, out)
                            }
                            Err(error) => {
                                out.push(Output::Note(format!(
                                    "AlterPartition {tp} refused: {error}"
                                )));
                                // A stale epoch means the partition changed, maybe by
                                // this very request: the metadata will say how. Other
                                // refusals changed nothing.
                                if !matches!(
                                    error,
                                    AlterPartitionError::InvalidUpdateVersion
                                        | AlterPartitionError::FencedLeaderEpoch
                                ) {
                                    p.isr_change_refused(out);
                                }
                            }
                        }
                    }
                    self.after_high_watermark_change(now, out);
                }
            }
            request @ Message::ReplicaFetchRequest { .. } => {
                self.serve_replica_fetch(now, from, request, true, out)
            }
            Message::ReplicaFetchResponse {
                correlation_id,
                results,
            } => self.on_replica_fetch_response(now, from, correlation_id, results, out),
            Message::FindCoordinatorRequest {
                correlation_id,
                group,
            } => out.push(Output::Send {
                to: from,
                message: Message::FindCoordinatorResponse {
                    correlation_id,
                    result: self.find_coordinator(&group),
                },
            }),
            Message::GroupRequest {
                correlation_id,
                request,
            } => self.on_group_request(now, from, correlation_id, request, out),
            // Requests for the controller, and responses for clients: a broker that gets
            // one (misrouted, or from a confused peer) drops it.
            Message::BrokerHeartbeatRequest { .. }
            | Message::AlterPartitionRequest { .. }
            | Message::MetadataResponse { .. }
            | Message::InitProducerIdResponse { .. }
            | Message::ProduceResponse { .. }
            | Message::ListOffsetsResponse { .. }
            | Message::FetchResponse { .. }
            | Message::FindCoordinatorResponse { .. }
            | Message::GroupResponse { .. }
            | Message::FindTxnCoordinatorResponse { .. } => {}
            Message::FindTxnCoordinatorRequest {
                correlation_id,
                transactional_id,
            } => self.on_find_txn_coordinator(now, from, correlation_id, transactional_id, out),
            Message::TxnRequest {
                correlation_id,
                request,
            } => self.on_txn_request(now, from, correlation_id, request, out),
            Message::TxnResponse {
                correlation_id,
                response,
            } => self.on_txn_verified(now, from, correlation_id, response, out),
            Message::WriteTxnMarkersRequest {
                correlation_id,
                markers,
            } => self.on_write_txn_markers(now, from, correlation_id, markers, out),
            Message::WriteTxnMarkersResponse {
                correlation_id,
                results,
            } => self.on_txn_markers_written(now, from, correlation_id, results, out),
        }
        self.drive(now, out);
    }

    /// Applies the controller's records if they continue what this broker has, then
    /// takes up the roles they give it.
    fn apply_metadata(
        &mut self,
        now: Millis,
        first_index: u64,
        records: Vec<MetadataRecord>,
        out: &mut Vec<Output>,
    ) {
        if first_index > self.image.applied {
            return; // a gap: the next heartbeat's answer fills it
        }
        let skip = (self.image.applied - first_index) as usize;
        if skip >= records.len() {
            return;
        }
        for record in &records[skip..] {
            out.push(Output::Metadata {
                index: self.image.applied,
                record: record.clone(),
            });
            self.image.apply(record);
        }
        let mut lost_leadership = false;
        for (tp, partition) in self.partitions.iter_mut() {
            if let Some(registration) = self.image.partitions.get(tp) {
                lost_leadership |= partition.reconcile(
                    self.id,
                    registration,
                    self.config.replication_protocol,
                    now,
                    out,
                );
            }
        }
        self.sync_coordinators(now, out);
        self.sync_txn_coordinators(now, out);
        if lost_leadership {
            self.answer_parked(
                |broker, fetch| broker.has_news_for_consumer(&fetch.partitions, fetch.isolation),
                out,
            );
        }
        self.after_high_watermark_change(now, out);
    }

    /// The AlterPartition requests in flight to `controller` failed: each is asked again,
    /// unchanged (the controller may have committed it), from `retry_ms`.
    pub(crate) fn retry_alter_partitions_sent_to(&mut self, controller: NodeId, retry_ms: Millis) {
        let failed: Vec<TopicPartition> = self
            .alter_partition_in_flight
            .iter()
            .filter(|(_, r)| r.went_to(controller))
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in failed {
            self.alter_partition_in_flight.remove(&tp);
            self.alter_partition_retry_ms.insert(tp, retry_ms);
        }
    }

    /// Asks the controller for the ISR this leader wants, if it wants a change and has no
    /// request in flight for the partition. A change whose answer never came is asked
    /// again, unchanged: the controller may have committed it, so until the answer or the
    /// metadata says, the high watermark keeps counting the larger ISR (KIP-497).
    fn maybe_alter_isr(&mut self, tp: &TopicPartition, now: Millis, out: &mut Vec<Output>) {
        if self.alter_partition_in_flight.contains_key(tp)
            || self.alter_partition_retry_ms.contains_key(tp)
        {
            return;
        }
        let Some(partition) = self.partitions.get_mut(tp) else {
            return;
        };
        let log_end = partition.log_end();
        let replica = partition.replica();
        let new_isr = match replica.pending_isr() {
            Some(pending) => pending.to_vec(),
            None => match replica.wanted_isr(now, self.config.replica_lag_time_max_ms, log_end) {
                Some(wanted) => wanted,
                None => return,
            },
        };
        let Some((_, partition_epoch)) = partition.replica().leader_isr() else {
            return;
        };
        let leader_epoch = partition.leader_epoch();
        partition.replica_mut().isr_change_sent(new_isr.clone());
        self.last_correlation_id += 1;
        let correlation_id = self.last_correlation_id;
        out.push(Output::Note(format!(
            "AlterPartition {tp} isr -> {}",
            crate::ids::broker_list(&new_isr)
        )));
        out.push(Output::Send {
            to: self.controller,
            message: Message::AlterPartitionRequest {
                correlation_id,
                broker: self.id,
                tp: tp.clone(),
                leader_epoch,
                partition_epoch,
                new_isr,
            },
        });
        self.alter_partition_in_flight.insert(
            tp.clone(),
            InFlight {
                correlation_id,
                to: self.controller,
                sent_ms: now,
            },
        );
    }

    /// After the high watermark may have moved: answer waiting producers and consumers.
    fn after_high_watermark_change(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.complete_delayed_produces(now, out);
        self.drive_coordinators(now, out);
        self.drive_txn_coordinators(now, out);
        self.answer_parked(
            |broker, fetch| broker.has_news_for_consumer(&fetch.partitions, fetch.isolation),
            out,
        );
    }
}

//! A broker: leads its partitions, appends produce requests to their logs, answers fetches
//! (parking empty ones for `fetch.max.wait.ms`), and hands out producer ids.

use crate::config::{Acks, BrokerConfig, OffsetReset};
use crate::effect::Output;
use crate::ids::{
    BrokerId, LeaderEpoch, Millis, NodeId, Offset, ProducerEpoch, ProducerId, TopicPartition,
};
use crate::layout::ClusterLayout;
use crate::log::{Log, RecoveryReport};
use crate::producer_state::{ProducerStateTable, SequenceCheck};
use crate::protocol::{ErrorCode, FetchedPartition, Message};
use std::collections::BTreeMap;

/// One partition hosted by this broker.
#[derive(Clone, Debug)]
struct PartitionReplica {
    log: Log,
    producers: ProducerStateTable,
    leader_epoch: LeaderEpoch,
}

impl PartitionReplica {
    /// The single-replica high watermark: everything the leader has is "replicated".
    fn high_watermark(&self) -> Offset {
        self.log.log_end_offset()
    }
}

/// A fetch that found nothing new and waits for data or its deadline.
#[derive(Clone, Debug)]
struct ParkedFetch {
    from: NodeId,
    correlation_id: u64,
    max_records: usize,
    partitions: Vec<(TopicPartition, Offset)>,
    deadline_ms: Millis,
}

/// The broker state machine.
#[derive(Clone, Debug)]
pub struct Broker {
    id: BrokerId,
    config: BrokerConfig,
    layout: ClusterLayout,
    partitions: BTreeMap<TopicPartition, PartitionReplica>,
    /// Producer ids are `broker << 40 | incarnation << 20 | counter`, unique across restarts
    /// without a disk write.
    incarnation: u32,
    producer_ids_issued: u64,
    parked: Vec<ParkedFetch>,
}

impl Broker {
    /// Starts a broker from whatever its disk holds (`files`: path and bytes, as the
    /// process sees them after a crash). Returns the disk operations recovery needs
    /// (cutting torn tails) and what it found per partition.
    pub fn start(
        id: BrokerId,
        incarnation: u32,
        config: BrokerConfig,
        layout: ClusterLayout,
        files: Vec<(String, Vec<u8>)>,
        out: &mut Vec<Output>,
    ) -> (Broker, Vec<(TopicPartition, RecoveryReport)>) {
        let mut partitions = BTreeMap::new();
        let mut reports = Vec::new();
        let mut files = files;
        let mine: Vec<TopicPartition> = layout
            .partitions()
            .filter(|tp| layout.preferred_leader(tp) == Some(id))
            .collect();
        for tp in mine {
            let prefix = format!("{}/", Log::dir(&tp));
            let (mine, rest): (Vec<_>, Vec<_>) = files
                .into_iter()
                .partition(|(path, _)| path.starts_with(&prefix));
            files = rest;
            let (log, ops, report) = Log::recover(tp.clone(), config.log.clone(), mine);
            out.extend(ops.into_iter().map(Output::Disk));
            let mut producers = ProducerStateTable::new(config.producer_batches_remembered);
            for batch in log.batches() {
                producers.update(batch);
            }
            reports.push((tp.clone(), report));
            partitions.insert(
                tp,
                PartitionReplica {
                    log,
                    producers,
                    leader_epoch: LeaderEpoch(0),
                },
            );
        }
        let broker = Broker {
            id,
            config,
            layout,
            partitions,
            incarnation,
            producer_ids_issued: 0,
            parked: Vec::new(),
        };
        (broker, reports)
    }

    pub fn id(&self) -> BrokerId {
        self.id
    }

    /// The log end offset of each hosted partition, for checkers and traces.
    pub fn log_end_offsets(&self) -> Vec<(TopicPartition, Offset)> {
        self.partitions
            .iter()
            .map(|(tp, p)| (tp.clone(), p.log.log_end_offset()))
            .collect()
    }

    /// The earliest parked fetch deadline: the driver must call `tick` then.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.parked.iter().map(|p| p.deadline_ms).min()
    }

    pub fn tick(&mut self, now: Millis, out: &mut Vec<Output>) {
        self.answer_parked(|_, fetch| fetch.deadline_ms <= now, out);
    }

    /// Answers the parked fetches `due` picks, in arrival order; the rest stay parked.
    fn answer_parked(&mut self, due: impl Fn(&Self, &ParkedFetch) -> bool, out: &mut Vec<Output>) {
        for fetch in std::mem::take(&mut self.parked) {
            if due(self, &fetch) {
                self.answer_fetch(
                    fetch.from,
                    fetch.correlation_id,
                    &fetch.partitions,
                    fetch.max_records,
                    out,
                );
            } else {
                self.parked.push(fetch);
            }
        }
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
                    brokers: self.layout.brokers.clone(),
                    partitions: self
                        .layout
                        .partitions()
                        .map(|tp| crate::protocol::PartitionMetadata {
                            leader: self.layout.preferred_leader(&tp),
                            leader_epoch: LeaderEpoch(0),
                            tp,
                        })
                        .collect(),
                },
            }),
            Message::InitProducerIdRequest { correlation_id } => {
                self.producer_ids_issued += 1;
                let pid = (u64::from(self.id.0) << 40)
                    | (u64::from(self.incarnation) << 20)
                    | self.producer_ids_issued;
                out.push(Output::Send {
                    to: from,
                    message: Message::InitProducerIdResponse {
                        correlation_id,
                        producer_id: ProducerId(pid),
                        producer_epoch: ProducerEpoch(0),
                    },
                });
            }
            Message::ProduceRequest {
                correlation_id,
                acks,
                batches,
                ..
            } => {
                let mut results = Vec::with_capacity(batches.len());
                let mut appended = false;
                for (tp, batch) in batches {
                    let result = self.append(&tp, batch, out);
                    appended |= matches!(result, Ok((_, true)));
                    results.push((tp, result.map(|(offset, _)| offset)));
                }
                if acks != Acks::None {
                    out.push(Output::Send {
                        to: from,
                        message: Message::ProduceResponse {
                            correlation_id,
                            results,
                        },
                    });
                }
                if appended {
                    self.wake_parked_fetches(out);
                }
            }
            Message::ListOffsetsRequest {
                correlation_id,
                partitions,
            } => {
                let results = partitions
                    .into_iter()
                    .map(|(tp, reset)| {
                        let result = match self.partitions.get(&tp) {
                            None => Err(ErrorCode::NotLeaderOrFollower),
                            Some(p) => Ok(match reset {
                                OffsetReset::Earliest => p.log.log_start_offset(),
                                OffsetReset::Latest => p.high_watermark(),
                            }),
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
                partitions,
            } => {
                if self.has_data_or_error(&partitions) || max_wait_ms == 0 {
                    self.answer_fetch(from, correlation_id, &partitions, max_records, out);
                } else {
                    let wait_ms = max_wait_ms.min(self.config.fetch_max_wait_ms);
                    self.parked.push(ParkedFetch {
                        from,
                        correlation_id,
                        max_records,
                        partitions,
                        deadline_ms: now + wait_ms,
                    });
                }
            }
            // Responses are for clients; a broker that gets one drops it.
            Message::MetadataResponse { .. }
            | Message::InitProducerIdResponse { .. }
            | Message::ProduceResponse { .. }
            | Message::ListOffsetsResponse { .. }
            | Message::FetchResponse { .. } => {}
            _ => {}
        }
    }

    /// Appends one partition's batch; `Ok((offset, appended))`, where a duplicate is
    /// acknowledged at its original offset without appending.
    fn append(
        &mut self,
        tp: &TopicPartition,
        batch: crate::record::RecordBatch,
        out: &mut Vec<Output>,
    ) -> Result<(Offset, bool), ErrorCode> {
        let Some(partition) = self.partitions.get_mut(tp) else {
            return Err(if self.layout.preferred_leader(tp).is_some() {
                ErrorCode::NotLeaderOrFollower
            } else {
                ErrorCode::UnknownTopicOrPartition
            });
        };
        if batch.records.is_empty() {
            return Ok((partition.log.log_end_offset(), false));
        }
        if let Some(stamp) = batch
            .producer
            .filter(|_| self.config.check_producer_sequences)
        {
            match partition
                .producers
                .check(&stamp, batch.records.len() as u32)
            {
                SequenceCheck::Append => {}
                SequenceCheck::Duplicate(offset) => {
                    out.push(Output::Note(format!(
                        "duplicate {tp} seq {} already at offset {}: {}",
                        stamp.base_sequence,
                        offset.0,
                        values(&batch)
                    )));
                    return Ok((offset, false));
                }
                SequenceCheck::Reject(error) => {
                    out.push(Output::Note(format!(
                        "refuse {tp} seq {}: {error}: {}",
                        stamp.base_sequence,
                        values(&batch)
                    )));
                    return Err(error);
                }
            }
        }
        let described = values(&batch);
        let (base, ops) = partition.log.append(batch, partition.leader_epoch);
        out.push(Output::Note(format!(
            "append {tp}@{}..{}: {described}",
            base.0,
            partition.log.log_end_offset().0 - 1
        )));
        out.extend(ops.into_iter().map(Output::Disk));
        let stored = partition
            .log
            .batches()
            .last()
            .expect("the batch was just appended");
        partition.producers.update(stored);
        Ok((base, true))
    }

    fn has_data_or_error(&self, partitions: &[(TopicPartition, Offset)]) -> bool {
        partitions
            .iter()
            .any(|(tp, offset)| match self.partitions.get(tp) {
                None => true,
                Some(p) => *offset != p.high_watermark(),
            })
    }

    fn wake_parked_fetches(&mut self, out: &mut Vec<Output>) {
        self.answer_parked(
            |broker, fetch| broker.has_data_or_error(&fetch.partitions),
            out,
        );
    }

    fn answer_fetch(
        &self,
        to: NodeId,
        correlation_id: u64,
        partitions: &[(TopicPartition, Offset)],
        max_records: usize,
        out: &mut Vec<Output>,
    ) {
        let results = partitions
            .iter()
            .map(|(tp, offset)| {
                let result = match self.partitions.get(tp) {
                    None => Err(ErrorCode::NotLeaderOrFollower),
                    Some(p) => {
                        let hw = p.high_watermark();
                        if *offset > hw || *offset < p.log.log_start_offset() {
                            Err(ErrorCode::OffsetOutOfRange)
                        } else {
                            Ok(FetchedPartition {
                                batches: p.log.read(*offset, hw, max_records),
                                high_watermark: hw,
                                log_start_offset: p.log.log_start_offset(),
                            })
                        }
                    }
                };
                (tp.clone(), result)
            })
            .collect();
        out.push(Output::Send {
            to,
            message: Message::FetchResponse {
                correlation_id,
                results,
            },
        });
    }
}

/// The values of a batch as trace lines show them ("v3 v4 v5"), so that one record's
/// life can be followed through the trace.
fn values(batch: &crate::record::RecordBatch) -> String {
    let values: Vec<String> = batch
        .records
        .iter()
        .map(|r| format!("v{}", r.value))
        .collect();
    values.join(" ")
}

//! The transaction coordinator's tests, pure: requests in, outputs out, with a harness
//! that plays the driver (writes confirmed or held, markers answered by hand).

mod end_txn;
mod failover;
mod init;
mod markers;
mod partitions;
mod timeout;

use super::*;
use crate::group::ClientRef;
use crate::ids::{BrokerId, Millis, NodeId, ProducerEpoch, ProducerId, TopicPartition};
use crate::protocol::ErrorCode;
use std::collections::BTreeMap;

pub(super) const EPOCH: u32 = 3;
pub(super) const PID: ProducerId = ProducerId(1000);

pub(super) fn id() -> TransactionalId {
    TransactionalId::new("tx")
}

pub(super) fn tp(partition: u32) -> TopicPartition {
    TopicPartition::new("t", partition)
}

pub(super) fn client(correlation_id: u64) -> ClientRef {
    ClientRef {
        node: NodeId(100),
        correlation_id,
    }
}

pub(super) fn init_request(timeout_ms: u64) -> TxnInit {
    TxnInit {
        transactional_id: id(),
        transaction_timeout_ms: timeout_ms,
    }
}

pub(super) fn add(epoch: u16, partitions: &[TopicPartition]) -> TxnRequest {
    TxnRequest::AddPartitions {
        transactional_id: id(),
        producer_id: PID,
        producer_epoch: ProducerEpoch(epoch),
        partitions: partitions.to_vec(),
        verify_only: false,
    }
}

pub(super) fn verify(pid: ProducerId, epoch: u16, partitions: &[TopicPartition]) -> TxnRequest {
    TxnRequest::AddPartitions {
        transactional_id: id(),
        producer_id: pid,
        producer_epoch: ProducerEpoch(epoch),
        partitions: partitions.to_vec(),
        verify_only: true,
    }
}

pub(super) fn end(epoch: u16, commit: bool) -> TxnRequest {
    TxnRequest::EndTxn {
        transactional_id: id(),
        producer_id: PID,
        producer_epoch: ProducerEpoch(epoch),
        commit,
    }
}

/// The answer to an AddPartitions: every partition with `result`.
pub(super) fn added(
    to: u64,
    partitions: &[TopicPartition],
    result: Result<(), ErrorCode>,
) -> TxnOutput {
    TxnOutput::Respond {
        to: client(to),
        response: TxnResponse::AddPartitions {
            results: partitions.iter().map(|tp| (tp.clone(), result)).collect(),
        },
    }
}

pub(super) fn ended(to: u64, result: Result<(), ErrorCode>) -> TxnOutput {
    TxnOutput::Respond {
        to: client(to),
        response: TxnResponse::EndTxn { result },
    }
}

pub(super) fn inited(to: u64, result: Result<(u64, u16), ErrorCode>) -> TxnOutput {
    TxnOutput::InitProducerId {
        to: client(to),
        result: result.map(|(pid, epoch)| (ProducerId(pid), ProducerEpoch(epoch))),
    }
}

/// The driver: confirms writes (or holds them), keeps the log they make, names each
/// partition's leader, and hands out producer ids from [`PID`] on.
pub(super) struct Harness {
    pub coordinator: TransactionCoordinator,
    pub now: Millis,
    pub log: Vec<TxnLogRecord>,
    pub held: Vec<TxnWriteId>,
    pub hold_writes: bool,
    pub leaders: BTreeMap<TopicPartition, BrokerId>,
    next_pid: u64,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config(TxnCoordinatorConfig::default())
    }

    pub fn with_config(config: TxnCoordinatorConfig) -> Harness {
        let leaders = (0..4).map(|p| (tp(p), BrokerId(1 + p % 2))).collect();
        Harness {
            coordinator: TransactionCoordinator::new(config, EPOCH, 0),
            now: 0,
            log: Vec::new(),
            held: Vec::new(),
            hold_writes: false,
            leaders,
            next_pid: PID.0,
        }
    }

    /// What the driver does with `outputs`: writes appended to the log and (unless held)
    /// confirmed at once, the rest returned in order.
    pub fn drive(&mut self, outputs: Vec<TxnOutput>) -> Vec<TxnOutput> {
        let mut seen = Vec::new();
        let mut queue: std::collections::VecDeque<TxnOutput> = outputs.into();
        while let Some(output) = queue.pop_front() {
            match output {
                TxnOutput::Write { write, record } => {
                    self.log.push(record);
                    if self.hold_writes {
                        self.held.push(write);
                    } else {
                        queue.extend(self.coordinator.write_completed(self.now, write, Ok(())));
                    }
                }
                TxnOutput::Note(_) => {}
                other => seen.push(other),
            }
        }
        seen
    }

    /// Confirms (or fails) the writes held so far.
    pub fn release(&mut self, result: Result<(), ErrorCode>) -> Vec<TxnOutput> {
        let mut outputs = Vec::new();
        for write in std::mem::take(&mut self.held) {
            outputs.extend(self.coordinator.write_completed(self.now, write, result));
        }
        self.drive(outputs)
    }

    pub fn init(&mut self, correlation_id: u64, timeout_ms: u64) -> Vec<TxnOutput> {
        let next_pid = &mut self.next_pid;
        let mut fresh = || {
            let pid = ProducerId(*next_pid);
            *next_pid += 1;
            pid
        };
        let outputs = self.coordinator.init_producer_id(
            self.now,
            client(correlation_id),
            init_request(timeout_ms),
            &mut fresh,
        );
        self.drive(outputs)
    }

    pub fn request(&mut self, correlation_id: u64, request: TxnRequest) -> Vec<TxnOutput> {
        let outputs = self
            .coordinator
            .handle(self.now, client(correlation_id), request);
        self.drive(outputs)
    }

    pub fn poll(&mut self) -> Vec<TxnOutput> {
        let leaders = self.leaders.clone();
        let leader_of = move |tp: &TopicPartition| leaders.get(tp).copied();
        let outputs = self.coordinator.poll_markers(self.now, &leader_of);
        self.drive(outputs)
    }

    pub fn tick(&mut self) -> Vec<TxnOutput> {
        let outputs = self.coordinator.tick(self.now);
        self.drive(outputs)
    }

    /// Answers marker request `request` from `from`, every partition of `markers` with
    /// `result`.
    pub fn answer(
        &mut self,
        request: MarkerRequestId,
        from: u32,
        markers: &[TxnMarker],
        result: Result<(), ErrorCode>,
    ) -> Vec<TxnOutput> {
        let results: MarkerResults = markers
            .iter()
            .map(|m| {
                (
                    m.producer_id,
                    m.partitions.iter().map(|tp| (tp.clone(), result)).collect(),
                )
            })
            .collect();
        let outputs =
            self.coordinator
                .markers_answered(self.now, request, BrokerId(from), &results);
        self.drive(outputs)
    }

    /// An initialized id (epoch 0) with `partitions` in an open transaction.
    pub fn ongoing(partitions: &[TopicPartition]) -> Harness {
        let mut h = Harness::new();
        assert_eq!(h.init(1, 60_000), vec![inited(1, Ok((PID.0, 0)))]);
        assert_eq!(
            h.request(2, add(0, partitions)),
            vec![added(2, partitions, Ok(()))]
        );
        h
    }

    /// An open transaction whose EndTxn was answered: its markers are to be sent.
    pub fn prepared(partitions: &[TopicPartition], commit: bool) -> Harness {
        let mut h = Harness::ongoing(partitions);
        assert_eq!(h.request(3, end(0, commit)), vec![ended(3, Ok(()))]);
        h
    }

    /// Every marker sent, with each answered Ok: the transaction completes.
    pub fn answer_all_ok(&mut self) -> Vec<TxnOutput> {
        let mut seen = Vec::new();
        for output in self.poll() {
            match output {
                TxnOutput::SendMarkers {
                    request,
                    to,
                    markers,
                } => seen.extend(self.answer(request, to.0, &markers, Ok(()))),
                other => seen.push(other),
            }
        }
        seen
    }

    pub fn state(&self) -> Option<TxnState> {
        self.coordinator.state(&id())
    }

    pub fn last_record(&self) -> &TxnLogRecord {
        self.log.last().expect("something was written")
    }
}

/// The marker requests among `outputs`: (request, leader, markers).
pub(super) fn marker_requests(
    outputs: &[TxnOutput],
) -> Vec<(MarkerRequestId, u32, Vec<TxnMarker>)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            TxnOutput::SendMarkers {
                request,
                to,
                markers,
            } => Some((*request, to.0, markers.clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn marker(
    epoch: u16,
    commit: bool,
    coordinator_epoch: u32,
    partitions: &[TopicPartition],
) -> TxnMarker {
    TxnMarker {
        producer_id: PID,
        producer_epoch: ProducerEpoch(epoch),
        commit,
        coordinator_epoch,
        partitions: partitions.to_vec(),
    }
}

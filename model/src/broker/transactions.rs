//! The broker's transaction coordinators: one per `__transaction_state` partition it leads.
//! The requests a transactional producer sends its coordinator arrive here, and the
//! answers to the markers the coordinator asked the partition leaders to write (the
//! hosting itself is `txn_coordinators.rs`).

use super::Broker;
use crate::effect::Output;
use crate::group::ClientRef;
use crate::ids::{BrokerId, Millis, NodeId, TopicPartition};
use crate::protocol::{ErrorCode, Message};
use crate::txn::{
    txn_coordinator_partition, MarkerResults, TransactionalId, TxnInit, TxnRequest, TxnResponse,
    TRANSACTION_STATE_TOPIC,
};

/// The answer that refuses `request` with `error`, every partition of it alike.
fn refusal(request: &TxnRequest, error: ErrorCode) -> TxnResponse {
    match request {
        TxnRequest::AddPartitions { partitions, .. } => TxnResponse::AddPartitions {
            results: partitions
                .iter()
                .map(|tp| (tp.clone(), Err(error)))
                .collect(),
        },
        TxnRequest::AddOffsets { .. } => TxnResponse::AddOffsets { result: Err(error) },
        TxnRequest::EndTxn { .. } => TxnResponse::EndTxn { result: Err(error) },
    }
}

impl Broker {
    /// The `__transaction_state` partition of `id`, if the topic exists.
    fn txn_partition_of(&self, id: &TransactionalId) -> Option<u32> {
        let partitions = self.txn_state_partitions();
        (partitions > 0).then(|| txn_coordinator_partition(id, partitions))
    }

    /// The leader of `id`'s `__transaction_state` partition, if it has one.
    fn find_txn_coordinator(&self, id: &TransactionalId) -> Result<BrokerId, ErrorCode> {
        let partition = self
            .txn_partition_of(id)
            .ok_or(ErrorCode::CoordinatorNotAvailable)?;
        let tp = TopicPartition::new(TRANSACTION_STATE_TOPIC, partition);
        self.image
            .partitions
            .get(&tp)
            .and_then(|p| p.leader)
            .ok_or(ErrorCode::CoordinatorNotAvailable)
    }

    /// FindCoordinator for a transactional id.
    pub(super) fn on_find_txn_coordinator(
        &mut self,
        _now: Millis,
        from: NodeId,
        correlation_id: u64,
        transactional_id: TransactionalId,
        out: &mut Vec<Output>,
    ) {
        out.push(Output::Send {
            to: from,
            message: Message::FindTxnCoordinatorResponse {
                correlation_id,
                result: self.find_txn_coordinator(&transactional_id),
            },
        });
    }

    /// InitProducerId for a transactional producer: to the coordinator of its id's
    /// partition, which takes a fresh producer id from the broker's allocator for a new id.
    pub(super) fn on_txn_init(
        &mut self,
        now: Millis,
        from: NodeId,
        correlation_id: u64,
        init: TxnInit,
        out: &mut Vec<Output>,
    ) {
        let client = ClientRef {
            node: from,
            correlation_id,
        };
        let partition = self.txn_partition_of(&init.transactional_id);
        let (id, incarnation) = (self.id, self.incarnation);
        let issued = &mut self.producer_ids_issued;
        let mut fresh = || super::issue_producer_id(id, incarnation, issued);
        let hosted = partition.and_then(|p| self.txn_coordinators.coordinator_mut(p));
        let Some(coordinator) = hosted else {
            out.push(Output::Send {
                to: from,
                message: Message::InitProducerIdResponse {
                    correlation_id,
                    result: Err(ErrorCode::NotCoordinator),
                },
            });
            return;
        };
        let outputs = coordinator.init_producer_id(now, client, init, &mut fresh);
        let partition = partition.expect("a coordinator was found for it");
        self.carry_out_txn(now, partition, outputs, out);
    }

    /// AddPartitionsToTxn (also KIP-890's verification), AddOffsetsToTxn, EndTxn.
    pub(super) fn on_txn_request(
        &mut self,
        now: Millis,
        from: NodeId,
        correlation_id: u64,
        request: TxnRequest,
        out: &mut Vec<Output>,
    ) {
        let client = ClientRef {
            node: from,
            correlation_id,
        };
        let partition = self.txn_partition_of(request.transactional_id());
        let hosted = partition.and_then(|p| self.txn_coordinators.coordinator_mut(p));
        let Some(coordinator) = hosted else {
            out.push(Output::Send {
                to: from,
                message: Message::TxnResponse {
                    correlation_id,
                    response: refusal(&request, ErrorCode::NotCoordinator),
                },
            });
            return;
        };
        let outputs = coordinator.handle(now, client, request);
        let partition = partition.expect("a coordinator was found for it");
        self.carry_out_txn(now, partition, outputs, out);
    }

    /// A partition leader's answer to the markers this broker's coordinator asked for.
    pub(super) fn on_txn_markers_written(
        &mut self,
        now: Millis,
        from: NodeId,
        correlation_id: u64,
        results: MarkerResults,
        out: &mut Vec<Output>,
    ) {
        self.txn_markers_answered(now, from, correlation_id, results, out);
    }
}

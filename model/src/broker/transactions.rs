//! The broker's transaction coordinators: one per `__transaction_state` partition it leads.
//! The requests a transactional producer sends its coordinator arrive here, and the
//! markers the coordinator asks the partition leaders to write leave from here.

use super::Broker;
use crate::effect::Output;
use crate::ids::{Millis, NodeId};
use crate::txn::{MarkerResults, TransactionalId, TxnInit, TxnRequest};

impl Broker {
    /// FindCoordinator for a transactional id.
    pub(super) fn on_find_txn_coordinator(
        &mut self,
        _now: Millis,
        _from: NodeId,
        _correlation_id: u64,
        _transactional_id: TransactionalId,
        _out: &mut Vec<Output>,
    ) {
    }

    /// InitProducerId for a transactional producer.
    pub(super) fn on_txn_init(
        &mut self,
        _now: Millis,
        _from: NodeId,
        _correlation_id: u64,
        _init: TxnInit,
        _out: &mut Vec<Output>,
    ) {
    }

    /// AddPartitionsToTxn (also KIP-890's verification), AddOffsetsToTxn, EndTxn.
    pub(super) fn on_txn_request(
        &mut self,
        _now: Millis,
        _from: NodeId,
        _correlation_id: u64,
        _request: TxnRequest,
        _out: &mut Vec<Output>,
    ) {
    }

    /// A partition leader's answer to the markers this broker's coordinator asked for.
    pub(super) fn on_txn_markers_written(
        &mut self,
        _now: Millis,
        _from: NodeId,
        _correlation_id: u64,
        _results: MarkerResults,
        _out: &mut Vec<Output>,
    ) {
    }
}

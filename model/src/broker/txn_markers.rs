//! A partition leader's side of transactions: the commit and abort markers a transaction
//! coordinator asks it to write, and (KIP-890 part 1) the coordinator's answer to its
//! verification of a transactional produce.

use super::Broker;
use crate::effect::Output;
use crate::ids::{Millis, NodeId};
use crate::txn::{TxnMarker, TxnResponse};

impl Broker {
    /// WriteTxnMarkers: append each marker to its partition as an acks=all write.
    pub(super) fn on_write_txn_markers(
        &mut self,
        _now: Millis,
        _from: NodeId,
        _correlation_id: u64,
        _markers: Vec<TxnMarker>,
        _out: &mut Vec<Output>,
    ) {
    }

    /// A transaction coordinator's answer to this leader's verification of a produce.
    pub(super) fn on_txn_verified(
        &mut self,
        _now: Millis,
        _from: NodeId,
        _correlation_id: u64,
        _response: TxnResponse,
        _out: &mut Vec<Output>,
    ) {
    }
}

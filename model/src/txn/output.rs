//! What the transaction coordinator asks its driver to do: answer a client, write a record
//! to its `__transaction_state` partition, send markers to a partition leader.

use super::log_records::TxnLogRecord;
use super::protocol::{TxnMarker, TxnResponse};
use crate::group::ClientRef;
use crate::ids::{BrokerId, ProducerEpoch, ProducerId};
use crate::protocol::ErrorCode;
use serde::{Deserialize, Serialize};

/// Names one write to `__transaction_state` until the driver reports its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxnWriteId(pub u64);

/// Names one WriteTxnMarkers request until its answer (or its timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MarkerRequestId(pub u64);

/// One effect of handling an input, to be carried out in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOutput {
    /// The answer to a transactional InitProducerId.
    InitProducerId {
        to: ClientRef,
        result: Result<(ProducerId, ProducerEpoch), ErrorCode>,
    },
    /// The answer to a [`super::TxnRequest`].
    Respond {
        to: ClientRef,
        response: TxnResponse,
    },
    /// Append `record` to the coordinator's partition with acks=all, then call
    /// [`super::TransactionCoordinator::write_completed`] with `write` and the outcome.
    Write {
        write: TxnWriteId,
        record: TxnLogRecord,
    },
    /// Send WriteTxnMarkers to broker `to`, then hand its answer to
    /// [`super::TransactionCoordinator::markers_answered`] with `request` (or nothing:
    /// the coordinator sends again after its request timeout).
    SendMarkers {
        request: MarkerRequestId,
        to: BrokerId,
        markers: Vec<TxnMarker>,
    },
    /// A decision worth a line in the trace.
    Note(String),
}

//! What waits on a transaction coordinator's write to `__transaction_state`: the
//! transition it makes, and who is answered (and how) once it is durable or has failed.

use super::metadata::TransactionMetadata;
use super::output::{TxnOutput, TxnWriteId};
use super::protocol::TxnResponse;
use crate::group::ClientRef;
use crate::ids::{ProducerEpoch, ProducerId, TopicPartition};
use crate::protocol::ErrorCode;

/// Who waits on a pending write, and what they are told once it is durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Reply {
    /// The coordinator's own transition (a timeout's abort, a transaction's completion).
    Nobody,
    /// InitProducerId: the id and epoch written.
    Init(ClientRef),
    /// InitProducerId that found a transaction open and aborts it first: told
    /// CONCURRENT_TRANSACTIONS, so that it asks again once the abort completed.
    InitAfterFence(ClientRef),
    AddPartitions(ClientRef, Vec<TopicPartition>),
    AddOffsets(ClientRef),
    EndTxn(ClientRef),
}

impl Reply {
    /// The answer for `result`: the producer id and epoch written (which only an init's
    /// answer carries), or why not.
    pub(super) fn answer(
        self,
        result: Result<(ProducerId, ProducerEpoch), ErrorCode>,
    ) -> Option<TxnOutput> {
        let granted = result;
        let result = granted.map(|_| ());
        Some(match self {
            Reply::Nobody => return None,
            Reply::Init(to) => TxnOutput::InitProducerId {
                to,
                result: granted,
            },
            Reply::InitAfterFence(to) => TxnOutput::InitProducerId {
                to,
                result: Err(result.err().unwrap_or(ErrorCode::ConcurrentTransactions)),
            },
            Reply::AddPartitions(to, partitions) => TxnOutput::Respond {
                to,
                response: TxnResponse::AddPartitions {
                    results: partitions.into_iter().map(|tp| (tp, result)).collect(),
                },
            },
            Reply::AddOffsets(to) => TxnOutput::Respond {
                to,
                response: TxnResponse::AddOffsets { result },
            },
            Reply::EndTxn(to) => TxnOutput::Respond {
                to,
                response: TxnResponse::EndTxn { result },
            },
        })
    }
}

/// A transition written and not yet confirmed.
#[derive(Clone, Debug)]
pub(super) struct Pending {
    pub(super) write: TxnWriteId,
    pub(super) target: TransactionMetadata,
    pub(super) reply: Reply,
}

//! One transactional id's state as the coordinator holds it (Kafka's TransactionMetadata),
//! and the transitions between its states: each returns the metadata to write, never
//! changing the current one, because a transition takes effect only once its record is
//! durable in `__transaction_state`.

use super::log_records::{TxnLogRecord, TxnState};
use super::TransactionalId;
use crate::ids::{Millis, ProducerEpoch, ProducerId, TopicPartition};
use crate::protocol::ErrorCode;
use std::collections::BTreeSet;

/// What the coordinator knows of one transactional id, as its last durable record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionMetadata {
    pub producer_id: ProducerId,
    pub producer_epoch: ProducerEpoch,
    pub transaction_timeout_ms: u64,
    pub state: TxnState,
    pub partitions: BTreeSet<TopicPartition>,
    pub txn_start_ms: Millis,
    pub last_update_ms: Millis,
}

impl TransactionMetadata {
    /// A new id's first metadata: epoch 0, no transaction.
    pub fn initial(producer_id: ProducerId, transaction_timeout_ms: u64, now: Millis) -> Self {
        TransactionMetadata {
            producer_id,
            producer_epoch: ProducerEpoch(0),
            transaction_timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            txn_start_ms: now,
            last_update_ms: now,
        }
    }

    pub fn from_record(record: &TxnLogRecord) -> Self {
        TransactionMetadata {
            producer_id: record.producer_id,
            producer_epoch: record.producer_epoch,
            transaction_timeout_ms: record.transaction_timeout_ms,
            state: record.state,
            partitions: record.partitions.iter().cloned().collect(),
            txn_start_ms: record.txn_start_ms,
            last_update_ms: record.last_update_ms,
        }
    }

    pub fn to_record(&self, transactional_id: &TransactionalId) -> TxnLogRecord {
        TxnLogRecord {
            transactional_id: transactional_id.clone(),
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            transaction_timeout_ms: self.transaction_timeout_ms,
            state: self.state,
            partitions: self.partitions.iter().cloned().collect(),
            txn_start_ms: self.txn_start_ms,
            last_update_ms: self.last_update_ms,
        }
    }

    /// Whether a request naming `producer_id` and `producer_epoch` comes from the id's
    /// current instance: another producer id is not this id's (INVALID_PRODUCER_ID_MAPPING),
    /// another epoch is a fenced instance's (PRODUCER_FENCED), as Kafka checks both.
    pub fn check_producer(
        &self,
        producer_id: ProducerId,
        producer_epoch: ProducerEpoch,
    ) -> Result<(), ErrorCode> {
        if producer_id != self.producer_id {
            Err(ErrorCode::InvalidProducerIdMapping)
        } else if producer_epoch != self.producer_epoch {
            Err(ErrorCode::ProducerFenced)
        } else {
            Ok(())
        }
    }

    /// A new instance of the id (InitProducerId with no transaction open): the epoch bumps,
    /// fencing every earlier instance. `None` when the epoch is exhausted, so the caller
    /// hands out a fresh producer id instead (as Kafka does).
    pub fn reinitialized(&self, transaction_timeout_ms: u64, now: Millis) -> Option<Self> {
        let epoch = self.producer_epoch.0.checked_add(1)?;
        Some(TransactionMetadata {
            producer_epoch: ProducerEpoch(epoch),
            transaction_timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            last_update_ms: now,
            ..self.clone()
        })
    }

    /// AddPartitions (or AddOffsets): the transaction begins if none is open, and holds
    /// `partitions` too.
    pub fn with_partitions(&self, partitions: &[TopicPartition], now: Millis) -> Self {
        let mut next = self.clone();
        if self.state.is_idle() {
            next.partitions.clear();
            next.txn_start_ms = now;
        }
        next.state = TxnState::Ongoing;
        next.partitions.extend(partitions.iter().cloned());
        next.last_update_ms = now;
        next
    }

    /// EndTxn of the open transaction: PrepareCommit or PrepareAbort.
    pub fn prepared(&self, commit: bool, now: Millis) -> Self {
        TransactionMetadata {
            state: if commit {
                TxnState::PrepareCommit
            } else {
                TxnState::PrepareAbort
            },
            last_update_ms: now,
            ..self.clone()
        }
    }

    /// The coordinator aborts the open transaction itself (a new instance's init, a
    /// timeout): the epoch bumps so that the instance that opened it is fenced, and the
    /// markers carry the bumped epoch. Exhausting the epoch here is not modelled: it stays
    /// at its maximum.
    pub fn fenced_abort(&self, now: Millis) -> Self {
        TransactionMetadata {
            producer_epoch: ProducerEpoch(self.producer_epoch.0.saturating_add(1)),
            ..self.prepared(false, now)
        }
    }

    /// Every marker is written: CompleteCommit or CompleteAbort, the partitions forgotten.
    pub fn completed(&self, now: Millis) -> Self {
        TransactionMetadata {
            state: if self.state == TxnState::PrepareCommit {
                TxnState::CompleteCommit
            } else {
                TxnState::CompleteAbort
            },
            partitions: BTreeSet::new(),
            last_update_ms: now,
            ..self.clone()
        }
    }

    /// Whether the open transaction outlived its `transaction.timeout.ms`.
    pub fn timed_out(&self, now: Millis) -> bool {
        self.state == TxnState::Ongoing
            && now
                > self
                    .txn_start_ms
                    .saturating_add(self.transaction_timeout_ms)
    }

    /// The answer to an EndTxn that finds no open transaction: a retry of the one that
    /// ended is told it ended (once its markers are written: until then
    /// CONCURRENT_TRANSACTIONS, so that it asks again), anything else INVALID_TXN_STATE.
    pub fn end_without_open_txn(&self, commit: bool) -> Result<(), ErrorCode> {
        match (self.state, commit) {
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(()),
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(ErrorCode::ConcurrentTransactions)
            }
            _ => Err(ErrorCode::InvalidTxnState),
        }
    }
}

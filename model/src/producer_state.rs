//! The broker's memory of producers on one partition (Kafka's ProducerStateManager): per
//! producer id its epoch and last few batches (KIP-98: a retried batch is acknowledged once,
//! a gap refused), its open transaction and the last coordinator epoch of its markers, and
//! the partition's transactions (`producer_state/transactions.rs`: the aborted index, the
//! last stable offset).

use crate::ids::{Offset, ProducerEpoch, ProducerId};
use crate::protocol::ErrorCode;
use crate::record::{ControlMarker, ProducerStamp, RecordBatch, TxnPart};
use std::collections::{BTreeMap, VecDeque};

mod transactions;
#[cfg(test)]
mod transactions_tests;

pub use transactions::{AbortedRange, TxnIndex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BatchMetadata {
    first_sequence: u32,
    last_sequence: u32,
    base_offset: Offset,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ProducerEntry {
    epoch: ProducerEpoch,
    batches: VecDeque<BatchMetadata>,
    /// The first offset of the producer's open transaction on this partition, if one is.
    open_txn_first: Option<Offset>,
    /// The coordinator epoch of the last marker written for this producer: an older one is
    /// a deposed coordinator's.
    coordinator_epoch: Option<u32>,
}

/// What to do with an incoming batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Append,
    /// Already in the log at this base offset: acknowledge without appending.
    Duplicate(Offset),
    Reject(ErrorCode),
}

/// Producer state of one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerStateTable {
    producers: BTreeMap<ProducerId, ProducerEntry>,
    remembered: usize,
    txns: TxnIndex,
    /// KIP-890's verification guards: a producer whose produce this leader is verifying
    /// with the coordinator, with the guard the held append must still find. A marker for
    /// the producer takes it away, so that an append verified before the marker is refused.
    /// Not rebuilt from the log: a guard lives only as long as the leader's memory.
    verifications: BTreeMap<ProducerId, u64>,
    verifications_started: u64,
}

impl ProducerStateTable {
    pub fn new(remembered: usize) -> Self {
        ProducerStateTable {
            producers: BTreeMap::new(),
            remembered: remembered.max(1),
            txns: TxnIndex::default(),
            verifications: BTreeMap::new(),
            verifications_started: 0,
        }
    }

    /// The state a log's batches leave, replayed oldest first, with the ended transactions
    /// below `high_watermark` forgotten.
    pub fn rebuilt<'a>(
        remembered: usize,
        batches: impl Iterator<Item = &'a RecordBatch>,
        high_watermark: Offset,
    ) -> Self {
        let mut table = ProducerStateTable::new(remembered);
        for batch in batches {
            table.update(batch);
        }
        table.txns.replicated_to(high_watermark);
        table
    }

    /// The partition's transactions: open ones, the aborted index.
    pub fn txns(&self) -> &TxnIndex {
        &self.txns
    }

    pub fn txns_mut(&mut self) -> &mut TxnIndex {
        &mut self.txns
    }

    /// Whether `producer` has a transaction open on this partition.
    pub fn has_open_txn(&self, producer: ProducerId) -> bool {
        self.producers
            .get(&producer)
            .is_some_and(|e| e.open_txn_first.is_some())
    }

    /// Decides whether a marker for `stamp`'s producer may be written. Markers carry no
    /// sequence; the epoch and the coordinator epoch fence them.
    pub fn check_marker(
        &self,
        stamp: &ProducerStamp,
        marker: &ControlMarker,
    ) -> Result<(), ErrorCode> {
        let Some(entry) = self.producers.get(&stamp.producer_id) else {
            return Ok(());
        };
        if stamp.producer_epoch < entry.epoch {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        if entry
            .coordinator_epoch
            .is_some_and(|seen| marker.coordinator_epoch < seen)
        {
            return Err(ErrorCode::TransactionCoordinatorFenced);
        }
        Ok(())
    }

    /// KIP-890: a verification of `producer`'s produce starts; the guard its append must
    /// present. A verification already under way for the producer keeps its guard.
    pub fn start_verification(&mut self, producer: ProducerId) -> u64 {
        if let Some(guard) = self.verifications.get(&producer) {
            return *guard;
        }
        self.verifications_started += 1;
        self.verifications
            .insert(producer, self.verifications_started);
        self.verifications_started
    }

    /// Whether a verified append of `producer`'s transactional batch may go on: its
    /// transaction is open (another verified batch opened it), or its guard still stands.
    pub fn verification_holds(&self, producer: ProducerId, guard: u64) -> bool {
        self.has_open_txn(producer) || self.verifications.get(&producer) == Some(&guard)
    }

    /// Decides whether `stamp` continues its producer's sequence.
    pub fn check(&self, stamp: &ProducerStamp, record_count: u32) -> SequenceCheck {
        let last_sequence = stamp.base_sequence + record_count - 1;
        let Some(entry) = self.producers.get(&stamp.producer_id) else {
            // An unknown producer (new, or its state was lost with the log tail) must
            // start a sequence at 0.
            return if stamp.base_sequence == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::Reject(ErrorCode::OutOfOrderSequence)
            };
        };
        if stamp.producer_epoch < entry.epoch {
            return SequenceCheck::Reject(ErrorCode::InvalidProducerEpoch);
        }
        if stamp.producer_epoch > entry.epoch {
            // KIP-360: a bumped epoch restarts sequences at 0.
            return if stamp.base_sequence == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::Reject(ErrorCode::OutOfOrderSequence)
            };
        }
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_sequence == stamp.base_sequence && b.last_sequence == last_sequence)
        {
            return SequenceCheck::Duplicate(dup.base_offset);
        }
        let expected = entry.batches.back().map_or(0, |b| b.last_sequence + 1);
        if stamp.base_sequence == expected {
            SequenceCheck::Append
        } else {
            SequenceCheck::Reject(ErrorCode::OutOfOrderSequence)
        }
    }

    /// Records an appended (or recovered, or replicated) batch.
    pub fn update(&mut self, batch: &RecordBatch) {
        let Some(stamp) = batch.producer else {
            return;
        };
        let entry = self
            .producers
            .entry(stamp.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: stamp.producer_epoch,
                batches: VecDeque::new(),
                open_txn_first: None,
                coordinator_epoch: None,
            });
        if stamp.producer_epoch < entry.epoch && !batch.is_control() {
            // Only a leader that does not fence epochs (`fence_producer_epochs = false`)
            // takes an older epoch's data: it joins (or opens) the producer's transaction
            // here, and leaves the newer epoch and its sequences alone, as the zombie's
            // write rides on the newer instance's transaction.
            if batch.txn == Some(TxnPart::Data) && entry.open_txn_first.is_none() {
                entry.open_txn_first = Some(batch.base_offset);
                self.txns.open(stamp.producer_id, batch.base_offset);
            }
            return;
        }
        if stamp.producer_epoch != entry.epoch {
            // A newer epoch (a bumped one, or a marker's after the coordinator aborted a
            // timed-out transaction) restarts the sequences.
            entry.epoch = stamp.producer_epoch;
            entry.batches.clear();
        }
        match batch.txn {
            Some(TxnPart::Marker(marker)) => {
                // A marker ends the open transaction (one with none open ends an empty one at
                // the marker, as Kafka's `appendEndTxnMarker`), and takes no sequence.
                let first = entry.open_txn_first.take().unwrap_or(batch.base_offset);
                entry.coordinator_epoch = Some(marker.coordinator_epoch);
                self.verifications.remove(&stamp.producer_id);
                self.txns
                    .complete(stamp.producer_id, first, batch.base_offset, marker.commit);
                return;
            }
            Some(TxnPart::Data) if entry.open_txn_first.is_none() => {
                entry.open_txn_first = Some(batch.base_offset);
                self.verifications.remove(&stamp.producer_id);
                self.txns.open(stamp.producer_id, batch.base_offset);
            }
            Some(TxnPart::Data) | None => {}
        }
        entry.batches.push_back(BatchMetadata {
            first_sequence: stamp.base_sequence,
            last_sequence: batch.last_sequence().expect("stamped batch"),
            base_offset: batch.base_offset,
        });
        while entry.batches.len() > self.remembered {
            entry.batches.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::LeaderEpoch;
    use crate::record::Record;

    fn stamped(pid: u64, epoch: u16, seq: u32, n: usize, base: u64) -> RecordBatch {
        RecordBatch {
            base_offset: Offset(base),
            leader_epoch: LeaderEpoch(0),
            producer: Some(ProducerStamp {
                producer_id: ProducerId(pid),
                producer_epoch: ProducerEpoch(epoch),
                base_sequence: seq,
            }),
            txn: None,
            records: (0..n)
                .map(|i| Record {
                    key: None,
                    value: i as u64,
                    timestamp_ms: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn duplicates_are_acknowledged_and_gaps_refused() {
        let mut table = ProducerStateTable::new(5);
        let first = stamped(7, 0, 0, 2, 10);
        assert_eq!(
            table.check(&first.producer.unwrap(), 2),
            SequenceCheck::Append
        );
        table.update(&first);
        assert_eq!(
            table.check(&first.producer.unwrap(), 2),
            SequenceCheck::Duplicate(Offset(10))
        );
        let gap = stamped(7, 0, 5, 1, 0);
        assert_eq!(
            table.check(&gap.producer.unwrap(), 1),
            SequenceCheck::Reject(ErrorCode::OutOfOrderSequence)
        );
        let next = stamped(7, 0, 2, 1, 0);
        assert_eq!(
            table.check(&next.producer.unwrap(), 1),
            SequenceCheck::Append
        );
        let fenced = stamped(7, 0, 2, 1, 0);
        table.update(&stamped(7, 1, 0, 1, 12));
        assert_eq!(
            table.check(&fenced.producer.unwrap(), 1),
            SequenceCheck::Reject(ErrorCode::InvalidProducerEpoch)
        );
    }

    #[test]
    fn only_the_last_batches_are_remembered() {
        let mut table = ProducerStateTable::new(2);
        for seq in 0..4 {
            table.update(&stamped(1, 0, seq, 1, seq as u64));
        }
        let old = stamped(1, 0, 0, 1, 0);
        assert_eq!(
            table.check(&old.producer.unwrap(), 1),
            SequenceCheck::Reject(ErrorCode::OutOfOrderSequence)
        );
    }
}

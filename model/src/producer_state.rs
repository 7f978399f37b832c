//! The broker's memory of idempotent producers (KIP-98): per producer id, its epoch and the
//! last few batches, so that a retried batch is acknowledged once and a gap is refused.

use crate::ids::{Offset, ProducerEpoch, ProducerId};
use crate::protocol::ErrorCode;
use crate::record::{ProducerStamp, RecordBatch};
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BatchMetadata {
    first_sequence: u32,
    last_sequence: u32,
    base_offset: Offset,
}

#[derive(Clone, Debug)]
struct ProducerEntry {
    epoch: ProducerEpoch,
    batches: VecDeque<BatchMetadata>,
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
#[derive(Clone, Debug, Default)]
pub struct ProducerStateTable {
    producers: BTreeMap<ProducerId, ProducerEntry>,
    remembered: usize,
}

impl ProducerStateTable {
    pub fn new(remembered: usize) -> Self {
        ProducerStateTable {
            producers: BTreeMap::new(),
            remembered: remembered.max(1),
        }
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

    /// Records an appended (or recovered) batch.
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
            });
        if stamp.producer_epoch != entry.epoch {
            entry.epoch = stamp.producer_epoch;
            entry.batches.clear();
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

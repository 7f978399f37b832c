//! A partition's transactions as its log holds them: which are open (by first offset), which
//! ended but whose marker the high watermark has not passed yet, and the aborted-transaction
//! index a read_committed fetch answers from. From these comes the last stable offset.

use crate::ids::{Offset, ProducerId};
use crate::txn::AbortedTxn;
use std::collections::BTreeMap;

/// One aborted transaction on the partition: the producer's records from `first_offset` to
/// its abort marker at `last_offset` are not to be read (Kafka's AbortedTxn index entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AbortedRange {
    pub producer_id: ProducerId,
    pub first_offset: Offset,
    /// The abort marker's offset.
    pub last_offset: Offset,
}

/// An ended transaction whose marker may not be replicated yet: until the high watermark
/// passes the marker, the transaction still holds the last stable offset back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EndedTxn {
    first_offset: Offset,
    marker_offset: Offset,
}

/// The partition's transactions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnIndex {
    /// Open transactions by first offset (Kafka's `ongoingTxns`).
    open: BTreeMap<Offset, ProducerId>,
    /// Ended transactions kept until the high watermark passes their marker (Kafka's
    /// `unreplicatedTxns`).
    ended: Vec<EndedTxn>,
    /// Aborted transactions in marker order.
    aborted: Vec<AbortedRange>,
}

impl TxnIndex {
    /// `producer`'s transaction opened at `first_offset`.
    pub(super) fn open(&mut self, producer: ProducerId, first_offset: Offset) {
        self.open.insert(first_offset, producer);
    }

    /// `producer`'s transaction from `first_offset` ended with a marker at `marker_offset`.
    pub(super) fn complete(
        &mut self,
        producer: ProducerId,
        first_offset: Offset,
        marker_offset: Offset,
        commit: bool,
    ) {
        self.open.remove(&first_offset);
        self.ended.push(EndedTxn {
            first_offset,
            marker_offset,
        });
        if !commit {
            self.aborted.push(AbortedRange {
                producer_id: producer,
                first_offset,
                last_offset: marker_offset,
            });
        }
    }

    /// Forgets the ended transactions whose marker is below `high_watermark`: they hold
    /// nothing back any more.
    pub fn replicated_to(&mut self, high_watermark: Offset) {
        self.ended.retain(|t| t.marker_offset >= high_watermark);
    }

    /// Drops the aborted transactions that end below `log_start` (retention deleted them).
    pub fn deleted_below(&mut self, log_start: Offset) {
        self.aborted.retain(|a| a.last_offset >= log_start);
    }

    /// The first offset no read_committed consumer may read yet: the first offset of the
    /// earliest open transaction, or of an ended one whose marker is not below the high
    /// watermark; the high watermark if none is. Never below `log_start`.
    pub fn last_stable_offset(&self, high_watermark: Offset, log_start: Offset) -> Offset {
        let open = self.open.keys().next().copied();
        let unreplicated = self
            .ended
            .iter()
            .filter(|t| t.marker_offset >= high_watermark)
            .map(|t| t.first_offset)
            .min();
        [open, unreplicated]
            .into_iter()
            .flatten()
            .fold(high_watermark, Offset::min)
            .max(log_start)
    }

    /// The first offset of every open transaction, oldest first.
    pub fn open_first_offsets(&self) -> impl Iterator<Item = (Offset, ProducerId)> + '_ {
        self.open.iter().map(|(o, p)| (*o, *p))
    }

    /// Every aborted transaction, in marker order.
    pub fn aborted(&self) -> &[AbortedRange] {
        &self.aborted
    }

    /// The aborted transactions a fetch of `[from, below)` may meet (Kafka's
    /// `collectAbortedTxns`): those that end at or after `from` and start before `below`.
    pub fn aborted_overlapping(&self, from: Offset, below: Offset) -> Vec<AbortedTxn> {
        let mut found: Vec<AbortedTxn> = self
            .aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < below)
            .map(|a| AbortedTxn {
                producer_id: a.producer_id,
                first_offset: a.first_offset,
            })
            .collect();
        found.sort_by_key(|a| (a.first_offset, a.producer_id));
        found
    }
}

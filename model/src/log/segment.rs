//! One segment file of a partition's log: where it starts, its size on disk, the newest
//! record timestamp it holds (for time retention), and its batches.

use crate::codec;
use crate::ids::{Millis, Offset};
use crate::record::RecordBatch;

/// One segment file and the batches it holds (kept in memory: the simulation's page cache
/// is the disk, this is the broker's view of it).
#[derive(Clone, Debug)]
pub(super) struct Segment {
    pub(super) base_offset: Offset,
    pub(super) path: String,
    pub(super) size_bytes: u64,
    /// The newest record timestamp in the segment (Kafka's `largestTimestamp`): the segment
    /// expires once this is older than `retention.ms`. `None` while the segment is empty.
    pub(super) max_timestamp_ms: Option<Millis>,
    pub(super) batches: Vec<RecordBatch>,
}

impl Segment {
    pub(super) fn new(base_offset: Offset, path: String) -> Self {
        Segment {
            base_offset,
            path,
            size_bytes: 0,
            max_timestamp_ms: None,
            batches: Vec::new(),
        }
    }

    /// Adds a batch whose frame on disk is `frame_len` bytes long.
    pub(super) fn push(&mut self, batch: RecordBatch, frame_len: u64) {
        self.size_bytes += frame_len;
        self.max_timestamp_ms = self.max_timestamp_ms.max(max_timestamp(&batch));
        self.batches.push(batch);
    }

    /// Keeps the first `keep` batches; size and newest timestamp follow what is left.
    pub(super) fn truncate_batches(&mut self, keep: usize) {
        self.batches.truncate(keep);
        self.size_bytes = self
            .batches
            .iter()
            .map(|b| codec::encode_batch(b).len() as u64)
            .sum();
        self.max_timestamp_ms = self.batches.iter().filter_map(max_timestamp).max();
    }
}

/// The newest record timestamp of a batch. Kafka keeps it in the batch header; here it is
/// derived from the records, which carry the producer's create time.
fn max_timestamp(batch: &RecordBatch) -> Option<Millis> {
    batch.records.iter().map(|r| r.timestamp_ms).max()
}

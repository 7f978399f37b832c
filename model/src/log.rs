//! A partition's log: segmented, appended through disk operations, cut by retention
//! (`log/retention.rs`) and recovered from disk after a crash (`log/recovery.rs`).

mod recovery;
mod retention;
mod segment;
#[cfg(test)]
mod tests;

pub use recovery::RecoveryReport;
pub use retention::RetentionReport;

use crate::codec;
use crate::config::LogConfig;
use crate::effect::DiskOp;
use crate::ids::{LeaderEpoch, Offset, TopicPartition};
use crate::record::RecordBatch;
use segment::Segment;
use thiserror::Error;

/// Why a replicated batch cannot be appended, or a read cannot be served.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LogError {
    /// The batch does not start at the log end: a fetch answer for another position.
    #[error("batch starts at {got}, the log ends at {expected}")]
    NotContiguous { expected: Offset, got: Offset },
    #[error("empty batch at {at}")]
    EmptyBatch { at: Offset },
    /// The offset is below the log start (retention deleted it) or past the log end:
    /// Kafka's OFFSET_OUT_OF_RANGE, after which a consumer resets by `auto.offset.reset`.
    #[error("offset {offset} is outside the log [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        offset: Offset,
        log_start: Offset,
        log_end: Offset,
    },
}

/// The log of one partition replica.
#[derive(Clone, Debug)]
pub struct Log {
    tp: TopicPartition,
    config: LogConfig,
    segments: Vec<Segment>,
    log_end_offset: Offset,
    log_start_offset: Offset,
    /// Records appended since the last fsync, for `flush.messages`.
    unflushed_records: u64,
}

impl Log {
    pub fn new(tp: TopicPartition, config: LogConfig) -> Self {
        Log {
            tp,
            config,
            segments: Vec::new(),
            log_end_offset: Offset(0),
            log_start_offset: Offset(0),
            unflushed_records: 0,
        }
    }

    /// The directory holding this partition's segments, as Kafka names it.
    pub fn dir(tp: &TopicPartition) -> String {
        format!("{}-{}", tp.topic, tp.partition)
    }

    fn segment_path(&self, base_offset: Offset) -> String {
        format!("{}/{:020}.log", Log::dir(&self.tp), base_offset.0)
    }

    pub fn tp(&self) -> &TopicPartition {
        &self.tp
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// LEO: the offset the next appended record gets.
    pub fn log_end_offset(&self) -> Offset {
        self.log_end_offset
    }

    /// The first offset still in the log: it rises when retention deletes segments.
    pub fn log_start_offset(&self) -> Offset {
        self.log_start_offset
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The base offset of every segment, oldest first (the last is the active segment).
    pub fn segment_base_offsets(&self) -> Vec<Offset> {
        self.segments.iter().map(|s| s.base_offset).collect()
    }

    /// The log's size on disk, active segment included (what `retention.bytes` bounds).
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size_bytes).sum()
    }

    /// Where the batch starting at `base_offset` lies on disk: its segment file, and the
    /// byte range of its frame there.
    pub fn locate(&self, base_offset: Offset) -> Option<(&str, std::ops::Range<usize>)> {
        let index = self
            .segments
            .partition_point(|s| s.base_offset <= base_offset)
            .checked_sub(1)?;
        let segment = &self.segments[index];
        let mut pos = 0usize;
        for batch in &segment.batches {
            let len = codec::encode_batch(batch).len();
            if batch.base_offset == base_offset {
                return Some((&segment.path, pos..pos + len));
            }
            pos += len;
        }
        None
    }

    pub fn batches(&self) -> impl Iterator<Item = &RecordBatch> {
        self.segments.iter().flat_map(|s| s.batches.iter())
    }

    /// Appends a batch at the log end, stamping its base offset and leader epoch, and
    /// returns the disk operations that make it so (append, and fsync per `flush.messages`).
    pub fn append(&mut self, mut batch: RecordBatch, epoch: LeaderEpoch) -> (Offset, Vec<DiskOp>) {
        assert!(!batch.records.is_empty(), "appending an empty batch");
        batch.base_offset = self.log_end_offset;
        batch.leader_epoch = epoch;
        let base = batch.base_offset;
        (base, self.write_stamped(batch))
    }

    /// Appends a batch copied from the leader as it is: its offsets and leader epoch are
    /// the leader's, so that the replicas' logs stay identical (LogMatching).
    pub fn append_replicated(&mut self, batch: RecordBatch) -> Result<Vec<DiskOp>, LogError> {
        if batch.records.is_empty() {
            return Err(LogError::EmptyBatch {
                at: batch.base_offset,
            });
        }
        if batch.base_offset != self.log_end_offset {
            return Err(LogError::NotContiguous {
                expected: self.log_end_offset,
                got: batch.base_offset,
            });
        }
        Ok(self.write_stamped(batch))
    }

    /// Writes a batch whose base offset is the log end, rolling the segment when full.
    fn write_stamped(&mut self, batch: RecordBatch) -> Vec<DiskOp> {
        debug_assert_eq!(batch.base_offset, self.log_end_offset);
        let bytes = codec::encode_batch(&batch);
        let mut ops = Vec::with_capacity(3);
        let needs_roll = match self.segments.last() {
            None => true,
            // An empty active segment takes any batch: rolling it would reuse its name.
            Some(active) => {
                !active.batches.is_empty()
                    && active.size_bytes + bytes.len() as u64 > self.config.segment_bytes
            }
        };
        if needs_roll {
            if let Some(active) = self.segments.last() {
                // Kafka flushes a segment once it is no longer active.
                ops.push(DiskOp::Fsync {
                    path: active.path.clone(),
                });
            }
            let path = self.segment_path(self.log_end_offset);
            self.segments.push(Segment::new(self.log_end_offset, path));
        }
        let active = self
            .segments
            .last_mut()
            .expect("a segment was just ensured");
        let frame_len = bytes.len() as u64;
        ops.push(DiskOp::Append {
            path: active.path.clone(),
            bytes,
        });
        self.log_end_offset = batch.next_offset();
        self.unflushed_records += batch.records.len() as u64;
        active.push(batch, frame_len);
        self.flush_if_due(&mut ops);
        ops
    }

    /// Fsyncs the active segment once `flush.messages` records are unflushed.
    fn flush_if_due(&mut self, ops: &mut Vec<DiskOp>) {
        let (Some(every), Some(active)) = (self.config.flush_messages, self.segments.last()) else {
            return;
        };
        if self.unflushed_records >= every {
            ops.push(DiskOp::Fsync {
                path: active.path.clone(),
            });
            self.unflushed_records = 0;
        }
    }

    /// Removes every record at or after `end`. A follower cuts the suffix where its log
    /// diverges from its leader's (KIP-101/KIP-279) before fetching again, so that
    /// records of a deposed leader never survive next to the new leader's.
    pub fn truncate_to(&mut self, end: Offset) -> Vec<DiskOp> {
        if end >= self.log_end_offset {
            return Vec::new();
        }
        if end <= self.log_start_offset {
            // Nothing below `end` is left.
            return self.reset_to(end);
        }
        let mut ops = Vec::new();
        let old_end = self.log_end_offset;
        while self.segments.last().is_some_and(|s| s.base_offset >= end) {
            let segment = self.segments.pop().expect("checked non-empty");
            ops.push(DiskOp::Delete { path: segment.path });
        }
        let segment = self
            .segments
            .last_mut()
            .expect("`end` is above the log start, so the first segment holds offsets below it");
        let whole = segment.batches.partition_point(|b| b.next_offset() <= end);
        let straddling = segment
            .batches
            .get(whole)
            .filter(|b| b.base_offset < end)
            .cloned();
        let old_size = segment.size_bytes;
        segment.truncate_batches(whole);
        let cut_from = straddling.as_ref().map_or(end, |b| b.base_offset);
        if segment.size_bytes < old_size {
            ops.push(DiskOp::Truncate {
                path: segment.path.clone(),
                len: segment.size_bytes,
            });
        }
        // Records cut from disk no longer wait for a flush; rewritten ones do again.
        self.unflushed_records = self
            .unflushed_records
            .saturating_sub(old_end.0 - cut_from.0);
        if let Some(mut partial) = straddling {
            // A batch is the unit on disk: its records below `end` are written anew.
            partial
                .records
                .truncate((end.0 - partial.base_offset.0) as usize);
            let bytes = codec::encode_batch(&partial);
            ops.push(DiskOp::Append {
                path: segment.path.clone(),
                bytes: bytes.clone(),
            });
            self.unflushed_records += partial.records.len() as u64;
            segment.push(partial, bytes.len() as u64);
        }
        self.log_end_offset = end;
        self.flush_if_due(&mut ops);
        ops
    }

    /// Empties the log and restarts it at `start` (Kafka's `truncateFullyAndStartAt`): a
    /// follower does this when its whole log lies outside its leader's (below the leader's
    /// log start, or diverged before it). An empty segment file named after `start` stays
    /// on disk so that recovery restarts the log there too, not at zero.
    pub fn reset_to(&mut self, start: Offset) -> Vec<DiskOp> {
        let mut ops: Vec<DiskOp> = self
            .segments
            .drain(..)
            .map(|s| DiskOp::Delete { path: s.path })
            .collect();
        let path = self.segment_path(start);
        ops.push(DiskOp::Append {
            path: path.clone(),
            bytes: Vec::new(),
        });
        ops.push(DiskOp::Fsync { path: path.clone() });
        self.segments.push(Segment::new(start, path));
        self.log_start_offset = start;
        self.log_end_offset = start;
        self.unflushed_records = 0;
        ops
    }

    /// Whether a reader may start at `offset`: anywhere from the log start to the log end.
    /// Below the log start the records are gone (retention), which a reader must learn
    /// rather than silently skip.
    pub fn check_read_offset(&self, offset: Offset) -> Result<(), LogError> {
        if offset < self.log_start_offset || offset > self.log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end: self.log_end_offset,
            });
        }
        Ok(())
    }

    /// [`Log::read`], refused with `OffsetOutOfRange` outside the log.
    pub fn read_checked(
        &self,
        from: Offset,
        below: Offset,
        max_records: usize,
    ) -> Result<Vec<RecordBatch>, LogError> {
        self.check_read_offset(from)?;
        Ok(self.read(from, below, max_records))
    }

    /// Whole batches from the one holding `from` up to the log end, stopping once about
    /// `max_records` records are collected (at least one batch if any). A leader serves
    /// its followers past the high watermark: that is how the high watermark advances.
    /// Below the log start it would serve from the first segment, records the follower
    /// cannot place: a leader answers such a fetch with its log start instead.
    pub fn batches_from(&self, from: Offset, max_records: usize) -> Vec<RecordBatch> {
        let first_segment = self
            .segments
            .partition_point(|s| s.base_offset <= from)
            .saturating_sub(1);
        let mut out = Vec::new();
        let mut count = 0;
        let batches = self.segments[first_segment..]
            .iter()
            .flat_map(|s| s.batches.iter())
            .skip_while(|b| b.next_offset() <= from);
        for batch in batches {
            out.push(batch.clone());
            count += batch.records.len();
            if count >= max_records {
                break;
            }
        }
        out
    }

    /// Whole batches holding offsets in `[from, below)`, at most about `max_records`
    /// records. Kafka returns whole batches too; the reader skips what lies before `from`.
    /// Below the log start it serves from the log start: use [`Log::read_checked`] to be
    /// told instead.
    /// Whole batches from `from` that end at or below `below` (a read_committed read, whose
    /// bound, the last stable offset, no batch may cross), up to about `max_records`.
    pub fn read_whole(&self, from: Offset, below: Offset, max_records: usize) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        let mut count = 0;
        for batch in self.batches() {
            if batch.next_offset() <= from {
                continue;
            }
            if batch.next_offset() > below || count >= max_records {
                break;
            }
            count += batch.records.len();
            out.push(batch.clone());
        }
        out
    }

    pub fn read(&self, from: Offset, below: Offset, max_records: usize) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        let mut count = 0;
        for batch in self.batches() {
            if batch.next_offset() <= from {
                continue;
            }
            if batch.base_offset >= below || count >= max_records {
                break;
            }
            if batch.next_offset() > below {
                // Only the part below the high watermark may be read.
                let keep = (below.0 - batch.base_offset.0) as usize;
                let mut cut = batch.clone();
                cut.records.truncate(keep);
                out.push(cut);
                break;
            }
            count += batch.records.len();
            out.push(batch.clone());
        }
        out
    }
}

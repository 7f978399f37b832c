//! A partition's log: segmented, appended through disk operations, recovered from disk
//! after a crash by cutting at the first torn or corrupt batch.

use crate::codec;
use crate::config::LogConfig;
use crate::effect::DiskOp;
use crate::ids::{LeaderEpoch, Offset, TopicPartition};
use crate::record::RecordBatch;
use thiserror::Error;

/// Why a replicated batch cannot be appended.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LogError {
    /// The batch does not start at the log end: a fetch answer for another position.
    #[error("batch starts at {got}, the log ends at {expected}")]
    NotContiguous { expected: Offset, got: Offset },
    #[error("empty batch at {at}")]
    EmptyBatch { at: Offset },
}

/// One segment file and the batches it holds (kept in memory: the simulation's page cache
/// is the disk, this is the broker's view of it).
#[derive(Clone, Debug)]
struct Segment {
    base_offset: Offset,
    path: String,
    size_bytes: u64,
    batches: Vec<RecordBatch>,
}

/// What recovery found and did, for the trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub batches: usize,
    /// Bytes cut from torn or corrupt tails, and from segments after a cut.
    pub bytes_truncated: u64,
    pub segments_deleted: usize,
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

    /// LEO: the offset the next appended record gets.
    pub fn log_end_offset(&self) -> Offset {
        self.log_end_offset
    }

    pub fn log_start_offset(&self) -> Offset {
        self.log_start_offset
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
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
            Some(active) => active.size_bytes + bytes.len() as u64 > self.config.segment_bytes,
        };
        if needs_roll {
            if let Some(active) = self.segments.last() {
                // Kafka flushes a segment once it is no longer active.
                ops.push(DiskOp::Fsync {
                    path: active.path.clone(),
                });
            }
            let path = self.segment_path(self.log_end_offset);
            self.segments.push(Segment {
                base_offset: self.log_end_offset,
                path,
                size_bytes: 0,
                batches: Vec::new(),
            });
        }
        let active = self
            .segments
            .last_mut()
            .expect("a segment was just ensured");
        active.size_bytes += bytes.len() as u64;
        ops.push(DiskOp::Append {
            path: active.path.clone(),
            bytes,
        });
        self.log_end_offset = batch.next_offset();
        self.unflushed_records += batch.records.len() as u64;
        active.batches.push(batch);
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
        let mut ops = Vec::new();
        let old_end = self.log_end_offset;
        if end <= self.log_start_offset {
            // Nothing below `end` is left: the log restarts empty at `end`, as Kafka's
            // truncateFullyAndStartAt does.
            ops.extend(
                self.segments
                    .drain(..)
                    .map(|s| DiskOp::Delete { path: s.path }),
            );
            self.log_start_offset = end;
            self.log_end_offset = end;
            self.unflushed_records = 0;
            return ops;
        }
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
        segment.batches.truncate(whole);
        let kept_bytes: u64 = segment
            .batches
            .iter()
            .map(|b| codec::encode_batch(b).len() as u64)
            .sum();
        let cut_from = straddling.as_ref().map_or(end, |b| b.base_offset);
        if kept_bytes < segment.size_bytes {
            ops.push(DiskOp::Truncate {
                path: segment.path.clone(),
                len: kept_bytes,
            });
        }
        segment.size_bytes = kept_bytes;
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
            segment.size_bytes += bytes.len() as u64;
            ops.push(DiskOp::Append {
                path: segment.path.clone(),
                bytes,
            });
            self.unflushed_records += partial.records.len() as u64;
            segment.batches.push(partial);
        }
        self.log_end_offset = end;
        self.flush_if_due(&mut ops);
        ops
    }

    /// Whole batches from the one holding `from` up to the log end, stopping once about
    /// `max_records` records are collected (at least one batch if any). A leader serves
    /// its followers past the high watermark: that is how the high watermark advances.
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

    /// Rebuilds the log from the segment files found on disk. Files are `(path, bytes)`
    /// under this partition's directory. The first torn or corrupt batch, or a batch that
    /// does not continue the offsets, ends the log: the rest is cut and deleted.
    pub fn recover(
        tp: TopicPartition,
        config: LogConfig,
        mut files: Vec<(String, Vec<u8>)>,
    ) -> (Log, Vec<DiskOp>, RecoveryReport) {
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let mut log = Log::new(tp, config);
        let mut ops = Vec::new();
        let mut report = RecoveryReport::default();
        let mut cut = false;
        for (path, bytes) in files {
            if cut {
                report.bytes_truncated += bytes.len() as u64;
                report.segments_deleted += 1;
                ops.push(DiskOp::Delete { path });
                continue;
            }
            let decoded = codec::decode_segment(&bytes);
            let mut valid_len = 0u64;
            let mut batches = Vec::new();
            let mut frame_end = 0u64;
            for batch in decoded.batches {
                frame_end += codec::encode_batch(&batch).len() as u64;
                if batch.base_offset != log.log_end_offset || batch.records.is_empty() {
                    cut = true;
                    break;
                }
                log.log_end_offset = batch.next_offset();
                valid_len = frame_end;
                batches.push(batch);
            }
            if decoded.torn || valid_len < decoded.valid_len {
                cut = true;
            }
            report.batches += batches.len();
            if batches.is_empty() {
                report.bytes_truncated += bytes.len() as u64;
                report.segments_deleted += 1;
                ops.push(DiskOp::Delete { path });
                continue;
            }
            if valid_len < bytes.len() as u64 {
                report.bytes_truncated += bytes.len() as u64 - valid_len;
                ops.push(DiskOp::Truncate {
                    path: path.clone(),
                    len: valid_len,
                });
            }
            log.segments.push(Segment {
                base_offset: batches[0].base_offset,
                path,
                size_bytes: valid_len,
                batches,
            });
        }
        if let Some(first) = log.segments.first() {
            log.log_start_offset = first.base_offset;
        }
        (log, ops, report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    fn batch(values: &[u64]) -> RecordBatch {
        RecordBatch {
            base_offset: Offset(0),
            leader_epoch: LeaderEpoch(0),
            producer: None,
            records: values
                .iter()
                .map(|&value| Record {
                    key: Some(format!("k{value}")),
                    value,
                    timestamp_ms: 0,
                })
                .collect(),
        }
    }

    fn apply(files: &mut Vec<(String, Vec<u8>)>, ops: &[DiskOp]) {
        for op in ops {
            match op {
                DiskOp::Append { path, bytes } => match files.iter_mut().find(|f| &f.0 == path) {
                    Some(file) => file.1.extend_from_slice(bytes),
                    None => files.push((path.clone(), bytes.clone())),
                },
                DiskOp::Truncate { path, len } => {
                    let file = files.iter_mut().find(|f| &f.0 == path).unwrap();
                    file.1.truncate(*len as usize);
                }
                DiskOp::Delete { path } => files.retain(|f| &f.0 != path),
                DiskOp::Fsync { .. } => {}
            }
        }
    }

    fn small_log() -> Log {
        Log::new(
            TopicPartition::new("t", 0),
            LogConfig {
                segment_bytes: 200,
                flush_messages: None,
            },
        )
    }

    #[test]
    fn append_assigns_dense_offsets_and_rolls_segments() {
        let mut log = small_log();
        let mut files = Vec::new();
        for i in 0..20 {
            let (base, ops) = log.append(batch(&[i * 2, i * 2 + 1]), LeaderEpoch(3));
            assert_eq!(base, Offset(i * 2));
            apply(&mut files, &ops);
        }
        assert_eq!(log.log_end_offset(), Offset(40));
        assert!(log.segment_count() > 1, "200-byte segments must roll");
        let read = log.read(Offset(5), Offset(9), 100);
        assert_eq!(read.first().unwrap().base_offset, Offset(4));
        assert_eq!(read.last().unwrap().next_offset(), Offset(9));
    }

    #[test]
    fn recovery_restores_the_log_and_cuts_a_torn_tail() {
        let mut log = small_log();
        let mut files = Vec::new();
        for i in 0..20 {
            apply(&mut files, &log.append(batch(&[i]), LeaderEpoch(0)).1);
        }
        let (recovered, ops, report) =
            Log::recover(log.tp().clone(), log.config.clone(), files.clone());
        assert!(ops.is_empty());
        assert_eq!(report.batches, 20);
        assert_eq!(recovered.log_end_offset(), Offset(20));

        // Tear the last segment in the middle of its last batch.
        let last = files.iter_mut().max_by(|a, b| a.0.cmp(&b.0)).unwrap();
        let len = last.1.len();
        last.1.truncate(len - 3);
        let (recovered, ops, report) = Log::recover(log.tp().clone(), log.config.clone(), files);
        assert_eq!(recovered.log_end_offset(), Offset(19));
        assert!(report.bytes_truncated > 0);
        assert!(matches!(ops[0], DiskOp::Truncate { .. }));
    }

    #[test]
    fn flush_messages_one_fsyncs_every_append() {
        let mut log = Log::new(
            TopicPartition::new("t", 0),
            LogConfig {
                segment_bytes: 1 << 20,
                flush_messages: Some(1),
            },
        );
        let (_, ops) = log.append(batch(&[1]), LeaderEpoch(0));
        assert!(matches!(ops.last(), Some(DiskOp::Fsync { .. })));
        let mut async_log = small_log();
        let (_, ops) = async_log.append(batch(&[1]), LeaderEpoch(0));
        assert!(!ops.iter().any(|op| matches!(op, DiskOp::Fsync { .. })));
    }

    /// A log of 3-record batches (values = offsets) over 200-byte segments, and its files.
    fn filled_log(batches: u64) -> (Log, Vec<(String, Vec<u8>)>) {
        let mut log = small_log();
        let mut files = Vec::new();
        for i in 0..batches {
            let (_, ops) = log.append(batch(&[i * 3, i * 3 + 1, i * 3 + 2]), LeaderEpoch(i as u32));
            apply(&mut files, &ops);
        }
        (log, files)
    }

    fn values(log: &Log) -> Vec<u64> {
        log.batches()
            .flat_map(|b| b.records.iter().map(|r| r.value))
            .collect()
    }

    /// Recovery from `files` gives `log` back: same end, batches and segments.
    fn assert_recovers_to(log: &Log, files: &[(String, Vec<u8>)]) {
        let (recovered, ops, _) =
            Log::recover(log.tp().clone(), log.config.clone(), files.to_vec());
        assert!(ops.is_empty(), "nothing to repair: {ops:?}");
        assert_eq!(recovered.log_end_offset(), log.log_end_offset());
        assert_eq!(
            recovered.batches().collect::<Vec<_>>(),
            log.batches().collect::<Vec<_>>()
        );
        let layout = |l: &Log| -> Vec<(Offset, String, u64)> {
            l.segments
                .iter()
                .map(|s| (s.base_offset, s.path.clone(), s.size_bytes))
                .collect()
        };
        assert_eq!(layout(&recovered), layout(log));
    }

    #[test]
    fn truncation_mid_batch_mid_segment_and_across_segments_survives_recovery() {
        // Two batches per segment: segments start at 0, 6, 12, ... 30; the log ends at 36.
        assert_eq!(filled_log(12).0.segments[1].base_offset, Offset(6));
        let cases = [
            ("mid batch in the last segment", 34),
            ("batch boundary mid segment", 9),
            ("mid batch across segments", 7),
            ("segment boundary", 6),
            ("inside the first batch", 1),
        ];
        for (case, end) in cases {
            let (mut log, mut files) = filled_log(12);
            let ops = log.truncate_to(Offset(end));
            apply(&mut files, &ops);
            assert_eq!(log.log_end_offset(), Offset(end), "{case}");
            assert_eq!(values(&log), (0..end).collect::<Vec<_>>(), "{case}");
            assert!(
                log.batches()
                    .all(|b| b.leader_epoch.0 as u64 == b.base_offset.0 / 3),
                "{case}"
            );
            assert_recovers_to(&log, &files);
        }
    }

    #[test]
    fn truncation_to_the_log_start_or_past_the_end() {
        let (mut log, mut files) = filled_log(4);
        assert!(log.truncate_to(Offset(12)).is_empty() && log.truncate_to(Offset(99)).is_empty());
        apply(&mut files, &log.truncate_to(Offset(0)));
        assert!(files.is_empty(), "every segment deleted");
        assert_eq!((log.log_end_offset(), log.segment_count()), (Offset(0), 0));
    }

    #[test]
    fn appending_after_a_truncation_continues_at_the_new_end() {
        let (mut log, mut files) = filled_log(12);
        apply(&mut files, &log.truncate_to(Offset(7)));
        let (base, ops) = log.append(batch(&[100, 101]), LeaderEpoch(20));
        apply(&mut files, &ops);
        assert_eq!(base, Offset(7));
        let mut replicated = batch(&[102]);
        replicated.base_offset = Offset(9);
        replicated.leader_epoch = LeaderEpoch(21);
        apply(&mut files, &log.append_replicated(replicated).unwrap());
        assert_eq!(log.log_end_offset(), Offset(10));
        assert_eq!(values(&log), vec![0, 1, 2, 3, 4, 5, 6, 100, 101, 102]);
        assert_recovers_to(&log, &files);
    }

    #[test]
    fn append_replicated_keeps_the_leaders_offsets_and_epochs_and_refuses_a_gap() {
        let mut log = small_log();
        let mut files = Vec::new();
        for (base, epoch, records) in [(0, 1, &[10, 11][..]), (2, 1, &[12]), (3, 4, &[13, 14])] {
            let mut copied = batch(records);
            copied.base_offset = Offset(base);
            copied.leader_epoch = LeaderEpoch(epoch);
            apply(&mut files, &log.append_replicated(copied.clone()).unwrap());
            assert_eq!(log.batches().last(), Some(&copied));
        }
        let mut gap = batch(&[20]);
        gap.base_offset = Offset(6);
        assert_eq!(
            log.append_replicated(gap),
            Err(LogError::NotContiguous {
                expected: Offset(5),
                got: Offset(6)
            })
        );
        let mut empty = batch(&[]);
        empty.base_offset = Offset(5);
        assert_eq!(
            log.append_replicated(empty),
            Err(LogError::EmptyBatch { at: Offset(5) })
        );
        assert_eq!(log.log_end_offset(), Offset(5));
        assert_recovers_to(&log, &files);
    }

    #[test]
    fn batches_from_serves_whole_batches_up_to_the_log_end() {
        let (log, _) = filled_log(12);
        let served = log.batches_from(Offset(4), 4);
        assert_eq!(
            served.iter().map(|b| b.base_offset).collect::<Vec<_>>(),
            vec![Offset(3), Offset(6)]
        );
        assert_eq!(
            log.batches_from(Offset(33), 0).len(),
            1,
            "at least one batch"
        );
        assert_eq!(log.batches_from(Offset(0), usize::MAX).len(), 12);
        assert!(log.batches_from(Offset(36), 10).is_empty());
    }
}

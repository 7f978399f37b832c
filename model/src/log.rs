//! A partition's log: segmented, appended through disk operations, recovered from disk
//! after a crash by cutting at the first torn or corrupt batch.

use crate::codec;
use crate::config::LogConfig;
use crate::effect::DiskOp;
use crate::ids::{LeaderEpoch, Offset, TopicPartition};
use crate::record::RecordBatch;

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
        let base = batch.base_offset;
        self.log_end_offset = batch.next_offset();
        self.unflushed_records += batch.records.len() as u64;
        active.batches.push(batch);
        if let Some(every) = self.config.flush_messages {
            if self.unflushed_records >= every {
                ops.push(DiskOp::Fsync {
                    path: active.path.clone(),
                });
                self.unflushed_records = 0;
            }
        }
        (base, ops)
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
}

//! Rebuilding a partition's log from its segment files after a crash: the first torn or
//! corrupt batch ends the log, and whatever retention already deleted stays deleted.

use super::segment::Segment;
use super::Log;
use crate::codec;
use crate::config::LogConfig;
use crate::effect::DiskOp;
use crate::ids::{Offset, TopicPartition};

/// What recovery found and did, for the trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub batches: usize,
    /// Bytes cut from torn or corrupt tails, and from segments after a cut.
    pub bytes_truncated: u64,
    pub segments_deleted: usize,
}

impl Log {
    /// Rebuilds the log from the segment files found on disk. Files are `(path, bytes)`
    /// under this partition's directory. The log starts at the first batch of the oldest
    /// file: retention deletes segments oldest first, so a crash between two deletions
    /// leaves a log that merely starts lower, and the next retention pass deletes the rest.
    /// The first torn or corrupt batch, or a batch that does not continue the offsets, ends
    /// the log: the rest is cut and deleted. A lone empty file is an empty log starting at
    /// the offset its name gives (what [`Log::reset_to`] leaves on disk); at offset zero it
    /// is simply deleted, as any empty file.
    pub fn recover(
        tp: TopicPartition,
        config: LogConfig,
        mut files: Vec<(String, Vec<u8>)>,
    ) -> (Log, Vec<DiskOp>, RecoveryReport) {
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let file_count = files.len();
        let mut log = Log::new(tp, config);
        let mut ops = Vec::new();
        let mut report = RecoveryReport::default();
        let mut cut = false;
        for (index, (path, bytes)) in files.into_iter().enumerate() {
            if cut {
                report.bytes_truncated += bytes.len() as u64;
                report.segments_deleted += 1;
                ops.push(DiskOp::Delete { path });
                continue;
            }
            let decoded = codec::decode_segment(&bytes);
            let mut segment: Option<Segment> = None;
            let mut frame_end = 0u64;
            for batch in decoded.batches {
                let frame_len = codec::encode_batch(&batch).len() as u64;
                frame_end += frame_len;
                let first_of_log = log.segments.is_empty() && segment.is_none();
                if batch.records.is_empty()
                    || !(first_of_log || batch.base_offset == log.log_end_offset)
                {
                    cut = true;
                    break;
                }
                log.log_end_offset = batch.next_offset();
                segment
                    .get_or_insert_with(|| Segment::new(batch.base_offset, path.clone()))
                    .push(batch, frame_len);
            }
            let valid_len = segment.as_ref().map_or(0, |s| s.size_bytes);
            debug_assert!(valid_len <= frame_end);
            if decoded.torn || valid_len < decoded.valid_len {
                cut = true;
            }
            report.batches += segment.as_ref().map_or(0, |s| s.batches.len());
            let segment = match segment {
                Some(segment) => segment,
                None => {
                    // Only a log starting above zero needs its empty file to say so.
                    let starts_log = log.segments.is_empty() && index + 1 == file_count;
                    match base_offset_of(&path).filter(|base| starts_log && base.0 > 0) {
                        Some(base) => {
                            log.log_end_offset = base;
                            Segment::new(base, path.clone())
                        }
                        None => {
                            report.bytes_truncated += bytes.len() as u64;
                            report.segments_deleted += 1;
                            ops.push(DiskOp::Delete { path });
                            continue;
                        }
                    }
                }
            };
            if valid_len < bytes.len() as u64 {
                report.bytes_truncated += bytes.len() as u64 - valid_len;
                ops.push(DiskOp::Truncate {
                    path: path.clone(),
                    len: valid_len,
                });
            }
            log.segments.push(segment);
        }
        if let Some(first) = log.segments.first() {
            log.log_start_offset = first.base_offset;
        }
        (log, ops, report)
    }
}

/// The base offset a segment file's name gives (`.../00000000000000000042.log`).
fn base_offset_of(path: &str) -> Option<Offset> {
    let name = path.rsplit('/').next()?;
    name.strip_suffix(".log")?.parse().ok().map(Offset)
}

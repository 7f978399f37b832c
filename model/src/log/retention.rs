//! Retention: deleting a log's oldest whole segments by size (`retention.bytes`) and by age
//! (`retention.ms`), as Kafka's `UnifiedLog.deleteOldSegments` does, and moving the log
//! start offset up to the first segment left.

use super::Log;
use crate::effect::DiskOp;
use crate::ids::{Millis, Offset};

/// What one retention pass deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Segments deleted because the log was over `retention.bytes`.
    pub segments_deleted_for_size: usize,
    /// Segments deleted because their newest record was older than `retention.ms`.
    pub segments_deleted_for_time: usize,
    pub bytes_deleted: u64,
    /// The log start offset before and after the pass.
    pub log_start_before: Offset,
    pub log_start_after: Offset,
}

impl RetentionReport {
    pub fn segments_deleted(&self) -> usize {
        self.segments_deleted_for_size + self.segments_deleted_for_time
    }
}

impl Log {
    /// Deletes the oldest segments that retention no longer keeps, and returns what it did
    /// and the deletions for the disk, oldest first. Kafka's rules:
    /// - only whole segments, only a prefix of the log, never the active segment (Kafka
    ///   would roll an expired active segment first; the model leaves it to the next roll);
    /// - only segments entirely below `high_watermark`, so that the log start never passes
    ///   the high watermark and no uncommitted record is deleted;
    /// - size first: while the log without its oldest segment would still hold at least
    ///   `retention.bytes`, that segment goes (so the log keeps at least `retention.bytes`);
    /// - then time: a segment goes when `now_ms - (its newest record timestamp) >
    ///   retention.ms`. Timestamps are the producers' create times, so a record stamped in
    ///   the future (a skewed client clock) keeps its segment, as in Kafka.
    ///
    /// The log start offset rises to the first segment left. A crash part way through the
    /// deletions leaves the oldest ones done: recovery starts the log at the first segment
    /// still on disk, and the next pass deletes the rest.
    pub fn apply_retention(
        &mut self,
        now_ms: Millis,
        high_watermark: Offset,
    ) -> (RetentionReport, Vec<DiskOp>) {
        let mut report = RetentionReport {
            log_start_before: self.log_start_offset,
            ..RetentionReport::default()
        };
        let mut ops = Vec::new();
        if let Some(retention_bytes) = self.config.retention_bytes {
            let mut excess_bytes = self.size_bytes().checked_sub(retention_bytes);
            report.segments_deleted_for_size = self.delete_oldest_while(
                high_watermark,
                &mut report.bytes_deleted,
                &mut ops,
                |segment_size, _| match excess_bytes {
                    Some(excess) if excess >= segment_size => {
                        excess_bytes = Some(excess - segment_size);
                        true
                    }
                    _ => false,
                },
            );
        }
        let retention_ms = self.config.retention_ms;
        report.segments_deleted_for_time = self.delete_oldest_while(
            high_watermark,
            &mut report.bytes_deleted,
            &mut ops,
            |_, max_timestamp_ms| {
                max_timestamp_ms.is_some_and(|newest| now_ms.saturating_sub(newest) > retention_ms)
            },
        );
        report.log_start_after = self.log_start_offset;
        (report, ops)
    }

    /// The earliest time at which [`Log::apply_retention`] would delete something, with
    /// the log and high watermark as they are (`Some(0)`: at once); `None` if it never
    /// would. Both rules start from the oldest segment, so it is enough to ask about that
    /// one. A broker wakes for a retention check only then, so that an idle timer never
    /// adds events to a run.
    pub fn retention_due_ms(&self, high_watermark: Offset) -> Option<Millis> {
        let (oldest, next) = (self.segments.first()?, self.segments.get(1)?);
        if next.base_offset > high_watermark {
            return None;
        }
        let over_size = self
            .config
            .retention_bytes
            .and_then(|retention| self.size_bytes().checked_sub(retention))
            .is_some_and(|excess| excess >= oldest.size_bytes);
        if over_size {
            return Some(0);
        }
        // Expired once strictly older than retention.ms.
        oldest
            .max_timestamp_ms?
            .checked_add(self.config.retention_ms)?
            .checked_add(1)
    }

    /// Deletes the whole segments that lie below `offset` (never the active one), raising
    /// the log start to the first segment left, which may stay below `offset`: a follower
    /// does this with its leader's log start. Returns how many segments went, and the
    /// deletions for the disk.
    pub fn delete_segments_below(&mut self, offset: Offset) -> (usize, Vec<DiskOp>) {
        let mut ops = Vec::new();
        let mut bytes_deleted = 0;
        let deleted = self.delete_oldest_while(offset, &mut bytes_deleted, &mut ops, |_, _| true);
        (deleted, ops)
    }

    /// Deletes segments from the oldest while `expired(size_bytes, max_timestamp_ms)` says
    /// so, stopping at the active segment or at the first one reaching `high_watermark`.
    fn delete_oldest_while(
        &mut self,
        high_watermark: Offset,
        bytes_deleted: &mut u64,
        ops: &mut Vec<DiskOp>,
        mut expired: impl FnMut(u64, Option<Millis>) -> bool,
    ) -> usize {
        let mut deleted = 0;
        while self.segments.len() > 1 {
            let next_base = self.segments[1].base_offset;
            let oldest = &self.segments[0];
            if next_base > high_watermark || !expired(oldest.size_bytes, oldest.max_timestamp_ms) {
                break;
            }
            let oldest = self.segments.remove(0);
            // Kafka raises the log start before it deletes, so no reader is served a
            // segment on its way out.
            self.log_start_offset = next_base;
            *bytes_deleted += oldest.size_bytes;
            ops.push(DiskOp::Delete { path: oldest.path });
            deleted += 1;
        }
        deleted
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{apply, batch_at};
    use super::super::LogError;
    use super::*;
    use crate::config::LogConfig;
    use crate::disk::MemDisk;
    use crate::ids::{LeaderEpoch, TopicPartition};

    const HOUR_MS: u64 = 3_600_000;
    const DAY_MS: u64 = 24 * HOUR_MS;
    const WEEK_MS: u64 = 7 * DAY_MS;

    fn log_with(config: LogConfig) -> Log {
        Log::new(TopicPartition::new("t", 0), config)
    }

    /// One 2-record batch per hour for `hours` hours, stamped with its hour; segments of
    /// exactly 12 batches (half a day), so segment `i` holds hours `12i..12i+12`. Values
    /// (and so keys) have the same length, so that every batch has the same size.
    fn hourly(config: LogConfig, hours: u64) -> (Log, MemDisk) {
        const BASE: u64 = 100_000;
        let frame = crate::codec::encode_batch(&batch_at(&[BASE, BASE], 0)).len() as u64;
        let mut log = log_with(LogConfig {
            segment_bytes: 12 * frame,
            ..config
        });
        let mut files = MemDisk::default();
        for hour in 0..hours {
            let values = [BASE + hour * 2, BASE + hour * 2 + 1];
            let (_, ops) = log.append(batch_at(&values, hour * HOUR_MS), LeaderEpoch(0));
            apply(&mut files, &ops);
        }
        (log, files)
    }

    #[test]
    fn a_week_of_hourly_appends_deletes_exactly_the_expired_segments() {
        // Two weeks of data; checked every hour of the second week.
        let (mut log, mut files) = hourly(LogConfig::default(), 14 * 24);
        assert_eq!(log.segment_count(), 28);
        let hw = log.log_end_offset();
        let mut deleted_total = 0;
        for hour in (14 * 24)..(15 * 24) {
            let now = hour * HOUR_MS;
            let (report, ops) = log.apply_retention(now, hw);
            apply(&mut files, &ops);
            deleted_total += report.segments_deleted();
            // Segment i's newest record is at hour 12i+11: it is expired once
            // now - (12i+11)h > 7 days, i.e. for i < (hour - 168 - 11) / 12 rounded up.
            let expired = (0..28u64)
                .filter(|i| now.saturating_sub((12 * i + 11) * HOUR_MS) > WEEK_MS)
                .count()
                .min(27);
            assert_eq!(deleted_total, expired, "at hour {hour}");
            assert_eq!(log.segment_count(), 28 - expired);
            assert_eq!(log.log_start_offset(), Offset(24 * expired as u64));
            assert_eq!(report.segments_deleted_for_size, 0);
            assert_eq!(
                files.read_all().len(),
                log.segment_count(),
                "files follow the log"
            );
        }
        // What is left is young enough: the oldest segment left has not expired.
        let now = (15 * 24 - 1) * HOUR_MS;
        assert!(now - log.segments[0].max_timestamp_ms.unwrap() <= WEEK_MS);
        assert_eq!(log.log_end_offset(), hw, "retention never touches the end");
    }

    #[test]
    fn the_active_segment_is_kept_however_old() {
        let (mut log, mut files) = hourly(LogConfig::default(), 30);
        assert_eq!(log.segment_count(), 3);
        let (report, ops) = log.apply_retention(100 * WEEK_MS, log.log_end_offset());
        apply(&mut files, &ops);
        assert_eq!(report.segments_deleted_for_time, 2);
        assert_eq!(log.segment_count(), 1);
        assert_eq!(log.log_start_offset(), Offset(48));
        assert_eq!(log.log_end_offset(), Offset(60));
        assert_eq!(files.read_all().len(), 1);
        let (again, ops) = log.apply_retention(200 * WEEK_MS, log.log_end_offset());
        assert_eq!((again.segments_deleted(), ops.len()), (0, 0));
    }

    #[test]
    fn nothing_at_or_above_the_high_watermark_is_deleted() {
        let (mut log, _) = hourly(LogConfig::default(), 60);
        // Segments start at 0, 24, 48, 72, 96. A high watermark of 50 lets only the
        // segments wholly below 48 go.
        let (report, _) = log.apply_retention(100 * WEEK_MS, Offset(50));
        assert_eq!(report.segments_deleted(), 2);
        assert_eq!(log.log_start_offset(), Offset(48));
        let (report, _) = log.apply_retention(100 * WEEK_MS, Offset(72));
        assert_eq!(report.segments_deleted(), 1);
        assert_eq!(log.log_start_offset(), Offset(72));
    }

    #[test]
    fn size_retention_keeps_at_least_retention_bytes() {
        let (probe, _) = hourly(LogConfig::default(), 12);
        let segment_size = probe.size_bytes();
        // 5 full segments; keep 2.5 segments' worth: three segments stay, since deleting
        // a third would leave less than retention.bytes.
        let (mut log, mut files) = hourly(
            LogConfig {
                retention_bytes: Some(segment_size * 5 / 2),
                ..LogConfig::default()
            },
            60,
        );
        assert_eq!(log.segment_count(), 5);
        let (report, ops) = log.apply_retention(0, log.log_end_offset());
        apply(&mut files, &ops);
        assert_eq!(report.segments_deleted_for_size, 2);
        assert_eq!(report.segments_deleted_for_time, 0);
        assert_eq!(report.bytes_deleted, 2 * segment_size);
        assert_eq!(log.size_bytes(), 3 * segment_size);
        assert!(log.size_bytes() >= segment_size * 5 / 2);
        assert_eq!(log.log_start_offset(), Offset(48));
        assert_eq!(
            (report.log_start_before, report.log_start_after),
            (Offset(0), Offset(48))
        );
        // Exactly at the limit nothing more goes; the active segment never goes.
        let (report, _) = log.apply_retention(0, log.log_end_offset());
        assert_eq!(report.segments_deleted(), 0);
        log.config.retention_bytes = Some(0);
        let (report, _) = log.apply_retention(0, log.log_end_offset());
        assert_eq!(report.segments_deleted_for_size, 2);
        assert_eq!(log.segment_count(), 1);
    }

    #[test]
    fn future_timestamps_keep_their_segment_and_those_after_it() {
        let mut log = log_with(LogConfig {
            segment_bytes: 1,
            retention_ms: 10,
            ..LogConfig::default()
        });
        // One batch per segment: stamped 0, 1000 (from a fast clock), 0, then active.
        for (i, ts) in [0, 1000, 0, 0].into_iter().enumerate() {
            log.append(batch_at(&[i as u64], ts), LeaderEpoch(0));
        }
        let (report, _) = log.apply_retention(100, log.log_end_offset());
        assert_eq!(report.segments_deleted(), 1, "only a prefix is deleted");
        assert_eq!(log.log_start_offset(), Offset(1));
    }

    #[test]
    fn retention_is_due_exactly_when_a_pass_would_delete() {
        let (mut log, _) = hourly(LogConfig::default(), 30);
        // Segment 0's newest record is stamped hour 11: expired strictly after a week.
        let due = 11 * HOUR_MS + WEEK_MS + 1;
        assert_eq!(log.retention_due_ms(log.log_end_offset()), Some(due));
        assert_eq!(
            log.retention_due_ms(Offset(23)),
            None,
            "segment 1 starts above"
        );
        let hw = log.log_end_offset();
        assert_eq!(
            log.clone()
                .apply_retention(due - 1, hw)
                .0
                .segments_deleted(),
            0
        );
        assert_eq!(log.clone().apply_retention(due, hw).0.segments_deleted(), 1);
        // Over retention.bytes it is due at once; never with a single segment.
        log.config.retention_bytes = Some(0);
        assert_eq!(log.retention_due_ms(hw), Some(0));
        log.apply_retention(0, hw);
        assert_eq!(log.segment_count(), 1);
        assert_eq!(log.retention_due_ms(hw), None);
        let forever = log_with(LogConfig {
            retention_ms: u64::MAX,
            ..LogConfig::default()
        });
        assert_eq!(forever.retention_due_ms(Offset(0)), None);
    }

    #[test]
    fn a_follower_deletes_whole_segments_below_its_leaders_log_start() {
        let (mut log, mut files) = hourly(LogConfig::default(), 60);
        // Segments start at 0, 24, 48, 72, 96: below 50 only the first two lie wholly.
        let (deleted, ops) = log.delete_segments_below(Offset(50));
        apply(&mut files, &ops);
        assert_eq!((deleted, log.log_start_offset()), (2, Offset(48)));
        assert_eq!(files.read_all().len(), 3);
        let (deleted, ops) = log.delete_segments_below(Offset(1_000));
        assert_eq!((deleted, ops.len()), (2, 2), "never the active segment");
        assert_eq!(log.log_start_offset(), Offset(96));
    }

    #[test]
    fn reads_below_the_log_start_are_out_of_range() {
        let (mut log, _) = hourly(LogConfig::default(), 36);
        log.apply_retention(100 * WEEK_MS, log.log_end_offset());
        assert_eq!(log.log_start_offset(), Offset(48));
        let out_of_range = |offset| LogError::OffsetOutOfRange {
            offset: Offset(offset),
            log_start: Offset(48),
            log_end: Offset(72),
        };
        assert_eq!(
            log.read_checked(Offset(47), Offset(72), 10),
            Err(out_of_range(47))
        );
        assert_eq!(log.check_read_offset(Offset(73)), Err(out_of_range(73)));
        assert_eq!(
            log.read_checked(Offset(48), Offset(72), 1).unwrap()[0].base_offset,
            Offset(48)
        );
        assert_eq!(log.read_checked(Offset(72), Offset(72), 10), Ok(vec![]));
    }

    #[test]
    fn recovery_after_retention_and_after_a_crash_between_deletions() {
        let (mut log, mut files) = hourly(LogConfig::default(), 60);
        let (report, ops) = log.apply_retention(100 * WEEK_MS, log.log_end_offset());
        assert_eq!(report.segments_deleted(), 4);
        // A crash after each prefix of the deletions.
        for done in 0..=ops.len() {
            let mut on_disk = files.clone();
            apply(&mut on_disk, &ops[..done]);
            let (mut recovered, repair, _) =
                Log::recover(log.tp().clone(), log.config.clone(), on_disk.read_all());
            assert!(repair.is_empty(), "nothing torn: {repair:?}");
            assert_eq!(recovered.log_start_offset(), Offset(24 * done as u64));
            assert_eq!(recovered.log_end_offset(), log.log_end_offset());
            assert_eq!(
                recovered.batches().next().unwrap().base_offset,
                recovered.log_start_offset()
            );
            // The next pass finishes the job and agrees with the uncrashed log.
            let (_, rest) = recovered.apply_retention(100 * WEEK_MS, log.log_end_offset());
            apply(&mut on_disk, &rest);
            assert_eq!(recovered.log_start_offset(), log.log_start_offset());
            assert_eq!(
                recovered.batches().collect::<Vec<_>>(),
                log.batches().collect::<Vec<_>>()
            );
            let (again, _, _) =
                Log::recover(log.tp().clone(), log.config.clone(), on_disk.read_all());
            assert_eq!(again.segment_base_offsets(), log.segment_base_offsets());
        }
        apply(&mut files, &ops);
        // Appending after retention and recovering keeps the raised start.
        let (base, more) = log.append(batch_at(&[1000], 0), LeaderEpoch(1));
        assert_eq!(base, Offset(120));
        apply(&mut files, &more);
        let (recovered, _, _) =
            Log::recover(log.tp().clone(), log.config.clone(), files.read_all());
        assert_eq!(recovered.log_start_offset(), Offset(96));
        assert_eq!(recovered.log_end_offset(), Offset(121));
    }
}

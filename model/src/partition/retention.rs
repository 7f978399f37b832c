//! A partition replica's side of retention: its own retention pass, bounded by its high
//! watermark; as a follower, deleting what lies below its leader's log start; and
//! restarting a follower's log at its leader's log start when it fell below it. Every rise of
//! the log start is reported (`ReplicaEvent::LogStartRaised`), so that the harness can tell
//! records deleted by retention from records lost.

use super::Partition;
use crate::effect::{LogStartCause, Output, ReplicaEvent};
use crate::ids::{Millis, Offset};

impl Partition {
    /// What retention may delete up to: the high watermark (Kafka never moves the log start
    /// past it), or the log end for the deliberately broken variant.
    fn retention_bound(&self, bounded_by_high_watermark: bool) -> Offset {
        if bounded_by_high_watermark {
            self.high_watermark()
        } else {
            self.log_end()
        }
    }

    /// The earliest time a retention pass would delete anything, if ever.
    pub fn retention_due_ms(&self, bounded_by_high_watermark: bool) -> Option<Millis> {
        self.log
            .retention_due_ms(self.retention_bound(bounded_by_high_watermark))
    }

    /// One retention pass (`retention.ms`, `retention.bytes`), leader or follower alike.
    /// Returns whether the log start rose.
    pub fn apply_retention(
        &mut self,
        now_ms: Millis,
        bounded_by_high_watermark: bool,
        out: &mut Vec<Output>,
    ) -> bool {
        let bound = self.retention_bound(bounded_by_high_watermark);
        let (report, ops) = self.log.apply_retention(now_ms, bound);
        if report.segments_deleted() == 0 {
            return false;
        }
        out.push(Output::Note(format!(
            "retention {}: log start {} -> {}, {} segment(s) deleted for time, {} for size, \
             {} bytes (high watermark {})",
            self.tp,
            report.log_start_before.0,
            report.log_start_after.0,
            report.segments_deleted_for_time,
            report.segments_deleted_for_size,
            report.bytes_deleted,
            self.high_watermark().0
        )));
        self.log_start_raised(LogStartCause::Retention, ops, out);
        true
    }

    /// A follower heard its leader's log start: the whole segments below it, and below its
    /// own high watermark, go (Kafka: `maybeIncrementLogStartOffset`, which never passes
    /// the high watermark). Segments are the unit, so the log start may stay a little below
    /// the leader's.
    pub fn follow_leader_log_start(&mut self, leader_log_start: Offset, out: &mut Vec<Output>) {
        let below = leader_log_start.min(self.high_watermark());
        if below <= self.log_start() {
            return;
        }
        let before = self.log_start();
        let (deleted, ops) = self.log.delete_segments_below(below);
        if deleted == 0 {
            return;
        }
        out.push(Output::Note(format!(
            "follow leader's log start {}: {} log start {} -> {}, {deleted} segment(s) deleted",
            leader_log_start.0,
            self.tp,
            before.0,
            self.log_start().0
        )));
        self.log_start_raised(LogStartCause::LeaderLogStart, ops, out);
    }

    /// A follower whose log ends below its leader's log start holds nothing the leader
    /// still serves: it empties its log and restarts it at the leader's log start (Kafka's
    /// `truncateFullyAndStartAt`), rather than being served records it cannot place.
    pub fn reset_to_leader_log_start(&mut self, leader_log_start: Offset, out: &mut Vec<Output>) {
        out.push(Output::Note(format!(
            "reset {}: log end {} is below the leader's log start {}; the log restarts there",
            self.tp,
            self.log_end().0,
            leader_log_start.0
        )));
        let before = self.high_watermark();
        let ops = self.log.reset_to(leader_log_start);
        self.rebuild_producer_state();
        self.replica.log_reset(leader_log_start);
        self.log_start_raised(LogStartCause::Reset, ops, out);
        self.report_high_watermark(before, self.high_watermark(), out);
    }

    /// Reports the new log start before the disk deletes anything, as Kafka raises the log
    /// start before it deletes: no reader is served a segment on its way out.
    fn log_start_raised(
        &mut self,
        cause: LogStartCause,
        ops: Vec<crate::effect::DiskOp>,
        out: &mut Vec<Output>,
    ) {
        let log_start = self.log_start();
        self.producers.txns_mut().deleted_below(log_start);
        out.push(Output::Replica(ReplicaEvent::LogStartRaised {
            tp: self.tp.clone(),
            log_start: self.log_start(),
            cause,
        }));
        out.extend(ops.into_iter().map(Output::Disk));
    }
}

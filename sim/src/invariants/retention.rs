//! Retention as the brokers reported it: for each partition, how far retention has deleted
//! records, and since which history index, counting only the rises of a log start that
//! Kafka's rule allows (a replica's retention, or a follower following its leader's log
//! start, never past that replica's own high watermark: `UnifiedLog` refuses to move the log
//! start past it). A rise past the high watermark deletes records not known to be committed,
//! and is kept apart as unjustified.
//!
//! The checkers ask this ledger whether offsets a consumer skipped after OffsetOutOfRange,
//! or committed records missing from the final log, were deleted by retention (allowed:
//! Kafka promises to keep records only for `retention.ms` / `retention.bytes`) or are gone
//! for a reason retention does not give (a loss). A follower that restarts its log at its
//! leader's log start adds nothing: the leader's own rise was judged when it was reported.

use super::{Breach, Rule};
use crate::checkers::AnomalyKind;
use kafka_model::effect::LogStartCause;
use kafka_model::ids::{BrokerId, TopicPartition};
use std::collections::BTreeMap;

/// The invariant this ledger checks as it goes: a replica's retention (or a follower
/// following its leader's log start) never raises the log start past that replica's high
/// watermark. Source: Kafka's `UnifiedLog.maybeIncrementLogStartOffset`, which refuses to,
/// and `deleteOldSegments`, which deletes only segments below the high watermark: what lies
/// above it may not be on any other replica yet.
pub(crate) const RULE: Rule = Rule {
    kind: AnomalyKind::LogStartPastHighWatermark,
    excusable: false,
    promise: "Kafka never moves a log start past the high watermark: retention deletes only \
              records known to be on every in-sync replica",
};

/// `broker` raised its log start to `log_start` for `cause`, its high watermark being
/// `high_watermark`: the breach, if it passed it.
pub(crate) fn check(
    broker: BrokerId,
    log_start: u64,
    high_watermark: u64,
    cause: LogStartCause,
) -> Option<Breach> {
    (cause != LogStartCause::Reset && log_start > high_watermark).then(|| Breach {
        detail: format!(
            "{broker} raised its log start to {log_start} ({}) past its high watermark \
             {high_watermark}: it deleted offsets {high_watermark}..{log_start}, which no other \
             replica is known to hold",
            cause.as_str()
        ),
        values: Vec::new(),
        skip: None,
    })
}

/// A log start raised past the raising replica's high watermark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnjustifiedRise {
    pub broker: BrokerId,
    pub index: u64,
    pub log_start: u64,
    pub high_watermark: u64,
}

/// One partition's retention.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Retained {
    /// (history index, offset): from that index on, retention had deleted every record
    /// below the offset on some replica. Both increase.
    below: Vec<(u64, u64)>,
    unjustified: Vec<UnjustifiedRise>,
}

impl Retained {
    /// `broker` raised its log start to `log_start` at history `index`, for `cause`, its
    /// high watermark being `high_watermark` just before.
    pub fn on_raise(
        &mut self,
        broker: BrokerId,
        index: u64,
        log_start: u64,
        high_watermark: u64,
        cause: LogStartCause,
    ) {
        if cause == LogStartCause::Reset {
            return;
        }
        if log_start > high_watermark {
            self.unjustified.push(UnjustifiedRise {
                broker,
                index,
                log_start,
                high_watermark,
            });
            return;
        }
        if log_start > self.below_as_of(u64::MAX) {
            self.below.push((index, log_start));
        }
    }

    /// The offset below which retention had deleted records by history `index` (events
    /// reported at `index` happened before the history entry of that index).
    pub fn below_as_of(&self, index: u64) -> u64 {
        let at = self.below.partition_point(|(i, _)| *i <= index);
        at.checked_sub(1).map_or(0, |i| self.below[i].1)
    }

    /// The first unjustified rise above `offset`, if any, to explain a loss.
    pub fn unjustified_above(&self, offset: u64) -> Option<&UnjustifiedRise> {
        self.unjustified.iter().find(|r| r.log_start > offset)
    }
}

/// Every partition's retention, for the checkers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionLedger {
    pub(crate) partitions: BTreeMap<TopicPartition, Retained>,
}

impl RetentionLedger {
    /// The offset below which retention had deleted records of `tp` by history `index`.
    pub fn retained_below(&self, tp: &TopicPartition, index: u64) -> u64 {
        self.partitions
            .get(tp)
            .map_or(0, |retained| retained.below_as_of(index))
    }

    /// The rises of `tp`'s log start past a high watermark, in history order.
    pub fn unjustified(&self, tp: &TopicPartition) -> &[UnjustifiedRise] {
        self.partitions
            .get(tp)
            .map_or(&[], |retained| &retained.unjustified)
    }

    /// Records that `broker` raised `tp`'s log start (see [`Retained::on_raise`]); for
    /// checkers' tests, which build a ledger without brokers.
    pub fn on_raise(
        &mut self,
        tp: &TopicPartition,
        broker: BrokerId,
        index: u64,
        log_start: u64,
        high_watermark: u64,
        cause: LogStartCause,
    ) {
        self.partitions.entry(tp.clone()).or_default().on_raise(
            broker,
            index,
            log_start,
            high_watermark,
            cause,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use super::*;
    use crate::checkers::{AnomalyKind, Promises, Verdict};

    /// [`started`], then value 3 committed everywhere.
    fn three_committed() -> Run {
        let mut run = started(Promises::default());
        for b in [1, 2, 3] {
            run.append(b, 2, &[(3, 1)]);
        }
        run.hw(1, 3).hw(2, 3).hw(3, 3);
        run
    }

    #[test]
    fn retention_below_the_high_watermarks_breaks_nothing() {
        let mut run = three_committed();
        run.poll("consumer-1", &[(0, 1), (1, 2), (2, 3)]);
        // Each replica deletes as far as its own retention goes; a late follower restarts
        // its log at the leader's log start.
        run.retain(1, 2).retain(2, 1).retain(3, 3);
        run.raise(2, 3, LogStartCause::Reset).hw(2, 3);
        for b in [1, 2, 3] {
            run.append(b, 3, &[(4, 1)]);
        }
        run.hw(1, 4).hw(2, 4).hw(3, 4);
        assert_eq!(run.finish(), vec![]);
    }

    #[test]
    fn a_leader_raising_its_log_start_past_its_high_watermark_loses_committed_records() {
        let mut run = started(Promises::default());
        // b1 appends 3 and 4, deletes everything below 4 before anyone copied them, and
        // the followers, restarted at its log start, let the high watermark pass them.
        run.append(1, 2, &[(3, 1), (4, 1)]).at(5).retain(1, 4);
        run.raise(2, 4, LogStartCause::Reset)
            .raise(3, 4, LogStartCause::Reset);
        run.at(6).hw(1, 4);
        let found = run.finish();
        assert_eq!(
            kinds(&found),
            vec![RULE.kind, AnomalyKind::CommittedRecordLost],
            "{found:?}"
        );
        assert!(found.iter().all(|a| a.verdict == Verdict::Violation));
        assert_eq!(
            found[0].index, 5,
            "found when the log start passed the high watermark"
        );
        assert_eq!(
            found[0].detail,
            "t/0: b1 raised its log start to 4 (retention) past its high watermark 2: it \
             deleted offsets 2..4, which no other replica is known to hold"
        );
        assert_eq!(
            found[1].detail,
            "t/0: 4 committed record(s) missing from final leader b1's log; the first, value 1 \
             at offset 0 (committed by b1 at history index 0): b1's log starts at 4; retention \
             reached only offset 0, but b1 raised its log start to 4 past its high watermark 2 \
             (history index 5)"
        );
        assert_eq!(
            found[1].values,
            vec![1, 2],
            "offsets 2 and 3 were never held committed"
        );
    }

    #[test]
    fn rises_within_the_high_watermark_count_from_their_index_and_others_do_not() {
        let tp = TopicPartition::new("t", 0);
        let mut ledger = RetentionLedger::default();
        let b1 = BrokerId(1);
        ledger.on_raise(&tp, b1, 5, 10, 12, LogStartCause::Retention);
        ledger.on_raise(&tp, BrokerId(2), 6, 8, 12, LogStartCause::LeaderLogStart);
        ledger.on_raise(&tp, b1, 7, 30, 20, LogStartCause::Retention);
        ledger.on_raise(&tp, BrokerId(3), 8, 40, 0, LogStartCause::Reset);
        ledger.on_raise(&tp, b1, 9, 20, 25, LogStartCause::Retention);
        assert_eq!(ledger.retained_below(&tp, 4), 0);
        assert_eq!(ledger.retained_below(&tp, 5), 10);
        assert_eq!(
            ledger.retained_below(&tp, 8),
            10,
            "a lower rise adds nothing"
        );
        assert_eq!(ledger.retained_below(&tp, 9), 20);
        assert_eq!(
            ledger.unjustified(&tp),
            &[UnjustifiedRise {
                broker: b1,
                index: 7,
                log_start: 30,
                high_watermark: 20
            }]
        );
        assert_eq!(
            ledger.partitions[&tp]
                .unjustified_above(25)
                .map(|r| r.index),
            Some(7)
        );
        assert_eq!(ledger.retained_below(&TopicPartition::new("t", 1), 9), 0);
    }
}

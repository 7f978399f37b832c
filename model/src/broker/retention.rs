//! The broker's retention check: every `log.retention.check.interval.ms` of its own clock,
//! at a fixed rate as Kafka's scheduler runs it, a retention pass over every hosted replica,
//! leaders and followers alike, each bounded by its own high watermark.

use super::Broker;
use crate::effect::Output;
use crate::ids::Millis;

impl Broker {
    /// Runs the retention check if it is due, and schedules the next one.
    pub(super) fn check_retention_if_due(&mut self, now: Millis, out: &mut Vec<Output>) {
        if now < self.next_retention_check_ms {
            return;
        }
        let interval_ms = self.config.log.retention_check_interval_ms.max(1);
        let missed = (now - self.next_retention_check_ms) / interval_ms;
        self.next_retention_check_ms += (missed + 1) * interval_ms;
        let bounded = self.config.retention_bounded_by_high_watermark;
        let mut raised = false;
        for partition in self.partitions.values_mut() {
            raised |= partition.apply_retention(now, bounded, out);
        }
        if raised {
            // A parked consumer now below the log start must hear so at once.
            self.answer_parked(
                |broker, fetch| broker.has_news_for_consumer(&fetch.partitions, fetch.isolation),
                out,
            );
        }
    }

    /// When the next retention check must wake the broker: the first check, on the fixed
    /// schedule, at which it would delete something. A check that finds nothing changes
    /// nothing, and waking for it would add events (and the scheduler's draws) to runs
    /// that never retain anything.
    pub(super) fn retention_deadline(&self) -> Option<Millis> {
        let bounded = self.config.retention_bounded_by_high_watermark;
        let due_ms = self
            .partitions
            .values()
            .filter_map(|p| p.retention_due_ms(bounded))
            .min()?;
        let next_ms = self.next_retention_check_ms;
        let interval_ms = self.config.log.retention_check_interval_ms.max(1);
        let checks_later = due_ms.saturating_sub(next_ms).div_ceil(interval_ms);
        next_ms.checked_add(checks_later.checked_mul(interval_ms)?)
    }
}

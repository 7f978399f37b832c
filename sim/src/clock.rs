//! Per-node clocks over madsim's single global clock: an offset, a drift and jumps, so that
//! every node computes its timeouts from its own, possibly wrong, time.

use crate::seed::{stream, Stream};
use kafka_model::ids::{Millis, NodeId};
use rand::Rng;

/// Local clocks start here so that a backward jump never goes below zero.
pub const CLOCK_EPOCH_MS: i64 = 1_000_000_000;

/// One node's clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeClock {
    /// Added to global time (skew plus every jump so far).
    pub offset_ms: i64,
    /// Parts per million the clock runs fast (positive) or slow (negative).
    pub drift_ppm: i64,
}

impl NodeClock {
    /// This node's reading when the global clock shows `global_ms`.
    pub fn local_ms(&self, global_ms: u64) -> Millis {
        let drift = global_ms as i64 * self.drift_ppm / 1_000_000;
        (CLOCK_EPOCH_MS + global_ms as i64 + self.offset_ms + drift).max(0) as Millis
    }

    /// Global milliseconds until this clock reads `local_deadline_ms` (at least 1: a timer
    /// never fires in the past).
    pub fn global_wait_ms(&self, global_now_ms: u64, local_deadline_ms: Millis) -> u64 {
        let now = self.local_ms(global_now_ms);
        let local_wait = local_deadline_ms.saturating_sub(now);
        let rate = 1_000_000 + self.drift_ppm;
        (local_wait as i128 * 1_000_000 / rate.max(1) as i128).max(1) as u64
    }

    pub fn jump(&mut self, by_ms: i64) {
        self.offset_ms += by_ms;
    }

    /// Changes the rate at global time `now_ms`, keeping the reading continuous: a new
    /// drift bends the clock from here on, it does not step it.
    pub fn set_drift(&mut self, now_ms: u64, ppm: i64) {
        let before = self.local_ms(now_ms) as i64;
        self.drift_ppm = ppm;
        let after = self.local_ms(now_ms) as i64;
        self.offset_ms += before - after;
    }
}

/// Each node's starting clock, off by up to `max_skew_ms` either way: one draw per node,
/// in node order, from the clocks' own stream (so that skew never moves another choice).
pub fn skewed(
    seed: u64,
    nodes: impl Iterator<Item = NodeId>,
    max_skew_ms: u64,
) -> Vec<(NodeId, NodeClock)> {
    let mut rng = stream(seed, Stream::Clocks);
    let bound = max_skew_ms as i64;
    nodes
        .map(|node| {
            let clock = NodeClock {
                offset_ms: rng.gen_range(-bound..=bound),
                drift_ppm: 0,
            };
            (node, clock)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_drift_and_jump() {
        let mut clock = NodeClock {
            offset_ms: 50,
            drift_ppm: 1_000,
        };
        assert_eq!(
            clock.local_ms(1_000_000),
            (CLOCK_EPOCH_MS + 1_000_000 + 50 + 1_000) as u64
        );
        clock.jump(-10_000);
        assert_eq!(clock.local_ms(0), (CLOCK_EPOCH_MS - 9_950) as u64);
        let now = clock.local_ms(0);
        assert_eq!(clock.global_wait_ms(0, now + 1001), 1000);
        assert_eq!(clock.global_wait_ms(0, now - 5), 1);
    }

    #[test]
    fn skews_stay_within_their_bound_and_replay() {
        let nodes = || (1..=20).map(NodeId);
        let skews = skewed(7, nodes(), 500);
        assert_eq!(skews, skewed(7, nodes(), 500));
        assert!(skews.iter().all(|(_, c)| c.offset_ms.abs() <= 500));
        assert!(
            skews.iter().any(|(_, c)| c.offset_ms != 0),
            "some clock is off"
        );
        assert_ne!(skews, skewed(8, nodes(), 500), "another seed, other skews");
    }

    #[test]
    fn a_new_drift_keeps_the_reading_continuous() {
        let mut clock = NodeClock {
            offset_ms: 0,
            drift_ppm: 100_000,
        };
        let before = clock.local_ms(10_000);
        clock.set_drift(10_000, 0);
        assert_eq!(clock.local_ms(10_000), before, "no step at the change");
        assert_eq!(
            clock.local_ms(11_000),
            before + 1_000,
            "the new rate from there"
        );
    }
}

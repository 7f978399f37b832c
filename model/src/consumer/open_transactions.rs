//! What holds a read_committed consumer back: the partitions where it has read everything
//! stable and waits at (or above) the last stable offset, below the high watermark, for a
//! transaction to end. The liveness phase tells such a wait (a hanging transaction, once
//! the cluster healed and every producer finished) from a consumer that is merely slow.

use super::Consumer;
use crate::ids::{Millis, Offset, TopicPartition};
use crate::txn::IsolationLevel;

/// A partition where a read_committed consumer waits at the last stable offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldPartition {
    pub tp: TopicPartition,
    pub last_stable_offset: Offset,
    pub high_watermark: Offset,
}

impl Consumer {
    /// If the consumer would be caught up (`caught_up_as_of`) but for partitions where it
    /// sits at or above a last stable offset below the high watermark: those partitions, and the
    /// time (local ms) of the oldest report its standing rests on. `None` when it is
    /// caught up, lags for another reason, or reads uncommitted.
    pub fn held_by_open_transactions(&self) -> Option<(Millis, Vec<HeldPartition>)> {
        if self.config.isolation_level != IsolationLevel::ReadCommitted {
            return None;
        }
        let mut oldest = Millis::MAX;
        if let Some(member) = &self.member {
            oldest = member.settled_as_of()?;
        }
        let mut held = Vec::new();
        for (tp, position) in &self.positions {
            let (hw, lso, seen_ms) = self.high_watermarks.get(tp)?;
            let position = (*position)?;
            // A position above the stable offset (a log truncated under it by a power
            // loss, then written again) waits on the same open transaction.
            if *lso <= position && position < *hw {
                held.push(HeldPartition {
                    tp: tp.clone(),
                    last_stable_offset: *lso,
                    high_watermark: *hw,
                });
            } else if position != *hw {
                return None;
            }
            oldest = oldest.min(*seen_ms);
        }
        (!held.is_empty()).then_some((oldest, held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConsumerConfig;
    use crate::ids::BrokerId;

    fn consumer(isolation_level: IsolationLevel) -> Consumer {
        let config = ConsumerConfig {
            isolation_level,
            ..ConsumerConfig::default()
        };
        Consumer::new(config, vec![BrokerId(1)], vec!["t".into()])
    }

    fn at(consumer: &mut Consumer, partition: u32, position: u64, hw: u64, lso: u64) {
        let tp = TopicPartition::new("t", partition);
        consumer
            .positions
            .insert(tp.clone(), Some(Offset(position)));
        consumer
            .high_watermarks
            .insert(tp, (Offset(hw), Offset(lso), 7));
    }

    #[test]
    fn a_read_committed_consumer_at_the_stable_offset_below_the_high_watermark_is_held() {
        let mut c = consumer(IsolationLevel::ReadCommitted);
        at(&mut c, 0, 10, 10, 10);
        at(&mut c, 1, 4, 9, 4);
        at(&mut c, 2, 6, 9, 4);
        let (as_of, held) = c.held_by_open_transactions().expect("held");
        assert_eq!(as_of, 7);
        assert_eq!(
            held,
            vec![
                HeldPartition {
                    tp: TopicPartition::new("t", 1),
                    last_stable_offset: Offset(4),
                    high_watermark: Offset(9),
                },
                HeldPartition {
                    tp: TopicPartition::new("t", 2),
                    last_stable_offset: Offset(4),
                    high_watermark: Offset(9),
                }
            ]
        );
        assert_eq!(c.caught_up_as_of(), None);
    }

    #[test]
    fn a_consumer_lagging_below_the_stable_offset_or_caught_up_is_not_held() {
        let mut lagging = consumer(IsolationLevel::ReadCommitted);
        at(&mut lagging, 0, 2, 9, 4);
        assert_eq!(lagging.held_by_open_transactions(), None);
        // One partition held, another lagging for its own reasons: not held alone.
        at(&mut lagging, 1, 4, 9, 4);
        assert_eq!(lagging.held_by_open_transactions(), None);

        let mut caught_up = consumer(IsolationLevel::ReadCommitted);
        at(&mut caught_up, 0, 9, 9, 9);
        assert_eq!(caught_up.held_by_open_transactions(), None);

        let mut uncommitted = consumer(IsolationLevel::ReadUncommitted);
        at(&mut uncommitted, 0, 4, 9, 4);
        assert_eq!(uncommitted.held_by_open_transactions(), None);
    }
}

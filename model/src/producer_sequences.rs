//! The idempotent producer's identity and sequences (KIP-98, with KIP-360's epoch bump):
//! which sequence each partition's next batch gets, how far the broker acknowledged, and
//! when a refused sequence is a gap that only a new epoch can close.

use crate::ids::{ProducerEpoch, ProducerId, TopicPartition};
use crate::record::ProducerStamp;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct ProducerSequences {
    identity: Option<(ProducerId, ProducerEpoch)>,
    next_sequence: BTreeMap<TopicPartition, u32>,
    /// Per partition, one past the last sequence acknowledged in the current epoch.
    acknowledged: BTreeMap<TopicPartition, u32>,
    /// A sequence gap can never be filled: bump the epoch once nothing is in flight.
    bump_pending: bool,
}

impl ProducerSequences {
    pub fn identity(&self) -> Option<(ProducerId, ProducerEpoch)> {
        self.identity
    }

    pub fn set_identity(&mut self, producer_id: ProducerId, epoch: ProducerEpoch) {
        self.identity = Some((producer_id, epoch));
    }

    /// Batches may be stamped: the producer has an id and no bump is waiting.
    pub fn can_send(&self) -> bool {
        self.identity.is_some() && !self.bump_pending
    }

    pub fn is_current(&self, stamp: &ProducerStamp) -> bool {
        self.identity.map(|(_, epoch)| epoch) == Some(stamp.producer_epoch)
    }

    /// The stamp for the next `count` records of `tp`.
    pub fn stamp(&mut self, tp: &TopicPartition, count: usize) -> Option<ProducerStamp> {
        let (producer_id, producer_epoch) = self.identity?;
        let next = self.next_sequence.entry(tp.clone()).or_insert(0);
        let stamp = ProducerStamp {
            producer_id,
            producer_epoch,
            base_sequence: *next,
        };
        *next += count as u32;
        Some(stamp)
    }

    pub fn acknowledged(&self, tp: &TopicPartition) -> u32 {
        self.acknowledged.get(tp).copied().unwrap_or(0)
    }

    pub fn on_acknowledged(&mut self, tp: &TopicPartition, stamp: &ProducerStamp, count: usize) {
        if self.is_current(stamp) {
            let acked = self.acknowledged.entry(tp.clone()).or_insert(0);
            *acked = (*acked).max(stamp.base_sequence + count as u32);
        }
    }

    /// A refused batch whose sequence lies below what was acknowledged: the broker
    /// appends only in sequence, so an earlier attempt was written (and forgotten).
    pub fn was_written(&self, tp: &TopicPartition, stamp: &ProducerStamp) -> bool {
        self.is_current(stamp) && stamp.base_sequence < self.acknowledged(tp)
    }

    /// Whether an acknowledgement reached this sequence after the refused attempt left:
    /// the refusal overtook the batch before it, and a retry will fit.
    pub fn caught_up_since(
        &self,
        tp: &TopicPartition,
        stamp: &ProducerStamp,
        acknowledged_when_sent: u32,
    ) -> bool {
        let acknowledged = self.acknowledged(tp);
        self.is_current(stamp)
            && acknowledged == stamp.base_sequence
            && acknowledged_when_sent < acknowledged
    }

    pub fn request_bump(&mut self) {
        self.bump_pending = true;
    }

    pub fn bump_pending(&self) -> bool {
        self.bump_pending
    }

    /// A transactional producer's new identity from its coordinator: every partition's
    /// sequence starts again at 0.
    pub fn restart(&mut self, producer_id: ProducerId, epoch: ProducerEpoch) {
        self.identity = Some((producer_id, epoch));
        self.bump_pending = false;
        self.next_sequence.clear();
        self.acknowledged.clear();
    }

    /// KIP-360: a new epoch, and every partition's sequence starts again at 0.
    pub fn bump(&mut self) {
        self.bump_pending = false;
        if let Some((pid, epoch)) = self.identity {
            self.identity = Some((pid, ProducerEpoch(epoch.0 + 1)));
        }
        self.next_sequence.clear();
        self.acknowledged.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_acknowledgements_and_bumps() {
        let tp = TopicPartition::new("t", 0);
        let mut seq = ProducerSequences::default();
        assert!(seq.stamp(&tp, 3).is_none(), "no id yet");
        seq.set_identity(ProducerId(9), ProducerEpoch(0));
        let first = seq.stamp(&tp, 3).unwrap();
        let second = seq.stamp(&tp, 2).unwrap();
        assert_eq!((first.base_sequence, second.base_sequence), (0, 3));
        seq.on_acknowledged(&tp, &second, 2);
        assert!(
            seq.was_written(&tp, &first),
            "3..5 acknowledged: 0..3 was written"
        );
        assert!(seq.caught_up_since(
            &tp,
            &ProducerStamp {
                base_sequence: 5,
                ..second
            },
            0
        ));
        seq.request_bump();
        assert!(!seq.can_send());
        seq.bump();
        assert!(seq.can_send());
        assert!(!seq.is_current(&first));
        assert_eq!(seq.stamp(&tp, 1).unwrap().base_sequence, 0);
        assert_eq!(seq.identity().unwrap().1, ProducerEpoch(1));
    }
}

//! How far two replicas of a partition have been verified to agree: a per-pair prefix length,
//! so LogMatching and StrongIsr compare only offsets that could newly disagree. Appends above
//! the verified length cost nothing to re-check; a truncation, an overwrite or a recovery
//! lowers the length of every pair involving that replica to where its log changed.
//!
//! This is the incremental form of the pairwise log comparisons in the TLA+ invariants of
//! hachikuji/kafka-specification (`KafkaReplication.tla`: WeakIsr, StrongIsr), which Kafka's
//! RaftEventSimulationTest likewise runs after every event.

use super::replica::Replica;
use kafka_model::effect::ReplicaRecord;
use kafka_model::ids::BrokerId;
use std::collections::BTreeMap;

/// Where a comparison of two logs stopped short of its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gap {
    /// Both hold a record at `offset`, and the records differ.
    Differ {
        offset: u64,
        first: ReplicaRecord,
        second: ReplicaRecord,
    },
    /// `broker` holds no record at `offset` (its log ends before it).
    Lacks { offset: u64, broker: BrokerId },
}

/// The verified prefix length per unordered pair of brokers (key: smaller id first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Agreement {
    verified: BTreeMap<(BrokerId, BrokerId), u64>,
}

impl Agreement {
    /// `broker`'s log changed from offset `from` on: forget what was verified above it.
    pub fn cut(&mut self, broker: BrokerId, from: u64) {
        for ((a, b), length) in self.verified.iter_mut() {
            if *a == broker || *b == broker {
                *length = (*length).min(from);
            }
        }
    }

    /// Counts the pair as agreeing below `offset`: a gap there is explained, and what lies
    /// above it is still to check.
    pub fn step_over(&mut self, first: BrokerId, second: BrokerId, offset: u64) {
        let key = (first.min(second), first.max(second));
        let verified = self.verified.entry(key).or_insert(0);
        *verified = (*verified).max(offset);
    }

    /// Compares `first` and `second` at every offset below `limit` that both could hold
    /// (offsets below either log start were deleted by retention and are skipped), starting
    /// from what is already verified. Returns the first gap, if any.
    pub fn extend(
        &mut self,
        (first_id, first): (BrokerId, &Replica),
        (second_id, second): (BrokerId, &Replica),
        limit: u64,
    ) -> Option<Gap> {
        let key = (first_id.min(second_id), first_id.max(second_id));
        let verified = self.verified.entry(key).or_insert(0);
        let from = (*verified).max(first.log_start).max(second.log_start);
        for offset in from..limit {
            let gap = match (first.get(offset), second.get(offset)) {
                (Some(a), Some(b)) if a == b => continue,
                (Some(&a), Some(&b)) => Gap::Differ {
                    offset,
                    first: a,
                    second: b,
                },
                (None, _) => Gap::Lacks {
                    offset,
                    broker: first_id,
                },
                (Some(_), None) => Gap::Lacks {
                    offset,
                    broker: second_id,
                },
            };
            // Verified up to the gap: the next comparison starts there again.
            *verified = (*verified).max(offset);
            return Some(gap);
        }
        *verified = (*verified).max(limit);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_model::ids::LeaderEpoch;

    fn replica(values: &[u64]) -> Replica {
        let mut r = Replica::default();
        let records: Vec<_> = values
            .iter()
            .map(|&value| ReplicaRecord {
                value,
                epoch: LeaderEpoch(1),
                producer: None,
            })
            .collect();
        r.append(0, &records);
        r
    }

    #[test]
    fn a_verified_prefix_is_not_compared_again_until_cut() {
        let (b1, b2) = (BrokerId(1), BrokerId(2));
        let mut agreement = Agreement::default();
        let same = replica(&[1, 2]);
        assert_eq!(agreement.extend((b1, &same), (b2, &same), 2), None);
        // Once verified, even different logs pass below the verified length...
        let other = replica(&[9, 2]);
        assert_eq!(agreement.extend((b1, &same), (b2, &other), 2), None);
        // ...until the change is reported as a cut.
        agreement.cut(b2, 0);
        let gap = agreement.extend((b1, &same), (b2, &other), 2);
        assert!(
            matches!(gap, Some(Gap::Differ { offset: 0, .. })),
            "{gap:?}"
        );
        let short = replica(&[1]);
        agreement.cut(b2, 0);
        let gap = agreement.extend((b1, &same), (b2, &short), 2);
        assert_eq!(
            gap,
            Some(Gap::Lacks {
                offset: 1,
                broker: b2
            })
        );
    }
}

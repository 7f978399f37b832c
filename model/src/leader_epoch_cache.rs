//! The leader epoch cache of a replica's log (KIP-101, refined by KIP-279): for each leader
//! epoch, the offset of the first record written in it. It answers OffsetsForLeaderEpoch:
//! where does epoch E end in this log, so that a follower can truncate exactly the suffix
//! in which it diverges from the leader, instead of truncating to its high watermark
//! (the pre-KIP-101 behaviour that lost committed records).

use crate::ids::{LeaderEpoch, Offset};
use serde::{Deserialize, Serialize};

/// Epoch start offsets, in increasing epoch and offset order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderEpochCache {
    entries: Vec<(LeaderEpoch, Offset)>,
}

impl LeaderEpochCache {
    pub fn latest_epoch(&self) -> Option<LeaderEpoch> {
        self.entries.last().map(|(epoch, _)| *epoch)
    }

    /// Records that epoch `epoch` starts at `start` (the log end when a leader of that
    /// epoch first appends). A known or older epoch changes nothing; an entry at or past
    /// `start` from an older epoch is dropped, as it was never written.
    pub fn assign(&mut self, epoch: LeaderEpoch, start: Offset) {
        if self.latest_epoch().is_some_and(|latest| latest >= epoch) {
            return;
        }
        while self
            .entries
            .last()
            .is_some_and(|(_, offset)| *offset >= start)
        {
            self.entries.pop();
        }
        self.entries.push((epoch, start));
    }

    /// OffsetsForLeaderEpoch as KIP-279 answers it: the largest epoch at most `epoch`
    /// that this log knows, and the offset where it ends (the start of the next known
    /// epoch, or `log_end` for the latest). `None` if the log knows no epoch that old.
    pub fn end_offset_for(
        &self,
        epoch: LeaderEpoch,
        log_end: Offset,
    ) -> Option<(LeaderEpoch, Offset)> {
        let position = self.entries.iter().rposition(|(e, _)| *e <= epoch)?;
        let end = self
            .entries
            .get(position + 1)
            .map_or(log_end, |(_, start)| *start);
        Some((self.entries[position].0, end))
    }

    /// The log was truncated to `log_end`: epochs that start at or after it are gone.
    pub fn truncate_from_end(&mut self, log_end: Offset) {
        while self
            .entries
            .last()
            .is_some_and(|(_, start)| *start >= log_end)
        {
            self.entries.pop();
        }
    }

    /// Rebuilds the cache from the epochs of a log's batches, in log order (recovery).
    pub fn from_batches(batches: impl IntoIterator<Item = (LeaderEpoch, Offset)>) -> Self {
        let mut cache = LeaderEpochCache::default();
        for (epoch, base_offset) in batches {
            cache.assign(epoch, base_offset);
        }
        cache
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(u32, u64)]) -> LeaderEpochCache {
        LeaderEpochCache::from_batches(entries.iter().map(|(e, o)| (LeaderEpoch(*e), Offset(*o))))
    }

    #[test]
    fn end_offsets_follow_kip_279() {
        // Epoch 1 wrote 0..10, epoch 3 wrote 10..15, epoch 4 from 15 to the log end 20.
        let cache = cache(&[(1, 0), (1, 4), (3, 10), (4, 15)]);
        let end = |e| cache.end_offset_for(LeaderEpoch(e), Offset(20));
        assert_eq!(end(1), Some((LeaderEpoch(1), Offset(10))));
        // Epoch 2 never wrote here: the answer is epoch 1's end, named as epoch 1, so the
        // follower can keep looking back (KIP-279) instead of trusting a wrong offset.
        assert_eq!(end(2), Some((LeaderEpoch(1), Offset(10))));
        assert_eq!(end(4), Some((LeaderEpoch(4), Offset(20))));
        assert_eq!(end(9), Some((LeaderEpoch(4), Offset(20))));
        assert_eq!(end(0), None);
    }

    #[test]
    fn truncation_and_new_epochs_drop_what_was_never_kept() {
        let mut cache = cache(&[(1, 0), (2, 10), (3, 15)]);
        cache.truncate_from_end(Offset(12));
        assert_eq!(cache.latest_epoch(), Some(LeaderEpoch(2)));
        cache.assign(LeaderEpoch(5), Offset(11));
        assert_eq!(
            cache.end_offset_for(LeaderEpoch(2), Offset(30)),
            Some((LeaderEpoch(2), Offset(11)))
        );
        cache.assign(LeaderEpoch(4), Offset(40));
        assert_eq!(
            cache.latest_epoch(),
            Some(LeaderEpoch(5)),
            "an older epoch is ignored"
        );
        cache.assign(LeaderEpoch(6), Offset(5));
        assert_eq!(
            cache.end_offset_for(LeaderEpoch(9), Offset(5)),
            Some((LeaderEpoch(6), Offset(5)))
        );
        assert_eq!(
            cache.end_offset_for(LeaderEpoch(2), Offset(5)),
            Some((LeaderEpoch(1), Offset(5)))
        );
    }
}

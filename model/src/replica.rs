//! One broker's replication state for one partition (KIP-101, KIP-279, KIP-320): as leader,
//! what each follower has, the high watermark, and which ISR change to ask the controller
//! for; as follower, how far to truncate when its log diverges from the leader's. The log
//! itself stays in `Log`: this type is told the log end and answers with decisions.

use crate::ids::{BrokerId, LeaderEpoch, Millis, Offset};
use crate::leader_epoch_cache::LeaderEpochCache;
use std::collections::BTreeMap;

/// What the leader knows of one follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowerProgress {
    /// The follower's log end, as its last fetch offset says.
    pub log_end: Offset,
    /// The last time the follower had everything the leader had (replica.lag.time.max.ms
    /// is measured from here).
    pub caught_up_ms: Millis,
    /// The leader's log end when the follower last fetched, and when that was: a follower
    /// that reaches what its previous fetch could see is caught up as of that fetch
    /// (Kafka's `lastFetchLeaderLogEndOffset`), so steady production does not push a
    /// healthy follower out of the ISR.
    pub last_fetch_leader_log_end: Offset,
    pub last_fetch_ms: Millis,
    /// Whether the follower fetched from this leader at all: until it has, its log end
    /// is unknown (Kafka's -1), and an empty leader must not take it for caught up.
    pub fetched: bool,
}

impl FollowerProgress {
    fn new(now: Millis) -> Self {
        FollowerProgress {
            log_end: Offset(0),
            caught_up_ms: now,
            last_fetch_leader_log_end: Offset(0),
            last_fetch_ms: now,
            fetched: false,
        }
    }
}

/// The partition's role on this broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Leader {
        epoch: LeaderEpoch,
        partition_epoch: u32,
        isr: Vec<BrokerId>,
        followers: BTreeMap<BrokerId, FollowerProgress>,
        /// An AlterPartition in flight: no second one until it is answered.
        pending_isr: Option<Vec<BrokerId>>,
    },
    Follower {
        leader: Option<BrokerId>,
        epoch: LeaderEpoch,
    },
}

/// How a leader answers a follower's fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowerFetch {
    /// Read from the fetch offset.
    Read,
    /// The follower's log diverges (KIP-320's `divergingEpoch`): it must truncate to
    /// `end_offset` (or its own log end, if shorter) and fetch again.
    Diverging {
        epoch: LeaderEpoch,
        end_offset: Offset,
    },
    /// The fetch names an older leader epoch: a stale follower (KIP-320).
    FencedLeaderEpoch,
    /// The fetch names a newer epoch than this leader knows: it is the stale one.
    UnknownLeaderEpoch,
    NotLeader,
}

/// One partition replica's replication state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaState {
    me: BrokerId,
    role: Role,
    high_watermark: Offset,
    epochs: LeaderEpochCache,
    /// The strict min ISR (KIP-966): as leader, the high watermark stays put while the
    /// ISR is smaller than this. 1 (no ISR is smaller) without it.
    high_watermark_min_isr: usize,
}

impl ReplicaState {
    pub fn new(me: BrokerId, epochs: LeaderEpochCache, high_watermark: Offset) -> Self {
        ReplicaState {
            me,
            role: Role::Follower {
                leader: None,
                epoch: LeaderEpoch(0),
            },
            high_watermark,
            epochs,
            high_watermark_min_isr: 1,
        }
    }

    /// Keeps the strict min ISR: the high watermark does not advance while the leader's
    /// ISR has fewer than `min_insync_replicas` members.
    pub fn with_strict_min_insync(mut self, min_insync_replicas: usize) -> Self {
        self.high_watermark_min_isr = min_insync_replicas;
        self
    }

    pub fn role(&self) -> &Role {
        &self.role
    }

    pub fn high_watermark(&self) -> Offset {
        self.high_watermark
    }

    pub fn epochs(&self) -> &LeaderEpochCache {
        &self.epochs
    }

    /// The ISR and partition epoch this leader works with; `None` on a follower.
    pub fn leader_isr(&self) -> Option<(&[BrokerId], u32)> {
        match &self.role {
            Role::Leader {
                isr,
                partition_epoch,
                ..
            } => Some((isr, *partition_epoch)),
            Role::Follower { .. } => None,
        }
    }

    /// The ISR an AlterPartition in flight asks for, until the controller's answer or
    /// metadata settles it.
    pub fn pending_isr(&self) -> Option<&[BrokerId]> {
        match &self.role {
            Role::Leader { pending_isr, .. } => pending_isr.as_deref(),
            Role::Follower { .. } => None,
        }
    }

    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader { .. })
    }

    pub fn leader_epoch(&self) -> LeaderEpoch {
        match &self.role {
            Role::Leader { epoch, .. } | Role::Follower { epoch, .. } => *epoch,
        }
    }

    /// The controller made this broker leader. Its log end is where the new epoch starts;
    /// every ISR member counts as caught up now (Kafka does the same).
    pub fn become_leader(
        &mut self,
        epoch: LeaderEpoch,
        partition_epoch: u32,
        isr: Vec<BrokerId>,
        replicas: &[BrokerId],
        log_end: Offset,
        now: Millis,
    ) {
        self.epochs.assign(epoch, log_end);
        let followers = replicas
            .iter()
            .filter(|b| **b != self.me)
            .map(|b| (*b, FollowerProgress::new(now)))
            .collect();
        self.role = Role::Leader {
            epoch,
            partition_epoch,
            isr,
            followers,
            pending_isr: None,
        };
    }

    /// The controller made another broker leader (or none).
    pub fn become_follower(&mut self, leader: Option<BrokerId>, epoch: LeaderEpoch) {
        self.role = Role::Follower { leader, epoch };
    }

    /// A follower fetches from `fetch_offset`, having last fetched records of
    /// `last_fetched_epoch`, believing the leader epoch is `current_epoch`.
    pub fn on_follower_fetch(
        &mut self,
        follower: BrokerId,
        fetch_offset: Offset,
        last_fetched_epoch: Option<LeaderEpoch>,
        current_epoch: LeaderEpoch,
        log_end: Offset,
        now: Millis,
    ) -> FollowerFetch {
        let Role::Leader {
            epoch, followers, ..
        } = &mut self.role
        else {
            return FollowerFetch::NotLeader;
        };
        if current_epoch < *epoch {
            return FollowerFetch::FencedLeaderEpoch;
        }
        if current_epoch > *epoch {
            return FollowerFetch::UnknownLeaderEpoch;
        }
        if let Some(last) = last_fetched_epoch {
            match self.epochs.end_offset_for(last, log_end) {
                Some((found, end)) if found == last && end >= fetch_offset => {}
                Some((found, end)) => {
                    return FollowerFetch::Diverging {
                        epoch: found,
                        end_offset: end.min(fetch_offset),
                    }
                }
                None => {
                    return FollowerFetch::Diverging {
                        epoch: LeaderEpoch(0),
                        end_offset: Offset(0),
                    }
                }
            }
        }
        let progress = followers
            .entry(follower)
            .or_insert(FollowerProgress::new(now));
        progress.log_end = fetch_offset;
        if fetch_offset >= log_end {
            progress.caught_up_ms = now;
        } else if fetch_offset >= progress.last_fetch_leader_log_end {
            progress.caught_up_ms = progress.caught_up_ms.max(progress.last_fetch_ms);
        }
        progress.last_fetch_leader_log_end = log_end;
        progress.last_fetch_ms = now;
        progress.fetched = true;
        self.advance_high_watermark(log_end);
        FollowerFetch::Read
    }

    /// The leader's high watermark: the smallest log end across the ISR, counting a member
    /// an AlterPartition in flight would add (KIP-497's maximal ISR: until the controller
    /// answers, either ISR may be the one a new leader is elected from). It never goes
    /// back on a leader.
    pub fn advance_high_watermark(&mut self, log_end: Offset) -> Offset {
        if let Role::Leader {
            isr,
            followers,
            pending_isr,
            ..
        } = &self.role
        {
            if isr.len() < self.high_watermark_min_isr {
                return self.high_watermark;
            }
            let lowest = isr
                .iter()
                .chain(pending_isr.iter().flatten())
                .map(|b| {
                    if *b == self.me {
                        log_end
                    } else {
                        followers.get(b).map_or(Offset(0), |f| f.log_end)
                    }
                })
                .min()
                .unwrap_or(log_end);
            self.high_watermark = self.high_watermark.max(lowest);
        }
        self.high_watermark
    }

    /// A follower takes the leader's high watermark, capped by its own log end.
    pub fn follow_high_watermark(&mut self, leader_high_watermark: Offset, log_end: Offset) {
        self.high_watermark = leader_high_watermark.min(log_end);
    }

    /// The ISR change the leader should ask for now, if any: followers that did not catch
    /// up within `lag_max_ms` leave; followers that reached the high watermark (and the
    /// current epoch's start) join.
    pub fn wanted_isr(
        &self,
        now: Millis,
        lag_max_ms: u64,
        log_end: Offset,
    ) -> Option<Vec<BrokerId>> {
        let Role::Leader {
            epoch,
            isr,
            followers,
            pending_isr,
            ..
        } = &self.role
        else {
            return None;
        };
        if pending_isr.is_some() {
            return None;
        }
        let epoch_start = self
            .epochs
            .end_offset_for(LeaderEpoch(epoch.0.saturating_sub(1)), log_end)
            .map_or(Offset(0), |(_, end)| end);
        let stays = |b: &BrokerId| {
            *b == self.me
                || followers
                    .get(b)
                    .is_some_and(|f| f.caught_up_ms + lag_max_ms > now)
        };
        // Only followers outside the current ISR join: one just dropped for lagging must
        // not come straight back.
        let joins = |(follower, progress): &(&BrokerId, &FollowerProgress)| {
            !isr.contains(follower)
                && progress.fetched
                && progress.log_end >= self.high_watermark
                && progress.log_end >= epoch_start
        };
        // Asked on every follower fetch: nothing is built when the ISR stays as it is.
        if isr.iter().all(stays) && !followers.iter().any(|f| joins(&f)) {
            return None;
        }
        let mut wanted: Vec<BrokerId> = isr.iter().copied().filter(|b| stays(b)).collect();
        wanted.extend(
            followers
                .iter()
                .filter(|f| joins(f))
                .map(|(follower, _)| *follower),
        );
        wanted.sort();
        let mut current = isr.clone();
        current.sort();
        (wanted != current).then_some(wanted)
    }

    /// Records that an AlterPartition for `isr` was sent.
    pub fn isr_change_sent(&mut self, isr: Vec<BrokerId>) {
        if let Role::Leader { pending_isr, .. } = &mut self.role {
            *pending_isr = Some(isr);
        }
    }

    /// The controller's answer: the new ISR and partition epoch, or `None` if refused.
    pub fn isr_change_answered(&mut self, accepted: Option<(Vec<BrokerId>, u32)>, log_end: Offset) {
        if let Role::Leader {
            pending_isr,
            isr,
            partition_epoch,
            ..
        } = &mut self.role
        {
            *pending_isr = None;
            if let Some((new_isr, new_epoch)) = accepted {
                *isr = new_isr;
                *partition_epoch = new_epoch;
            }
        }
        self.advance_high_watermark(log_end);
    }

    /// Whether an `acks=all` write ending at `last_offset` is acknowledged, and whether
    /// the ISR is large enough to take one (`min.insync.replicas`).
    pub fn is_committed(&self, last_offset: Offset) -> bool {
        self.high_watermark > last_offset
    }

    pub fn has_min_insync(&self, min_insync_replicas: usize) -> bool {
        matches!(&self.role, Role::Leader { isr, .. } if isr.len() >= min_insync_replicas)
    }

    /// A follower told its log diverges: the offset to truncate to. The leader's end of
    /// the diverging epoch bounds it; with KIP-279 (`diverging_epoch` given) so does the
    /// end of that epoch in this follower's own log, which is what stops two logs that
    /// parted inside an epoch only one of them had from staying parted. A follower that
    /// knows no epoch that old keeps nothing.
    pub fn truncation_for(
        &mut self,
        diverging_epoch: Option<LeaderEpoch>,
        diverging_end: Offset,
        log_end: Offset,
    ) -> Offset {
        let own_end = match diverging_epoch {
            None => log_end,
            Some(epoch) => self
                .epochs
                .end_offset_for(epoch, log_end)
                .map_or(Offset(0), |(_, end)| end),
        };
        let truncate_to = diverging_end.min(own_end).min(log_end);
        self.epochs.truncate_from_end(truncate_to);
        self.high_watermark = self.high_watermark.min(truncate_to);
        truncate_to
    }

    /// The follower's log was emptied and restarted at `start` (its leader's log start):
    /// it knows no epoch any more, and nothing below `start` is left to be committed.
    pub fn log_reset(&mut self, start: Offset) {
        self.epochs = LeaderEpochCache::default();
        self.high_watermark = start;
    }

    /// The follower appended records of `epoch` starting at `base` (fetched from the leader).
    pub fn follower_appended(&mut self, epoch: LeaderEpoch, base: Offset) {
        self.epochs.assign(epoch, base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B1: BrokerId = BrokerId(1);
    const B2: BrokerId = BrokerId(2);
    const B3: BrokerId = BrokerId(3);

    fn leader(log_end: u64) -> ReplicaState {
        let mut replica = ReplicaState::new(B1, LeaderEpochCache::default(), Offset(0));
        replica.become_leader(
            LeaderEpoch(1),
            1,
            vec![B1, B2, B3],
            &[B1, B2, B3],
            Offset(log_end),
            0,
        );
        replica
    }

    #[test]
    fn under_the_strict_min_isr_the_high_watermark_waits_for_a_large_enough_isr() {
        for strict in [false, true] {
            let mut replica = leader(0);
            if strict {
                replica = replica.with_strict_min_insync(2);
            }
            replica.on_follower_fetch(B2, Offset(4), None, LeaderEpoch(1), Offset(10), 5);
            replica.on_follower_fetch(B3, Offset(4), None, LeaderEpoch(1), Offset(10), 5);
            assert_eq!(replica.high_watermark(), Offset(4));
            // The ISR shrinks to the leader alone, below min.insync.replicas=2.
            replica.isr_change_answered(Some((vec![B1], 2)), Offset(10));
            let expected = if strict { Offset(4) } else { Offset(10) };
            assert_eq!(replica.high_watermark(), expected, "strict: {strict}");
        }
    }

    #[test]
    fn the_high_watermark_is_the_lowest_isr_log_end_and_never_goes_back() {
        let mut replica = leader(0);
        assert_eq!(replica.advance_high_watermark(Offset(10)), Offset(0));
        replica.on_follower_fetch(B2, Offset(10), None, LeaderEpoch(1), Offset(10), 5);
        assert_eq!(replica.high_watermark(), Offset(0), "b3 has nothing yet");
        replica.on_follower_fetch(B3, Offset(7), None, LeaderEpoch(1), Offset(10), 5);
        assert_eq!(replica.high_watermark(), Offset(7));
        assert!(replica.is_committed(Offset(6)) && !replica.is_committed(Offset(7)));
        replica.isr_change_answered(Some((vec![B1, B2], 2)), Offset(10));
        assert_eq!(replica.high_watermark(), Offset(10), "b3 left the ISR");
        replica.isr_change_answered(Some((vec![B1, B2, B3], 3)), Offset(10));
        assert_eq!(replica.high_watermark(), Offset(10), "never backwards");
    }

    #[test]
    fn stale_and_future_epochs_are_fenced() {
        let mut replica = leader(0);
        assert_eq!(
            replica.on_follower_fetch(B2, Offset(0), None, LeaderEpoch(0), Offset(0), 1),
            FollowerFetch::FencedLeaderEpoch
        );
        assert_eq!(
            replica.on_follower_fetch(B2, Offset(0), None, LeaderEpoch(2), Offset(0), 1),
            FollowerFetch::UnknownLeaderEpoch
        );
        replica.become_follower(Some(B2), LeaderEpoch(2));
        assert_eq!(
            replica.on_follower_fetch(B3, Offset(0), None, LeaderEpoch(2), Offset(0), 1),
            FollowerFetch::NotLeader
        );
    }

    #[test]
    fn a_follower_that_never_fetched_does_not_join_the_isr_of_an_empty_leader() {
        let mut replica = ReplicaState::new(B1, LeaderEpochCache::default(), Offset(0));
        replica.become_leader(LeaderEpoch(2), 1, vec![B1], &[B1, B2], Offset(0), 0);
        assert_eq!(replica.wanted_isr(10, 3_000, Offset(0)), None);
        replica.on_follower_fetch(B2, Offset(0), None, LeaderEpoch(2), Offset(0), 20);
        assert_eq!(replica.wanted_isr(30, 3_000, Offset(0)), Some(vec![B1, B2]));
    }

    #[test]
    fn kip_279_bounds_truncation_by_the_followers_own_end_of_the_answered_epoch() {
        // KIP-279's fast failover: b2 wrote offset 1 in epoch 2, which the leader never
        // had; the leader's epoch 1 ends at 2 (it wrote offset 1 in epoch 1, then epoch 3).
        let follower_log = || {
            ReplicaState::new(
                B2,
                LeaderEpochCache::from_batches([
                    (LeaderEpoch(1), Offset(0)),
                    (LeaderEpoch(2), Offset(1)),
                ]),
                Offset(1),
            )
        };
        assert_eq!(
            follower_log().truncation_for(Some(LeaderEpoch(1)), Offset(2), Offset(2)),
            Offset(1),
            "with KIP-279 the follower cuts where its own epoch 1 ends"
        );
        assert_eq!(
            follower_log().truncation_for(None, Offset(2), Offset(2)),
            Offset(2),
            "without it the follower keeps its epoch-2 record at offset 1: divergence"
        );
        assert_eq!(
            follower_log().truncation_for(Some(LeaderEpoch(0)), Offset(2), Offset(2)),
            Offset(0),
            "a follower with no epoch that old keeps nothing"
        );
    }

    #[test]
    fn a_follower_ahead_in_an_old_epoch_is_told_where_it_diverges() {
        // The leader wrote epoch 1 up to offset 10, then became leader again in epoch 3 at 10.
        let mut epochs = LeaderEpochCache::default();
        epochs.assign(LeaderEpoch(1), Offset(0));
        let mut replica = ReplicaState::new(B1, epochs, Offset(8));
        replica.become_leader(LeaderEpoch(3), 4, vec![B1, B2], &[B1, B2], Offset(10), 0);
        // b2 has records of epoch 2 (a leader the ISR never followed) up to 14.
        let answer = replica.on_follower_fetch(
            B2,
            Offset(14),
            Some(LeaderEpoch(2)),
            LeaderEpoch(3),
            Offset(12),
            1,
        );
        assert_eq!(
            answer,
            FollowerFetch::Diverging {
                epoch: LeaderEpoch(1),
                end_offset: Offset(10)
            }
        );
        let mut follower = ReplicaState::new(
            B2,
            LeaderEpochCache::from_batches([
                (LeaderEpoch(1), Offset(0)),
                (LeaderEpoch(2), Offset(10)),
            ]),
            Offset(8),
        );
        assert_eq!(
            follower.truncation_for(Some(LeaderEpoch(1)), Offset(10), Offset(14)),
            Offset(10)
        );
        assert_eq!(follower.epochs().latest_epoch(), Some(LeaderEpoch(1)));
        // Once truncated it fetches normally.
        assert_eq!(
            replica.on_follower_fetch(
                B2,
                Offset(10),
                Some(LeaderEpoch(1)),
                LeaderEpoch(3),
                Offset(12),
                2
            ),
            FollowerFetch::Read
        );
    }

    #[test]
    fn laggards_leave_the_isr_and_caught_up_followers_join() {
        let mut replica = leader(0);
        replica.on_follower_fetch(B2, Offset(5), None, LeaderEpoch(1), Offset(5), 100);
        assert_eq!(replica.wanted_isr(100, 1_000, Offset(5)), None);
        // b3 has not caught up for longer than the lag limit.
        let shrink = replica.wanted_isr(1_001, 1_000, Offset(5)).unwrap();
        assert_eq!(shrink, vec![B1, B2]);
        replica.isr_change_sent(shrink.clone());
        assert_eq!(
            replica.wanted_isr(1_002, 1_000, Offset(5)),
            None,
            "one request at a time"
        );
        replica.isr_change_answered(Some((shrink, 2)), Offset(5));
        assert_eq!(replica.high_watermark(), Offset(5));
        replica.on_follower_fetch(B2, Offset(5), None, LeaderEpoch(1), Offset(5), 1_100);
        replica.on_follower_fetch(B3, Offset(5), None, LeaderEpoch(1), Offset(5), 1_100);
        assert_eq!(
            replica.wanted_isr(1_100, 1_000, Offset(5)),
            Some(vec![B1, B2, B3])
        );
        assert!(replica.has_min_insync(2) && !replica.has_min_insync(3));
    }
}

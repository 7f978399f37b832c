//! The harness's mirror of one replica (one broker's copy of one partition), rebuilt from the
//! `ReplicaEvent`s that broker emits: its log from `log_start`, its high watermark, and the
//! role it believes it has. The invariants read these mirrors instead of the brokers, so a
//! check never depends on a broker's own (possibly buggy) bookkeeping.
//!
//! Log changes follow Kafka's `UnifiedLog`: truncation lowers the high watermark to the new
//! log end (`truncateTo`), and a broker restart rebuilds the log from disk with a high
//! watermark no higher than before (it reads its HW checkpoint).

use kafka_model::effect::ReplicaRecord;
use kafka_model::ids::{BrokerId, LeaderEpoch};

/// What the replica believes its role is, as its last role event said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Role {
    /// Not told yet in this life (just recovered, or never heard of).
    #[default]
    Unknown,
    /// It presumes to lead `epoch`, with this ISR (its own view: BecameLeader, IsrChanged).
    Leader {
        epoch: LeaderEpoch,
        isr: Vec<BrokerId>,
    },
    Follower {
        epoch: LeaderEpoch,
    },
}

/// One replica's log, high watermark and role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Replica {
    pub log_start: u64,
    /// `records[i]` is the record at offset `log_start + i`.
    pub records: Vec<ReplicaRecord>,
    pub high_watermark: u64,
    pub role: Role,
    /// Offsets below this were checked to hold the committed prefix (LeaderCompleteness),
    /// so a later election re-checks only what is new. Lowered whenever the log is cut.
    pub committed_verified: u64,
}

impl Replica {
    pub fn log_end(&self) -> u64 {
        self.log_start + self.records.len() as u64
    }

    /// The record at `offset`, if the log holds it.
    pub fn get(&self, offset: u64) -> Option<&ReplicaRecord> {
        let index = offset.checked_sub(self.log_start)?;
        self.records.get(usize::try_from(index).ok()?)
    }

    /// The ISR of the leader role, if it presumes to lead.
    pub fn leader_isr(&self) -> Option<&[BrokerId]> {
        match &self.role {
            Role::Leader { isr, .. } => Some(isr),
            _ => None,
        }
    }

    /// A restart: the whole log as recovered from disk. The role is forgotten (a new life),
    /// and the high watermark is kept only as far as the recovered log reaches. Returns the
    /// offset from which the log may differ from before: 0, as anything may have changed.
    pub fn recover(&mut self, log_start: u64, records: &[ReplicaRecord]) -> u64 {
        self.log_start = log_start;
        self.records = records.to_vec();
        self.role = Role::Unknown;
        self.cut_to(0);
        0
    }

    /// Records written at `base`. Writing below the log end replaces the suffix from `base`
    /// (an implicit truncation); writing outside the log (below its start or past its end)
    /// restarts the log at `base`, as a follower does after OffsetOutOfRange. Returns the
    /// offset from which the log may differ from before, if records were replaced.
    pub fn append(&mut self, base: u64, records: &[ReplicaRecord]) -> Option<u64> {
        let cut = if base < self.log_start || base > self.log_end() {
            self.log_start = base;
            self.records.clear();
            Some(0)
        } else if base < self.log_end() {
            self.records.truncate((base - self.log_start) as usize);
            Some(base)
        } else {
            None
        };
        if let Some(from) = cut {
            self.cut_to(from);
        }
        self.records.extend_from_slice(records);
        cut
    }

    /// The log start rose to `log_start`: the records below it are gone (retention), or,
    /// for a `reset`, every record is (a follower restarting its log at its leader's log
    /// start). Returns the offset from which the log may differ from before, for a reset.
    pub fn raise_log_start(&mut self, log_start: u64, reset: bool) -> Option<u64> {
        if reset || log_start >= self.log_end() {
            self.records.clear();
            self.log_start = log_start;
            self.cut_to(log_start);
            return Some(log_start);
        }
        let gone = log_start.saturating_sub(self.log_start);
        self.records.drain(..gone as usize);
        self.log_start = self.log_start.max(log_start);
        None
    }

    /// The log cut to end at `log_end`. Returns the cut offset, if anything was removed.
    pub fn truncate(&mut self, log_end: u64) -> Option<u64> {
        if log_end >= self.log_end() {
            return None;
        }
        let keep = log_end.saturating_sub(self.log_start);
        self.records.truncate(keep as usize);
        self.cut_to(log_end);
        Some(log_end)
    }

    /// After the log changed from `from` on: what was verified above it no longer holds, and
    /// the high watermark cannot exceed the log end (`UnifiedLog.truncateTo` lowers it too).
    fn cut_to(&mut self, from: u64) {
        self.committed_verified = self.committed_verified.min(from);
        self.high_watermark = self.high_watermark.min(self.log_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(values: &[u64]) -> Vec<ReplicaRecord> {
        values
            .iter()
            .map(|&value| ReplicaRecord {
                value,
                epoch: LeaderEpoch(1),
                producer: None,
            })
            .collect()
    }

    #[test]
    fn appends_extend_replace_or_restart_the_log() {
        let mut r = Replica::default();
        assert_eq!(r.append(0, &records(&[1, 2, 3])), None);
        r.high_watermark = 3;
        r.committed_verified = 3;
        assert_eq!(r.append(1, &records(&[9])), Some(1));
        assert_eq!(
            (r.log_end(), r.high_watermark, r.committed_verified),
            (2, 1, 1)
        );
        assert_eq!(r.get(1).map(|x| x.value), Some(9));
        assert_eq!(r.append(5, &records(&[7])), Some(0));
        assert_eq!(
            (r.log_start, r.log_end(), r.get(5).map(|x| x.value)),
            (5, 6, Some(7))
        );
        assert_eq!(r.get(4), None);
    }

    #[test]
    fn retention_drops_a_prefix_and_a_reset_drops_everything() {
        let mut r = Replica::default();
        r.append(0, &records(&[1, 2, 3, 4]));
        r.high_watermark = 4;
        assert_eq!(r.raise_log_start(2, false), None);
        assert_eq!((r.log_start, r.log_end(), r.high_watermark), (2, 4, 4));
        assert_eq!((r.get(1), r.get(2).map(|x| x.value)), (None, Some(3)));
        assert_eq!(r.raise_log_start(9, true), Some(9));
        assert_eq!((r.log_start, r.log_end(), r.high_watermark), (9, 9, 4));
    }

    #[test]
    fn truncation_and_recovery_lower_the_high_watermark() {
        let mut r = Replica::default();
        r.append(0, &records(&[1, 2, 3]));
        r.high_watermark = 3;
        assert_eq!(r.truncate(5), None);
        assert_eq!(r.truncate(2), Some(2));
        assert_eq!(r.high_watermark, 2);
        r.role = Role::Follower {
            epoch: LeaderEpoch(1),
        };
        r.recover(0, &records(&[1]));
        assert_eq!((r.high_watermark, &r.role), (1, &Role::Unknown));
    }
}

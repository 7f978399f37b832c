//! The committed prefix of a partition: the records below the highest high watermark any
//! leader ever reported, as that leader held them when it reported it. A record is committed
//! once the leader's high watermark passes it (Kafka's replication design, "Replicated Logs":
//! a message is committed when every in-sync replica has it), and from then on it must
//! survive: LeaderCompleteness and NoCommittedRecordLostGlobally compare logs against this.
//!
//! The prefix only grows, and an offset keeps the first record committed there: a later
//! leader holding something else at that offset is the anomaly, not a new truth.

use super::replica::Replica;
use kafka_model::effect::ReplicaRecord;
use kafka_model::ids::BrokerId;

/// When the prefix grew: its new end, the history index, and the leader that reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Growth {
    pub end: u64,
    pub index: u64,
    pub leader: BrokerId,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CommittedPrefix {
    /// `records[o]` is the record committed at offset `o`; `None` if the leader that
    /// committed it had already deleted it (below its log start), so nobody can be held to it.
    records: Vec<Option<ReplicaRecord>>,
    growth: Vec<Growth>,
}

impl CommittedPrefix {
    pub fn end(&self) -> u64 {
        self.records.len() as u64
    }

    pub fn get(&self, offset: u64) -> Option<ReplicaRecord> {
        *self.records.get(usize::try_from(offset).ok()?)?
    }

    /// Every committed offset at `from` and above, with the record committed there
    /// (`None`: its leader had already deleted it when it was committed).
    pub fn entries_from(
        &self,
        from: u64,
    ) -> impl Iterator<Item = (u64, Option<ReplicaRecord>)> + '_ {
        (from..self.end()).map(|offset| (offset, self.get(offset)))
    }

    /// The committed records at `from` and above, with their offsets.
    pub fn records_from(&self, from: u64) -> impl Iterator<Item = (u64, ReplicaRecord)> + '_ {
        (from..self.end()).filter_map(|offset| self.get(offset).map(|r| (offset, r)))
    }

    /// Leader `leader` reported its high watermark: the records below it, as far as its log
    /// reaches, are committed.
    pub fn grow(&mut self, leader: BrokerId, replica: &Replica, index: u64) {
        let end = replica.high_watermark.min(replica.log_end());
        if end <= self.end() {
            return;
        }
        for offset in self.end()..end {
            self.records.push(replica.get(offset).copied());
        }
        self.growth.push(Growth { end, index, leader });
    }

    /// When the record at `offset` was committed, if it is.
    pub fn committed_at(&self, offset: u64) -> Option<Growth> {
        let at = self.growth.partition_point(|g| g.end <= offset);
        self.growth.get(at).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_model::ids::LeaderEpoch;

    #[test]
    fn the_prefix_grows_with_the_highest_high_watermark_and_keeps_first_records() {
        let record = |value| ReplicaRecord {
            value,
            epoch: LeaderEpoch(1),
            producer: None,
        };
        let mut leader = Replica::default();
        leader.append(0, &[record(1), record(2), record(3)]);
        leader.high_watermark = 2;
        let mut prefix = CommittedPrefix::default();
        prefix.grow(BrokerId(1), &leader, 10);
        leader.append(1, &[record(9), record(8), record(7)]);
        leader.high_watermark = 1; // lower: nothing new
        prefix.grow(BrokerId(1), &leader, 11);
        leader.high_watermark = 3;
        prefix.grow(BrokerId(2), &leader, 12);
        let values: Vec<_> = prefix.records_from(0).map(|(_, r)| r.value).collect();
        assert_eq!(values, vec![1, 2, 8]);
        assert_eq!(prefix.committed_at(1).map(|g| g.index), Some(10));
        assert_eq!(prefix.committed_at(2).map(|g| g.leader), Some(BrokerId(2)));
        assert_eq!(prefix.committed_at(3), None);
    }
}

//! The loss ledger: which records the run lost, and how, as the replica mirror saw it. A
//! power loss that cut un-fsynced records from a replica (at its recovery), a leader that
//! took over without records another replica had (after an unclean election, or a clean
//! one that left an unreplicated tail behind): each with the chain of events that shows it.
//! The excuse pass (`crate::excuse`) matches anomalies against these facts; nothing here
//! decides a verdict.

use super::partition::Partition;
use super::replica::Replica;
use crate::checkers::ChainLink;
use crate::events::EventAt;
use kafka_model::effect::ReplicaEvent;
use kafka_model::ids::{BrokerId, LeaderEpoch, TopicPartition};
use std::collections::BTreeMap;

/// How records were lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossCause {
    /// A power loss cut them (un-fsynced) from a replica.
    PowerLoss,
    /// A failed fsync dropped them (un-fsynced) from a replica's page cache.
    FsyncFailure,
    /// A corrupted or misdirected write damaged them on a replica's disk: its recovery cut
    /// them at the first batch that failed its CRC.
    Corruption,
    /// An out-of-sync replica became leader without them.
    UncleanElection,
    /// A replica of the ISR became leader without them: records beyond its log that only
    /// others had (an acks=1 or acks=0 tail, or a bug if they were committed).
    LeaderLacked,
}

impl LossCause {
    /// The first link of a cut's chain: what struck the replica's disk.
    fn what_struck(self) -> &'static str {
        match self {
            LossCause::PowerLoss => "lost power: what it had not fsynced is gone",
            LossCause::FsyncFailure => "an fsync failed: what it had not fsynced is gone",
            LossCause::Corruption => "a write was damaged on its disk",
            LossCause::UncleanElection | LossCause::LeaderLacked => "lost records",
        }
    }
}

/// Records one replica lost, or one leader lacked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostRecords {
    pub tp: TopicPartition,
    /// The replica that lost them (a cut), or the leader that lacked them.
    pub broker: BrokerId,
    /// (offset, value) of each record.
    pub records: Vec<(u64, u64)>,
    pub cause: LossCause,
    pub chain: Vec<ChainLink>,
}

impl LostRecords {
    pub fn holds_value(&self, value: u64) -> bool {
        self.records.iter().any(|(_, v)| *v == value)
    }

    pub fn holds_offset(&self, offset: u64) -> bool {
        self.records.iter().any(|(o, _)| *o == offset)
    }
}

/// The run's losses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LossLedger {
    /// Records a power loss cut from a replica, whether or not it led afterwards: they
    /// explain replicas that disagree, not records a reader saw vanish.
    pub cuts: Vec<LostRecords>,
    /// Records a leader lacked when it took over, so that they vanished for every reader.
    pub losses: Vec<LostRecords>,
}

/// One election as the controller decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Election {
    pub leader: BrokerId,
    /// Whether the leader was in the ISR the election chose from.
    pub clean: bool,
    pub link: ChainLink,
}

/// What a partition's part of the ledger keeps while the run goes on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PartitionLosses {
    /// Per replica, what its last power loss cut, with the chain so far, until it leads.
    pub cut: BTreeMap<BrokerId, LostRecords>,
    pub elections: BTreeMap<LeaderEpoch, Election>,
    /// Replicas an unclean election chose that have not led since: when one does, even
    /// in a later epoch from the ISR that election left it alone in, what it lacks is that
    /// election's doing.
    pub unclean: BTreeMap<BrokerId, ChainLink>,
    /// Leaderships that lose records by their nature: one an unclean election gave, or
    /// one a replica took after a power loss cut its log. What a follower truncates to
    /// follow such a leader is lost the same way, even records written after the
    /// election (by a deposed leader that did not know yet).
    pub tainted: BTreeMap<LeaderEpoch, (LossCause, Vec<ChainLink>)>,
}

/// The event the mirror just applied, for the ledger.
pub(crate) struct Facts<'a> {
    pub tp: &'a TopicPartition,
    pub broker: BrokerId,
    pub at: EventAt,
}

impl Facts<'_> {
    /// The broker recovered this log in an incarnation that followed a power loss
    /// (`cut_at`): what it held `before` and no longer holds was cut.
    pub fn recovered_after_power_cut(
        &self,
        p: &mut Partition,
        before: &Replica,
        cut_at: EventAt,
        cause: LossCause,
        ledger: &mut LossLedger,
    ) {
        let after = p.replicas.get(&self.broker).cloned().unwrap_or_default();
        let records = cut_between(before, &after);
        // A power loss that finds nothing more to cut leaves the last one's cut standing:
        // the replica still lacks those records until it leads or fetches them again.
        if records.is_empty() {
            return;
        }
        let (tp, b) = (self.tp, self.broker.to_string());
        let chain = vec![
            link(cut_at, &b, cause.what_struck().into()),
            link(
                self.at,
                &b,
                format!(
                    "recovered {tp} to log end {}: {} cut",
                    after.log_end(),
                    describe(&records)
                ),
            ),
        ];
        let cut = LostRecords {
            tp: tp.clone(),
            broker: self.broker,
            records,
            cause,
            chain,
        };
        ledger.cuts.push(cut.clone());
        match p.losses.cut.get_mut(&self.broker) {
            Some(earlier) => {
                earlier.records.extend(cut.records);
                earlier.chain.extend(cut.chain);
            }
            None => {
                p.losses.cut.insert(self.broker, cut);
            }
        }
    }

    /// The broker became leader of `epoch`: what its last power loss cut and it still
    /// lacks is lost, and so is what other replicas hold that it lacks.
    pub fn became_leader(&self, p: &mut Partition, epoch: LeaderEpoch, ledger: &mut LossLedger) {
        let Some(leader) = p.replicas.get(&self.broker) else {
            return;
        };
        let (tp, b) = (self.tp, self.broker.to_string());
        let lead = |what: String| format!("became leader of {tp} in epoch {} {what}", epoch.0);
        if let Some(cut) = p.losses.cut.remove(&self.broker) {
            let mut taint = cut.chain.clone();
            taint.push(link(self.at, &b, lead(String::new())));
            p.losses.tainted.entry(epoch).or_insert((cut.cause, taint));
            let lacking: Vec<(u64, u64)> = cut
                .records
                .iter()
                .filter(|(o, v)| leader.get(*o).is_none_or(|r| r.value != *v))
                .copied()
                .collect();
            if !lacking.is_empty() {
                let mut chain = cut.chain;
                chain.push(link(
                    self.at,
                    &b,
                    lead(format!("without {}", describe(&lacking))),
                ));
                ledger.losses.push(LostRecords {
                    records: lacking,
                    chain,
                    ..cut
                });
            }
        }
        let election = p
            .losses
            .elections
            .get(&epoch)
            .filter(|e| e.leader == self.broker);
        // The unclean election behind this leadership: an earlier one that left the broker
        // alone in the ISR, or this epoch's own.
        let unclean = p
            .losses
            .unclean
            .remove(&self.broker)
            .or_else(|| election.filter(|e| !e.clean).map(|e| e.link.clone()));
        if let Some(first) = &unclean {
            let taint = vec![first.clone(), link(self.at, &b, lead(String::new()))];
            p.losses
                .tainted
                .insert(epoch, (LossCause::UncleanElection, taint));
        }
        let others = p.replicas.iter().filter(|(id, _)| **id != self.broker);
        let lacked = lacked_by(leader, others.map(|(_, r)| r));
        if lacked.is_empty() {
            return;
        }
        let cause = match unclean {
            Some(_) => LossCause::UncleanElection,
            None => LossCause::LeaderLacked,
        };
        let mut chain: Vec<ChainLink> = unclean.into_iter().collect();
        chain.extend(
            election
                .map(|e| e.link.clone())
                .filter(|l| !chain.contains(l)),
        );
        let what = format!(
            "with log end {}, without {} that other replicas had",
            leader.log_end(),
            describe(&lacked)
        );
        chain.push(link(self.at, &b, lead(what)));
        ledger.losses.push(LostRecords {
            tp: tp.clone(),
            broker: self.broker,
            records: lacked,
            cause,
            chain,
        });
    }
}

/// The records a replica's next log change cuts: a truncation, or an append below its log
/// end that replaces what it held.
pub(crate) fn about_to_cut(replica: &Replica, event: &ReplicaEvent) -> Vec<(u64, u64)> {
    let from = match event {
        ReplicaEvent::Truncated { log_end, .. } => log_end.0,
        ReplicaEvent::Appended { base, records, .. } => {
            let replaced = records
                .iter()
                .zip(base.0..)
                .any(|(new, offset)| replica.get(offset).is_some_and(|old| old != new));
            if !replaced && base.0 + records.len() as u64 >= replica.log_end() {
                return Vec::new();
            }
            base.0
        }
        _ => return Vec::new(),
    };
    let kept = |offset: u64| match event {
        ReplicaEvent::Appended { base, records, .. } => records
            .get((offset - base.0) as usize)
            .is_some_and(|new| replica.get(offset) == Some(new)),
        _ => false,
    };
    (from.max(replica.log_start)..replica.log_end())
        .filter(|offset| !kept(*offset))
        .filter_map(|offset| Some((offset, replica.get(offset)?.value)))
        .collect()
}

impl Facts<'_> {
    /// A follower of `epoch` is about to cut `records` to follow its leader: if that
    /// leadership loses records by its nature, these are lost with it.
    pub fn follower_cuts(
        &self,
        p: &Partition,
        epoch: LeaderEpoch,
        records: Vec<(u64, u64)>,
        ledger: &mut LossLedger,
    ) {
        let Some((cause, taint)) = p.losses.tainted.get(&epoch) else {
            return;
        };
        let what = format!(
            "cut {} of {} to follow the leader of epoch {}",
            describe(&records),
            self.tp,
            epoch.0
        );
        let mut chain = taint.clone();
        chain.push(link(self.at, &self.broker.to_string(), what));
        ledger.losses.push(LostRecords {
            tp: self.tp.clone(),
            broker: self.broker,
            records,
            cause: *cause,
            chain,
        });
    }
}

/// The controller chose `leader` for `epoch`: clean if it was in the ISR it chose from
/// (the previous change's), or, that ISR being empty, in its eligible leader replicas
/// (KIP-966), as Kafka's `PartitionChangeBuilder` requires unless unclean election is on.
pub(crate) fn record_election(
    p: &mut Partition,
    tp: &TopicPartition,
    leader: BrokerId,
    isr: &[BrokerId],
    epoch: LeaderEpoch,
    at: EventAt,
) {
    let previous = p.controller.as_ref();
    if previous.is_some_and(|c| c.leader_epoch >= epoch) || p.losses.elections.contains_key(&epoch)
    {
        return;
    }
    let (chose_from, from) = match previous {
        None => (isr.to_vec(), "ISR"),
        Some(c) if c.isr.is_empty() && !c.elr.is_empty() => (c.elr.clone(), "ELR"),
        Some(c) => (c.isr.clone(), "ISR"),
    };
    let clean = chose_from.contains(&leader);
    let what = format!(
        "elected {leader} leader of {tp} in epoch {} from the {from} {}{}",
        epoch.0,
        super::brokers(&chose_from),
        if clean {
            String::new()
        } else {
            format!(": {leader} is not in it (unclean election)")
        }
    );
    let link = link(at, "controller", what);
    if !clean {
        p.losses.unclean.insert(leader, link.clone());
    }
    p.losses.elections.insert(
        epoch,
        Election {
            leader,
            clean,
            link,
        },
    );
}

/// A node's name as the chain shows it.
pub(crate) fn link(at: EventAt, node: &str, what: String) -> ChainLink {
    ChainLink {
        seq: at.seq,
        time_ms: at.time_ms,
        node: node.to_string(),
        what,
    }
}

/// The records `before` held that `after` does not hold at the same offset.
pub(crate) fn cut_between(before: &Replica, after: &Replica) -> Vec<(u64, u64)> {
    (before.log_start..before.log_end())
        .filter_map(|offset| {
            let record = before.get(offset)?;
            let kept = after
                .get(offset)
                .is_some_and(|r| r.value == record.value && r.epoch == record.epoch);
            (!kept).then_some((offset, record.value))
        })
        .collect()
}

/// The records some other replica holds, from the leader's log start on, that the leader
/// does not hold at the same offset in the same epoch (each value once).
pub(crate) fn lacked_by<'a>(
    leader: &Replica,
    others: impl Iterator<Item = &'a Replica>,
) -> Vec<(u64, u64)> {
    let mut lacked: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for other in others {
        for offset in other.log_start.max(leader.log_start)..other.log_end() {
            let Some(record) = other.get(offset) else {
                continue;
            };
            // The same value written again in a later epoch (a retried send) is another
            // entry: the replicas disagree on it all the same.
            if leader.get(offset) == Some(record) {
                continue;
            }
            lacked.entry(record.value).or_insert((offset, record.value));
        }
    }
    let mut records: Vec<(u64, u64)> = lacked.into_values().collect();
    records.sort_unstable();
    records
}

/// "offsets 40..52 (12 records)", for chains.
pub(crate) fn describe(records: &[(u64, u64)]) -> String {
    match (records.first(), records.last()) {
        (Some((first, _)), Some((last, _))) if records.len() > 1 => {
            format!("offsets {first}..={last} ({} records)", records.len())
        }
        (Some((offset, value)), _) => format!("offset {offset} (value {value})"),
        _ => "no records".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_model::effect::ReplicaRecord;

    fn replica(log_start: u64, values: &[(u64, u32)]) -> Replica {
        let mut replica = Replica {
            log_start,
            ..Replica::default()
        };
        replica.records = values
            .iter()
            .map(|&(value, epoch)| ReplicaRecord {
                value,
                epoch: LeaderEpoch(epoch),
                producer: None,
            })
            .collect();
        replica
    }

    #[test]
    fn a_cut_is_what_the_recovered_log_no_longer_holds() {
        let before = replica(0, &[(1, 1), (2, 1), (3, 1)]);
        let after = replica(0, &[(1, 1)]);
        assert_eq!(cut_between(&before, &after), vec![(1, 2), (2, 3)]);
        assert_eq!(cut_between(&before, &before), vec![]);
        let rewritten = replica(0, &[(1, 1), (9, 2), (3, 1)]);
        assert_eq!(cut_between(&before, &rewritten), vec![(1, 2)]);
    }

    #[test]
    fn a_leader_lacks_what_others_hold_beyond_or_unlike_its_log() {
        let leader = replica(0, &[(1, 1), (5, 2)]);
        let a = replica(0, &[(1, 1), (2, 1), (3, 1)]);
        let b = replica(0, &[(1, 1), (2, 1)]);
        assert_eq!(
            lacked_by(&leader, [&a, &b].into_iter()),
            vec![(1, 2), (2, 3)]
        );
        assert_eq!(lacked_by(&a, [&b].into_iter()), vec![]);
        assert_eq!(describe(&[(1, 2), (2, 3)]), "offsets 1..=2 (2 records)");
    }
}

//! Cluster invariants: safety properties of the replicated brokers, checked on a mirror of
//! every replica as the run goes, the way Kafka's RaftEventSimulationTest checks its
//! invariants after every event and validates the logs at the end (DESIGN.md section 5).
//!
//! [`ClusterInvariants`] consumes what the model emits: each broker's
//! [`ReplicaEvent`]s (its log, high watermark and role) and the controller's
//! [`MetadataRecord`]s. After applying an event to the mirror it runs only the invariants that
//! event could break, for that partition only, and incrementally: LogMatching and StrongIsr
//! compare only offsets not yet verified for a pair of replicas, LeaderCompleteness only the
//! committed records a new leader was not yet checked for. [`ClusterInvariants::finish`]
//! adds the end-of-run validations (NoCommittedRecordLostGlobally, ConsistentRead).
//!
//! One invariant per file, each a small function over the mirror citing where its rule comes
//! from. Each kind is reported at most once per partition, at its first breach, so one bug
//! gives one line rather than thousands (a breach a known power-loss cut explains is
//! stepped over, so that one nothing explains still shows). The loss-type invariants are
//! violations that the excuse pass (`crate::excuse`) allows only where the loss ledger
//! (`losses.rs`, kept here from the same events) explains their records; SingleLeader,
//! MonotonicEpoch and LeaderInIsr are violations under every configuration, and so is a log
//! start raised past the high watermark (`retention.rs`).

use crate::checkers::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::events::EventAt;
use crate::history::History;
use kafka_model::effect::{LogStartCause, ReplicaEvent};
use kafka_model::ids::{BrokerId, TopicPartition};
use kafka_model::metadata::MetadataRecord;
use losses::{record_election, Facts, LossCause, LossLedger};
use partition::{LatestChange, Partition};
use replica::{Replica, Role};
use single_leader::{Claim, Claimant};
use std::collections::BTreeMap;

mod agreement;
#[cfg(test)]
pub(crate) mod build;
mod committed;
pub mod committed_record_lost;
pub mod consistent_read;
pub mod leader_completeness;
pub mod leader_in_isr;
pub mod log_matching;
pub mod losses;
pub mod monotonic_epoch;
mod partition;
pub mod quorum;
mod replica;
pub mod retention;
pub mod single_leader;
pub mod strong_isr;

/// What an invariant is and how a breach of it is judged.
pub(crate) struct Rule {
    pub kind: AnomalyKind,
    /// Whether losing committed records (unclean election, power loss with async flush)
    /// excuses a breach, making it allowed rather than a violation.
    pub excusable: bool,
    /// Why a breach is a violation, in one line.
    pub promise: &'static str,
}

/// What an invariant found: the anomaly's detail (without the partition) and values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Breach {
    pub detail: String,
    pub values: Vec<u64>,
    /// For a disagreement between two replicas: the pair and the offset, so that a breach
    /// a known power-loss cut explains can be stepped over and the pair checked on.
    pub skip: Option<(BrokerId, BrokerId, u64)>,
}

/// "[b1, b2]", for details.
pub(crate) fn brokers(list: &[BrokerId]) -> String {
    let names: Vec<String> = list.iter().map(ToString::to_string).collect();
    format!("[{}]", names.join(", "))
}

/// The invariants' state: a mirror of every replica and each partition's ledgers.
#[derive(Clone, Debug)]
pub struct ClusterInvariants {
    promises: Promises,
    partitions: BTreeMap<TopicPartition, Partition>,
    /// Per broker, how many logs it has recovered: a Recovered event starts a new life, and
    /// MonotonicEpoch compares a broker's epochs only within one life.
    lives: BTreeMap<BrokerId, u32>,
    anomalies: Vec<Anomaly>,
    /// The highest history index seen, for the end-of-run validations.
    last_index: u64,
    /// Brokers that lost power (or whose disk a storage fault struck) and have not started
    /// since, with how.
    power_cuts: BTreeMap<BrokerId, (EventAt, LossCause)>,
    /// Brokers whose current incarnation started after a power loss or storage fault.
    started_after_power_cut: BTreeMap<BrokerId, (EventAt, LossCause)>,
    ledger: LossLedger,
}

impl ClusterInvariants {
    pub fn new(promises: Promises) -> Self {
        ClusterInvariants {
            promises,
            partitions: BTreeMap::new(),
            lives: BTreeMap::new(),
            anomalies: Vec::new(),
            last_index: 0,
            power_cuts: BTreeMap::new(),
            started_after_power_cut: BTreeMap::new(),
            ledger: LossLedger::default(),
        }
    }

    /// `broker` lost power (what it had not fsynced is gone), or a storage fault damaged
    /// its disk (`cause`): what its next recoveries cut, this explains.
    pub fn on_power_cut(&mut self, broker: BrokerId, at: EventAt, cause: LossCause) {
        self.power_cuts.insert(broker, (at, cause));
    }

    /// `broker` started an incarnation: its logs' recoveries follow.
    pub fn on_started(&mut self, broker: BrokerId) {
        match self.power_cuts.remove(&broker) {
            Some(at) => self.started_after_power_cut.insert(broker, at),
            None => self.started_after_power_cut.remove(&broker),
        };
    }

    /// What the run lost, as far as the mirror saw.
    pub fn ledger(&self) -> &LossLedger {
        &self.ledger
    }

    /// Applies `broker`'s event to the mirror, then runs the invariants it could break.
    /// `history_index` is where the run's history stood: it becomes the anomaly's index.
    pub fn on_replica_event(
        &mut self,
        history_index: u64,
        broker: BrokerId,
        event: &ReplicaEvent,
        at: EventAt,
    ) {
        self.last_index = self.last_index.max(history_index);
        if let ReplicaEvent::Recovered { .. } = event {
            *self.lives.entry(broker).or_default() += 1;
        }
        let life = self.lives.get(&broker).copied().unwrap_or(0);
        let tp = event_partition(event);
        let partition = partition_mut(&mut self.partitions, tp);
        let power_cut = self.started_after_power_cut.get(&broker).copied();
        let before = match (event, power_cut) {
            (ReplicaEvent::Recovered { .. }, Some(_)) => {
                Some(partition.replicas.get(&broker).cloned().unwrap_or_default())
            }
            _ => None,
        };
        let facts = Facts { tp, broker, at };
        if let Some(replica) = partition.replicas.get(&broker) {
            if let replica::Role::Follower { epoch } = replica.role {
                let cut = losses::about_to_cut(replica, event);
                if !cut.is_empty() {
                    facts.follower_cuts(partition, epoch, cut, &mut self.ledger);
                }
            }
        }
        let found = apply(partition, broker, life, event, history_index);
        if let (Some(before), Some((cut_at, cause))) = (before, power_cut) {
            facts.recovered_after_power_cut(partition, &before, cut_at, cause, &mut self.ledger);
        }
        if let ReplicaEvent::BecameLeader { epoch, .. } = event {
            facts.became_leader(partition, *epoch, &mut self.ledger);
        }
        let mut sink = Sink {
            anomalies: &mut self.anomalies,
            promises: &self.promises,
            ledger: &self.ledger,
            broker: Some(broker),
        };
        report(&mut sink, partition, tp, history_index, found);
    }

    /// Follows the controller's metadata log: leaders, ISRs and epochs as the controller
    /// decided them.
    pub fn on_metadata(&mut self, history_index: u64, record: &MetadataRecord, at: EventAt) {
        self.last_index = self.last_index.max(history_index);
        let MetadataRecord::PartitionChange {
            tp,
            leader,
            isr,
            leader_epoch,
            partition_epoch,
            elr,
            ..
        } = record
        else {
            if let MetadataRecord::CreatePartition { tp, .. } = record {
                partition_mut(&mut self.partitions, tp);
            }
            return;
        };
        let partition = partition_mut(&mut self.partitions, tp);
        if let Some(leader) = *leader {
            record_election(partition, tp, leader, isr, *leader_epoch, at);
        }
        let mut found = Vec::new();
        let previous = partition.controller.as_ref().map(|c| c.leader_epoch);
        found.extend(
            monotonic_epoch::check_controller(previous, *leader_epoch)
                .map(|b| (&monotonic_epoch::RULE, b)),
        );
        if let Some(leader) = *leader {
            let claim = Claim {
                broker: leader,
                by: Claimant::Controller,
                index: history_index,
            };
            found.extend(
                single_leader::check(&mut partition.claims, *leader_epoch, claim)
                    .map(|b| (&single_leader::RULE, b)),
            );
            found.extend(
                leader_in_isr::check(leader, isr, "the controller's record")
                    .map(|b| (&leader_in_isr::RULE, b)),
            );
        }
        partition.controller = Some(LatestChange {
            leader: *leader,
            isr: isr.clone(),
            leader_epoch: *leader_epoch,
            partition_epoch: *partition_epoch,
            elr: elr.clone(),
        });
        let mut sink = Sink {
            anomalies: &mut self.anomalies,
            promises: &self.promises,
            ledger: &self.ledger,
            broker: None,
        };
        report(&mut sink, partition, tp, history_index, found);
    }

    /// Partitions the controller last left without a leader, for the liveness phase.
    pub fn leaderless(&self) -> Vec<TopicPartition> {
        self.partitions
            .iter()
            .filter(|(_, p)| p.controller.as_ref().is_some_and(|c| c.leader.is_none()))
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// How far retention deleted each partition's records, as the brokers reported it:
    /// what the history checkers need to tell records skipped by retention from lost ones.
    pub fn retention(&self) -> retention::RetentionLedger {
        retention::RetentionLedger {
            partitions: self
                .partitions
                .iter()
                .map(|(tp, p)| (tp.clone(), p.retained.clone()))
                .collect(),
        }
    }

    /// The end-of-run validations over the final logs and the history, plus everything found
    /// during the run, ordered by history index.
    pub fn finish(mut self, history: &History) -> Vec<Anomaly> {
        let end_index = history
            .entries
            .last()
            .map_or(self.last_index, |e| e.index.max(self.last_index));
        let reads = consistent_read::reads(history);
        let nothing = Replica::default();
        for (tp, partition) in &mut self.partitions {
            // Without a leader there is no final log to judge: liveness reports that.
            let Some(leader) = partition.controller.as_ref().and_then(|c| c.leader) else {
                continue;
            };
            let replica = partition.replicas.get(&leader).unwrap_or(&nothing);
            let mut found = Vec::new();
            let retained_below = partition.retained.below_as_of(end_index);
            if let Some(breach) = committed_record_lost::check(
                leader,
                replica,
                &partition.committed,
                &partition.retained,
            ) {
                found.push((&committed_record_lost::RULE, end_index, breach));
            }
            let read = reads.get(tp).map(Vec::as_slice).unwrap_or_default();
            if let Some((index, breach)) =
                consistent_read::check(read, leader, replica, retained_below)
            {
                found.push((&consistent_read::RULE, index, breach));
            }
            let mut sink = Sink {
                anomalies: &mut self.anomalies,
                promises: &self.promises,
                ledger: &self.ledger,
                broker: None,
            };
            for (rule, index, breach) in found {
                report_one(&mut sink, partition, tp, rule, index, breach);
            }
        }
        // Stable: anomalies found at one index keep the order they were found in.
        self.anomalies.sort_by_key(|anomaly| anomaly.index);
        self.anomalies
    }
}

fn event_partition(event: &ReplicaEvent) -> &TopicPartition {
    match event {
        ReplicaEvent::Recovered { tp, .. }
        | ReplicaEvent::Appended { tp, .. }
        | ReplicaEvent::Truncated { tp, .. }
        | ReplicaEvent::BecameLeader { tp, .. }
        | ReplicaEvent::BecameFollower { tp, .. }
        | ReplicaEvent::IsrChanged { tp, .. }
        | ReplicaEvent::HighWatermark { tp, .. }
        | ReplicaEvent::LogStartRaised { tp, .. } => tp,
    }
}

/// The partition's state, created on first mention (without cloning the name each time).
fn partition_mut<'a>(
    partitions: &'a mut BTreeMap<TopicPartition, Partition>,
    tp: &TopicPartition,
) -> &'a mut Partition {
    if !partitions.contains_key(tp) {
        partitions.insert(tp.clone(), Partition::default());
    }
    partitions.get_mut(tp).expect("just inserted")
}

type Found = Vec<(&'static Rule, Breach)>;

/// Applies one event to the partition's mirror and runs the invariants it could break.
fn apply(
    p: &mut Partition,
    broker: BrokerId,
    life: u32,
    event: &ReplicaEvent,
    index: u64,
) -> Found {
    let mut found = Found::new();
    // The log changed from this offset on (a truncation, overwrite or recovery), if it did.
    let mut cut = None;
    match event {
        ReplicaEvent::Recovered {
            log_start, records, ..
        } => cut = Some(p.replica_mut(broker).recover(log_start.0, records)),
        ReplicaEvent::Appended { base, records, .. } => {
            cut = p.replica_mut(broker).append(base.0, records);
        }
        ReplicaEvent::Truncated { log_end, .. } => cut = p.replica_mut(broker).truncate(log_end.0),
        ReplicaEvent::LogStartRaised {
            log_start, cause, ..
        } => {
            let replica = p.replica_mut(broker);
            let high_watermark = replica.high_watermark;
            cut = replica.raise_log_start(log_start.0, *cause == LogStartCause::Reset);
            p.retained
                .on_raise(broker, index, log_start.0, high_watermark, *cause);
            found.extend(
                retention::check(broker, log_start.0, high_watermark, *cause)
                    .map(|b| (&retention::RULE, b)),
            );
        }
        ReplicaEvent::BecameLeader { epoch, isr, .. } => {
            let claim = Claim {
                broker,
                by: Claimant::Broker,
                index,
            };
            let who = format!("{broker} becoming leader");
            found.extend(
                single_leader::check(&mut p.claims, *epoch, claim)
                    .map(|b| (&single_leader::RULE, b)),
            );
            found.extend(
                monotonic_epoch::check_broker(&mut p.broker_epochs, broker, life, *epoch, "leader")
                    .map(|b| (&monotonic_epoch::RULE, b)),
            );
            found
                .extend(leader_in_isr::check(broker, isr, &who).map(|b| (&leader_in_isr::RULE, b)));
            // A broker that was paused or cut off may take up a leadership the controller
            // has already given away: a deposed leader of an old epoch, which can commit
            // nothing (its ISR follows the newer leader), so records committed since are
            // not asked of it.
            let deposed = p
                .controller
                .as_ref()
                .is_some_and(|latest| latest.leader_epoch > *epoch);
            let open = p.open(leader_completeness::RULE.kind) && !deposed;
            let retained_below = p.retained.below_as_of(index);
            let replica = p.replicas.entry(broker).or_default();
            replica.role = Role::Leader {
                epoch: *epoch,
                isr: isr.clone(),
            };
            if open {
                found.extend(
                    leader_completeness::check(broker, replica, &p.committed, retained_below)
                        .map(|b| (&leader_completeness::RULE, b)),
                );
            }
        }
        ReplicaEvent::BecameFollower { epoch, .. } => {
            found.extend(
                monotonic_epoch::check_broker(
                    &mut p.broker_epochs,
                    broker,
                    life,
                    *epoch,
                    "follower",
                )
                .map(|b| (&monotonic_epoch::RULE, b)),
            );
            p.replica_mut(broker).role = Role::Follower { epoch: *epoch };
        }
        ReplicaEvent::IsrChanged { epoch, isr, .. } => {
            let who = format!("{broker}'s ISR change");
            found
                .extend(leader_in_isr::check(broker, isr, &who).map(|b| (&leader_in_isr::RULE, b)));
            // Only a leader has an ISR; from a replica that does not presume to lead, the
            // event says nothing the mirror could use.
            if let Role::Leader { epoch: e, isr: i } = &mut p.replica_mut(broker).role {
                *e = *epoch;
                *i = isr.clone();
            }
        }
        ReplicaEvent::HighWatermark { high_watermark, .. } => {
            let replica = p.replica_mut(broker);
            replica.high_watermark = high_watermark.0;
            if replica.leader_isr().is_some() {
                p.committed.grow(broker, &p.replicas[&broker], index);
                if p.open(strong_isr::RULE.kind) {
                    found.extend(
                        strong_isr::after_high_watermark(&p.replicas, &mut p.agreement, broker)
                            .map(|b| (&strong_isr::RULE, b)),
                    );
                }
            }
        }
    }
    if let Some(from) = cut {
        p.agreement.cut(broker, from);
        if p.open(strong_isr::RULE.kind) {
            found.extend(
                strong_isr::after_cut(&p.replicas, &mut p.agreement, broker)
                    .map(|b| (&strong_isr::RULE, b)),
            );
        }
    }
    // Only a change of the log or of the high watermark can make two replicas newly
    // disagree below their high watermarks; a truncation only removes records.
    let compared = matches!(
        event,
        ReplicaEvent::Recovered { .. }
            | ReplicaEvent::Appended { .. }
            | ReplicaEvent::HighWatermark { .. }
    );
    if compared && p.open(log_matching::RULE.kind) {
        found.extend(
            log_matching::check(&p.replicas, &mut p.agreement, broker)
                .map(|b| (&log_matching::RULE, b)),
        );
    }
    found
}

/// Reports a breach as an anomaly, unless its kind was already reported for the partition.
/// Where breaches go: the anomalies so far, what the configuration promises, and what the
/// run has lost so far (to tell a breach a known loss explains).
struct Sink<'a> {
    anomalies: &'a mut Vec<Anomaly>,
    promises: &'a Promises,
    ledger: &'a LossLedger,
    /// The broker whose replica event is being followed, if any.
    broker: Option<BrokerId>,
}

fn report(
    sink: &mut Sink<'_>,
    partition: &mut Partition,
    tp: &TopicPartition,
    index: u64,
    found: Found,
) {
    for (rule, breach) in found {
        report_one(sink, partition, tp, rule, index, breach);
    }
}

/// Reports a breach. A disagreement that a loss already in the ledger explains is
/// reported once per kind and partition and stepped over, so that the pair is checked on:
/// a later breach nothing explains must not hide behind an excused one. Any other breach
/// is reported once per kind and partition, and its checks stop.
fn report_one(
    sink: &mut Sink<'_>,
    partition: &mut Partition,
    tp: &TopicPartition,
    rule: &Rule,
    index: u64,
    breach: Breach,
) {
    if partition.reported.contains(&rule.kind) {
        return;
    }
    let (verdict, why) = if rule.excusable {
        sink.promises.unless_loss_excused(rule.promise)
    } else {
        (Verdict::Violation, rule.promise)
    };
    let detail = format!("{}/{}: {}", tp.topic, tp.partition, breach.detail);
    let anomaly = Anomaly::new(rule.kind, (verdict, why), detail, breach.values, index);
    let anomaly = match rule.excusable {
        true => anomaly.unless_loss_explains(),
        false => anomaly,
    };
    let mut anomaly = anomaly.involving(&tp.topic, tp.partition, Vec::new());
    // The replicas a power-loss cut must have struck to explain it: the pair that
    // disagrees, or the new leader that lacks a committed record.
    let replicas: Vec<u32> = match (breach.skip, rule.kind, sink.broker) {
        (Some((first, second, _)), _, _) => vec![first.0, second.0],
        (None, AnomalyKind::LeaderCompleteness, Some(leader)) => vec![leader.0],
        _ => Vec::new(),
    };
    if !replicas.is_empty() {
        anomaly
            .scope
            .push(crate::checkers::LossScope::Replicas { brokers: replicas });
    }
    if let Some((first, second, offset)) = breach.skip.filter(|_| rule.excusable) {
        if crate::excuse::explained_now(&anomaly, sink.ledger, sink.promises) {
            partition.agreement.step_over(first, second, offset + 1);
            if partition.explained.insert(rule.kind) {
                sink.anomalies.push(anomaly);
            }
            return;
        }
    }
    partition.reported.insert(rule.kind);
    sink.anomalies.push(anomaly);
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use crate::checkers::{AnomalyKind, Promises, Verdict};

    #[test]
    fn a_healthy_run_breaks_no_invariant() {
        assert_eq!(healthy(Promises::default()).finish(), vec![]);
        assert_eq!(healthy(unclean()).finish(), vec![]);
    }

    #[test]
    fn a_kind_is_reported_once_per_partition_and_anomalies_come_in_index_order() {
        let mut run = started(Promises::default());
        // Two leaders in epoch 1, then a third; then the controller's epoch goes back.
        run.at(5)
            .lead(2, 1, &[1, 2, 3], 2)
            .at(6)
            .lead(3, 1, &[1, 2, 3], 2);
        run.at(4).change(Some(1), &[1, 2, 3], 0, 2);
        let found = run.finish();
        assert_eq!(
            kinds(&found),
            vec![AnomalyKind::MonotonicEpoch, AnomalyKind::SingleLeader],
            "{found:?}"
        );
        assert!(found.iter().all(|a| a.verdict == Verdict::Violation));
        assert_eq!(found[1].index, 5);
    }

    #[test]
    fn a_partition_the_controller_left_without_a_leader_is_reported_for_liveness() {
        use kafka_model::ids::{BrokerId, LeaderEpoch, TopicPartition};
        use kafka_model::metadata::MetadataRecord;
        let mut invariants = super::ClusterInvariants::new(Promises::default());
        let tp = TopicPartition::new("t", 0);
        let change = |leader: Option<u32>, epoch: u32| MetadataRecord::PartitionChange {
            tp: tp.clone(),
            leader: leader.map(BrokerId),
            isr: vec![BrokerId(1)],
            leader_epoch: LeaderEpoch(epoch),
            partition_epoch: epoch,
            elr: Vec::new(),
            last_known_elr: Vec::new(),
        };
        let at = crate::events::EventAt::default();
        invariants.on_metadata(0, &change(Some(1), 1), at);
        assert!(invariants.leaderless().is_empty());
        invariants.on_metadata(1, &change(None, 2), at);
        assert_eq!(invariants.leaderless(), vec![tp.clone()]);
        invariants.on_metadata(2, &change(Some(1), 3), at);
        assert!(invariants.leaderless().is_empty());
    }
}

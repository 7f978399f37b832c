//! The controller: decides every metadata change and writes it to the metadata log
//! (KRaft's active controller, without the Raft quorum yet). Brokers register and heartbeat;
//! one that misses `broker.session.timeout.ms` is fenced, leaves every ISR and hands its
//! leaderships to ISR members (or, with `unclean.leader.election.enable`, to any live
//! replica); leaders change their ISR with AlterPartition, fenced by partition epoch.
//! With KIP-966's eligible leader replicas the ISR may empty, replicas that leave it below
//! `min.insync.replicas` stay eligible, and a broker's restart after an unclean shutdown
//! takes it out of both (see [`crate::eligible_leader_replicas`]).
//!
//! Everything it decides is a record; the state it decides from is the replay of those
//! records (`MetadataImage`) plus heartbeat times, which are soft state rebuilt from
//! heartbeats after a failover.

use crate::eligible_leader_replicas;
use crate::ids::{BrokerId, LeaderEpoch, Millis, NodeId, TopicPartition};
use crate::metadata::{MetadataImage, MetadataRecord, PartitionRegistration};
use crate::raft::{RaftConfig, RaftVariant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Controller settings, with Kafka's defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControllerConfig {
    /// `broker.session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// `unclean.leader.election.enable`.
    pub unclean_leader_election: bool,
    /// How many controllers vote in the KRaft quorum (`controller.quorum.voters`): 1, 3
    /// or 5.
    pub voters: u32,
    /// `controller.quorum.election.timeout.ms`.
    pub election_timeout_ms: u64,
    /// `controller.quorum.fetch.timeout.ms`.
    pub fetch_timeout_ms: u64,
    /// The quorum protocol: `correct`, or a deliberately broken variant for the checkers.
    pub quorum_protocol: RaftVariant,
    /// KIP-966's eligible leader replicas (`eligible.leader.replicas.version=1`, on by
    /// default in new Kafka 4.1 clusters, off in 4.0 and before): the controller keeps an
    /// ELR, elects from it when the ISR is empty, and removes a broker that restarted
    /// after an unclean shutdown from both; brokers keep the strict min ISR. Off here by
    /// default, so that scenarios written before it keep their runs.
    pub eligible_leader_replicas: bool,
    /// A deliberately broken variant, for showing that the checkers catch it: `false`
    /// takes every broker's re-registration for a clean shutdown, so a broker that lost
    /// power stays eligible and may be elected without the records it lost. Kafka tells
    /// a clean shutdown by the previous broker epoch the registration carries.
    pub unclean_shutdown_detection: bool,
    /// `min.insync.replicas` as the controller reads it (with ELR, Kafka's cluster-level
    /// setting): the harness copies it from the broker settings, which name it once.
    #[serde(skip)]
    pub min_insync_replicas: usize,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            session_timeout_ms: 9_000,
            unclean_leader_election: false,
            voters: 1,
            election_timeout_ms: 1_000,
            fetch_timeout_ms: 2_000,
            quorum_protocol: RaftVariant::Correct,
            eligible_leader_replicas: false,
            unclean_shutdown_detection: true,
            min_insync_replicas: 1,
        }
    }
}

impl ControllerConfig {
    /// The Raft settings of a quorum whose voters are `voters`.
    pub fn raft_config(&self, voters: Vec<NodeId>) -> RaftConfig {
        RaftConfig {
            election_timeout_ms: self.election_timeout_ms,
            fetch_timeout_ms: self.fetch_timeout_ms,
            variant: self.quorum_protocol,
            ..RaftConfig::new(voters)
        }
    }
}

/// Why an AlterPartition request is refused (Kafka's error codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum AlterPartitionError {
    #[error("UNKNOWN_TOPIC_OR_PARTITION")]
    UnknownPartition,
    /// The sender is not the current leader, or names an old leader epoch.
    #[error("FENCED_LEADER_EPOCH")]
    FencedLeaderEpoch,
    /// The request was computed from an older partition state.
    #[error("INVALID_UPDATE_VERSION")]
    InvalidUpdateVersion,
    /// The new ISR names a fenced broker or one that is not a replica (KIP-841).
    #[error("INELIGIBLE_REPLICA")]
    IneligibleReplica,
}

/// The controller state machine.
#[derive(Clone, Debug, Default)]
pub struct Controller {
    config: ControllerConfig,
    log: Vec<MetadataRecord>,
    image: MetadataImage,
    last_heartbeat_ms: BTreeMap<BrokerId, Millis>,
}

impl Controller {
    pub fn new(config: ControllerConfig) -> Self {
        Controller {
            config,
            ..Controller::default()
        }
    }

    /// A controller taking over an existing log (failover): heartbeat times start now.
    pub fn from_log(config: ControllerConfig, log: Vec<MetadataRecord>, now: Millis) -> Self {
        let image = MetadataImage::replay(&log);
        let last_heartbeat_ms = image.brokers.keys().map(|b| (*b, now)).collect();
        Controller {
            config,
            log,
            image,
            last_heartbeat_ms,
        }
    }

    pub fn log(&self) -> &[MetadataRecord] {
        &self.log
    }

    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    fn write(&mut self, record: MetadataRecord) {
        self.image.apply(&record);
        self.log.push(record);
    }

    /// Creates a topic's partitions with their replica assignments.
    pub fn create_partitions(&mut self, assignments: Vec<(TopicPartition, Vec<BrokerId>)>) {
        for (tp, replicas) in assignments {
            if self.image.partitions.contains_key(&tp) {
                continue;
            }
            self.write(MetadataRecord::CreatePartition {
                tp: tp.clone(),
                replicas,
            });
            self.elect(&tp);
        }
    }

    /// A broker's heartbeat. A new incarnation re-registers it; a fenced broker that
    /// heartbeats is unfenced, and partitions waiting for it get a leader.
    pub fn heartbeat(&mut self, now: Millis, broker: BrokerId, incarnation: u32) {
        self.last_heartbeat_ms.insert(broker, now);
        let known = self.image.brokers.get(&broker).copied();
        if known.is_none_or(|b| b.incarnation != incarnation) {
            // A restarted broker may have lost its log tail: it rejoins ISRs only by
            // catching up (AlterPartition from the leader), not by registration.
            self.write(MetadataRecord::RegisterBroker {
                broker,
                incarnation,
            });
            self.remove_from_isrs(broker, self.unclean_shutdown(known.is_some()));
        }
        if self.image.brokers.get(&broker).is_some_and(|b| b.fenced) {
            self.write(MetadataRecord::UnfenceBroker { broker });
            let leaderless: Vec<TopicPartition> = self
                .image
                .partitions
                .iter()
                .filter(|(_, p)| p.leader.is_none() && p.replicas.contains(&broker))
                .map(|(tp, _)| tp.clone())
                .collect();
            for tp in leaderless {
                self.elect(&tp);
            }
        }
    }

    /// When `tick` next has something to do: the earliest session expiry.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.last_heartbeat_ms
            .iter()
            .filter(|(b, _)| self.image.is_live(**b))
            .map(|(_, t)| t + self.config.session_timeout_ms)
            .min()
    }

    /// Fences every live broker whose session expired.
    pub fn tick(&mut self, now: Millis) {
        let expired: Vec<BrokerId> = self
            .last_heartbeat_ms
            .iter()
            .filter(|(b, t)| self.image.is_live(**b) && **t + self.config.session_timeout_ms <= now)
            .map(|(b, _)| *b)
            .collect();
        for broker in expired {
            self.write(MetadataRecord::FenceBroker { broker });
            self.remove_from_isrs(broker, false);
        }
    }

    /// Whether a registration of a new incarnation of a broker that was `registered`
    /// before counts as a restart after an unclean shutdown (ELR only: Kafka detects it
    /// for ELR's sake). Kafka counts a shutdown as clean only when the broker went
    /// through a controlled shutdown and registers again with the broker epoch it had;
    /// a killed process or a power loss registers without it. Simulated brokers stop
    /// only by crash or power loss, so every restart of a known broker is unclean, unless
    /// the deliberately broken variant trusts them all.
    fn unclean_shutdown(&self, registered: bool) -> bool {
        self.config.eligible_leader_replicas && self.config.unclean_shutdown_detection && registered
    }

    /// Takes `broker` out of every ISR and leadership, electing new leaders; after an
    /// `unclean_shutdown`, out of every ELR too.
    fn remove_from_isrs(&mut self, broker: BrokerId, unclean_shutdown: bool) {
        let affected: Vec<TopicPartition> = self
            .image
            .partitions
            .iter()
            .filter(|(_, p)| {
                p.isr.contains(&broker)
                    || p.leader == Some(broker)
                    || (unclean_shutdown && p.elr.contains(&broker))
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in affected {
            let current = self.image.partitions[&tp].clone();
            if self.config.eligible_leader_replicas {
                let isr = current.isr.iter().copied().filter(|b| *b != broker);
                let unclean = unclean_shutdown.then_some(broker);
                self.change_with_elr(&tp, &current, isr.collect(), Some(broker), unclean);
                continue;
            }
            let mut isr: Vec<BrokerId> = current
                .isr
                .iter()
                .copied()
                .filter(|b| *b != broker)
                .collect();
            if isr.is_empty() {
                // Kafka keeps the last ISR member, so that a clean election can pick it
                // when it returns, rather than lose track of who has the data.
                isr = vec![broker];
            }
            let (leader, isr) = match current.leader.filter(|l| *l != broker) {
                Some(leader) => (Some(leader), isr),
                None => match self.choose_leader(&current.replicas, &isr) {
                    Some((leader, isr)) => (Some(leader), isr),
                    None => (None, isr),
                },
            };
            self.change(&tp, &current, leader, isr, Vec::new(), Vec::new());
        }
    }

    /// Gives a leaderless partition a leader if one can be chosen.
    fn elect(&mut self, tp: &TopicPartition) {
        let current = self.image.partitions[tp].clone();
        if current.leader.is_some_and(|l| self.image.is_live(l)) {
            return;
        }
        if self.config.eligible_leader_replicas && current.partition_epoch > 0 {
            self.change_with_elr(tp, &current, current.isr.clone(), None, None);
            return;
        }
        if let Some((leader, isr)) = self.choose_leader(&current.replicas, &current.isr) {
            self.change(tp, &current, Some(leader), isr, Vec::new(), Vec::new());
        }
    }

    /// One partition change with eligible leader replicas, as Kafka's
    /// `PartitionChangeBuilder` makes it: the ELR for `target_isr` (without
    /// `unclean_shutdown`'s broker), then the election: the current leader if it is
    /// still a live ISR member, else the first live replica in the ISR or, when the ISR is
    /// empty, in the ELR (it becomes the ISR alone and leaves the ELR), else with unclean
    /// election on the first live replica (the ELR is forgotten: it holds what it had
    /// against a leader that may lack it), else nobody. `removed` is never elected.
    fn change_with_elr(
        &mut self,
        tp: &TopicPartition,
        current: &PartitionRegistration,
        target_isr: Vec<BrokerId>,
        removed: Option<BrokerId>,
        unclean_shutdown: Option<BrokerId>,
    ) {
        let (mut elr, mut last_known_elr) = eligible_leader_replicas::targets(
            current,
            &target_isr,
            unclean_shutdown,
            self.config.min_insync_replicas,
        );
        let mut isr = target_isr;
        let acceptable = |b: BrokerId| Some(b) != removed && self.image.is_live(b);
        let valid = |b: BrokerId, isr: &[BrokerId], elr: &[BrokerId]| {
            (isr.contains(&b) || (isr.is_empty() && elr.contains(&b))) && acceptable(b)
        };
        let first_valid = current
            .replicas
            .iter()
            .copied()
            .find(|b| valid(*b, &isr, &elr));
        let leader = match current.leader.filter(|l| valid(*l, &isr, &elr)) {
            Some(leader) => Some(leader),
            None => match first_valid {
                Some(leader) => {
                    if elr.contains(&leader) {
                        isr = vec![leader];
                        elr.retain(|b| *b != leader);
                    }
                    Some(leader)
                }
                None if self.config.unclean_leader_election => {
                    let leader = current.replicas.iter().copied().find(|b| acceptable(*b));
                    if let Some(leader) = leader {
                        isr = vec![leader];
                        elr.clear();
                        last_known_elr.clear();
                    }
                    leader
                }
                None => None,
            },
        };
        self.change(tp, current, leader, isr, elr, last_known_elr);
    }

    /// The leader and ISR an election gives: the first live ISR member in replica order;
    /// else, with unclean election on, the first live replica, which becomes the whole ISR
    /// (acknowledged records it lacks are lost); else nobody.
    fn choose_leader(
        &self,
        replicas: &[BrokerId],
        isr: &[BrokerId],
    ) -> Option<(BrokerId, Vec<BrokerId>)> {
        let live = |b: &BrokerId| self.image.is_live(*b);
        if isr.is_empty() {
            // A new partition: every live replica is in sync (the log is empty).
            let in_sync: Vec<BrokerId> = replicas.iter().copied().filter(live).collect();
            return in_sync.first().map(|leader| (*leader, in_sync.clone()));
        }
        if let Some(leader) = replicas
            .iter()
            .copied()
            .find(|b| isr.contains(b) && live(b))
        {
            return Some((leader, isr.to_vec()));
        }
        if self.config.unclean_leader_election {
            return replicas
                .iter()
                .copied()
                .find(live)
                .map(|leader| (leader, vec![leader]));
        }
        None
    }

    fn change(
        &mut self,
        tp: &TopicPartition,
        current: &PartitionRegistration,
        leader: Option<BrokerId>,
        isr: Vec<BrokerId>,
        elr: Vec<BrokerId>,
        last_known_elr: Vec<BrokerId>,
    ) {
        if leader == current.leader
            && isr == current.isr
            && elr == current.elr
            && last_known_elr == current.last_known_elr
        {
            return;
        }
        let leader_epoch = if leader != current.leader {
            LeaderEpoch(current.leader_epoch.0 + 1)
        } else {
            current.leader_epoch
        };
        self.write(MetadataRecord::PartitionChange {
            tp: tp.clone(),
            leader,
            isr,
            leader_epoch,
            partition_epoch: current.partition_epoch + 1,
            elr,
            last_known_elr,
        });
    }

    /// A leader asks to shrink or expand its ISR (AlterPartition). Returns the new
    /// partition epoch.
    pub fn alter_partition(
        &mut self,
        leader: BrokerId,
        tp: &TopicPartition,
        leader_epoch: LeaderEpoch,
        partition_epoch: u32,
        new_isr: Vec<BrokerId>,
    ) -> Result<u32, AlterPartitionError> {
        let current = self
            .image
            .partitions
            .get(tp)
            .cloned()
            .ok_or(AlterPartitionError::UnknownPartition)?;
        if current.leader != Some(leader) || current.leader_epoch != leader_epoch {
            return Err(AlterPartitionError::FencedLeaderEpoch);
        }
        if current.partition_epoch != partition_epoch {
            return Err(AlterPartitionError::InvalidUpdateVersion);
        }
        let eligible = |b: &BrokerId| current.replicas.contains(b) && self.image.is_live(*b);
        if !new_isr.contains(&leader) || !new_isr.iter().all(eligible) {
            return Err(AlterPartitionError::IneligibleReplica);
        }
        if self.config.eligible_leader_replicas {
            self.change_with_elr(tp, &current, new_isr, None, None);
        } else {
            self.change(tp, &current, Some(leader), new_isr, Vec::new(), Vec::new());
        }
        Ok(self.image.partitions[tp].partition_epoch)
    }
}

#[cfg(test)]
#[path = "controller_tests.rs"]
mod tests;

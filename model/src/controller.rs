//! The controller: decides every metadata change and writes it to the metadata log
//! (KRaft's active controller, without the Raft quorum yet). Brokers register and heartbeat;
//! one that misses `broker.session.timeout.ms` is fenced, leaves every ISR and hands its
//! leaderships to ISR members (or, with `unclean.leader.election.enable`, to any live
//! replica); leaders change their ISR with AlterPartition, fenced by partition epoch.
//!
//! Everything it decides is a record; the state it decides from is the replay of those
//! records (`MetadataImage`) plus heartbeat times, which are soft state rebuilt from
//! heartbeats after a failover.

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
            self.remove_from_isrs(broker);
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
            self.remove_from_isrs(broker);
        }
    }

    /// Takes `broker` out of every ISR and leadership, electing new leaders.
    fn remove_from_isrs(&mut self, broker: BrokerId) {
        let affected: Vec<TopicPartition> = self
            .image
            .partitions
            .iter()
            .filter(|(_, p)| p.isr.contains(&broker) || p.leader == Some(broker))
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in affected {
            let current = self.image.partitions[&tp].clone();
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
            self.change(&tp, &current, leader, isr);
        }
    }

    /// Gives a leaderless partition a leader if one can be chosen.
    fn elect(&mut self, tp: &TopicPartition) {
        let current = self.image.partitions[tp].clone();
        if current.leader.is_some_and(|l| self.image.is_live(l)) {
            return;
        }
        if let Some((leader, isr)) = self.choose_leader(&current.replicas, &current.isr) {
            self.change(tp, &current, Some(leader), isr);
        }
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
    ) {
        if leader == current.leader && isr == current.isr {
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
        self.change(tp, &current, Some(leader), new_isr);
        Ok(self.image.partitions[tp].partition_epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }

    fn cluster(unclean: bool) -> Controller {
        let mut controller = Controller::new(ControllerConfig {
            session_timeout_ms: 1_000,
            unclean_leader_election: unclean,
            ..ControllerConfig::default()
        });
        for b in 1..=3 {
            controller.heartbeat(0, BrokerId(b), 1);
        }
        controller.create_partitions(vec![(tp(), vec![BrokerId(1), BrokerId(2), BrokerId(3)])]);
        controller
    }

    fn partition(controller: &Controller) -> PartitionRegistration {
        controller.image().partitions[&tp()].clone()
    }

    #[test]
    fn a_new_partition_is_led_by_its_preferred_replica_with_every_live_replica_in_sync() {
        let p = partition(&cluster(false));
        assert_eq!(p.leader, Some(BrokerId(1)));
        assert_eq!(p.isr, vec![BrokerId(1), BrokerId(2), BrokerId(3)]);
        assert_eq!(p.leader_epoch, LeaderEpoch(1));
    }

    #[test]
    fn a_silent_leader_is_fenced_and_an_isr_member_takes_over_with_a_new_epoch() {
        let mut controller = cluster(false);
        for b in 2..=3 {
            controller.heartbeat(900, BrokerId(b), 1);
        }
        assert_eq!(controller.next_deadline(), Some(1_000));
        controller.tick(1_000);
        let p = partition(&controller);
        assert_eq!(p.leader, Some(BrokerId(2)));
        assert_eq!(p.isr, vec![BrokerId(2), BrokerId(3)]);
        assert_eq!(p.leader_epoch, LeaderEpoch(2));
        assert!(!controller.image().is_live(BrokerId(1)));
    }

    #[test]
    fn clean_election_waits_for_the_last_isr_member_and_unclean_does_not() {
        for unclean in [false, true] {
            let mut controller = cluster(unclean);
            // The ISR shrinks to b1 alone, then b1 dies.
            let epoch = partition(&controller).partition_epoch;
            controller
                .alter_partition(BrokerId(1), &tp(), LeaderEpoch(1), epoch, vec![BrokerId(1)])
                .unwrap();
            for b in 2..=3 {
                controller.heartbeat(900, BrokerId(b), 1);
            }
            controller.tick(1_000);
            let p = partition(&controller);
            if unclean {
                assert_eq!(p.leader, Some(BrokerId(2)), "an out-of-sync replica leads");
                assert_eq!(p.isr, vec![BrokerId(2)]);
            } else {
                assert_eq!(p.leader, None, "offline until b1 returns");
                assert_eq!(
                    p.isr,
                    vec![BrokerId(1)],
                    "the last ISR member is remembered"
                );
                controller.heartbeat(1_500, BrokerId(1), 1);
                assert_eq!(partition(&controller).leader, Some(BrokerId(1)));
            }
        }
    }

    #[test]
    fn stale_or_ineligible_alter_partition_requests_are_refused() {
        let mut controller = cluster(false);
        let epoch = partition(&controller).partition_epoch;
        let shrink = vec![BrokerId(1), BrokerId(2)];
        assert_eq!(
            controller.alter_partition(BrokerId(2), &tp(), LeaderEpoch(1), epoch, shrink.clone()),
            Err(AlterPartitionError::FencedLeaderEpoch)
        );
        assert_eq!(
            controller.alter_partition(
                BrokerId(1),
                &tp(),
                LeaderEpoch(1),
                epoch + 7,
                shrink.clone()
            ),
            Err(AlterPartitionError::InvalidUpdateVersion)
        );
        let next = controller
            .alter_partition(BrokerId(1), &tp(), LeaderEpoch(1), epoch, shrink.clone())
            .unwrap();
        assert_eq!(next, epoch + 1);
        assert_eq!(
            controller.alter_partition(BrokerId(1), &tp(), LeaderEpoch(1), epoch, shrink),
            Err(AlterPartitionError::InvalidUpdateVersion),
            "the same request twice is stale the second time"
        );
        controller.heartbeat(900, BrokerId(1), 1);
        controller.heartbeat(900, BrokerId(2), 1);
        controller.tick(1_000); // b3 fenced
        let current = partition(&controller).partition_epoch;
        assert_eq!(
            controller.alter_partition(
                BrokerId(1),
                &tp(),
                LeaderEpoch(1),
                current,
                vec![BrokerId(1), BrokerId(3)]
            ),
            Err(AlterPartitionError::IneligibleReplica)
        );
    }

    #[test]
    fn a_restarted_broker_leaves_the_isr_until_it_catches_up() {
        let mut controller = cluster(false);
        controller.heartbeat(500, BrokerId(3), 2);
        let p = partition(&controller);
        assert_eq!(p.isr, vec![BrokerId(1), BrokerId(2)]);
        assert_eq!(p.leader, Some(BrokerId(1)));
    }

    #[test]
    fn the_image_is_the_replay_of_the_log_and_epochs_never_go_back() {
        let mut controller = cluster(false);
        for (now, alive) in [(900, [2, 3]), (1_900, [1, 3]), (2_900, [1, 2])] {
            for b in alive {
                controller.heartbeat(now, BrokerId(b), 1);
            }
            controller.tick(now + 100);
        }
        assert_eq!(MetadataImage::replay(controller.log()), *controller.image());
        let mut last = LeaderEpoch(0);
        for record in controller.log() {
            if let MetadataRecord::PartitionChange { leader_epoch, .. } = record {
                assert!(*leader_epoch >= last);
                last = *leader_epoch;
            }
        }
        let takeover = Controller::from_log(
            ControllerConfig::default(),
            controller.log().to_vec(),
            5_000,
        );
        assert_eq!(takeover.image(), controller.image());
    }

    use proptest::prelude::*;

    /// One step of a generated history: heartbeats from some brokers, a new incarnation,
    /// an ISR change request, or time passing.
    #[derive(Clone, Debug)]
    enum Step {
        Heartbeat(u32),
        Restart(u32),
        Shrink(u32),
        Expand,
        Wait(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (1u32..=3).prop_map(Step::Heartbeat),
            (1u32..=3).prop_map(Step::Restart),
            (1u32..=3).prop_map(Step::Shrink),
            Just(Step::Expand),
            (1u64..1_500).prop_map(Step::Wait),
        ]
    }

    proptest! {
        /// Whatever brokers do: the image is the replay of the log, every leader is a
        /// live member of its ISR (LeaderInIsr, clean election), and leader epochs never
        /// go back (MonotonicEpoch).
        #[test]
        fn invariants_hold_under_any_history(steps in proptest::collection::vec(step(), 1..80), unclean in any::<bool>()) {
            let mut controller = cluster(unclean);
            let mut now = 0;
            let mut incarnations = [1u32; 4];
            let mut last_epoch = LeaderEpoch(0);
            for step in steps {
                match step {
                    Step::Heartbeat(b) => controller.heartbeat(now, BrokerId(b), incarnations[b as usize]),
                    Step::Restart(b) => {
                        incarnations[b as usize] += 1;
                        controller.heartbeat(now, BrokerId(b), incarnations[b as usize]);
                    }
                    Step::Shrink(b) => {
                        let p = partition(&controller);
                        if let Some(leader) = p.leader {
                            let isr: Vec<BrokerId> = p.isr.iter().copied().filter(|x| x.0 != b || *x == leader).collect();
                            let _ = controller.alter_partition(leader, &tp(), p.leader_epoch, p.partition_epoch, isr);
                        }
                    }
                    Step::Expand => {
                        let p = partition(&controller);
                        if let Some(leader) = p.leader {
                            let _ = controller.alter_partition(leader, &tp(), p.leader_epoch, p.partition_epoch, p.replicas.clone());
                        }
                    }
                    Step::Wait(ms) => {
                        now += ms;
                        controller.tick(now);
                    }
                }
                let p = partition(&controller);
                prop_assert!(p.leader_epoch >= last_epoch);
                last_epoch = p.leader_epoch;
                if let Some(leader) = p.leader {
                    prop_assert!(controller.image().is_live(leader), "{p:?}");
                    prop_assert!(p.isr.contains(&leader), "{p:?}");
                }
                prop_assert!(!p.isr.is_empty(), "{p:?}");
            }
            prop_assert_eq!(&MetadataImage::replay(controller.log()), controller.image());
        }
    }
}

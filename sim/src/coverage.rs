//! Which of the model's rare paths (`kafka_model::reach::RarePath`) one run reached: an
//! online reader of the event log that takes the paths the model reports itself and
//! recognizes the others in the events it already logs (a truncation, a committed
//! metadata change, an error answer, a coordinator's decision, a client's reset). A sweep
//! counts, per path, the seeds that reached it (`sweep --coverage`).

use crate::events::{Actor, EventKind};
use crate::history::{HistoryEntry, Operation, OFFSET_OUT_OF_RANGE};
use kafka_model::effect::{LogStartCause, ReplicaEvent};
use kafka_model::group::{GroupEvent, RemovalReason};
use kafka_model::ids::{BrokerId, TopicPartition};
use kafka_model::metadata::MetadataRecord;
use kafka_model::raft::RaftEvent;
use kafka_model::reach::RarePath;
use std::collections::{BTreeMap, BTreeSet};

/// The rare paths one run reached, with how often.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    reached: BTreeMap<RarePath, u64>,
    /// Each partition's leader, ISR and ELR as the committed metadata last set them
    /// (absent until its first change after creation).
    partitions: BTreeMap<TopicPartition, LastChange>,
    /// Groups whose coordinator started a rebalance that has not handed out assignments.
    rebalancing: BTreeSet<String>,
}

/// A partition's last committed change, as far as telling an election's kind needs.
#[derive(Clone, Debug)]
struct LastChange {
    leader: Option<BrokerId>,
    isr: Vec<BrokerId>,
    elr: Vec<BrokerId>,
}

impl Coverage {
    pub fn reached(&self) -> &BTreeMap<RarePath, u64> {
        &self.reached
    }

    fn reach(&mut self, path: RarePath) {
        *self.reached.entry(path).or_default() += 1;
    }

    /// Follows one event; `entry` is the history entry a client event points at.
    pub fn follow(&mut self, kind: &EventKind, actor: Actor, entry: Option<&HistoryEntry>) {
        match kind {
            EventKind::Reached(path) => self.reach(*path),
            EventKind::LogRecovered { bytes_cut, .. } if *bytes_cut > 0 => {
                self.reach(RarePath::TornTailCut)
            }
            EventKind::Replica(event) => self.follow_replica(event),
            EventKind::Raft(RaftEvent::Truncated { .. }) => self.reach(RarePath::RaftLogTruncated),
            EventKind::Group(event) => self.follow_group(event),
            EventKind::ErrorAnswered { errors, .. } => {
                for answered in errors {
                    if let Some(path) = path_of_error(&answered.error) {
                        self.reach(path);
                    }
                }
            }
            EventKind::Client { .. } if matches!(actor, Actor::Node(_)) => {
                let reset = entry.is_some_and(
                    |e| matches!(&e.op, Operation::Assign(a) if a.reason == OFFSET_OUT_OF_RANGE),
                );
                if reset {
                    self.reach(RarePath::ConsumerResetOutOfRange);
                }
            }
            _ => {}
        }
    }

    fn follow_replica(&mut self, event: &ReplicaEvent) {
        match event {
            ReplicaEvent::Truncated { .. } => self.reach(RarePath::DivergentSuffixTruncated),
            ReplicaEvent::LogStartRaised { cause, .. } => match cause {
                LogStartCause::Retention => self.reach(RarePath::RetentionDeletedSegments),
                LogStartCause::Reset => self.reach(RarePath::FollowerResetToLeaderLogStart),
                LogStartCause::LeaderLogStart => {}
            },
            _ => {}
        }
    }

    fn follow_group(&mut self, event: &GroupEvent) {
        match event {
            GroupEvent::MemberRemoved { reason, .. } => match reason {
                RemovalReason::SessionTimeout => self.reach(RarePath::MemberSessionExpired),
                RemovalReason::JoinTimeout | RemovalReason::SyncTimeout => {
                    self.reach(RarePath::MemberRebalanceTimedOut)
                }
                RemovalReason::Left | RemovalReason::NewMemberJoinTimeout => {}
            },
            GroupEvent::Fenced { .. } => self.reach(RarePath::StaleMemberFenced),
            GroupEvent::RebalanceStarted { group, .. } => {
                self.rebalancing.insert(group.0.clone());
            }
            GroupEvent::Assigned { group, .. } | GroupEvent::GroupEmpty { group, .. } => {
                self.rebalancing.remove(&group.0);
            }
            GroupEvent::GroupLoaded { group, .. } => {
                // A coordinator loading a group another one (or its own earlier incarnation)
                // was rebalancing: the rebalance goes on under a new coordinator.
                let was_rebalancing = self.rebalancing.remove(&group.0);
                if was_rebalancing {
                    self.reach(RarePath::CoordinatorFailedOverMidRebalance);
                }
            }
            _ => {}
        }
    }

    /// Follows a metadata record the first time any node holds it committed.
    pub fn follow_committed_metadata(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::FenceBroker { .. } => self.reach(RarePath::BrokerFenced),
            // Its first leader and ISR come in the change that follows: not a path.
            MetadataRecord::CreatePartition { tp, .. } => {
                self.partitions.remove(tp);
            }
            MetadataRecord::PartitionChange {
                tp,
                leader,
                isr,
                elr,
                ..
            } => {
                if let Some(old) = self.partitions.get(tp).cloned() {
                    let (old_leader, old_isr) = (old.leader, old.isr);
                    let smaller = isr.len() < old_isr.len();
                    let larger = isr.len() > old_isr.len();
                    let outside_isr =
                        leader.is_some_and(|l| old_leader != Some(l) && !old_isr.contains(&l));
                    let eligible =
                        old_isr.is_empty() && leader.is_some_and(|l| old.elr.contains(&l));
                    if outside_isr && eligible {
                        self.reach(RarePath::EligibleLeaderElected);
                    } else if outside_isr {
                        self.reach(RarePath::UncleanElection);
                    } else if smaller {
                        self.reach(RarePath::IsrShrunk);
                    } else if larger {
                        self.reach(RarePath::IsrExpanded);
                    }
                    if leader.is_none() && old_leader.is_some() {
                        self.reach(RarePath::PartitionLeaderless);
                    }
                }
                let last = LastChange {
                    leader: *leader,
                    isr: isr.clone(),
                    elr: elr.clone(),
                };
                self.partitions.insert(tp.clone(), last);
            }
            MetadataRecord::RegisterBroker { .. } | MetadataRecord::UnfenceBroker { .. } => {}
        }
    }
}

/// The rare path an error answer to a client takes, by Kafka's name of the error.
fn path_of_error(error: &str) -> Option<RarePath> {
    Some(match error {
        "OUT_OF_ORDER_SEQUENCE_NUMBER" => RarePath::SequenceRefused,
        "INVALID_PRODUCER_EPOCH" => RarePath::ProducerEpochRefused,
        "NOT_ENOUGH_REPLICAS" => RarePath::NotEnoughReplicasRefused,
        "NOT_ENOUGH_REPLICAS_AFTER_APPEND" => RarePath::NotEnoughReplicasAfterAppend,
        "FENCED_LEADER_EPOCH" | "UNKNOWN_LEADER_EPOCH" => RarePath::StaleLeaderEpochRefused,
        "OFFSET_OUT_OF_RANGE" => RarePath::OffsetOutOfRangeAnswered,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_model::ids::LeaderEpoch;

    fn tp() -> TopicPartition {
        TopicPartition {
            topic: "t".to_string(),
            partition: 0,
        }
    }

    fn change(leader: Option<u32>, isr: &[u32]) -> MetadataRecord {
        MetadataRecord::PartitionChange {
            tp: tp(),
            leader: leader.map(BrokerId),
            isr: isr.iter().copied().map(BrokerId).collect(),
            leader_epoch: LeaderEpoch(1),
            partition_epoch: 1,
            elr: Vec::new(),
            last_known_elr: Vec::new(),
        }
    }

    #[test]
    fn metadata_changes_name_shrink_expand_and_unclean_elections() {
        let mut coverage = Coverage::default();
        coverage.follow_committed_metadata(&MetadataRecord::CreatePartition {
            tp: tp(),
            replicas: vec![BrokerId(1), BrokerId(2), BrokerId(3)],
        });
        coverage.follow_committed_metadata(&change(Some(1), &[1, 2, 3]));
        assert!(coverage.reached().is_empty(), "an unchanged ISR is no path");
        coverage.follow_committed_metadata(&change(Some(1), &[1, 2]));
        coverage.follow_committed_metadata(&change(Some(2), &[2]));
        assert!(!coverage.reached().contains_key(&RarePath::UncleanElection));
        coverage.follow_committed_metadata(&change(None, &[2]));
        // b3 was not in the ISR {2}: electing it is unclean.
        coverage.follow_committed_metadata(&change(Some(3), &[3]));
        coverage.follow_committed_metadata(&change(Some(3), &[3, 1]));
        let reached = coverage.reached();
        assert_eq!(reached.get(&RarePath::IsrShrunk), Some(&2));
        assert_eq!(reached.get(&RarePath::PartitionLeaderless), Some(&1));
        assert_eq!(reached.get(&RarePath::UncleanElection), Some(&1));
        assert_eq!(reached.get(&RarePath::IsrExpanded), Some(&1));
    }

    #[test]
    fn a_leader_from_the_elr_of_an_empty_isr_is_an_eligible_leader_not_an_unclean_one() {
        let mut coverage = Coverage::default();
        coverage.follow_committed_metadata(&MetadataRecord::CreatePartition {
            tp: tp(),
            replicas: vec![BrokerId(1), BrokerId(2), BrokerId(3)],
        });
        coverage.follow_committed_metadata(&change(Some(1), &[1, 2, 3]));
        let mut emptied = change(None, &[]);
        if let MetadataRecord::PartitionChange { elr, .. } = &mut emptied {
            *elr = vec![BrokerId(2)];
        }
        coverage.follow_committed_metadata(&emptied);
        coverage.follow_committed_metadata(&change(Some(2), &[2]));
        let reached = coverage.reached();
        assert_eq!(reached.get(&RarePath::EligibleLeaderElected), Some(&1));
        assert!(
            !reached.contains_key(&RarePath::UncleanElection),
            "{reached:?}"
        );
        // The same leader with no ELR behind it is unclean.
        coverage.follow_committed_metadata(&change(None, &[]));
        coverage.follow_committed_metadata(&change(Some(3), &[3]));
        assert_eq!(coverage.reached().get(&RarePath::UncleanElection), Some(&1));
    }

    #[test]
    fn a_coordinator_loading_a_group_mid_rebalance_is_a_failover_mid_rebalance() {
        use kafka_model::group::{Generation, GroupId};
        let group = GroupId("g".to_string());
        let loaded = GroupEvent::GroupLoaded {
            group: group.clone(),
            generation: Generation(1),
            assignments: BTreeMap::new(),
        };
        let mut coverage = Coverage::default();
        coverage.follow(&EventKind::Group(loaded.clone()), Actor::Nemesis, None);
        assert!(coverage.reached().is_empty(), "a load of a settled group");
        let started = GroupEvent::RebalanceStarted {
            group,
            generation: Generation(1),
            reason: "join".to_string(),
        };
        coverage.follow(&EventKind::Group(started), Actor::Nemesis, None);
        coverage.follow(&EventKind::Group(loaded), Actor::Nemesis, None);
        let expected = BTreeMap::from([(RarePath::CoordinatorFailedOverMidRebalance, 1)]);
        assert_eq!(coverage.reached(), &expected);
    }
}

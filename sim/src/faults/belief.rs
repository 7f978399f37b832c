//! What the cluster believes at a moment, as node aliases need it: each partition's
//! replicas, leader and ISR in the committed metadata, and the KRaft quorum's leader. Built
//! by following the typed event log (`on_event`), online in the world or offline over a
//! kept log, so that whoever resolves an alias (the nemesis at a fault's time, a trigger)
//! reads the same belief.

use super::alias::NodeAlias;
use crate::events::{Event, EventKind};
use kafka_model::ids::{BrokerId, LeaderEpoch, NodeId, TopicPartition};
use kafka_model::metadata::MetadataRecord;
use kafka_model::raft::RaftEvent;
use std::collections::BTreeMap;

/// A partition as the committed metadata has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionBelief {
    pub replicas: Vec<BrokerId>,
    pub leader: Option<BrokerId>,
    pub isr: Vec<BrokerId>,
}

/// The cluster's belief, from the events followed so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterBelief {
    partitions: BTreeMap<TopicPartition, PartitionBelief>,
    /// Metadata records taken so far: the next one taken is the record at this index.
    metadata_applied: u64,
    /// The newest epoch some controller led, and that controller.
    quorum_leader: Option<(LeaderEpoch, NodeId)>,
}

impl ClusterBelief {
    /// The belief after these events.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut belief = ClusterBelief::default();
        for event in events {
            belief.on_event(&event.kind);
        }
        belief
    }

    /// Follows one event. A metadata record counts the first time any node holds its
    /// index (its commit, as the quorum checker counts it); a Raft leader counts when it
    /// leads an epoch newer than any led before.
    pub fn on_event(&mut self, kind: &EventKind) {
        match kind {
            EventKind::Metadata { index, record } if *index == self.metadata_applied => {
                self.metadata_applied += 1;
                self.apply(record);
            }
            EventKind::Raft(RaftEvent::BecameLeader { node, epoch })
                if self.quorum_leader.is_none_or(|(newest, _)| *epoch > newest) =>
            {
                self.quorum_leader = Some((*epoch, *node));
            }
            _ => {}
        }
    }

    fn apply(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::CreatePartition { tp, replicas } => {
                self.partitions.insert(
                    tp.clone(),
                    PartitionBelief {
                        replicas: replicas.clone(),
                        ..PartitionBelief::default()
                    },
                );
            }
            MetadataRecord::PartitionChange {
                tp, leader, isr, ..
            } => {
                let partition = self.partitions.entry(tp.clone()).or_default();
                partition.leader = *leader;
                partition.isr = isr.clone();
            }
            MetadataRecord::RegisterBroker { .. }
            | MetadataRecord::FenceBroker { .. }
            | MetadataRecord::UnfenceBroker { .. } => {}
        }
    }

    pub fn partition(&self, tp: &TopicPartition) -> Option<&PartitionBelief> {
        self.partitions.get(tp)
    }

    /// The partition's leader; none before the metadata names one, or while it has none.
    pub fn leader_of(&self, tp: &TopicPartition) -> Option<BrokerId> {
        self.partitions.get(tp)?.leader
    }

    /// A replica that does not lead the partition: the lowest-id one in the ISR, else the
    /// lowest-id one out of it (an out-of-sync follower still fetches). None when the only
    /// replica leads it, or before the metadata names the partition.
    pub fn follower_of(&self, tp: &TopicPartition) -> Option<BrokerId> {
        let partition = self.partitions.get(tp)?;
        let not_leader = |b: &&BrokerId| Some(**b) != partition.leader;
        let in_sync = partition.isr.iter().filter(not_leader).min();
        in_sync
            .or_else(|| partition.replicas.iter().filter(not_leader).min())
            .copied()
    }

    /// The controller that leads the newest epoch anyone led (a leader that crashed is
    /// still the one believed until another wins an election).
    pub fn active_controller(&self) -> Option<NodeId> {
        self.quorum_leader.map(|(_, node)| node)
    }

    /// The node the alias stands for now, if one fits.
    pub fn resolve(&self, alias: &NodeAlias) -> Option<NodeId> {
        let broker = |b: BrokerId| NodeId(b.0);
        match alias {
            NodeAlias::LeaderOf(tp) => self.leader_of(tp).map(broker),
            NodeAlias::FollowerOf(tp) => self.follower_of(tp).map(broker),
            NodeAlias::ActiveController => self.active_controller(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(index: u64, record: MetadataRecord) -> EventKind {
        EventKind::Metadata { index, record }
    }

    fn change(leader: Option<u32>, isr: &[u32]) -> MetadataRecord {
        MetadataRecord::PartitionChange {
            tp: TopicPartition::new("tasks", 0),
            leader: leader.map(BrokerId),
            isr: isr.iter().copied().map(BrokerId).collect(),
            leader_epoch: LeaderEpoch(0),
            partition_epoch: 0,
            elr: Vec::new(),
            last_known_elr: Vec::new(),
        }
    }

    #[test]
    fn the_belief_follows_committed_changes_once_each() {
        let tp = TopicPartition::new("tasks", 0);
        let mut belief = ClusterBelief::default();
        let create = MetadataRecord::CreatePartition {
            tp: tp.clone(),
            replicas: vec![BrokerId(1), BrokerId(2), BrokerId(3)],
        };
        belief.on_event(&metadata(0, create));
        assert_eq!(belief.leader_of(&tp), None);
        assert_eq!(belief.follower_of(&tp), Some(BrokerId(1)));
        belief.on_event(&metadata(1, change(Some(1), &[1, 2, 3])));
        assert_eq!(belief.leader_of(&tp), Some(BrokerId(1)));
        assert_eq!(belief.follower_of(&tp), Some(BrokerId(2)));
        // Another node holding index 1 (a different record: a broken log) changes nothing.
        belief.on_event(&metadata(1, change(Some(3), &[3])));
        assert_eq!(belief.leader_of(&tp), Some(BrokerId(1)));
        belief.on_event(&metadata(2, change(Some(3), &[3])));
        assert_eq!(belief.leader_of(&tp), Some(BrokerId(3)));
        // No in-sync follower: an out-of-sync replica follows.
        assert_eq!(belief.follower_of(&tp), Some(BrokerId(1)));
    }

    #[test]
    fn the_active_controller_leads_the_newest_epoch() {
        let mut belief = ClusterBelief::default();
        assert_eq!(belief.resolve(&NodeAlias::ActiveController), None);
        let led = |node, epoch| {
            EventKind::Raft(RaftEvent::BecameLeader {
                node: NodeId(node),
                epoch: LeaderEpoch(epoch),
            })
        };
        belief.on_event(&led(91, 2));
        belief.on_event(&led(90, 1));
        assert_eq!(belief.active_controller(), Some(NodeId(91)));
        belief.on_event(&led(92, 3));
        assert_eq!(
            belief.resolve(&NodeAlias::ActiveController),
            Some(NodeId(92))
        );
    }
}

//! Which broker hosts which partition: the static assignment of the single-replica model.

use crate::config::TopicConfig;
use crate::ids::LeaderEpoch;
use crate::ids::{BrokerId, TopicPartition};
use crate::protocol::PartitionMetadata;
use serde::{Deserialize, Serialize};

/// The cluster's brokers and topics. Partition `p` lives on broker `brokers[p % n]`
/// (Kafka's round-robin replica assignment with a zero start index).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterLayout {
    pub brokers: Vec<BrokerId>,
    pub topics: Vec<TopicConfig>,
}

impl ClusterLayout {
    pub fn new(broker_count: u32, topics: Vec<TopicConfig>) -> Self {
        assert!(broker_count > 0, "a cluster needs at least one broker");
        ClusterLayout {
            brokers: (1..=broker_count).map(BrokerId).collect(),
            topics,
        }
    }

    pub fn leader_of(&self, tp: &TopicPartition) -> Option<BrokerId> {
        let topic = self.topics.iter().find(|t| t.name == tp.topic)?;
        if tp.partition >= topic.partitions {
            return None;
        }
        Some(self.brokers[tp.partition as usize % self.brokers.len()])
    }

    pub fn partitions(&self) -> impl Iterator<Item = TopicPartition> + '_ {
        self.topics
            .iter()
            .flat_map(|t| (0..t.partitions).map(move |p| TopicPartition::new(t.name.clone(), p)))
    }

    pub fn partitions_of(&self, broker: BrokerId) -> Vec<TopicPartition> {
        self.partitions()
            .filter(|tp| self.leader_of(tp) == Some(broker))
            .collect()
    }

    pub fn metadata(&self) -> Vec<PartitionMetadata> {
        self.partitions()
            .map(|tp| PartitionMetadata {
                leader: self.leader_of(&tp),
                leader_epoch: LeaderEpoch(0),
                tp,
            })
            .collect()
    }
}

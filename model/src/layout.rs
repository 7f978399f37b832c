//! Which brokers hold which partition: the replica assignment the controller creates topics
//! with (Kafka's round-robin assignment with a zero start index and no rack awareness).

use crate::config::TopicConfig;
use crate::ids::{BrokerId, TopicPartition};
use serde::{Deserialize, Serialize};

/// The cluster's brokers and topics. Partition `p` of a topic with replication factor `rf`
/// is held by `rf` brokers in a row from `brokers[p % n]`; the first is its preferred
/// leader.
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

    /// The replicas of `tp`, preferred leader first; empty for an unknown partition.
    pub fn replicas_of(&self, tp: &TopicPartition) -> Vec<BrokerId> {
        let Some(topic) = self.topics.iter().find(|t| t.name == tp.topic) else {
            return Vec::new();
        };
        if tp.partition >= topic.partitions {
            return Vec::new();
        }
        let n = self.brokers.len();
        let rf = (topic.replication_factor.max(1) as usize).min(n);
        (0..rf)
            .map(|i| self.brokers[(tp.partition as usize + i) % n])
            .collect()
    }

    /// The preferred leader of `tp`: the leader it has while nothing fails.
    pub fn preferred_leader(&self, tp: &TopicPartition) -> Option<BrokerId> {
        self.replicas_of(tp).first().copied()
    }

    pub fn partitions(&self) -> impl Iterator<Item = TopicPartition> + '_ {
        self.topics
            .iter()
            .flat_map(|t| (0..t.partitions).map(move |p| TopicPartition::new(t.name.clone(), p)))
    }

    /// Every partition with its replicas, for the controller to create.
    pub fn assignments(&self) -> Vec<(TopicPartition, Vec<BrokerId>)> {
        self.partitions()
            .map(|tp| {
                let replicas = self.replicas_of(&tp);
                (tp, replicas)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_consecutive_brokers_from_the_partition_index() {
        let layout = ClusterLayout::new(
            3,
            vec![TopicConfig {
                name: "t".into(),
                partitions: 4,
                replication_factor: 3,
            }],
        );
        let ids = |p| -> Vec<u32> {
            layout
                .replicas_of(&TopicPartition::new("t", p))
                .iter()
                .map(|b| b.0)
                .collect()
        };
        assert_eq!(ids(0), vec![1, 2, 3]);
        assert_eq!(ids(1), vec![2, 3, 1]);
        assert_eq!(ids(3), vec![1, 2, 3]);
        assert!(layout.replicas_of(&TopicPartition::new("t", 4)).is_empty());
        assert!(layout.replicas_of(&TopicPartition::new("u", 0)).is_empty());
    }
}

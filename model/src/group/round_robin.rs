//! The round-robin assignor (Kafka's RoundRobinAssignor): every partition of every
//! subscribed topic, in topic then partition order, goes to the next member in id order
//! that subscribes to its topic, cycling through the members.

use super::assignor::{empty_assignments, subscribers_by_topic, Subscription};
use super::ids::MemberId;
use crate::ids::TopicPartition;
use std::collections::BTreeMap;

pub(super) fn assign(
    members: &BTreeMap<MemberId, Subscription>,
    partitions_per_topic: &BTreeMap<String, u32>,
) -> BTreeMap<MemberId, Vec<TopicPartition>> {
    let mut assignments = empty_assignments(members);
    let order: Vec<&MemberId> = members.keys().collect();
    // The cursor carries over from topic to topic, as Kafka's CircularIterator does.
    let mut cursor = 0usize;
    for (topic, (partitions, subscribers)) in subscribers_by_topic(members, partitions_per_topic) {
        for partition in 0..partitions {
            while !subscribers.contains(&order[cursor % order.len()]) {
                cursor += 1;
            }
            let member = order[cursor % order.len()];
            cursor += 1;
            assignments
                .get_mut(member)
                .expect("order holds members")
                .push(TopicPartition::new(topic.clone(), partition));
        }
    }
    assignments
}

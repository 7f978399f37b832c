//! The range assignor (Kafka's RangeAssignor, without rack awareness): for each topic, its
//! subscribers in member-id order take consecutive ranges of its partitions, the first
//! `partitions % subscribers` of them one partition more than the rest.

use super::assignor::{empty_assignments, subscribers_by_topic, Subscription};
use super::ids::MemberId;
use crate::ids::TopicPartition;
use std::collections::BTreeMap;

pub(super) fn assign(
    members: &BTreeMap<MemberId, Subscription>,
    partitions_per_topic: &BTreeMap<String, u32>,
) -> BTreeMap<MemberId, Vec<TopicPartition>> {
    let mut assignments = empty_assignments(members);
    for (topic, (partitions, subscribers)) in subscribers_by_topic(members, partitions_per_topic) {
        let count = subscribers.len() as u32;
        let per_member = partitions / count;
        let with_extra = partitions % count;
        for (i, member) in (0u32..).zip(subscribers) {
            let start = per_member * i + i.min(with_extra);
            let len = per_member + u32::from(i < with_extra);
            let mine = assignments
                .get_mut(member)
                .expect("subscribers are members");
            mine.extend((start..start + len).map(|p| TopicPartition::new(topic.clone(), p)));
        }
    }
    assignments
}

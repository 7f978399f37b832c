//! What the coordinator writes to the offsets topic (`__consumer_offsets`), and how a group
//! maps to its partition of it. Records are compacted by [`OffsetsRecord::key`] in Kafka; a
//! new coordinator replays them in log order, the latest per key winning.

use super::assignor::{Assignor, Subscription};
use super::ids::{Generation, GroupId, MemberId};
use crate::ids::{Millis, Offset, TopicPartition};
use serde::{Deserialize, Serialize};

/// Kafka's `__consumer_offsets`.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// A member as the group's metadata record keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberMetadata {
    pub member: MemberId,
    pub client_id: String,
    pub session_timeout_ms: u64,
    pub rebalance_timeout_ms: u64,
    pub protocols: Vec<Assignor>,
    pub subscription: Subscription,
    pub assignment: Vec<TopicPartition>,
}

/// A group's membership as of a generation (Kafka's GroupMetadataValue). Written when a
/// generation's assignment is decided, and when a group falls empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMetadata {
    pub group: GroupId,
    pub generation: Generation,
    pub protocol: Option<Assignor>,
    pub leader: Option<MemberId>,
    pub members: Vec<MemberMetadata>,
}

/// One record of the offsets topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OffsetsRecord {
    /// The group's committed offset for one partition (Kafka's OffsetCommitValue).
    OffsetCommit {
        group: GroupId,
        tp: TopicPartition,
        offset: Offset,
        commit_timestamp_ms: Millis,
    },
    GroupMetadata(GroupMetadata),
}

impl OffsetsRecord {
    pub fn group(&self) -> &GroupId {
        match self {
            OffsetsRecord::OffsetCommit { group, .. } => group,
            OffsetsRecord::GroupMetadata(metadata) => &metadata.group,
        }
    }

    /// The compaction key: a later record with the same key replaces an earlier one.
    pub fn key(&self) -> String {
        match self {
            OffsetsRecord::OffsetCommit { group, tp, .. } => {
                format!("offset/{group}/{}/{}", tp.topic, tp.partition)
            }
            OffsetsRecord::GroupMetadata(metadata) => format!("group/{}", metadata.group),
        }
    }

    /// The record as one JSON line, for a log whose records carry text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("offsets records always serialize")
    }

    pub fn from_json(text: &str) -> Result<OffsetsRecord, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The partition of the offsets topic whose leader coordinates `group`: Kafka's
/// `abs(groupId.hashCode()) % offsets.topic.num.partitions`, with Java's String hash.
pub fn coordinator_partition(group: &GroupId, offsets_topic_partitions: u32) -> u32 {
    let hash = group.0.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    });
    // Kafka's Utils.abs maps i32::MIN to 0.
    let abs = if hash == i32::MIN {
        0
    } else {
        hash.unsigned_abs()
    };
    abs % offsets_topic_partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinator_partition_matches_java_string_hash() {
        // "my-group".hashCode() == -1_906_497_762 in Java (and "" hashes to 0).
        assert_eq!(
            coordinator_partition(&GroupId::new("my-group"), 50),
            1_906_497_762 % 50
        );
        assert_eq!(coordinator_partition(&GroupId::new(""), 50), 0);
        // "polygenelubricants".hashCode() == i32::MIN, which Kafka's abs maps to 0.
        assert_eq!(
            coordinator_partition(&GroupId::new("polygenelubricants"), 50),
            0
        );
        assert_eq!(
            coordinator_partition(&GroupId::new("my-group"), 0),
            0,
            "no panic"
        );
    }

    #[test]
    fn records_round_trip_through_json() {
        let records = vec![
            OffsetsRecord::OffsetCommit {
                group: GroupId::new("g"),
                tp: TopicPartition::new("t", 3),
                offset: Offset(42),
                commit_timestamp_ms: 7,
            },
            OffsetsRecord::GroupMetadata(GroupMetadata {
                group: GroupId::new("g"),
                generation: Generation(4),
                protocol: Some(Assignor::CooperativeSticky),
                leader: Some(MemberId::new("c-1-0")),
                members: vec![MemberMetadata {
                    member: MemberId::new("c-1-0"),
                    client_id: "c".into(),
                    session_timeout_ms: 45_000,
                    rebalance_timeout_ms: 300_000,
                    protocols: vec![Assignor::CooperativeSticky, Assignor::Range],
                    subscription: Subscription {
                        topics: vec!["t".into()],
                        owned_partitions: vec![TopicPartition::new("t", 0)],
                        generation: Some(Generation(3)),
                    },
                    assignment: vec![TopicPartition::new("t", 0)],
                }],
            }),
        ];
        for record in records {
            assert_eq!(OffsetsRecord::from_json(&record.to_json()).unwrap(), record);
        }
        assert_eq!(
            OffsetsRecord::OffsetCommit {
                group: GroupId::new("g"),
                tp: TopicPartition::new("t", 3),
                offset: Offset(1),
                commit_timestamp_ms: 0,
            }
            .key(),
            "offset/g/t/3"
        );
        assert!(OffsetsRecord::from_json("{\"nope\":1}").is_err());
    }
}

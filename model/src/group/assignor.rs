//! Partition assignors: what the group leader runs on the members' subscriptions to decide
//! who reads which partition. Each is a pure, deterministic function over members sorted
//! by id and partitions sorted by topic and number; every subscribed partition goes to
//! exactly one member (cooperative-sticky may hold some back for a round, see
//! [`GroupAssignment::withheld`]), and members beyond the partition count stay idle.

use super::ids::{Generation, MemberId};
use super::{range, round_robin, sticky};
use crate::ids::TopicPartition;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// `partition.assignment.strategy`, by Kafka's protocol names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Assignor {
    /// Per topic, consecutive ranges of partitions to members in order (Kafka's
    /// RangeAssignor; the first `partitions % members` members get one more).
    #[serde(rename = "range")]
    Range,
    /// All partitions, in order, dealt to members in turn, skipping members not
    /// subscribed to the partition's topic (Kafka's RoundRobinAssignor).
    #[serde(rename = "roundrobin")]
    RoundRobin,
    /// Balanced, keeping as many owned partitions as balance allows; a partition that
    /// moves is first revoked by its owner and assigned in a second rebalance (Kafka's
    /// CooperativeStickyAssignor, KIP-429).
    #[serde(rename = "cooperative-sticky")]
    CooperativeSticky,
}

/// How members give up partitions across a rebalance (`RebalanceProtocol` in Kafka).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RebalanceProtocol {
    /// Every member revokes all its partitions before it rejoins.
    Eager,
    /// Members keep their partitions through a rebalance and revoke only those their new
    /// assignment lacks; having revoked any, they rejoin at once for a second round.
    Cooperative,
}

/// What a member tells the coordinator in JoinGroup (Kafka's ConsumerProtocolSubscription).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Subscription {
    pub topics: Vec<String>,
    /// The partitions the member owns now. Cooperative members report them so that the
    /// assignor can keep them in place; eager members have revoked everything and send none.
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation in which the member owned them, to settle two members claiming one
    /// partition after one of them missed a rebalance: the newer claim wins.
    pub generation: Option<Generation>,
}

/// A partition the assignor wants to move from a member that still owns it: it is in no
/// assignment this round; `from` revokes it and rejoins, and the next round gives it out.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PendingMove {
    pub partition: TopicPartition,
    pub from: MemberId,
    pub to: MemberId,
}

/// The leader's decision for one generation.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GroupAssignment {
    /// Every member, with its partitions sorted; an empty list is an idle member.
    pub assignments: BTreeMap<MemberId, Vec<TopicPartition>>,
    /// Cooperative only: partitions held back this round because another member owns them.
    pub withheld: Vec<PendingMove>,
}

impl Assignor {
    pub const ALL: [Assignor; 3] = [
        Assignor::Range,
        Assignor::RoundRobin,
        Assignor::CooperativeSticky,
    ];

    /// The protocol name members advertise in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    pub fn rebalance_protocol(self) -> RebalanceProtocol {
        match self {
            Assignor::Range | Assignor::RoundRobin => RebalanceProtocol::Eager,
            Assignor::CooperativeSticky => RebalanceProtocol::Cooperative,
        }
    }

    /// Assigns the partitions of every subscribed topic (`partitions_per_topic` gives each
    /// topic's partition count; topics missing from it have none) to `members`.
    pub fn assign(
        self,
        members: &BTreeMap<MemberId, Subscription>,
        partitions_per_topic: &BTreeMap<String, u32>,
    ) -> GroupAssignment {
        let mut assignment = match self {
            Assignor::Range => GroupAssignment::eager(range::assign(members, partitions_per_topic)),
            Assignor::RoundRobin => {
                GroupAssignment::eager(round_robin::assign(members, partitions_per_topic))
            }
            Assignor::CooperativeSticky => sticky::assign(members, partitions_per_topic),
        };
        for partitions in assignment.assignments.values_mut() {
            partitions.sort();
        }
        assignment
    }
}

impl GroupAssignment {
    fn eager(assignments: BTreeMap<MemberId, Vec<TopicPartition>>) -> Self {
        GroupAssignment {
            assignments,
            withheld: Vec::new(),
        }
    }

    /// Members with nothing to read this generation.
    pub fn idle_members(&self) -> Vec<MemberId> {
        self.assignments
            .iter()
            .filter(|(_, partitions)| partitions.is_empty())
            .map(|(member, _)| member.clone())
            .collect()
    }

    /// The assignments as SyncGroup carries them.
    pub fn into_sync_assignments(self) -> Vec<(MemberId, Vec<TopicPartition>)> {
        self.assignments.into_iter().collect()
    }
}

/// What a cooperative member revokes on receiving `assigned`: what it owns and was not
/// given. If this is not empty the member rejoins so that the partitions can move on.
pub fn cooperative_revocations(
    owned: &[TopicPartition],
    assigned: &[TopicPartition],
) -> Vec<TopicPartition> {
    let assigned: BTreeSet<&TopicPartition> = assigned.iter().collect();
    let revoked: BTreeSet<&TopicPartition> =
        owned.iter().filter(|tp| !assigned.contains(tp)).collect();
    revoked.into_iter().cloned().collect()
}

/// For each topic someone subscribes to and that has partitions, its subscribers in id
/// order. Topics are in name order.
pub(super) fn subscribers_by_topic<'a>(
    members: &'a BTreeMap<MemberId, Subscription>,
    partitions_per_topic: &BTreeMap<String, u32>,
) -> BTreeMap<String, (u32, Vec<&'a MemberId>)> {
    let mut topics: BTreeMap<String, (u32, Vec<&MemberId>)> = BTreeMap::new();
    for (member, subscription) in members {
        let subscribed: BTreeSet<&String> = subscription.topics.iter().collect();
        for topic in subscribed {
            let Some(&count) = partitions_per_topic.get(topic) else {
                continue;
            };
            if count == 0 {
                continue;
            }
            topics
                .entry(topic.clone())
                .or_insert_with(|| (count, Vec::new()))
                .1
                .push(member);
        }
    }
    topics
}

/// An empty assignment for every member, so that idle members appear in the result.
pub(super) fn empty_assignments(
    members: &BTreeMap<MemberId, Subscription>,
) -> BTreeMap<MemberId, Vec<TopicPartition>> {
    members.keys().map(|m| (m.clone(), Vec::new())).collect()
}

//! Node aliases: a fault's node named by its role (`leader of tasks-0`, `follower of
//! tasks-0`, `active controller`) rather than its name, parsed from the plan as written and
//! resolved only when the fault strikes (`super::strike`), from what the cluster then
//! believes (`super::belief`).

use kafka_model::ids::TopicPartition;
use std::fmt;
use std::str::FromStr;

/// A node named by its role in the cluster at the time a fault strikes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeAlias {
    /// The broker the committed metadata names as the partition's leader.
    LeaderOf(TopicPartition),
    /// A replica of the partition that does not lead it: the lowest-id in-sync one, else
    /// the lowest-id out-of-sync one (see `ClusterBelief::follower_of`).
    FollowerOf(TopicPartition),
    /// The controller that leads the KRaft quorum in the latest epoch anyone led.
    ActiveController,
}

/// How a name that reads as an alias (it has a space: no node name does) is misspelt.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a node alias: write `leader of TOPIC-PARTITION`, `follower of \
     TOPIC-PARTITION` or `active controller`"
)]
pub struct AliasSyntaxError(pub String);

impl NodeAlias {
    /// The current leader of `topic`-`partition` when the fault strikes.
    ///
    /// ```
    /// use kafka_sim::faults::alias::NodeAlias;
    /// assert_eq!(NodeAlias::leader_of("tasks", 0).to_string(), "leader of tasks-0");
    /// ```
    pub fn leader_of(topic: &str, partition: u32) -> Self {
        NodeAlias::LeaderOf(TopicPartition::new(topic, partition))
    }

    /// A follower of `topic`-`partition` when the fault strikes (the lowest-id in-sync
    /// replica that does not lead it).
    ///
    /// ```
    /// use kafka_sim::faults::alias::NodeAlias;
    /// assert_eq!(NodeAlias::follower_of("tasks", 2).to_string(), "follower of tasks-2");
    /// ```
    pub fn follower_of(topic: &str, partition: u32) -> Self {
        NodeAlias::FollowerOf(TopicPartition::new(topic, partition))
    }

    /// The leader of the controller quorum when the fault strikes.
    ///
    /// ```
    /// use kafka_sim::faults::alias::NodeAlias;
    /// assert_eq!(NodeAlias::active_controller().to_string(), "active controller");
    /// ```
    pub fn active_controller() -> Self {
        NodeAlias::ActiveController
    }

    /// `None` for a plain node name (no whitespace), else the alias or why it is none.
    ///
    /// ```
    /// use kafka_sim::faults::alias::NodeAlias;
    /// assert_eq!(NodeAlias::parse("b2"), None);
    /// assert_eq!(NodeAlias::parse("leader of my-topic-3"),
    ///     Some(Ok(NodeAlias::leader_of("my-topic", 3))));
    /// assert!(NodeAlias::parse("leader of tasks").unwrap().is_err());
    /// ```
    pub fn parse(name: &str) -> Option<Result<NodeAlias, AliasSyntaxError>> {
        if !name.contains(char::is_whitespace) {
            return None;
        }
        let error = || AliasSyntaxError(name.to_string());
        let words: Vec<&str> = name.split_whitespace().collect();
        let alias = match words.as_slice() {
            ["active", "controller"] => Some(NodeAlias::ActiveController),
            ["leader", "of", tp] => partition_of(tp).map(NodeAlias::LeaderOf),
            ["follower", "of", tp] => partition_of(tp).map(NodeAlias::FollowerOf),
            _ => None,
        };
        Some(alias.ok_or_else(error))
    }

    /// The partition the alias names, if any.
    pub fn partition(&self) -> Option<&TopicPartition> {
        match self {
            NodeAlias::LeaderOf(tp) | NodeAlias::FollowerOf(tp) => Some(tp),
            NodeAlias::ActiveController => None,
        }
    }
}

/// `TOPIC-PARTITION`, split at the last dash (topic names may have dashes).
pub(crate) fn partition_of(text: &str) -> Option<TopicPartition> {
    let (topic, partition) = text.rsplit_once('-')?;
    if topic.is_empty() || partition.starts_with('+') {
        return None;
    }
    Some(TopicPartition::new(topic, partition.parse().ok()?))
}

impl FromStr for NodeAlias {
    type Err = AliasSyntaxError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        NodeAlias::parse(name).unwrap_or_else(|| Err(AliasSyntaxError(name.to_string())))
    }
}

impl fmt::Display for NodeAlias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeAlias::LeaderOf(tp) => write!(f, "leader of {tp}"),
            NodeAlias::FollowerOf(tp) => write!(f, "follower of {tp}"),
            NodeAlias::ActiveController => write!(f, "active controller"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_read_as_written_and_print_the_same() {
        for text in [
            "leader of tasks-0",
            "follower of a-b-12",
            "active controller",
        ] {
            let alias: NodeAlias = text.parse().unwrap();
            assert_eq!(alias.to_string(), text);
        }
        assert_eq!(
            NodeAlias::parse("  leader   of tasks-1 "),
            Some(Ok(NodeAlias::leader_of("tasks", 1)))
        );
    }

    #[test]
    fn misspelt_aliases_are_errors_and_plain_names_are_not_aliases() {
        for bad in [
            "leader tasks-0",
            "leader of tasks",
            "leader of -0",
            "leader of tasks-x",
            "leader of tasks-+1",
            "follower of",
            "active controllers",
            "the leader of tasks-0",
        ] {
            assert!(NodeAlias::parse(bad).unwrap().is_err(), "{bad}");
        }
        for plain in ["b1", "controller-2", "leader", "producer-1"] {
            assert_eq!(NodeAlias::parse(plain), None);
        }
    }
}

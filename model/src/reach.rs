//! The model's rare paths: the branches a correct cluster takes seldom and a bug hides in
//! (a divergence answer and the truncation after it, an unclean election, a Raft leader
//! resigning by check-quorum, a coordinator failing over mid-rebalance), named so that a
//! sweep can say which of them its seeds reached and which none did (Antithesis's
//! "sometimes" assertions). The model reports the ones only it sees as
//! [`crate::effect::Output::Reached`]; the harness recognizes the others in the events
//! the model already reports (a truncation, a metadata change, an error answer).

use serde::{Deserialize, Serialize};

/// One rare path, by the room it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RarePath {
    // Replication.
    DivergenceAnswered,
    DivergentSuffixTruncated,
    FollowerResetToLeaderLogStart,
    TornTailCut,
    RetentionDeletedSegments,
    // Producers and the leader's sequence checks.
    DuplicateSequenceAnswered,
    SequenceRefused,
    ProducerEpochRefused,
    ProducerEpochBumped,
    NotEnoughReplicasRefused,
    NotEnoughReplicasAfterAppend,
    StaleLeaderEpochRefused,
    OffsetOutOfRangeAnswered,
    // The controller and its metadata.
    IsrShrunk,
    IsrExpanded,
    UncleanElection,
    EligibleLeaderElected,
    PartitionLeaderless,
    BrokerFenced,
    // The Raft quorum.
    RaftCheckQuorumResigned,
    RaftLogTruncated,
    // Groups and consumers.
    MemberSessionExpired,
    MemberRebalanceTimedOut,
    StaleMemberFenced,
    CoordinatorFailedOverMidRebalance,
    ConsumerResetOutOfRange,
}

impl RarePath {
    /// Every rare path, in the order reports list them.
    pub const ALL: [RarePath; 26] = [
        RarePath::DivergenceAnswered,
        RarePath::DivergentSuffixTruncated,
        RarePath::FollowerResetToLeaderLogStart,
        RarePath::TornTailCut,
        RarePath::RetentionDeletedSegments,
        RarePath::DuplicateSequenceAnswered,
        RarePath::SequenceRefused,
        RarePath::ProducerEpochRefused,
        RarePath::ProducerEpochBumped,
        RarePath::NotEnoughReplicasRefused,
        RarePath::NotEnoughReplicasAfterAppend,
        RarePath::StaleLeaderEpochRefused,
        RarePath::OffsetOutOfRangeAnswered,
        RarePath::IsrShrunk,
        RarePath::IsrExpanded,
        RarePath::UncleanElection,
        RarePath::EligibleLeaderElected,
        RarePath::PartitionLeaderless,
        RarePath::BrokerFenced,
        RarePath::RaftCheckQuorumResigned,
        RarePath::RaftLogTruncated,
        RarePath::MemberSessionExpired,
        RarePath::MemberRebalanceTimedOut,
        RarePath::StaleMemberFenced,
        RarePath::CoordinatorFailedOverMidRebalance,
        RarePath::ConsumerResetOutOfRange,
    ];

    /// The path's name in reports and JSON (`divergence-answered`).
    pub fn name(self) -> &'static str {
        match self {
            RarePath::DivergenceAnswered => "divergence-answered",
            RarePath::DivergentSuffixTruncated => "divergent-suffix-truncated",
            RarePath::FollowerResetToLeaderLogStart => "follower-reset-to-leader-log-start",
            RarePath::TornTailCut => "torn-tail-cut",
            RarePath::RetentionDeletedSegments => "retention-deleted-segments",
            RarePath::DuplicateSequenceAnswered => "duplicate-sequence-answered",
            RarePath::SequenceRefused => "sequence-refused",
            RarePath::ProducerEpochRefused => "producer-epoch-refused",
            RarePath::ProducerEpochBumped => "producer-epoch-bumped",
            RarePath::NotEnoughReplicasRefused => "not-enough-replicas-refused",
            RarePath::NotEnoughReplicasAfterAppend => "not-enough-replicas-after-append",
            RarePath::StaleLeaderEpochRefused => "stale-leader-epoch-refused",
            RarePath::OffsetOutOfRangeAnswered => "offset-out-of-range-answered",
            RarePath::IsrShrunk => "isr-shrunk",
            RarePath::IsrExpanded => "isr-expanded",
            RarePath::UncleanElection => "unclean-election",
            RarePath::EligibleLeaderElected => "eligible-leader-elected",
            RarePath::PartitionLeaderless => "partition-leaderless",
            RarePath::BrokerFenced => "broker-fenced",
            RarePath::RaftCheckQuorumResigned => "raft-check-quorum-resigned",
            RarePath::RaftLogTruncated => "raft-log-truncated",
            RarePath::MemberSessionExpired => "member-session-expired",
            RarePath::MemberRebalanceTimedOut => "member-rebalance-timed-out",
            RarePath::StaleMemberFenced => "stale-member-fenced",
            RarePath::CoordinatorFailedOverMidRebalance => "coordinator-failed-over-mid-rebalance",
            RarePath::ConsumerResetOutOfRange => "consumer-reset-out-of-range",
        }
    }

    /// What taking the path means, in a line.
    pub fn description(self) -> &'static str {
        match self {
            RarePath::DivergenceAnswered => {
                "a leader answered a replica fetch with a diverging epoch or end offset"
            }
            RarePath::DivergentSuffixTruncated => "a replica cut a divergent suffix off its log",
            RarePath::FollowerResetToLeaderLogStart => {
                "a follower below its leader's log start emptied its log and restarted there"
            }
            RarePath::TornTailCut => "a broker's recovery cut a torn tail after a power loss",
            RarePath::RetentionDeletedSegments => "retention deleted a replica's oldest segments",
            RarePath::DuplicateSequenceAnswered => {
                "a leader answered a retried idempotent batch with where it already is"
            }
            RarePath::SequenceRefused => "a leader refused a batch: OUT_OF_ORDER_SEQUENCE_NUMBER",
            RarePath::ProducerEpochRefused => "a leader refused a batch: INVALID_PRODUCER_EPOCH",
            RarePath::ProducerEpochBumped => {
                "an idempotent producer bumped its epoch after a sequence gap (KIP-360)"
            }
            RarePath::NotEnoughReplicasRefused => {
                "a leader refused an acks=all batch: NOT_ENOUGH_REPLICAS"
            }
            RarePath::NotEnoughReplicasAfterAppend => {
                "an appended acks=all batch failed: NOT_ENOUGH_REPLICAS_AFTER_APPEND"
            }
            RarePath::StaleLeaderEpochRefused => {
                "a leader refused a client's stale or unknown leader epoch (KIP-320)"
            }
            RarePath::OffsetOutOfRangeAnswered => "a consumer fetch was out of range",
            RarePath::IsrShrunk => "the controller committed a smaller ISR",
            RarePath::IsrExpanded => "the controller committed a larger ISR",
            RarePath::UncleanElection => "the controller elected a leader outside the ISR",
            RarePath::EligibleLeaderElected => {
                "the ISR was empty and the controller elected an eligible leader replica (KIP-966)"
            }
            RarePath::PartitionLeaderless => "the controller left a partition without a leader",
            RarePath::BrokerFenced => "the controller fenced a broker that missed its session",
            RarePath::RaftCheckQuorumResigned => {
                "a Raft leader resigned: no majority fetched within the check-quorum window"
            }
            RarePath::RaftLogTruncated => "a controller cut entries off its metadata log",
            RarePath::MemberSessionExpired => {
                "a coordinator removed a member whose session expired"
            }
            RarePath::MemberRebalanceTimedOut => {
                "a coordinator removed a member that missed the rebalance timeout"
            }
            RarePath::StaleMemberFenced => {
                "a coordinator refused a request of an unknown member or an old generation"
            }
            RarePath::CoordinatorFailedOverMidRebalance => {
                "a group's coordinator moved while the group was rebalancing"
            }
            RarePath::ConsumerResetOutOfRange => {
                "a consumer's position was out of range and auto.offset.reset moved it"
            }
        }
    }

    /// The path named `name`, as `name()` spells it.
    pub fn from_name(name: &str) -> Option<RarePath> {
        RarePath::ALL.into_iter().find(|p| p.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_round_trip_and_match_serde() {
        let mut names: Vec<&str> = RarePath::ALL.iter().map(|p| p.name()).collect();
        for path in RarePath::ALL {
            assert_eq!(RarePath::from_name(path.name()), Some(path));
            let json = serde_json::to_string(&path).unwrap();
            assert_eq!(json, format!("\"{}\"", path.name()));
        }
        // ALL lists every variant, in declaration order.
        for (index, path) in RarePath::ALL.iter().enumerate() {
            assert_eq!(*path as usize, index);
        }
        assert_eq!(
            RarePath::ConsumerResetOutOfRange as usize + 1,
            RarePath::ALL.len()
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RarePath::ALL.len());
        assert_eq!(RarePath::from_name("no-such-path"), None);
    }
}

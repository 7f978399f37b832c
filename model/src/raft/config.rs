//! The configuration of one KRaft-style quorum member: who votes, its timeouts, and which
//! protocol variant (the correct one, or a deliberately broken one for the checkers).

use super::directory::{DirectoryId, VoterKey};
use crate::ids::{Millis, NodeId};
use thiserror::Error;

/// Which protocol the node runs. The broken variants exist so that tests can show the
/// invariants in [`super::invariants`] catch what they break; nothing else should use them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RaftVariant {
    /// KRaft as KIP-595 specifies it.
    #[default]
    Correct,
    /// A candidate counts vote answers instead of voters: a granted vote that arrives twice
    /// (a duplicated message, or the answer to a resent request) counts twice, so a
    /// candidate can win with a minority. Two leaders of one epoch, or a leader that lacks
    /// committed entries, follow (SingleLeader, ConsistentCommittedData).
    CountVoteTwice,
    /// The leader's high watermark follows its own log end: entries count as committed
    /// before any follower holds them (MajorityReachedHighWatermark), and a new leader may
    /// then truncate them (ConsistentCommittedData).
    CommitWithoutMajority,
    /// KRaft before KIP-853: voters are node ids alone. A voter whose disk was replaced
    /// comes back empty, having forgotten its vote and its log, and still votes and counts
    /// towards the high watermark: it can vote a second time in an epoch (two leaders of
    /// one epoch, SingleLeader) or help elect a leader that lacks committed entries
    /// (ConsistentCommittedData).
    IgnoreDirectoryId,
}

/// A quorum member's configuration (Kafka's `controller.quorum.*` settings).
///
/// `voters` may have any size; an even size is allowed but buys nothing: 4 voters need 3
/// for a majority and so tolerate one failure, like 3 voters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftConfig {
    /// The voters: node ids with the directory id each had when the quorum was formed
    /// (KIP-853). A node not listed here, or listed with another directory (its disk was
    /// replaced), is an observer: it replicates the log but neither votes nor counts
    /// towards the high watermark.
    pub voters: Vec<VoterKey>,
    /// A voter that knows no leader starts an election after this long, plus a random part
    /// of up to the same length (`controller.quorum.election.timeout.ms`).
    pub election_timeout_ms: Millis,
    /// A follower that gets no successful fetch answer for this long stops following:
    /// a voter stands for election, an observer looks for the leader again
    /// (`controller.quorum.fetch.timeout.ms`). A leader that no majority fetched from for
    /// one and a half times this long resigns (KIP-595's check-quorum).
    pub fetch_timeout_ms: Millis,
    /// A voter that is caught up waits this long before its next fetch: its fetches are
    /// also its liveness signal to the leader's check-quorum.
    pub fetch_interval_ms: Millis,
    /// How long an observer asks the leader to hold a fetch that has nothing new for it
    /// (no entries past its log end, no high watermark past its own), as Kafka's fetch
    /// `MaxWaitMs` does; it fetches again as soon as the answer comes. 0: observers poll
    /// every `fetch_interval_ms` like voters.
    pub fetch_max_wait_ms: Millis,
    /// An unanswered request (fetch, vote, begin-epoch) is sent again after this long.
    pub request_timeout_ms: Millis,
    /// The most entries one fetch answer carries.
    pub max_fetch_entries: usize,
    pub variant: RaftVariant,
}

impl RaftConfig {
    /// Kafka's defaults for the given voters, each on the disk it was first formatted with.
    pub fn new(voters: Vec<NodeId>) -> RaftConfig {
        RaftConfig {
            voters: voters.into_iter().map(VoterKey::initial).collect(),
            election_timeout_ms: 1_000,
            fetch_timeout_ms: 2_000,
            fetch_interval_ms: 50,
            fetch_max_wait_ms: 0,
            request_timeout_ms: 500,
            max_fetch_entries: 64,
            variant: RaftVariant::Correct,
        }
    }

    /// Checks the configuration; a node is only built from a valid one.
    pub fn validate(&self) -> Result<(), RaftConfigError> {
        if self.voters.is_empty() {
            return Err(RaftConfigError::NoVoters);
        }
        for (index, voter) in self.voters.iter().enumerate() {
            if self.voters[..index].iter().any(|v| v.id == voter.id) {
                return Err(RaftConfigError::DuplicateVoter(voter.id));
            }
        }
        let timeouts = [
            ("election_timeout_ms", self.election_timeout_ms),
            ("fetch_timeout_ms", self.fetch_timeout_ms),
            ("fetch_interval_ms", self.fetch_interval_ms),
            ("request_timeout_ms", self.request_timeout_ms),
        ];
        if let Some((name, _)) = timeouts.iter().find(|(_, ms)| *ms == 0) {
            return Err(RaftConfigError::ZeroTimeout(name));
        }
        // A follower must get several fetch answers within its fetch timeout, or it would
        // stand for election against a healthy leader.
        let longest_wait_ms = self
            .request_timeout_ms
            .saturating_add(self.fetch_max_wait_ms);
        if self.fetch_interval_ms.max(longest_wait_ms) >= self.fetch_timeout_ms {
            return Err(RaftConfigError::FetchTimeoutTooShort {
                fetch_timeout_ms: self.fetch_timeout_ms,
                fetch_interval_ms: self.fetch_interval_ms,
                request_timeout_ms: self.request_timeout_ms,
                fetch_max_wait_ms: self.fetch_max_wait_ms,
            });
        }
        if self.max_fetch_entries == 0 {
            return Err(RaftConfigError::ZeroFetchEntries);
        }
        Ok(())
    }

    /// Whether `node` is in the voter set, on whatever disk.
    pub fn is_voter(&self, node: NodeId) -> bool {
        self.voters.iter().any(|v| v.id == node)
    }

    /// Whether `node` on `directory` is a voter: the node id is in the voter set with this
    /// directory id (any directory in [`RaftVariant::IgnoreDirectoryId`]).
    pub fn is_voter_key(&self, node: NodeId, directory: DirectoryId) -> bool {
        match self.variant {
            RaftVariant::IgnoreDirectoryId => self.is_voter(node),
            _ => self.voters.contains(&VoterKey {
                id: node,
                directory,
            }),
        }
    }

    /// The voters' node ids, in the configured order.
    pub fn voter_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.voters.iter().map(|v| v.id)
    }

    /// How many voters make a majority.
    pub fn majority(&self) -> usize {
        self.voters.len() / 2 + 1
    }
}

/// Why a [`RaftConfig`] cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RaftConfigError {
    #[error("the voter set is empty: a quorum needs at least one voter")]
    NoVoters,
    #[error("voter {0} is listed twice")]
    DuplicateVoter(NodeId),
    #[error("{0} is 0: it must be positive")]
    ZeroTimeout(&'static str),
    #[error(
        "fetch_timeout_ms ({fetch_timeout_ms}) must exceed fetch_interval_ms \
         ({fetch_interval_ms}) and request_timeout_ms ({request_timeout_ms}) plus \
         fetch_max_wait_ms ({fetch_max_wait_ms}), or followers give up on a healthy leader"
    )]
    FetchTimeoutTooShort {
        fetch_timeout_ms: Millis,
        fetch_interval_ms: Millis,
        request_timeout_ms: Millis,
        fetch_max_wait_ms: Millis,
    },
    #[error("max_fetch_entries is 0: fetches could never make progress")]
    ZeroFetchEntries,
}

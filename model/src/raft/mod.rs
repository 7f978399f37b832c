//! A KRaft-style Raft quorum (KIP-595), pure: one [`RaftNode`] per voter or observer,
//! generic over the payload its log carries, with a checker ([`RaftInvariants`]) for the
//! invariants of Kafka's RaftEventSimulationTest.
//!
//! Design decisions:
//! - Replication is pull-based: followers and observers fetch from the leader, which
//!   learns their progress from the fetch offsets and answers a divergent follower with
//!   the epoch and end offset to truncate to.
//! - Durability: every append (leader or follower) is fsynced in the same step, before
//!   the leader counts its own log end and before a follower's next fetch reports the new
//!   end. A vote, an epoch and a learned leader are fsynced to the quorum-state file
//!   before any message that depends on them.
//! - High watermark: the largest offset a majority of voters hold, taken only once it is
//!   past the leader's epoch start (its LeaderChange entry), never lowered by a leader;
//!   followers and observers take the leader's, bounded by their own log end.
//! - Observers (nodes not in `voters`) never vote or stand; without a leader they ask a
//!   random voter, whose answer names the leader.
//! - Directory ids (KIP-853): a voter is a node id and the directory id of its disk. A node
//!   that starts on an empty disk formats a new directory, so a voter whose disk was
//!   replaced comes back as an observer: it has forgotten its votes and must not vote or
//!   count towards the high watermark again. Votes and fetches carry the sender's
//!   directory id for that check.
//! - Long polls: an observer's fetch that finds nothing new waits at the leader until the
//!   high watermark moves (`fetch_max_wait_ms`, 0 by default); voters' fetches, which are
//!   also their liveness signal, never wait.
//! - Randomness (election jitter, which voter to ask) comes from `tick`'s `random`.

pub mod config;
pub mod directory;
mod disconnect;
mod election;
pub mod invariants;
pub mod leader_state;
pub mod log;
mod long_poll;
pub mod message;
pub mod node;
pub mod output;
pub mod quorum_state;
mod replication;
pub mod role;
mod timers;

pub use config::{RaftConfig, RaftConfigError, RaftVariant};
pub use directory::{DirectoryId, VoterKey, DIRECTORY_PATH};
pub use invariants::{FinalLog, RaftInvariants, RaftViolation};
pub use leader_state::ReplicaProgress;
pub use log::LOG_PATH;
pub use message::{FetchResult, LogEntry, RaftError, RaftMessage, RaftRecord};
pub use node::{Payload, ProposeError, RaftNode};
pub use output::{RaftEvent, RaftOutput};
pub use quorum_state::QUORUM_STATE_PATH;
pub use role::RaftRole;

#[cfg(test)]
mod tests;

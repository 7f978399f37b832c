//! The consumer group coordinator, pure: classic-protocol membership (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup) with generations, a leader member and session and rebalance
//! timeouts; the range, round-robin and cooperative-sticky assignors; committed offsets
//! fenced by generation, stored as records of the offsets topic and rebuilt from them
//! after a failover.
//!
//! Design decisions:
//! - One [`GroupCoordinator`] per offsets-topic partition a broker leads; a group lives on
//!   partition [`coordinator_partition`] of [`OFFSETS_TOPIC`]. Failover is
//!   [`GroupCoordinator::resign`] on the old leader and [`GroupCoordinator::from_records`]
//!   on the new one.
//! - Writes go through the driver: a [`GroupOutput::Write`] is appended to the offsets
//!   partition with acks=all and confirmed by [`GroupCoordinator::write_completed`];
//!   commits and assignments take effect, and are answered, only then.
//! - The assignment is computed by the group's leader member, as in Kafka's classic
//!   protocol: its JoinGroup answer carries the subscriptions, it runs
//!   [`Assignor::assign`] and sends the result in SyncGroup.
//! - Member ids are `{client_id}-{coordinator_epoch}-{n}`: deterministic, and never reused
//!   by a later coordinator of the partition (its epoch is higher).
//! - Not modelled: static membership (`group.instance.id`), the KIP-848 consumer
//!   protocol, offset expiry (`offsets.retention.minutes`), and group deletion (Dead).
//! - Transactional commits (TxnOffsetCommit) are written in the producer's transactional
//!   batch and held per producer until its marker lands on the partition
//!   (`txn_offsets.rs`).

mod assignor;
mod classic_group;
mod config;
mod coordinator;
mod ids;
mod member;
mod output;
mod protocol;
mod range;
mod records;
mod round_robin;
mod sticky;
mod summary;
mod txn_offsets;
mod writes;

pub use assignor::{
    cooperative_revocations, Assignor, GroupAssignment, PendingMove, RebalanceProtocol,
    Subscription,
};
pub use config::GroupCoordinatorConfig;
pub use coordinator::{join_request, GroupCoordinator};
pub use ids::{ClientRef, Generation, GroupId, MemberId, WriteId};
pub use output::{GroupEvent, GroupOutput, RemovalReason};
pub use protocol::{
    GroupError, GroupRequest, GroupResponse, JoinedGeneration, OffsetFetchResults, SyncedGeneration,
};
pub use records::{
    coordinator_partition, GroupMetadata, MemberMetadata, OffsetsRecord, OFFSETS_TOPIC,
};
pub use summary::{GroupState, GroupSummary};
pub use txn_offsets::OffsetsLogEntry;

#[cfg(test)]
mod tests;

//! Group coordinator settings, with Kafka's broker defaults, and the broken variant that the
//! checkers must catch.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupCoordinatorConfig {
    /// `group.min.session.timeout.ms`: a JoinGroup asking for less is refused.
    pub group_min_session_timeout_ms: u64,
    /// `group.max.session.timeout.ms`: a JoinGroup asking for more is refused.
    pub group_max_session_timeout_ms: u64,
    /// `group.initial.rebalance.delay.ms`: the first rebalance of an empty group waits this
    /// long (and as long again after each new member, up to the rebalance timeout) so that
    /// members starting together land in one generation, not one each.
    pub group_initial_rebalance_delay_ms: u64,
    /// How long a new member may wait in its first join phase before it is dropped
    /// (Kafka's fixed 5 minutes), so that a client that died right after joining does not
    /// hold the rebalance until the rebalance timeout.
    pub new_member_join_timeout_ms: u64,
    /// KIP-394: a member joining without an id is answered MEMBER_ID_REQUIRED with one,
    /// and joins for real with it (Kafka 2.2+). `false` admits it at once, as before.
    pub require_member_id: bool,
    /// `offsets.topic.num.partitions`, for [`super::coordinator_partition`].
    pub offsets_topic_partitions: u32,
    /// A deliberately broken variant, for showing that the checkers catch it: `true`
    /// accepts every offset commit whatever its generation and member id, like a
    /// coordinator without fencing. A member removed by a rebalance (a zombie that paused
    /// past its session timeout) then overwrites the offsets of the partition's new owner.
    pub accept_stale_generation_commits: bool,
    /// A deliberately broken variant: `true` never bumps the generation after the first,
    /// so every rebalance hands out its assignment under the same generation, and a member
    /// that missed the rebalance still owns, in that generation, what another now owns.
    pub keep_generation_on_rebalance: bool,
}

impl Default for GroupCoordinatorConfig {
    fn default() -> Self {
        GroupCoordinatorConfig {
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_initial_rebalance_delay_ms: 3_000,
            new_member_join_timeout_ms: 300_000,
            require_member_id: true,
            offsets_topic_partitions: 50,
            accept_stale_generation_commits: false,
            keep_generation_on_rebalance: false,
        }
    }
}

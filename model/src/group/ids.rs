//! Identifiers of the group coordinator: groups, members, generations, the client a delayed
//! response goes back to, and writes to the offsets topic.

use crate::ids::NodeId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `group.id`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct GroupId(pub String);

/// A member id handed out by the coordinator (`{client_id}-{coordinator epoch}-{n}`; Kafka
/// appends a UUID instead, which a deterministic model cannot draw).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct MemberId(pub String);

/// A group's generation: bumped each time a join phase completes. Requests that carry an
/// older one are fenced (ILLEGAL_GENERATION). Kafka's `-1` (no generation, a standalone
/// consumer) is `Option::None` wherever it can occur.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Generation(pub u32);

/// One write handed to the driver for the offsets topic; its completion names it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct WriteId(pub u64);

/// Where a response goes: the requesting client and its request's correlation id. JoinGroup
/// and SyncGroup answers are held back until the phase completes, so the coordinator keeps
/// this rather than answering at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientRef {
    pub node: NodeId,
    pub correlation_id: u64,
}

impl GroupId {
    pub fn new(id: impl Into<String>) -> Self {
        GroupId(id.into())
    }
}

impl MemberId {
    pub fn new(id: impl Into<String>) -> Self {
        MemberId(id.into())
    }
}

impl Generation {
    pub fn next(self) -> Generation {
        Generation(self.0 + 1)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "g{}", self.0)
    }
}

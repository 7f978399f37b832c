//! KIP-853's directory ids: which disk a quorum member runs on. A voter is a node id *and*
//! the directory id its disk had when the quorum was formed; a node that comes back on an
//! empty (replaced) disk formats a new directory, so it is no longer that voter: it has
//! forgotten its votes, and counting it would let it vote twice in one epoch or help elect
//! a leader that lacks committed entries. The id lives in `raft/meta.properties`, written
//! and fsynced once, when the disk is formatted.

use crate::effect::DiskOp;
use crate::ids::NodeId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a node's directory id lives on its disk (Kafka keeps it in `meta.properties`).
pub const DIRECTORY_PATH: &str = "raft/meta.properties";

/// One formatting of a node's disk. Kafka draws a random UUID; the harness derives it
/// from the node's incarnation, which is deterministic and never repeats within a run.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct DirectoryId(pub u64);

impl DirectoryId {
    /// The directory a node formats on its first start: what the static voter set records.
    pub const INITIAL: DirectoryId = DirectoryId(1);

    /// The directory a node formats when it starts on an empty disk in its
    /// `incarnation`-th life (the first start is incarnation 1, giving [`Self::INITIAL`]).
    pub fn for_incarnation(incarnation: u32) -> DirectoryId {
        DirectoryId(u64::from(incarnation.max(1)))
    }

    /// The directory id a `meta.properties` file holds, if it holds a valid one: a torn or
    /// unparsable file is no directory, and the node formats a new one.
    pub fn recover(bytes: &[u8]) -> Option<DirectoryId> {
        let text = std::str::from_utf8(bytes).ok()?;
        let line = text.strip_suffix('\n')?;
        let value = line.strip_prefix("directory.id=")?;
        value.parse().ok().map(DirectoryId)
    }

    /// The writes that format a disk with this directory id: the file, then an fsync, so
    /// that the id is durable before the node says anything.
    pub fn persist(&self) -> [DiskOp; 3] {
        [
            DiskOp::Truncate {
                path: DIRECTORY_PATH.to_string(),
                len: 0,
            },
            DiskOp::Append {
                path: DIRECTORY_PATH.to_string(),
                bytes: format!("directory.id={}\n", self.0).into_bytes(),
            },
            DiskOp::Fsync {
                path: DIRECTORY_PATH.to_string(),
            },
        ]
    }
}

impl fmt::Display for DirectoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dir-{}", self.0)
    }
}

/// A voter as KIP-853 names it: a node id with the directory id of its disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VoterKey {
    pub id: NodeId,
    pub directory: DirectoryId,
}

impl VoterKey {
    /// Voter `id` on the disk it was first formatted with.
    pub fn initial(id: NodeId) -> VoterKey {
        VoterKey {
            id,
            directory: DirectoryId::INITIAL,
        }
    }
}

impl fmt::Display for VoterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.id, self.directory)
    }
}

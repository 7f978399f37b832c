//! The election state a quorum member must not forget across a crash: its epoch, whom it
//! voted for in it, and the leader it learned. Kept in `raft/quorum-state` as JSON lines,
//! one per change, fsynced before the node acts on the change; the last valid line wins.
//!
//! Kafka rewrites a small file and renames it into place. The simulated disk has no
//! rename, and a truncate-then-write would lose the vote if the power failed in between,
//! so each change is appended instead: a torn last line leaves the previous state intact.

use crate::effect::DiskOp;
use crate::ids::{LeaderEpoch, NodeId};
use serde::{Deserialize, Serialize};

/// Where the quorum state lives on the node's disk.
pub const QUORUM_STATE_PATH: &str = "raft/quorum-state";

/// The persisted election state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumState {
    pub epoch: LeaderEpoch,
    /// The candidate this node voted for in `epoch` (itself, if it stood). At most one
    /// per epoch: this is what makes a second leader of the same epoch impossible.
    pub voted_for: Option<NodeId>,
    pub leader: Option<NodeId>,
}

impl QuorumState {
    /// The last valid state in the file and the file's valid length: lines after a torn or
    /// unparsable one, or one going back in epoch, are not trusted.
    pub fn recover(bytes: &[u8]) -> (QuorumState, usize) {
        let mut state = QuorumState::default();
        let mut valid_len = 0;
        while let Some(line_len) = bytes[valid_len..].iter().position(|&b| b == b'\n') {
            let line = &bytes[valid_len..valid_len + line_len];
            let Ok(next) = serde_json::from_slice::<QuorumState>(line) else {
                break;
            };
            if next.epoch < state.epoch {
                break;
            }
            state = next;
            valid_len += line_len + 1;
        }
        (state, valid_len)
    }

    /// The write that persists this state: an appended line, then an fsync.
    pub fn persist(&self) -> [DiskOp; 2] {
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        bytes.push(b'\n');
        [
            DiskOp::Append {
                path: QUORUM_STATE_PATH.to_string(),
                bytes,
            },
            DiskOp::Fsync {
                path: QUORUM_STATE_PATH.to_string(),
            },
        ]
    }
}

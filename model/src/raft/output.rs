//! What a quorum member asks its driver to do, and the state changes it reports so that
//! [`super::invariants::RaftInvariants`] can check the quorum from outside.

use super::directory::DirectoryId;
use super::message::RaftMessage;
use crate::effect::DiskOp;
use crate::ids::{LeaderEpoch, NodeId, Offset};

/// One effect of handling an input. The driver carries them out in order: a `Send` that
/// follows a `Disk(Fsync)` must not leave before that fsync is done, because the message
/// promises what the fsync made durable (a vote, a fetch offset).
#[derive(Clone, Debug, PartialEq)]
pub enum RaftOutput<T> {
    Send {
        to: NodeId,
        msg: RaftMessage<T>,
    },
    Disk(DiskOp),
    Event(RaftEvent),
    /// A decision worth a line in the trace.
    Note(String),
    /// The node took one of its rare paths (for the sweep's coverage).
    Reached(crate::reach::RarePath),
}

/// A change of one node's quorum state, for the checkers. Offsets are log positions; a
/// log is mirrored by the epochs of its entries, which identify an entry as long as no
/// epoch has two leaders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RaftEvent {
    /// The node started from its disk: its directory id, its epoch and the epochs of its
    /// recovered entries. Its high watermark starts at 0 (it is not persisted, as in
    /// KRaft). A new directory id means a replaced disk: a new replica under the old id.
    Recovered {
        node: NodeId,
        directory: DirectoryId,
        epoch: LeaderEpoch,
        epochs: Vec<LeaderEpoch>,
    },
    /// The node moved to a newer epoch (persisted before this is reported).
    EpochChanged {
        node: NodeId,
        epoch: LeaderEpoch,
    },
    BecameLeader {
        node: NodeId,
        epoch: LeaderEpoch,
    },
    /// The node's high watermark moved to `offset` while it was in `epoch`.
    HighWatermark {
        node: NodeId,
        epoch: LeaderEpoch,
        offset: Offset,
    },
    /// Entries `base..base + epochs.len()` were written, with these epochs.
    Appended {
        node: NodeId,
        base: Offset,
        epochs: Vec<LeaderEpoch>,
    },
    /// The log was cut to end at `to`.
    Truncated {
        node: NodeId,
        to: Offset,
    },
    /// The cut went below the node's high watermark: committed entries were removed. The
    /// correct protocol never does this (debug builds assert it); broken variants may.
    TruncatedBelowHighWatermark {
        node: NodeId,
        to: Offset,
        high_watermark: Offset,
    },
}

//! What a state machine asks its driver to do: send, write to disk, record an observation.

use crate::ids::NodeId;
use crate::ids::{Offset, TopicPartition};
use crate::protocol::Message;
use serde::{Deserialize, Serialize};

/// A disk operation on the node's own disk. Paths are relative to the node's data dir.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskOp {
    /// Append to the page cache (creates the file if needed).
    Append {
        path: String,
        bytes: Vec<u8>,
    },
    /// Make everything written to the file so far survive a power loss.
    Fsync {
        path: String,
    },
    /// Cut the file to `len` bytes.
    Truncate {
        path: String,
        len: u64,
    },
    Delete {
        path: String,
    },
}

/// A record as a client saw it, with its place in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedRecord {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub key: Option<String>,
    pub value: u64,
}

/// A client-visible event that goes into the history (Jepsen's operation shape).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    SendInvoke {
        topic: String,
        key: Option<String>,
        value: u64,
    },
    SendOk {
        value: u64,
        tp: TopicPartition,
        offset: Option<Offset>,
    },
    /// Definitely not written (never left the client, or a non-retriable refusal).
    SendFail {
        value: u64,
        error: String,
    },
    /// May or may not have been written (timed out after being sent).
    SendInfo {
        value: u64,
        error: String,
    },
    PollInvoke {
        partitions: Vec<TopicPartition>,
    },
    PollOk {
        records: Vec<ObservedRecord>,
    },
    PollFail {
        error: String,
    },
    /// The consumer's position for a partition was set: at start, or reset after
    /// OffsetOutOfRange. Reads on either side of a reset are different assignments.
    Assign {
        tp: TopicPartition,
        offset: Offset,
        reason: String,
    },
}

/// One effect of handling an input.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Send {
        to: NodeId,
        message: Message,
    },
    Disk(DiskOp),
    Observe(Observation),
    /// An internal decision worth a line in the trace (an epoch bump, a reset).
    Note(String),
}

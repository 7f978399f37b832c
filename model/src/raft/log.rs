//! The replicated log of one quorum member, in memory and as the JSON-lines file
//! `raft/log` on its disk: what to write for an append or a truncation, the epoch index
//! that fetches are checked against, and recovery of the valid prefix after a crash.

use super::message::LogEntry;
use crate::effect::DiskOp;
use crate::ids::{LeaderEpoch, Offset};
use crate::leader_epoch_cache::LeaderEpochCache;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Where the log lives on the node's disk.
pub const LOG_PATH: &str = "raft/log";

/// The entries, from offset 0 (no snapshots: the log is never cut at the front).
#[derive(Clone, Debug)]
pub struct RaftLog<T> {
    entries: Vec<LogEntry<T>>,
    /// The file's length after each entry's line: where to cut it to end at an offset.
    line_ends: Vec<u64>,
    epochs: LeaderEpochCache,
}

impl<T> Default for RaftLog<T> {
    fn default() -> Self {
        RaftLog {
            entries: Vec::new(),
            line_ends: Vec::new(),
            epochs: LeaderEpochCache::default(),
        }
    }
}

/// One entry as a line of the log file.
pub fn encode_line<T: Serialize>(entry: &LogEntry<T>) -> Result<Vec<u8>, String> {
    let mut line = serde_json::to_vec(entry).map_err(|e| e.to_string())?;
    line.push(b'\n');
    Ok(line)
}

impl<T: Clone + Serialize + DeserializeOwned> RaftLog<T> {
    /// The valid prefix of a log file and its length in bytes. It ends before the first
    /// line that is torn (no newline), does not parse, is not the next offset, or goes
    /// back in epoch: a crash can tear the last write, and nothing after a bad line can be
    /// trusted to sit at the offset it claims.
    pub fn recover(bytes: &[u8]) -> (RaftLog<T>, usize) {
        let mut log = RaftLog::default();
        let mut valid_len = 0;
        while let Some(line_len) = bytes[valid_len..].iter().position(|&b| b == b'\n') {
            let line = &bytes[valid_len..valid_len + line_len];
            let Ok(entry) = serde_json::from_slice::<LogEntry<T>>(line) else {
                break;
            };
            if entry.offset != log.end() || entry.epoch < log.last_epoch() {
                break;
            }
            valid_len += line_len + 1;
            log.push(entry, valid_len as u64);
        }
        (log, valid_len)
    }

    /// Appends entries that continue the log (dense offsets, epochs not going back) and
    /// returns the file write; `Err` (and no change) if they do not continue it or a
    /// payload does not serialize.
    pub fn append(&mut self, entries: Vec<LogEntry<T>>) -> Result<DiskOp, String> {
        let mut bytes = Vec::new();
        let mut ends = Vec::with_capacity(entries.len());
        let mut file_len = self.file_len();
        let (mut next, mut last_epoch) = (self.end(), self.last_epoch());
        for entry in &entries {
            if entry.offset != next || entry.epoch < last_epoch {
                return Err(format!(
                    "entry at {} epoch {} does not continue the log (end {next}, last epoch {})",
                    entry.offset, entry.epoch.0, last_epoch.0
                ));
            }
            let line = encode_line(entry)?;
            file_len += line.len() as u64;
            ends.push(file_len);
            bytes.extend_from_slice(&line);
            next = next.next();
            last_epoch = entry.epoch;
        }
        for (entry, end) in entries.into_iter().zip(ends) {
            self.push(entry, end);
        }
        Ok(DiskOp::Append {
            path: LOG_PATH.to_string(),
            bytes,
        })
    }

    fn push(&mut self, entry: LogEntry<T>, line_end: u64) {
        self.epochs.assign(entry.epoch, entry.offset);
        self.entries.push(entry);
        self.line_ends.push(line_end);
    }
}

impl<T> RaftLog<T> {
    /// The offset the next entry gets.
    pub fn end(&self) -> Offset {
        Offset(self.entries.len() as u64)
    }

    /// The epoch of the last entry (0, which no leader uses, for an empty log).
    pub fn last_epoch(&self) -> LeaderEpoch {
        self.entries.last().map_or(LeaderEpoch(0), |e| e.epoch)
    }

    pub fn entries(&self) -> &[LogEntry<T>] {
        &self.entries
    }

    /// The entries in `from..to`, clamped to the log.
    pub fn slice(&self, from: Offset, to: Offset) -> &[LogEntry<T>] {
        let end = self.entries.len();
        let to = (to.0.min(end as u64)) as usize;
        let from = (from.0 as usize).min(to);
        &self.entries[from..to]
    }

    pub fn epoch_at(&self, offset: Offset) -> Option<LeaderEpoch> {
        self.entries.get(offset.0 as usize).map(|e| e.epoch)
    }

    /// KIP-279's lookup: the largest epoch at most `epoch` in this log, and where it ends.
    pub fn end_offset_for(&self, epoch: LeaderEpoch) -> Option<(LeaderEpoch, Offset)> {
        self.epochs.end_offset_for(epoch, self.end())
    }

    /// Cuts the log to end at `to` and returns the file cut (`None` if nothing goes).
    pub fn truncate(&mut self, to: Offset) -> Option<DiskOp> {
        if to >= self.end() {
            return None;
        }
        self.entries.truncate(to.0 as usize);
        self.line_ends.truncate(to.0 as usize);
        self.epochs.truncate_from_end(to);
        Some(DiskOp::Truncate {
            path: LOG_PATH.to_string(),
            len: self.file_len(),
        })
    }

    fn file_len(&self) -> u64 {
        self.line_ends.last().copied().unwrap_or(0)
    }
}

//! One quorum member, voter or observer: its log, its persisted election state and its
//! role, driven by messages and ticks. Elections live in `election.rs`, replication in
//! `replication.rs` and timeouts in `timers.rs`; this file holds start-up, the driver's
//! API and the role changes.

use super::config::{RaftConfig, RaftConfigError};
use super::directory::{DirectoryId, DIRECTORY_PATH};
use super::leader_state::ReplicaProgress;
use super::log::{RaftLog, LOG_PATH};
use super::long_poll::ParkedFetch;
use super::message::{LogEntry, RaftMessage, RaftRecord};
use super::output::{RaftEvent, RaftOutput};
use super::quorum_state::{QuorumState, QUORUM_STATE_PATH};
use super::role::{FollowerState, RaftRole, Role};
use crate::effect::DiskOp;
use crate::ids::{LeaderEpoch, Millis, NodeId, Offset};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use thiserror::Error;

/// What a log entry's payload must support: cloning into fetch answers, comparing in
/// checks, and a JSON line on disk.
pub trait Payload: Clone + Debug + PartialEq + Serialize + DeserializeOwned {}
impl<T: Clone + Debug + PartialEq + Serialize + DeserializeOwned> Payload for T {}

/// Why [`RaftNode::propose`] did not append.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ProposeError {
    /// Only the leader appends; `leader` is the one this node knows for `epoch`, if any.
    #[error("not the leader of epoch {epoch}; leader: {leader:?}")]
    NotLeader {
        leader: Option<NodeId>,
        epoch: LeaderEpoch,
    },
    /// The payload has no JSON form, so it cannot go to disk.
    #[error("the payload does not serialize: {0}")]
    Unserializable(String),
}

/// One member of a KRaft-style quorum.
#[derive(Clone, Debug)]
pub struct RaftNode<T> {
    pub(super) id: NodeId,
    /// The directory id of this node's disk: with `id`, what makes it a voter or not.
    pub(super) directory: DirectoryId,
    pub(super) config: RaftConfig,
    pub(super) log: RaftLog<T>,
    pub(super) quorum: QuorumState,
    pub(super) role: Role,
    /// Everything below is committed. Not persisted (as in KRaft): a restarted node learns
    /// it again from the leader.
    pub(super) high_watermark: Offset,
    /// When a voter without a leader stands for election.
    pub(super) election_deadline_ms: Millis,
    /// The deadline was set without a random number (inside `handle`): the next tick adds
    /// the random part.
    pub(super) jitter_pending: bool,
    /// Observers' fetches a leader holds until it has news for them.
    pub(super) parked: Vec<ParkedFetch>,
}

impl<T: Payload> RaftNode<T> {
    /// Starts node `id` from whatever its disk holds (`files`: path and bytes as they
    /// survived a crash). A torn or unparsable tail of either file is cut. A node that was
    /// leader before the crash does not resume: it waits for a new election, as Kafka's
    /// resigned state does. A disk without a directory id (a first start, or a replaced
    /// disk) is formatted with `new_directory`, which must differ from every directory this
    /// node had before (the harness derives it from the node's incarnation).
    pub fn start(
        id: NodeId,
        config: RaftConfig,
        files: Vec<(String, Vec<u8>)>,
        new_directory: DirectoryId,
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) -> Result<RaftNode<T>, RaftConfigError> {
        config.validate()?;
        let file = |path: &str| {
            files
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, bytes)| bytes.as_slice())
                .unwrap_or_default()
        };
        let directory = match DirectoryId::recover(file(DIRECTORY_PATH)) {
            Some(directory) => directory,
            None => {
                out.extend(new_directory.persist().map(RaftOutput::Disk));
                new_directory
            }
        };
        if config.is_voter(id) && !config.is_voter_key(id, directory) {
            out.push(RaftOutput::Note(format!(
                "{id}: on {directory}, not the voter's disk: it observes and never votes"
            )));
        }
        let log_bytes = file(LOG_PATH);
        let (log, log_len) = RaftLog::<T>::recover(log_bytes);
        cut_torn_tail(LOG_PATH, log_bytes.len(), log_len, out);
        let quorum_bytes = file(QUORUM_STATE_PATH);
        let (mut quorum, quorum_len) = QuorumState::recover(quorum_bytes);
        cut_torn_tail(QUORUM_STATE_PATH, quorum_bytes.len(), quorum_len, out);
        if log.last_epoch() > quorum.epoch {
            // Only a lost quorum-state file gets here: the epoch of an entry is always
            // persisted before the entry is written.
            quorum = QuorumState {
                epoch: log.last_epoch(),
                voted_for: None,
                leader: None,
            };
        }
        let mut node = RaftNode {
            id,
            directory,
            config,
            log,
            quorum,
            role: Role::Unattached {
                next_discovery_ms: now,
            },
            high_watermark: Offset(0),
            election_deadline_ms: now,
            jitter_pending: false,
            parked: Vec::new(),
        };
        out.push(RaftOutput::Event(RaftEvent::Recovered {
            node: id,
            directory,
            epoch: quorum.epoch,
            epochs: node.log.entries().iter().map(|e| e.epoch).collect(),
        }));
        node.restart_election_timer(now, None);
        match quorum.leader {
            Some(leader) if leader != id => node.become_follower(quorum.epoch, leader, now, out),
            _ if node.config.voters.len() == 1 && node.is_voter() => {
                node.become_candidate(now, 0, out)
            }
            _ => {}
        }
        node.send_due_fetch(now, out);
        Ok(node)
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn config(&self) -> &RaftConfig {
        &self.config
    }

    pub fn epoch(&self) -> LeaderEpoch {
        self.quorum.epoch
    }

    /// The directory id of this node's disk.
    pub fn directory(&self) -> DirectoryId {
        self.directory
    }

    /// Whether this node votes: its id and directory are in the voter set.
    pub fn is_voter(&self) -> bool {
        self.config.is_voter_key(self.id, self.directory)
    }

    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// The leader of the current epoch, if this node knows it.
    pub fn leader(&self) -> Option<(NodeId, LeaderEpoch)> {
        self.leader_id().map(|leader| (leader, self.quorum.epoch))
    }

    pub fn role(&self) -> RaftRole {
        match &self.role {
            Role::Unattached { .. } if self.quorum.voted_for.is_some() => RaftRole::Voted,
            Role::Unattached { .. } => RaftRole::Unattached,
            Role::Candidate(_) => RaftRole::Candidate,
            Role::Leader(_) => RaftRole::Leader,
            Role::Follower(_) => RaftRole::Follower,
        }
    }

    pub fn voted_for(&self) -> Option<NodeId> {
        self.quorum.voted_for
    }

    /// Entries below this offset are committed.
    pub fn high_watermark(&self) -> Offset {
        self.high_watermark
    }

    pub fn log_end(&self) -> Offset {
        self.log.end()
    }

    pub fn last_epoch(&self) -> LeaderEpoch {
        self.log.last_epoch()
    }

    /// The entries in `from..to`, clamped to the log (committed or not).
    pub fn entries(&self, from: Offset, to: Offset) -> &[LogEntry<T>] {
        self.log.slice(from, to)
    }

    /// The committed entries: everything below the high watermark.
    pub fn committed(&self) -> &[LogEntry<T>] {
        self.log.slice(Offset(0), self.high_watermark)
    }

    /// The committed payloads with their offsets, skipping the leaders' markers.
    pub fn committed_data(&self) -> impl Iterator<Item = (Offset, &T)> {
        self.committed().iter().filter_map(|e| match &e.record {
            RaftRecord::Data(payload) => Some((e.offset, payload)),
            RaftRecord::LeaderChange { .. } => None,
        })
    }

    /// The leader's view of a replica's progress (`None` on other nodes).
    pub fn replica_progress(&self, replica: NodeId) -> Option<ReplicaProgress> {
        match &self.role {
            Role::Leader(leader) => leader.progress(replica),
            _ => None,
        }
    }

    /// Appends `payload` as the leader; returns its offset. It is committed once the high
    /// watermark passes it.
    pub fn propose(
        &mut self,
        payload: T,
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) -> Result<Offset, ProposeError> {
        self.propose_all(vec![payload], now, out)
    }

    /// Appends the payloads in order as the leader; returns the offset of the first. A
    /// payload that cannot be appended stops the rest.
    pub fn propose_all(
        &mut self,
        payloads: Vec<T>,
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) -> Result<Offset, ProposeError> {
        if !self.is_leader() {
            return Err(ProposeError::NotLeader {
                leader: self.leader_id(),
                epoch: self.quorum.epoch,
            });
        }
        let offset = self.log.end();
        let mut result = Ok(offset);
        for payload in payloads {
            if let Err(reason) = self.append_as_leader(RaftRecord::Data(payload), out) {
                result = Err(ProposeError::Unserializable(reason));
                break;
            }
        }
        // A single voter commits at once: held fetches have news, all of it in one answer.
        self.complete_parked_fetches(now, out);
        result
    }

    /// Handles one message from `from`. Stale, misdirected or malformed messages are
    /// ignored or answered with an error; none can make the node panic.
    pub fn handle(
        &mut self,
        from: NodeId,
        msg: RaftMessage<T>,
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        if from == self.id {
            return;
        }
        match msg {
            RaftMessage::VoteRequest {
                candidate_epoch,
                candidate_id,
                candidate_directory,
                last_epoch,
                last_epoch_end_offset,
            } => {
                if candidate_id == from {
                    let last = (last_epoch, last_epoch_end_offset);
                    let candidate = (from, candidate_directory);
                    self.on_vote_request(candidate, candidate_epoch, last, now, out);
                }
            }
            RaftMessage::VoteResponse {
                epoch,
                leader,
                vote_granted,
                ..
            } => self.on_vote_response(from, epoch, leader, vote_granted, now, out),
            RaftMessage::BeginQuorumEpoch { epoch, leader_id } => {
                if leader_id == from {
                    self.on_begin_quorum_epoch(from, epoch, now, out);
                }
            }
            RaftMessage::BeginQuorumEpochResponse {
                epoch,
                leader,
                error,
            } => self.on_begin_quorum_epoch_response(from, epoch, leader, error, now, out),
            RaftMessage::FetchRequest {
                epoch,
                fetch_offset,
                last_fetched_epoch,
                replica_id,
                replica_directory,
                max_wait_ms,
                high_watermark,
            } => {
                if replica_id == from {
                    let replica = (from, replica_directory);
                    let asked = (fetch_offset, last_fetched_epoch);
                    let wait = (max_wait_ms, high_watermark);
                    self.on_fetch_request(replica, epoch, asked, wait, now, out);
                }
            }
            RaftMessage::FetchResponse {
                epoch,
                leader,
                fetch_offset,
                last_fetched_epoch,
                result,
            } => self.on_fetch_response(
                from,
                epoch,
                leader,
                (fetch_offset, last_fetched_epoch),
                result,
                now,
                out,
            ),
        }
        self.send_due_fetch(now, out);
        self.complete_parked_fetches(now, out);
    }

    pub(super) fn leader_id(&self) -> Option<NodeId> {
        match &self.role {
            Role::Leader(_) => Some(self.id),
            Role::Follower(follower) => Some(follower.leader),
            _ => None,
        }
    }

    /// Writes the election state and makes it durable; everything pushed after this may
    /// rely on it.
    pub(super) fn persist(&self, out: &mut Vec<RaftOutput<T>>) {
        out.extend(self.quorum.persist().map(RaftOutput::Disk));
    }

    /// Moves to `epoch` with no known leader (and `voted_for`, a candidate's own vote),
    /// durably before anything acts on it.
    pub(super) fn enter_epoch(
        &mut self,
        epoch: LeaderEpoch,
        voted_for: Option<NodeId>,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        self.quorum = QuorumState {
            epoch,
            voted_for,
            leader: None,
        };
        self.persist(out);
        self.report(
            RaftEvent::EpochChanged {
                node: self.id,
                epoch,
            },
            out,
        );
    }

    /// Moves to `epoch` (if newer) with no leader known. Persisted.
    pub(super) fn become_unattached(
        &mut self,
        epoch: LeaderEpoch,
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        let newer = epoch > self.quorum.epoch;
        if newer {
            self.enter_epoch(epoch, None, out);
        }
        // A running election timer keeps going: restarting it for every candidate that
        // shows a newer epoch would let a voter with a stale log, which cannot win, keep
        // the others from standing (Raft restarts it only on a granted vote or a leader).
        let timer_running = matches!(self.role, Role::Unattached { .. } | Role::Candidate(_));
        self.role = Role::Unattached {
            next_discovery_ms: now,
        };
        if !timer_running {
            self.restart_election_timer(now, None);
        }
    }

    /// Follows `leader` in `epoch` (not older than the current one). Persisted; the first
    /// fetch goes at once.
    pub(super) fn become_follower(
        &mut self,
        epoch: LeaderEpoch,
        leader: NodeId,
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        let newer = epoch > self.quorum.epoch;
        let voted_for = if newer { None } else { self.quorum.voted_for };
        let quorum = QuorumState {
            epoch,
            voted_for,
            leader: Some(leader),
        };
        if quorum != self.quorum {
            self.quorum = quorum;
            self.persist(out);
        }
        if newer {
            self.report(
                RaftEvent::EpochChanged {
                    node: self.id,
                    epoch,
                },
                out,
            );
        }
        out.push(RaftOutput::Note(format!(
            "{}: follows {leader} in epoch {}",
            self.id, epoch.0
        )));
        self.role = Role::Follower(FollowerState {
            leader,
            fetch_deadline_ms: now.saturating_add(self.config.fetch_timeout_ms),
            next_fetch_ms: now,
            in_flight_since_ms: None,
        });
    }

    /// A message's epoch and leader, from any sender: a newer epoch moves this node there
    /// (following the named leader, if any); a leader named for the current epoch, when
    /// this node knows none, is followed.
    pub(super) fn observe_epoch(
        &mut self,
        epoch: LeaderEpoch,
        leader: Option<NodeId>,
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        let leader = leader.filter(|l| *l != self.id);
        if epoch > self.quorum.epoch {
            match leader {
                Some(leader) => self.become_follower(epoch, leader, now, out),
                None => self.become_unattached(epoch, now, out),
            }
        } else if epoch == self.quorum.epoch && self.leader_id().is_none() {
            if let Some(leader) = leader {
                self.become_follower(epoch, leader, now, out);
            }
        }
    }

    pub(super) fn report(&self, event: RaftEvent, out: &mut Vec<RaftOutput<T>>) {
        out.push(RaftOutput::Event(event));
    }

    /// Moves the high watermark up (never down) and reports it.
    pub(super) fn raise_high_watermark(&mut self, offset: Offset, out: &mut Vec<RaftOutput<T>>) {
        if offset > self.high_watermark {
            self.high_watermark = offset;
            let (node, epoch) = (self.id, self.quorum.epoch);
            self.report(
                RaftEvent::HighWatermark {
                    node,
                    epoch,
                    offset,
                },
                out,
            );
        }
    }

    /// Appends `record` in the leader's epoch, durably, and recomputes the high watermark.
    pub(super) fn append_as_leader(
        &mut self,
        record: RaftRecord<T>,
        out: &mut Vec<RaftOutput<T>>,
    ) -> Result<(), String> {
        let entry = LogEntry {
            offset: self.log.end(),
            epoch: self.quorum.epoch,
            record,
        };
        self.append(vec![entry], out)?;
        self.advance_leader_high_watermark(out);
        Ok(())
    }

    /// Appends entries to the log and fsyncs them before anything else is said: the
    /// leader counts its own log end, and a follower reports its fetch offset, only once
    /// the entries are durable.
    pub(super) fn append(
        &mut self,
        entries: Vec<LogEntry<T>>,
        out: &mut Vec<RaftOutput<T>>,
    ) -> Result<(), String> {
        if entries.is_empty() {
            return Ok(());
        }
        let base = self.log.end();
        let epochs = entries.iter().map(|e| e.epoch).collect();
        let write = self.log.append(entries)?;
        out.push(RaftOutput::Disk(write));
        out.push(RaftOutput::Disk(DiskOp::Fsync {
            path: LOG_PATH.to_string(),
        }));
        let node = self.id;
        self.report(RaftEvent::Appended { node, base, epochs }, out);
        Ok(())
    }

    /// Recomputes a leader's high watermark from its voters' progress.
    pub(super) fn advance_leader_high_watermark(&mut self, out: &mut Vec<RaftOutput<T>>) {
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        if let Some(supported) = leader.supported_high_watermark(&self.config, self.log.end()) {
            let offset = supported.max(self.high_watermark);
            leader.high_watermark = Some(offset);
            self.raise_high_watermark(offset, out);
        }
    }
}

/// Cuts a file whose tail did not recover, and says so in the trace.
fn cut_torn_tail<T>(path: &str, len: usize, valid_len: usize, out: &mut Vec<RaftOutput<T>>) {
    if valid_len < len {
        out.push(RaftOutput::Disk(DiskOp::Truncate {
            path: path.to_string(),
            len: valid_len as u64,
        }));
        out.push(RaftOutput::Note(format!(
            "{path}: cut {} bytes of a torn or unparsable tail",
            len - valid_len
        )));
    }
}

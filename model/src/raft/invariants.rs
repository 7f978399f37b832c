//! The quorum invariants of Kafka's RaftEventSimulationTest, checked from the outside on
//! the nodes' [`RaftEvent`]s: SingleLeader, MonotonicEpoch, MonotonicHighWatermark,
//! MajorityReachedHighWatermark and, during the run and at its end, ConsistentCommittedData;
//! plus no truncation below a high watermark, and observers reading only committed data.
//!
//! The checker mirrors each node's log as the epochs of its entries: under SingleLeader an
//! (offset, epoch) pair names one entry, so epochs are enough during the run; the final
//! check compares the entries themselves.
//!
//! A voter is a node id with its original directory id (KIP-853): a node that recovers on
//! a new directory (a replaced disk) is a new replica, whose epoch starts again, and an
//! observer, which no majority counts. The voter it was keeps, for MajorityReached, the
//! log it held when its disk went: it can never vote again, so what it held still
//! intersects every electing majority, as a voter that is down for good does.

use super::directory::{DirectoryId, VoterKey};
use super::message::LogEntry;
use super::output::RaftEvent;
use crate::ids::{LeaderEpoch, NodeId, Offset};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use thiserror::Error;

/// Beyond this many, violations are counted but not kept: one broken run can produce
/// thousands of the same kind.
const MAX_KEPT: usize = 200;

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RaftViolation {
    #[error("SingleLeader: epoch {} has two leaders, {first} and {second}", epoch.0)]
    SingleLeader {
        epoch: LeaderEpoch,
        first: NodeId,
        second: NodeId,
    },
    #[error("MonotonicEpoch: {node} went from epoch {} to {}", from.0, to.0)]
    MonotonicEpoch {
        node: NodeId,
        from: LeaderEpoch,
        to: LeaderEpoch,
    },
    #[error("MonotonicHighWatermark: {node}'s high watermark went from {from} to {to}")]
    MonotonicHighWatermark {
        node: NodeId,
        from: Offset,
        to: Offset,
    },
    #[error(
        "MajorityReachedHighWatermark: leader {leader} of epoch {} set its high watermark to \
         {offset} but only {holders:?} hold its log that far ({majority} needed)", epoch.0
    )]
    MajorityReachedHighWatermark {
        leader: NodeId,
        epoch: LeaderEpoch,
        offset: Offset,
        holders: Vec<NodeId>,
        majority: usize,
    },
    #[error("NoTruncationBelowHighWatermark: {node} cut its log to {to} below its high watermark {high_watermark}")]
    TruncatedBelowHighWatermark {
        node: NodeId,
        to: Offset,
        high_watermark: Offset,
    },
    #[error("ConsistentCommittedData: {node} holds {found} at committed offset {offset}, where {expected} was committed")]
    ConsistentCommittedData {
        node: NodeId,
        offset: Offset,
        expected: String,
        found: String,
    },
    #[error("ObserverCommittedData: observer {observer} at offset {offset} below its high watermark: {detail}")]
    ObserverCommittedData {
        observer: NodeId,
        offset: Offset,
        detail: String,
    },
}

impl RaftViolation {
    /// The invariant's name, as the messages start.
    pub fn invariant(&self) -> &'static str {
        match self {
            RaftViolation::SingleLeader { .. } => "SingleLeader",
            RaftViolation::MonotonicEpoch { .. } => "MonotonicEpoch",
            RaftViolation::MonotonicHighWatermark { .. } => "MonotonicHighWatermark",
            RaftViolation::MajorityReachedHighWatermark { .. } => "MajorityReachedHighWatermark",
            RaftViolation::TruncatedBelowHighWatermark { .. } => "NoTruncationBelowHighWatermark",
            RaftViolation::ConsistentCommittedData { .. } => "ConsistentCommittedData",
            RaftViolation::ObserverCommittedData { .. } => "ObserverCommittedData",
        }
    }
}

/// One node's log at the end of a run, for [`RaftInvariants::check_final`].
#[derive(Clone, Copy, Debug)]
pub struct FinalLog<'a, T> {
    pub node: NodeId,
    pub high_watermark: Offset,
    pub entries: &'a [LogEntry<T>],
}

impl<'a, T> FinalLog<'a, T> {
    /// The entries below the high watermark.
    pub fn committed(&self) -> &'a [LogEntry<T>] {
        let len = (self.high_watermark.0 as usize).min(self.entries.len());
        &self.entries[..len]
    }
}

/// The checker: feed it every event of every node, in the order they happened.
#[derive(Clone, Debug, Default)]
pub struct RaftInvariants {
    voters: BTreeSet<VoterKey>,
    /// Each node's directory, from its last Recovered event.
    directories: BTreeMap<NodeId, DirectoryId>,
    leaders: BTreeMap<LeaderEpoch, NodeId>,
    epochs: BTreeMap<NodeId, LeaderEpoch>,
    /// Each node's log, as its entries' epochs.
    logs: BTreeMap<NodeId, Vec<LeaderEpoch>>,
    /// The last log of each voter whose disk was replaced.
    lost_voters: BTreeMap<VoterKey, Vec<LeaderEpoch>>,
    /// Each node's high watermark in its current incarnation.
    high_watermarks: BTreeMap<NodeId, Offset>,
    /// The epoch of the entry committed at each offset, as voters' high watermarks said.
    committed: Vec<LeaderEpoch>,
    violations: Vec<RaftViolation>,
    dropped: usize,
}

impl RaftInvariants {
    pub fn new(voters: &[VoterKey]) -> RaftInvariants {
        RaftInvariants {
            voters: voters.iter().copied().collect(),
            ..RaftInvariants::default()
        }
    }

    /// Whether `node` is a voter on its current directory (on its original one until a
    /// Recovered event says otherwise).
    fn is_voter(&self, node: NodeId) -> bool {
        match self.directories.get(&node) {
            Some(&directory) => self.voters.contains(&VoterKey {
                id: node,
                directory,
            }),
            None => self.voters.iter().any(|v| v.id == node),
        }
    }

    pub fn violations(&self) -> &[RaftViolation] {
        &self.violations
    }

    /// How many violations were found, kept or not.
    pub fn violation_count(&self) -> usize {
        self.violations.len() + self.dropped
    }

    /// The offsets committed so far (the longest committed prefix any voter reported).
    pub fn committed_len(&self) -> Offset {
        Offset(self.committed.len() as u64)
    }

    fn violate(&mut self, violation: RaftViolation) {
        if self.violations.len() < MAX_KEPT {
            self.violations.push(violation);
        } else {
            self.dropped += 1;
        }
    }

    pub fn observe(&mut self, event: &RaftEvent) {
        match event {
            RaftEvent::Recovered {
                node,
                directory,
                epoch,
                epochs,
            } => {
                let before = self.directories.insert(*node, *directory);
                if let Some(old) = before.filter(|d| d != directory) {
                    // A replaced disk: a new replica under the old id, whose epoch starts
                    // from what its empty disk says.
                    self.epochs.remove(node);
                    let key = VoterKey {
                        id: *node,
                        directory: old,
                    };
                    if self.voters.contains(&key) {
                        let log = self.logs.get(node).cloned().unwrap_or_default();
                        self.lost_voters.insert(key, log);
                    }
                }
                self.epoch_moves(*node, *epoch);
                self.logs.insert(*node, epochs.clone());
                self.high_watermarks.insert(*node, Offset(0));
            }
            RaftEvent::EpochChanged { node, epoch } => self.epoch_moves(*node, *epoch),
            RaftEvent::BecameLeader { node, epoch } => {
                self.epoch_moves(*node, *epoch);
                let first = *self.leaders.entry(*epoch).or_insert(*node);
                if first != *node {
                    let (epoch, second) = (*epoch, *node);
                    self.violate(RaftViolation::SingleLeader {
                        epoch,
                        first,
                        second,
                    });
                }
            }
            RaftEvent::Appended { node, base, epochs } => {
                let log = self.logs.entry(*node).or_default();
                log.truncate(base.0 as usize);
                log.extend_from_slice(epochs);
            }
            RaftEvent::Truncated { node, to } => {
                self.logs.entry(*node).or_default().truncate(to.0 as usize);
            }
            RaftEvent::TruncatedBelowHighWatermark {
                node,
                to,
                high_watermark,
            } => {
                self.high_watermarks.insert(*node, *to);
                let (node, to, high_watermark) = (*node, *to, *high_watermark);
                self.violate(RaftViolation::TruncatedBelowHighWatermark {
                    node,
                    to,
                    high_watermark,
                });
            }
            RaftEvent::HighWatermark {
                node,
                epoch,
                offset,
            } => self.high_watermark_moves(*node, *epoch, *offset),
        }
    }

    fn epoch_moves(&mut self, node: NodeId, epoch: LeaderEpoch) {
        let from = *self.epochs.get(&node).unwrap_or(&LeaderEpoch(0));
        if epoch < from {
            self.violate(RaftViolation::MonotonicEpoch {
                node,
                from,
                to: epoch,
            });
        }
        self.epochs.insert(node, epoch.max(from));
    }

    fn high_watermark_moves(&mut self, node: NodeId, epoch: LeaderEpoch, offset: Offset) {
        let from = self
            .high_watermarks
            .insert(node, offset)
            .unwrap_or_default();
        if offset < from {
            self.violate(RaftViolation::MonotonicHighWatermark {
                node,
                from,
                to: offset,
            });
        }
        let log = self.logs.get(&node).cloned().unwrap_or_default();
        let covered = &log[..(offset.0 as usize).min(log.len())];
        if self.leaders.get(&epoch) == Some(&node) {
            self.check_majority(node, epoch, offset, covered);
        }
        if self.is_voter(node) {
            if let Some((at, expected, found)) = first_difference(&self.committed, covered) {
                self.violate(RaftViolation::ConsistentCommittedData {
                    node,
                    offset: at,
                    expected: format!("an entry of epoch {}", expected.0),
                    found: format!("an entry of epoch {}", found.0),
                });
            } else if covered.len() > self.committed.len() {
                self.committed = covered.to_vec();
            }
        } else if let Some((at, expected, found)) = first_difference(&self.committed, covered) {
            let detail = format!(
                "it holds an entry of epoch {} where one of epoch {} was committed",
                found.0, expected.0
            );
            self.violate(RaftViolation::ObserverCommittedData {
                observer: node,
                offset: at,
                detail,
            });
        } else if covered.len() > self.committed.len() {
            let at = Offset(self.committed.len() as u64);
            let detail = "no voter has committed it yet".to_string();
            self.violate(RaftViolation::ObserverCommittedData {
                observer: node,
                offset: at,
                detail,
            });
        }
    }

    /// MajorityReachedHighWatermark: a majority of voters hold the leader's log up to the
    /// leader's new high watermark.
    fn check_majority(
        &mut self,
        leader: NodeId,
        epoch: LeaderEpoch,
        offset: Offset,
        covered: &[LeaderEpoch],
    ) {
        let reached = |log: &Vec<LeaderEpoch>| {
            log.len() as u64 >= offset.0
                && covered.len() as u64 == offset.0
                && log.starts_with(covered)
        };
        let holders: Vec<NodeId> = self
            .voters
            .iter()
            .filter(|v| match self.lost_voters.get(v) {
                Some(last) => reached(last),
                None => self.logs.get(&v.id).is_some_and(reached),
            })
            .map(|v| v.id)
            .collect();
        let majority = self.voters.len() / 2 + 1;
        if holders.len() < majority {
            self.violate(RaftViolation::MajorityReachedHighWatermark {
                leader,
                epoch,
                offset,
                holders,
                majority,
            });
        }
    }

    /// ConsistentCommittedData at the end of a run, on the entries themselves: every two
    /// nodes agree below both their high watermarks, and an observer's committed entries
    /// are among those a voter committed.
    pub fn check_final<T: PartialEq + Debug>(&mut self, logs: &[FinalLog<'_, T>]) {
        let is_voter = |log: &&FinalLog<'_, T>| self.is_voter(log.node);
        // The first voter with the longest committed prefix is the reference (reversed,
        // as `max_by_key` keeps the last of equals).
        let reference: &[LogEntry<T>] = logs
            .iter()
            .rev()
            .filter(is_voter)
            .map(FinalLog::committed)
            .max_by_key(|entries| entries.len())
            .unwrap_or_default();
        let mut found = Vec::new();
        for log in logs {
            let entries = log.committed();
            let mismatch = entries
                .iter()
                .zip(reference)
                .find(|(mine, theirs)| mine != theirs);
            if let Some((mine, theirs)) = mismatch {
                let (expected, found_entry) = (format!("{theirs:?}"), format!("{mine:?}"));
                found.push(if self.is_voter(log.node) {
                    RaftViolation::ConsistentCommittedData {
                        node: log.node,
                        offset: mine.offset,
                        expected,
                        found: found_entry,
                    }
                } else {
                    RaftViolation::ObserverCommittedData {
                        observer: log.node,
                        offset: mine.offset,
                        detail: format!("it holds {found_entry} where {expected} was committed"),
                    }
                });
            } else if entries.len() > reference.len() {
                let offset = Offset(reference.len() as u64);
                found.push(RaftViolation::ObserverCommittedData {
                    observer: log.node,
                    offset,
                    detail: "no voter has committed it".to_string(),
                });
            }
        }
        found.into_iter().for_each(|v| self.violate(v));
    }
}

/// The first offset where two epoch mirrors disagree (over their common length).
fn first_difference(
    committed: &[LeaderEpoch],
    log: &[LeaderEpoch],
) -> Option<(Offset, LeaderEpoch, LeaderEpoch)> {
    committed
        .iter()
        .zip(log)
        .position(|(a, b)| a != b)
        .map(|at| (Offset(at as u64), committed[at], log[at]))
}

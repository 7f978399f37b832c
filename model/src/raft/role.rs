//! The role a quorum member plays in its current epoch, with the state each role keeps
//! between inputs (votes gathered, fetch in flight, leader progress).

use super::config::{RaftConfig, RaftVariant};
use super::leader_state::LeaderState;
use crate::ids::{Millis, NodeId};
use std::collections::{BTreeMap, BTreeSet};

/// The role, as the driver and traces see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaftRole {
    /// No leader known and no vote cast in this epoch (an observer looking for the leader,
    /// or a voter waiting for its election timeout).
    Unattached,
    /// A voter that voted in this epoch (perhaps for itself, as a leader that resigned).
    Voted,
    Candidate,
    Leader,
    /// Following a known leader; an observer that follows is one too.
    Follower,
}

/// A candidate's election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandidateState {
    /// Voters that granted, itself included.
    granted: BTreeSet<NodeId>,
    /// Granted answers received, itself included: what [`RaftVariant::CountVoteTwice`]
    /// counts instead of voters.
    grants_counted: usize,
    /// Voters that have not answered, with when each is asked again.
    unanswered: BTreeMap<NodeId, Millis>,
}

impl CandidateState {
    /// A candidate that voted for itself and is about to ask the other voters at `now`.
    pub fn new(config: &RaftConfig, me: NodeId, now: Millis) -> CandidateState {
        CandidateState {
            granted: BTreeSet::from([me]),
            grants_counted: 1,
            unanswered: config
                .voter_ids()
                .filter(|v| *v != me)
                .map(|v| (v, now.saturating_add(config.request_timeout_ms)))
                .collect(),
        }
    }

    /// Records a vote answer from a voter; true if the candidate now has a majority.
    pub fn record_answer(&mut self, config: &RaftConfig, voter: NodeId, granted: bool) -> bool {
        self.unanswered.remove(&voter);
        if granted {
            self.granted.insert(voter);
            self.grants_counted += 1;
        }
        self.has_majority(config)
    }

    pub fn has_majority(&self, config: &RaftConfig) -> bool {
        let votes = match config.variant {
            RaftVariant::CountVoteTwice => self.grants_counted,
            _ => self.granted.len(),
        };
        votes >= config.majority()
    }

    /// Voters to ask (again): unanswered and due. They are asked again after another
    /// `request_timeout_ms`.
    pub fn due_requests(&mut self, now: Millis, request_timeout_ms: Millis) -> Vec<NodeId> {
        let mut due = Vec::new();
        for (voter, next_ms) in &mut self.unanswered {
            if *next_ms <= now {
                *next_ms = now.saturating_add(request_timeout_ms);
                due.push(*voter);
            }
        }
        due
    }

    /// The request to `voter` failed (a disconnect): if it has not answered, it is asked
    /// again by `at_ms`.
    pub fn ask_again_by(&mut self, voter: NodeId, at_ms: Millis) {
        if let Some(next_ms) = self.unanswered.get_mut(&voter) {
            *next_ms = (*next_ms).min(at_ms);
        }
    }

    /// Every voter still to answer (the first round of requests).
    pub fn unanswered(&self) -> Vec<NodeId> {
        self.unanswered.keys().copied().collect()
    }

    pub fn next_request_ms(&self) -> Option<Millis> {
        self.unanswered.values().min().copied()
    }
}

/// A follower's (or following observer's) fetch loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowerState {
    pub leader: NodeId,
    /// Without a successful fetch answer by then, the node stops following.
    pub fetch_deadline_ms: Millis,
    /// When the next fetch goes, if none is in flight.
    pub next_fetch_ms: Millis,
    /// When the fetch in flight was sent.
    pub in_flight_since_ms: Option<Millis>,
}

/// What the node is doing in its current epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// No leader known. Voters wait for the election timer; observers ask a voter where the
    /// leader is every so often (`next_discovery_ms`).
    Unattached {
        next_discovery_ms: Millis,
    },
    Candidate(CandidateState),
    Leader(LeaderState),
    Follower(FollowerState),
}

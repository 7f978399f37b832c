//! Elections (KIP-595): standing as a candidate, granting at most one vote per epoch to a
//! log at least as up to date as the voter's own, winning with a majority, and telling the
//! voters with BeginQuorumEpoch.

use super::directory::DirectoryId;
use super::leader_state::LeaderState;
use super::message::{RaftError, RaftMessage, RaftRecord};
use super::node::{Payload, RaftNode};
use super::output::{RaftEvent, RaftOutput};
use super::role::{CandidateState, Role};
use crate::ids::{LeaderEpoch, Millis, NodeId, Offset};

impl<T: Payload> RaftNode<T> {
    pub(super) fn on_vote_request(
        &mut self,
        (candidate, candidate_directory): (NodeId, DirectoryId),
        candidate_epoch: LeaderEpoch,
        candidate_last: (LeaderEpoch, Offset),
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        // Both ends must be voters on their original disks: a replaced disk forgot the
        // votes it cast, and a candidate on one may lack committed entries.
        if !self.is_voter() || !self.config.is_voter_key(candidate, candidate_directory) {
            self.answer_vote(candidate, false, Some(RaftError::NotVoter), out);
            return;
        }
        if candidate_epoch < self.quorum.epoch {
            self.answer_vote(candidate, false, Some(RaftError::FencedLeaderEpoch), out);
            return;
        }
        if candidate_epoch > self.quorum.epoch {
            self.become_unattached(candidate_epoch, now, out);
        }
        // A leader, a candidate (voted for itself) and a follower (its leader won this
        // epoch) all refuse; only a node without a leader decides by its vote and log.
        let granted = match (&self.role, self.quorum.voted_for) {
            (Role::Unattached { .. }, Some(voted_for)) => voted_for == candidate,
            (Role::Unattached { .. }, None) => {
                candidate_last >= (self.log.last_epoch(), self.log.end())
            }
            _ => false,
        };
        if granted && self.quorum.voted_for.is_none() {
            self.quorum.voted_for = Some(candidate);
            // Durable before the answer leaves: a voter that forgot its vote in a crash
            // could vote again in the same epoch and elect a second leader.
            self.persist(out);
            self.restart_election_timer(now, None);
            out.push(RaftOutput::Note(format!(
                "{}: votes for {candidate} in epoch {}",
                self.id, self.quorum.epoch.0
            )));
        }
        self.answer_vote(candidate, granted, None, out);
    }

    fn answer_vote(
        &self,
        to: NodeId,
        vote_granted: bool,
        error: Option<RaftError>,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        let msg = RaftMessage::VoteResponse {
            epoch: self.quorum.epoch,
            leader: self.leader_id(),
            vote_granted,
            error,
        };
        out.push(RaftOutput::Send { to, msg });
    }

    pub(super) fn on_vote_response(
        &mut self,
        voter: NodeId,
        epoch: LeaderEpoch,
        leader: Option<NodeId>,
        vote_granted: bool,
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        self.observe_epoch(epoch, leader, now, out);
        if epoch != self.quorum.epoch || !self.config.is_voter(voter) {
            return;
        }
        let Role::Candidate(candidate) = &mut self.role else {
            return;
        };
        if candidate.record_answer(&self.config, voter, vote_granted) {
            self.become_leader(now, out);
        }
    }

    pub(super) fn on_begin_quorum_epoch(
        &mut self,
        leader: NodeId,
        epoch: LeaderEpoch,
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        if !self.config.is_voter(leader) {
            self.answer_begin_epoch(leader, Some(RaftError::NotVoter), out);
            return;
        }
        if epoch < self.quorum.epoch {
            self.answer_begin_epoch(leader, Some(RaftError::FencedLeaderEpoch), out);
            return;
        }
        let known = self.leader_id().filter(|_| epoch == self.quorum.epoch);
        match known {
            Some(known) if known == leader => {}
            Some(known) => {
                // Two leaders of one epoch: only a broken variant gets here. Keep the one
                // already followed; the checkers report the rest.
                out.push(RaftOutput::Note(format!(
                    "{}: {leader} claims epoch {} led by {known}",
                    self.id, epoch.0
                )));
                return;
            }
            None => self.become_follower(epoch, leader, now, out),
        }
        self.answer_begin_epoch(leader, None, out);
    }

    fn answer_begin_epoch(
        &self,
        to: NodeId,
        error: Option<RaftError>,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        let msg = RaftMessage::BeginQuorumEpochResponse {
            epoch: self.quorum.epoch,
            leader: self.leader_id(),
            error,
        };
        out.push(RaftOutput::Send { to, msg });
    }

    pub(super) fn on_begin_quorum_epoch_response(
        &mut self,
        voter: NodeId,
        epoch: LeaderEpoch,
        leader: Option<NodeId>,
        error: Option<RaftError>,
        now: Millis,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        self.observe_epoch(epoch, leader, now, out);
        if error.is_none() && epoch == self.quorum.epoch {
            if let Role::Leader(state) = &mut self.role {
                state.acknowledge(voter);
            }
        }
    }

    /// Stands for election in the next epoch: votes for itself (durably) and asks the
    /// other voters. A single voter wins at once.
    pub(super) fn become_candidate(
        &mut self,
        now: Millis,
        random: u64,
        out: &mut Vec<RaftOutput<T>>,
    ) {
        if !self.is_voter() {
            return;
        }
        let Some(epoch) = self.quorum.epoch.0.checked_add(1).map(LeaderEpoch) else {
            out.push(RaftOutput::Note(format!("{}: epochs exhausted", self.id)));
            return;
        };
        self.enter_epoch(epoch, Some(self.id), out);
        out.push(RaftOutput::Note(format!(
            "{}: stands for election in epoch {}",
            self.id, epoch.0
        )));
        let candidate = CandidateState::new(&self.config, self.id, now);
        let (won, ask) = (candidate.has_majority(&self.config), candidate.unanswered());
        self.role = Role::Candidate(candidate);
        self.restart_election_timer(now, Some(random));
        if won {
            self.become_leader(now, out);
        } else {
            self.send_vote_requests(ask, out);
        }
    }

    pub(super) fn send_vote_requests(&self, voters: Vec<NodeId>, out: &mut Vec<RaftOutput<T>>) {
        for to in voters {
            let msg = RaftMessage::VoteRequest {
                candidate_epoch: self.quorum.epoch,
                candidate_id: self.id,
                candidate_directory: self.directory,
                last_epoch: self.log.last_epoch(),
                last_epoch_end_offset: self.log.end(),
            };
            out.push(RaftOutput::Send { to, msg });
        }
    }

    /// Takes the lead of the current epoch: writes the LeaderChange entry (whose commit
    /// starts this leader's high watermark) and tells the other voters.
    fn become_leader(&mut self, now: Millis, out: &mut Vec<RaftOutput<T>>) {
        self.quorum.leader = Some(self.id);
        self.persist(out);
        let (node, epoch) = (self.id, self.quorum.epoch);
        self.report(RaftEvent::BecameLeader { node, epoch }, out);
        out.push(RaftOutput::Note(format!(
            "{node}: leads epoch {} from offset {}",
            epoch.0,
            self.log.end()
        )));
        let mut leader = LeaderState::new(&self.config, self.id, self.log.end(), now);
        let voters = leader.tell_all(now, self.config.request_timeout_ms);
        self.role = Role::Leader(leader);
        let record = RaftRecord::LeaderChange { leader: self.id };
        if let Err(reason) = self.append_as_leader(record, out) {
            out.push(RaftOutput::Note(format!(
                "{node}: cannot write LeaderChange: {reason}"
            )));
        }
        self.send_begin_epoch(voters, out);
    }

    pub(super) fn send_begin_epoch(&self, voters: Vec<NodeId>, out: &mut Vec<RaftOutput<T>>) {
        for to in voters {
            let msg = RaftMessage::BeginQuorumEpoch {
                epoch: self.quorum.epoch,
                leader_id: self.id,
            };
            out.push(RaftOutput::Send { to, msg });
        }
    }
}

//! What a quorum member does as time passes: election and fetch timeouts, KIP-595's
//! check-quorum, resending unanswered requests, and when the driver should tick next.

use super::node::{Payload, RaftNode};
use super::output::RaftOutput;
use super::role::Role;
use crate::ids::Millis;
use crate::reach::RarePath;

impl<T: Payload> RaftNode<T> {
    /// Runs the timers due at `now`. `random` is a fresh random number from the driver:
    /// it draws the random part of an election timeout, and which voter an observer asks.
    pub fn tick(&mut self, now: Millis, random: u64, out: &mut Vec<RaftOutput<T>>) {
        if self.jitter_pending {
            let jitter_ms = random % self.config.election_timeout_ms;
            self.election_deadline_ms = self.election_deadline_ms.saturating_add(jitter_ms);
            self.jitter_pending = false;
        }
        let voter = self.is_voter();
        let window_ms = self.check_quorum_window_ms();
        match &mut self.role {
            Role::Unattached { next_discovery_ms } => {
                if voter && now >= self.election_deadline_ms {
                    self.become_candidate(now, random, out);
                } else if !voter && now >= *next_discovery_ms {
                    *next_discovery_ms = now.saturating_add(self.config.request_timeout_ms);
                    // Not itself: a voter on a replaced disk observes too.
                    let me = self.id;
                    let voters: Vec<_> = self.config.voter_ids().filter(|v| *v != me).collect();
                    let pick = (random % voters.len().max(1) as u64) as usize;
                    if let Some(&to) = voters.get(pick) {
                        out.push(RaftOutput::Send {
                            to,
                            msg: self.fetch_request(),
                        });
                    }
                }
            }
            Role::Candidate(candidate) => {
                if now >= self.election_deadline_ms {
                    out.push(RaftOutput::Note(format!(
                        "{}: election of epoch {} timed out",
                        self.id, self.quorum.epoch.0
                    )));
                    self.become_candidate(now, random, out);
                } else {
                    let due = candidate.due_requests(now, self.config.request_timeout_ms);
                    self.send_vote_requests(due, out);
                }
            }
            Role::Leader(leader) => {
                if leader
                    .check_quorum_deadline(&self.config, window_ms)
                    .is_some_and(|deadline| now >= deadline)
                {
                    self.resign(now, out);
                } else {
                    let due = leader.due_begin_epoch(now, self.config.request_timeout_ms);
                    self.send_begin_epoch(due, out);
                }
            }
            Role::Follower(follower) => {
                if now >= follower.fetch_deadline_ms {
                    out.push(RaftOutput::Note(format!(
                        "{}: no fetch answer from {} for {} ms",
                        self.id, follower.leader, self.config.fetch_timeout_ms
                    )));
                    if voter {
                        self.become_candidate(now, random, out);
                    } else {
                        let epoch = self.quorum.epoch;
                        self.become_unattached(epoch, now, out);
                    }
                }
            }
        }
        self.send_due_fetch(now, out);
        self.complete_parked_fetches(now, out);
    }

    /// When `tick` next has something to do.
    pub fn next_deadline(&self) -> Millis {
        let role = self.next_role_deadline();
        self.next_parked_deadline()
            .map_or(role, |parked| parked.min(role))
    }

    fn next_role_deadline(&self) -> Millis {
        match &self.role {
            Role::Unattached { next_discovery_ms } if !self.is_voter() => *next_discovery_ms,
            Role::Unattached { .. } => self.election_deadline_ms,
            Role::Candidate(candidate) => candidate
                .next_request_ms()
                .map_or(self.election_deadline_ms, |t| {
                    t.min(self.election_deadline_ms)
                }),
            Role::Leader(leader) => {
                let check =
                    leader.check_quorum_deadline(&self.config, self.check_quorum_window_ms());
                let begin = leader.next_begin_epoch_ms();
                check.into_iter().chain(begin).min().unwrap_or(Millis::MAX)
            }
            Role::Follower(follower) => {
                let next_fetch = match follower.in_flight_since_ms {
                    Some(sent_ms) => sent_ms.saturating_add(self.fetch_answer_timeout_ms()),
                    None => follower.next_fetch_ms,
                };
                next_fetch.min(follower.fetch_deadline_ms)
            }
        }
    }

    /// KIP-595's check-quorum window: one and a half fetch timeouts.
    pub(super) fn check_quorum_window_ms(&self) -> Millis {
        self.config
            .fetch_timeout_ms
            .saturating_add(self.config.fetch_timeout_ms / 2)
    }

    /// A leader that lost touch with its majority steps down but keeps its epoch (and its
    /// vote for itself): a new leader needs a new epoch.
    fn resign(&mut self, now: Millis, out: &mut Vec<RaftOutput<T>>) {
        out.push(RaftOutput::Note(format!(
            "{}: resigns epoch {}: no majority fetched for {} ms",
            self.id,
            self.quorum.epoch.0,
            self.check_quorum_window_ms()
        )));
        out.push(RaftOutput::Reached(RarePath::RaftCheckQuorumResigned));
        self.role = Role::Unattached {
            next_discovery_ms: now,
        };
        self.restart_election_timer(now, None);
    }

    /// Starts the election timer: the fixed part now, the random part from `random`, or
    /// from the next tick's random number when there is none at hand.
    pub(super) fn restart_election_timer(&mut self, now: Millis, random: Option<u64>) {
        let timeout_ms = self.config.election_timeout_ms;
        let jitter_ms = random.map_or(0, |r| r % timeout_ms);
        self.election_deadline_ms = now.saturating_add(timeout_ms).saturating_add(jitter_ms);
        self.jitter_pending = random.is_none();
    }
}

//! Elections: one vote per epoch, durable before the answer, only to an up-to-date log;
//! fencing of stale epochs; winning, stepping down, resigning, and the vote-counting bug.

use super::*;
use crate::effect::DiskOp;
use crate::raft::log::encode_line;
use crate::raft::quorum_state::{QuorumState, QUORUM_STATE_PATH};

/// A log file whose entries have these epochs (payload: the offset).
pub(super) fn log_file(epochs: &[u32]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (offset, epoch) in epochs.iter().enumerate() {
        let entry = LogEntry {
            offset: o(offset as u64),
            epoch: e(*epoch),
            record: RaftRecord::Data(offset as u64),
        };
        bytes.extend(encode_line(&entry).unwrap());
    }
    bytes
}

pub(super) fn quorum_file(epoch: u32, voted_for: Option<u32>, leader: Option<u32>) -> Vec<u8> {
    let state = QuorumState {
        epoch: e(epoch),
        voted_for: voted_for.map(n),
        leader: leader.map(n),
    };
    let mut bytes = serde_json::to_vec(&state).unwrap();
    bytes.push(b'\n');
    bytes
}

/// Node `id` of voters 1..=3, started from a log with these epochs, in `epoch`.
fn node_with_log(id: u32, epochs: &[u32], epoch: u32) -> RaftNode<u64> {
    let files = vec![
        (log::LOG_PATH.to_string(), log_file(epochs)),
        (
            QUORUM_STATE_PATH.to_string(),
            quorum_file(epoch, None, None),
        ),
    ];
    RaftNode::start(
        n(id),
        config(&[1, 2, 3]),
        files,
        DirectoryId::INITIAL,
        0,
        &mut Vec::new(),
    )
    .unwrap()
}

fn vote_request(candidate: u32, epoch: u32, last_epoch: u32, end: u64) -> Msg {
    RaftMessage::VoteRequest {
        candidate_epoch: e(epoch),
        candidate_id: n(candidate),
        candidate_directory: DirectoryId::INITIAL,
        last_epoch: e(last_epoch),
        last_epoch_end_offset: o(end),
    }
}

/// The vote answers in `out`: (granted, error).
fn answers(out: &Out) -> Vec<(bool, Option<RaftError>)> {
    sends(out)
        .into_iter()
        .filter_map(|(_, msg)| match msg {
            RaftMessage::VoteResponse {
                vote_granted,
                error,
                ..
            } => Some((vote_granted, error)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_single_voter_elects_itself_and_commits_its_leader_change_at_start() {
    let mut out = Vec::new();
    let node = RaftNode::<u64>::start(
        n(1),
        config(&[1]),
        Vec::new(),
        DirectoryId::INITIAL,
        0,
        &mut out,
    )
    .unwrap();
    assert!(node.is_leader());
    assert_eq!(node.leader(), Some((n(1), e(1))));
    assert_eq!(node.high_watermark(), o(1));
    assert!(
        matches!(node.committed()[0].record, RaftRecord::LeaderChange { leader } if leader == n(1))
    );
    let expected = vec![
        RaftEvent::Recovered {
            node: n(1),
            directory: DirectoryId::INITIAL,
            epoch: e(0),
            epochs: vec![],
        },
        RaftEvent::EpochChanged {
            node: n(1),
            epoch: e(1),
        },
        RaftEvent::BecameLeader {
            node: n(1),
            epoch: e(1),
        },
        RaftEvent::Appended {
            node: n(1),
            base: o(0),
            epochs: vec![e(1)],
        },
        RaftEvent::HighWatermark {
            node: n(1),
            epoch: e(1),
            offset: o(1),
        },
    ];
    assert_eq!(events(&out), expected);
    assert_eq!(sends(&out), vec![], "nobody to ask");
}

#[test]
fn a_voter_grants_one_vote_per_epoch_and_makes_it_durable_before_answering() {
    let mut out = Vec::new();
    let mut node = RaftNode::<u64>::start(
        n(2),
        config(&[1, 2, 3]),
        Vec::new(),
        DirectoryId::INITIAL,
        0,
        &mut out,
    )
    .unwrap();
    out.clear();
    node.handle(n(1), vote_request(1, 4, 0, 0), 10, &mut out);
    assert_eq!(answers(&out), vec![(true, None)]);
    assert_eq!(
        (node.epoch(), node.voted_for(), node.role()),
        (e(4), Some(n(1)), RaftRole::Voted)
    );
    let last_fsync = out
        .iter()
        .rposition(
            |o| matches!(o, RaftOutput::Disk(DiskOp::Fsync { path }) if path == QUORUM_STATE_PATH),
        )
        .unwrap();
    let answer = out
        .iter()
        .position(|o| matches!(o, RaftOutput::Send { .. }))
        .unwrap();
    assert!(
        last_fsync < answer,
        "the vote is fsynced before it is sent: {out:?}"
    );
    let mut files = Files::default();
    files.apply(&out);
    let (recovered, _) = QuorumState::recover(&files.0[QUORUM_STATE_PATH]);
    assert_eq!(recovered.voted_for, Some(n(1)));

    out.clear();
    node.handle(n(3), vote_request(3, 4, 9, 99), 20, &mut out);
    assert_eq!(
        answers(&out),
        vec![(false, None)],
        "one vote per epoch, however good the log"
    );
    out.clear();
    node.handle(n(1), vote_request(1, 4, 0, 0), 30, &mut out);
    assert_eq!(
        answers(&out),
        vec![(true, None)],
        "a resent request gets the same vote"
    );
    assert!(
        !out.iter().any(|o| matches!(o, RaftOutput::Disk(_))),
        "nothing new to persist"
    );
}

#[test]
fn a_vote_goes_only_to_a_log_at_least_as_up_to_date() {
    // The voter's log: epochs 1, 1, 2 (last epoch 2, end 3).
    let cases = [
        ((1, 9), false, "an older last epoch loses, however long"),
        ((2, 2), false, "the same last epoch but shorter"),
        ((2, 3), true, "the same log end"),
        ((3, 1), true, "a newer last epoch wins, however short"),
    ];
    for ((last_epoch, end), granted, why) in cases {
        let mut node = node_with_log(2, &[1, 1, 2], 2);
        let mut out = Vec::new();
        node.handle(n(1), vote_request(1, 3, last_epoch, end), 0, &mut out);
        assert_eq!(answers(&out), vec![(granted, None)], "{why}");
    }
}

#[test]
fn stale_and_foreign_vote_requests_are_refused() {
    let mut node = node_with_log(2, &[1], 3);
    let mut out = Vec::new();
    node.handle(n(1), vote_request(1, 2, 1, 1), 0, &mut out);
    assert_eq!(
        answers(&out),
        vec![(false, Some(RaftError::FencedLeaderEpoch))]
    );
    out.clear();
    node.handle(n(7), vote_request(7, 9, 9, 9), 0, &mut out);
    assert_eq!(
        answers(&out),
        vec![(false, Some(RaftError::NotVoter))],
        "7 is no voter"
    );
    out.clear();
    node.handle(n(3), vote_request(1, 9, 9, 9), 0, &mut out);
    assert_eq!(
        out,
        vec![],
        "a request naming another candidate than its sender is ignored"
    );
    assert_eq!(node.epoch(), e(3));

    let mut observer = RaftNode::<u64>::start(
        n(9),
        config(&[1, 2, 3]),
        Vec::new(),
        DirectoryId::INITIAL,
        0,
        &mut Vec::new(),
    )
    .unwrap();
    out.clear();
    observer.handle(n(1), vote_request(1, 1, 0, 0), 0, &mut out);
    assert_eq!(
        answers(&out),
        vec![(false, Some(RaftError::NotVoter))],
        "observers do not vote"
    );
}

#[test]
fn a_candidate_wins_with_a_majority_and_the_voters_follow_it() {
    let mut net = Manual::new(config(&[1, 2, 3]), &[]);
    net.expire(1, 0);
    assert_eq!(
        (net.node(1).role(), net.node(1).epoch()),
        (RaftRole::Candidate, e(1))
    );
    let asked: Vec<NodeId> = net.queue.iter().map(|(_, to, _)| *to).collect();
    assert_eq!(asked, vec![n(2), n(3)]);
    // Node 3 never hears anything: node 2's vote is enough.
    net.deliver_where(|_, to, _| to != n(3));
    assert!(net.node(1).is_leader());
    assert_eq!(net.node(2).leader(), Some((n(1), e(1))));
    assert_eq!(net.node(3).leader(), None);
    net.queue.clear();
    // The leader tells node 3 again after a request timeout.
    net.now += net.config.request_timeout_ms;
    net.tick(1, 0);
    assert!(net
        .queue
        .iter()
        .any(|(_, to, m)| *to == n(3) && matches!(m, RaftMessage::BeginQuorumEpoch { .. })));
    net.deliver_all();
    assert_eq!(net.node(3).leader(), Some((n(1), e(1))));
    net.assert_no_violation();
}

#[test]
fn a_duplicated_grant_counts_twice_only_in_the_broken_variant() {
    for (variant, wins) in [
        (RaftVariant::Correct, false),
        (RaftVariant::CountVoteTwice, true),
    ] {
        let mut cfg = config(&[1, 2, 3, 4, 5]);
        cfg.variant = variant;
        let mut net = Manual::new(cfg, &[]);
        net.expire(1, 0);
        net.deliver_where(|_, to, _| to == n(2) || to == n(1));
        assert_eq!(net.node(1).role(), RaftRole::Candidate, "one grant of five");
        let grant = RaftMessage::VoteResponse {
            epoch: e(1),
            leader: None,
            vote_granted: true,
            error: None,
        };
        net.queue.push_back((n(2), n(1), grant));
        net.deliver_one();
        assert_eq!(net.node(1).is_leader(), wins, "{variant:?}");
    }
}

#[test]
fn a_higher_epoch_makes_a_leader_step_down_and_a_restarted_leader_does_not_resume() {
    let mut net = Manual::new(config(&[1, 2, 3]), &[]);
    net.elect(1);
    net.restart(1);
    assert_eq!(
        net.node(1).role(),
        RaftRole::Voted,
        "it keeps its vote for itself, not the lead"
    );
    assert_eq!((net.node(1).epoch(), net.node(1).leader()), (e(1), None));
    // Node 2's fetches now fail (1 leads no more): at its fetch timeout it stands, and
    // wins epoch 2 with everybody's vote, node 1's included (a new epoch, a new vote).
    net.now += net.config.fetch_timeout_ms;
    net.tick(2, 0);
    assert_eq!(net.node(2).role(), RaftRole::Candidate);
    net.deliver_all();
    for id in 1..=3 {
        assert_eq!(net.node(id).leader(), Some((n(2), e(2))), "node {id}");
    }
    net.assert_no_violation();

    let mut net = Manual::new(config(&[1, 2, 3]), &[]);
    net.elect(1);
    let mut out = Vec::new();
    let now = net.now;
    net.nodes
        .get_mut(&n(1))
        .unwrap()
        .handle(n(3), vote_request(3, 5, 0, 0), now, &mut out);
    assert_eq!(
        answers(&out),
        vec![(false, None)],
        "3's log lacks the LeaderChange entry"
    );
    assert_eq!(
        (net.node(1).epoch(), net.node(1).role()),
        (e(5), RaftRole::Unattached)
    );
}

#[test]
fn a_leader_that_no_majority_fetches_from_resigns() {
    let mut net = Manual::new(config(&[1, 2, 3]), &[]);
    net.elect(1);
    let deadline = net.node(1).next_deadline();
    assert!(deadline <= net.now + 3_000, "check-quorum runs: {deadline}");
    // Followers keep fetching for a while: the leader stays.
    for _ in 0..40 {
        net.advance(100);
    }
    assert!(net.node(1).is_leader());
    // Then node 1 is cut off: its deadline passes without fetches.
    net.queue.clear();
    let until = net.now + 3_000;
    while net.now < until {
        net.now = (net.now + 100).min(until);
        net.tick(1, 0);
        net.queue.clear();
    }
    assert_eq!(
        net.node(1).role(),
        RaftRole::Voted,
        "resigned, still voted for itself"
    );
    assert_eq!(net.node(1).epoch(), e(1));
}

//! Start-up: recovery of the log and the quorum state from a crashed disk (torn tails cut,
//! bad lines ending the file), what a restarted node remembers, and config validation.

use super::election::{log_file, quorum_file};
use super::*;
use crate::effect::DiskOp;
use crate::raft::quorum_state::QUORUM_STATE_PATH;

/// Node `id` started from `files` plus the directory file its first start wrote.
fn start(id: u32, mut files: Vec<(String, Vec<u8>)>) -> (RaftNode<u64>, Out) {
    files.push((DIRECTORY_PATH.to_string(), b"directory.id=1\n".to_vec()));
    let mut out = Vec::new();
    let cfg = config(&[1, 2, 3]);
    let node = RaftNode::start(n(id), cfg, files, DirectoryId(7), 0, &mut out).unwrap();
    assert_eq!(node.directory(), DirectoryId::INITIAL, "the disk's own");
    (node, out)
}

fn epochs_of(node: &RaftNode<u64>) -> Vec<u32> {
    node.entries(o(0), node.log_end())
        .iter()
        .map(|e| e.epoch.0)
        .collect()
}

fn truncations(out: &Out) -> Vec<(String, u64)> {
    out.iter()
        .filter_map(|o| match o {
            RaftOutput::Disk(DiskOp::Truncate { path, len }) => Some((path.clone(), *len)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_torn_log_tail_is_cut_and_the_valid_prefix_kept() {
    let valid = log_file(&[1, 1, 2]);
    let mut torn = valid.clone();
    torn.extend_from_slice(b"{\"offset\":3,\"epo");
    let files = vec![(log::LOG_PATH.to_string(), torn)];
    let (node, out) = start(2, files);
    assert_eq!(epochs_of(&node), vec![1, 1, 2]);
    assert_eq!(
        truncations(&out),
        vec![(log::LOG_PATH.to_string(), valid.len() as u64)]
    );
    let recovered = RaftEvent::Recovered {
        node: n(2),
        directory: DirectoryId::INITIAL,
        epoch: e(2),
        epochs: vec![e(1), e(1), e(2)],
    };
    assert!(events(&out).contains(&recovered), "{out:?}");
    assert_eq!(node.epoch(), e(2), "no quorum state: the log's last epoch");
    assert_eq!(node.high_watermark(), o(0), "not persisted");
}

#[test]
fn a_bad_line_a_gap_or_an_epoch_going_back_ends_the_log() {
    let two = log_file(&[1, 2]);
    let mut garbage = two.clone();
    garbage.extend_from_slice(b"not json\n");
    garbage.extend_from_slice(&log_file(&[1, 2, 2])[two.len()..]);
    let mut gap = two.clone();
    gap.extend_from_slice(&log_file(&[1, 2, 2, 2])[log_file(&[1, 2, 2]).len()..]);
    let mut back = two.clone();
    back.extend_from_slice(&log_file(&[1, 2, 1])[two.len()..]);
    for (name, bytes) in [("garbage", garbage), ("gap", gap), ("epoch back", back)] {
        let (node, out) = start(2, vec![(log::LOG_PATH.to_string(), bytes)]);
        assert_eq!(epochs_of(&node), vec![1, 2], "{name}");
        assert_eq!(
            truncations(&out),
            vec![(log::LOG_PATH.to_string(), two.len() as u64)],
            "{name}"
        );
    }
}

#[test]
fn the_quorum_state_survives_a_torn_last_write_and_the_vote_is_kept() {
    let mut bytes = quorum_file(3, None, None);
    bytes.extend(quorum_file(4, Some(1), None));
    let valid_len = bytes.len() as u64;
    bytes.extend_from_slice(b"{\"epoch\":5,\"vot");
    let (mut node, out) = start(2, vec![(QUORUM_STATE_PATH.to_string(), bytes)]);
    assert_eq!(
        truncations(&out),
        vec![(QUORUM_STATE_PATH.to_string(), valid_len)]
    );
    assert_eq!(
        (node.epoch(), node.voted_for(), node.role()),
        (e(4), Some(n(1)), RaftRole::Voted)
    );
    let request = |candidate: u32| RaftMessage::VoteRequest {
        candidate_epoch: e(4),
        candidate_id: n(candidate),
        candidate_directory: DirectoryId::INITIAL,
        last_epoch: e(9),
        last_epoch_end_offset: o(9),
    };
    let granted = |out: &Out| {
        sends(out).iter().any(|(_, m)| {
            matches!(
                m,
                RaftMessage::VoteResponse {
                    vote_granted: true,
                    ..
                }
            )
        })
    };
    let mut out = Vec::new();
    node.handle(n(3), request(3), 10, &mut out);
    assert!(
        !granted(&out),
        "the vote of epoch 4 went to 1 before the crash"
    );
    out.clear();
    node.handle(n(1), request(1), 20, &mut out);
    assert!(granted(&out));
}

#[test]
fn a_restarted_follower_fetches_from_its_leader_at_once() {
    let files = vec![
        (log::LOG_PATH.to_string(), log_file(&[1, 2])),
        (
            QUORUM_STATE_PATH.to_string(),
            quorum_file(2, Some(1), Some(1)),
        ),
    ];
    let (node, out) = start(3, files);
    assert_eq!(node.leader(), Some((n(1), e(2))));
    let fetch = RaftMessage::FetchRequest {
        epoch: e(2),
        fetch_offset: o(2),
        last_fetched_epoch: e(2),
        replica_id: n(3),
        replica_directory: DirectoryId::INITIAL,
        max_wait_ms: 0,
        high_watermark: o(0),
    };
    assert_eq!(sends(&out), vec![(n(1), fetch)]);
    assert!(
        !out.iter().any(|o| matches!(o, RaftOutput::Disk(_))),
        "nothing to rewrite"
    );
}

#[test]
fn bad_configurations_are_refused_without_panicking() {
    let cases: Vec<(RaftConfig, RaftConfigError)> = vec![
        (config(&[]), RaftConfigError::NoVoters),
        (config(&[1, 2, 1]), RaftConfigError::DuplicateVoter(n(1))),
        (
            RaftConfig {
                election_timeout_ms: 0,
                ..config(&[1])
            },
            RaftConfigError::ZeroTimeout("election_timeout_ms"),
        ),
        (
            RaftConfig {
                max_fetch_entries: 0,
                ..config(&[1])
            },
            RaftConfigError::ZeroFetchEntries,
        ),
        (
            RaftConfig {
                fetch_interval_ms: 2_000,
                ..config(&[1])
            },
            RaftConfigError::FetchTimeoutTooShort {
                fetch_timeout_ms: 2_000,
                fetch_interval_ms: 2_000,
                request_timeout_ms: 500,
                fetch_max_wait_ms: 0,
            },
        ),
        (
            RaftConfig {
                fetch_max_wait_ms: 1_500,
                ..config(&[1])
            },
            RaftConfigError::FetchTimeoutTooShort {
                fetch_timeout_ms: 2_000,
                fetch_interval_ms: 50,
                request_timeout_ms: 500,
                fetch_max_wait_ms: 1_500,
            },
        ),
    ];
    for (cfg, error) in cases {
        assert_eq!(cfg.validate(), Err(error.clone()));
        let started = RaftNode::<u64>::start(
            n(1),
            cfg,
            Vec::new(),
            DirectoryId::INITIAL,
            0,
            &mut Vec::new(),
        );
        assert_eq!(started.err(), Some(error.clone()));
        assert!(!error.to_string().is_empty());
    }
    let even = config(&[1, 2, 3, 4]);
    assert_eq!(
        (even.validate(), even.majority()),
        (Ok(()), 3),
        "allowed, with a strict majority"
    );
}

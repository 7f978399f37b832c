//! Directory ids (KIP-853) and replaced disks: a node formats its disk once and keeps the
//! id; a voter whose disk was replaced observes (never votes, stands or counts towards the
//! high watermark or check-quorum); and `RaftVariant::IgnoreDirectoryId`, where it rejoins
//! as a full voter having forgotten its vote, elects two leaders in one epoch or loses
//! committed entries on schedules that the correct protocol survives.

use super::*;
use crate::effect::DiskOp;

fn with_variant(variant: RaftVariant) -> RaftConfig {
    let mut cfg = config(&[1, 2, 3]);
    cfg.variant = variant;
    cfg
}

fn invariants_broken(net: &Manual) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = net
        .invariants
        .violations()
        .iter()
        .map(|v| v.invariant())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Lets `ms` pass in steps of 100 ms, ticking every node and delivering only what `keep`
/// lets through.
fn run_for(net: &mut Manual, ms: Millis, keep: impl Fn(NodeId, NodeId) -> bool) {
    let until = net.now + ms;
    while net.now < until {
        net.now += 100;
        let ids: Vec<u32> = net.nodes.keys().map(|id| id.0).collect();
        for id in ids {
            net.tick(id, u64::from(id) * 7 + net.now);
        }
        net.deliver_where(|from, to, _| keep(from, to));
    }
}

#[test]
fn an_empty_disk_is_formatted_once_durably_and_the_id_survives_restarts() {
    let mut out = Vec::new();
    let node = RaftNode::<u64>::start(
        n(2),
        config(&[1, 2, 3]),
        Vec::new(),
        DirectoryId(4),
        0,
        &mut out,
    )
    .unwrap();
    assert_eq!(node.directory(), DirectoryId(4));
    let written: Vec<&DiskOp> = out
        .iter()
        .filter_map(|o| match o {
            RaftOutput::Disk(op) => Some(op),
            _ => None,
        })
        .take(3)
        .collect();
    assert_eq!(
        written,
        DirectoryId(4).persist().iter().collect::<Vec<_>>(),
        "formatted (and fsynced) before anything else: {out:?}"
    );
    let mut files = Files::default();
    files.apply(&out);
    let again = RaftNode::<u64>::start(
        n(2),
        config(&[1, 2, 3]),
        files.to_vec(),
        DirectoryId(5),
        0,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        again.directory(),
        DirectoryId(4),
        "a restart keeps its disk's id"
    );

    for bad in [&b"directory.id=4"[..], b"directory.id=x\n", b"\xff\n"] {
        let files = vec![(DIRECTORY_PATH.to_string(), bad.to_vec())];
        let node =
            RaftNode::<u64>::start(n(2), config(&[1, 2, 3]), files, DirectoryId(6), 0, &mut out)
                .unwrap();
        assert_eq!(
            node.directory(),
            DirectoryId(6),
            "{bad:?} is no directory id"
        );
    }
}

#[test]
fn a_voter_on_a_replaced_disk_observes_and_never_votes_or_stands() {
    let mut net = Manual::new(config(&[1, 2, 3]), &[]);
    net.elect(1);
    net.lose_disk(2);
    let replaced = net.node(2);
    assert_eq!(replaced.directory(), DirectoryId(2));
    assert!(!replaced.is_voter());
    assert_eq!((replaced.epoch(), replaced.log_end()), (e(0), o(0)));
    // It finds the leader and replicates its log like any observer.
    net.advance(100);
    net.advance(100);
    assert_eq!(net.node(2).leader(), Some((n(1), e(1))));
    assert_eq!(net.node(2).log_end(), net.node(1).log_end());

    // Cut off from everyone for long, it never stands.
    run_for(&mut net, 10_000, |from, to| from != n(2) && to != n(2));
    assert_ne!(net.node(2).role(), RaftRole::Candidate);
    assert_eq!(net.node(2).epoch(), e(1));

    // It refuses a vote (INCONSISTENT_VOTER) even for an up-to-date candidate.
    let mut out = Vec::new();
    let now = net.now;
    let request = RaftMessage::VoteRequest {
        candidate_epoch: e(9),
        candidate_id: n(3),
        candidate_directory: DirectoryId::INITIAL,
        last_epoch: e(9),
        last_epoch_end_offset: o(99),
    };
    net.nodes
        .get_mut(&n(2))
        .unwrap()
        .handle(n(3), request, now, &mut out);
    let refused = sends(&out).iter().any(|(_, m)| {
        matches!(
            m,
            RaftMessage::VoteResponse {
                vote_granted: false,
                error: Some(RaftError::NotVoter),
                ..
            }
        )
    });
    assert!(refused, "{out:?}");
    assert_eq!(net.node(2).voted_for(), None);

    // And a voter refuses it as a candidate: its directory is not the voter's.
    let mut out = Vec::new();
    let request = RaftMessage::VoteRequest {
        candidate_epoch: e(9),
        candidate_id: n(2),
        candidate_directory: DirectoryId(2),
        last_epoch: e(9),
        last_epoch_end_offset: o(99),
    };
    net.nodes
        .get_mut(&n(3))
        .unwrap()
        .handle(n(2), request, now, &mut out);
    assert_eq!(net.node(3).epoch(), e(1), "not even its epoch is taken");
    net.assert_no_violation();
}

#[test]
fn a_replaced_disk_counts_towards_neither_the_high_watermark_nor_check_quorum() {
    for (variant, counted) in [
        (RaftVariant::Correct, false),
        (RaftVariant::IgnoreDirectoryId, true),
    ] {
        let mut net = Manual::new(with_variant(variant), &[]);
        net.elect(1);
        let before = net.node(1).high_watermark();
        net.lose_disk(2);
        // Node 3 is cut off: node 2, on its new disk, is the only one fetching.
        let without_3 = |from: NodeId, to: NodeId| from != n(3) && to != n(3);
        let offset = net.propose(1, 7);
        // Long enough for the broken variant's empty voter to time out and find the leader.
        run_for(&mut net, 2_500, without_3);
        assert_eq!(net.node(2).log_end(), net.node(1).log_end(), "{variant:?}");
        let committed = net.node(1).high_watermark() > offset;
        assert_eq!(
            committed,
            counted,
            "{variant:?}: hw {before} -> {}",
            net.node(1).high_watermark()
        );
        // Check-quorum: a leader that only the replaced disk fetches from resigns.
        run_for(&mut net, 4_000, without_3);
        assert_eq!(net.node(1).is_leader(), counted, "{variant:?}");
    }
}

#[test]
fn a_replaced_disk_that_votes_again_elects_two_leaders_in_one_epoch() {
    for (variant, broken) in [
        (RaftVariant::Correct, vec![]),
        (RaftVariant::IgnoreDirectoryId, vec!["SingleLeader"]),
    ] {
        let mut net = Manual::new(with_variant(variant), &[]);
        // 1 wins epoch 1 with 2's vote; 3 hears nothing of it.
        net.expire(1, 0);
        net.deliver_where(|from, to, _| from != n(3) && to != n(3));
        assert!(net.node(1).is_leader());
        assert_eq!(net.node(2).voted_for(), Some(n(1)));
        // 2's disk is replaced: its vote of epoch 1 is gone with it.
        net.lose_disk(2);
        // 3 stands in epoch 1 as well, cut off from 1, and asks 2.
        net.expire(3, 0);
        assert_eq!(
            (net.node(3).role(), net.node(3).epoch()),
            (RaftRole::Candidate, e(1))
        );
        net.deliver_where(|from, to, _| from != n(1) && to != n(1));
        let two_leaders = net.node(3).is_leader();
        assert_eq!(two_leaders, !broken.is_empty(), "{variant:?}");
        assert_eq!(invariants_broken(&net), broken, "{variant:?}");
    }
}

#[test]
fn a_replaced_disk_that_votes_again_elects_a_leader_without_committed_entries() {
    for variant in [RaftVariant::Correct, RaftVariant::IgnoreDirectoryId] {
        let mut net = Manual::new(with_variant(variant), &[]);
        net.elect(1);
        // 3 is cut off; 1 commits two values with 2.
        let without_3 = |from: NodeId, to: NodeId| from != n(3) && to != n(3);
        net.propose(1, 10);
        let last = net.propose(1, 11);
        run_for(&mut net, 500, without_3);
        assert!(
            net.node(1).high_watermark() > last,
            "{variant:?}: committed"
        );
        // 2's disk is replaced, then 1 goes down: only 3 and the empty 2 are left.
        net.lose_disk(2);
        net.nodes.remove(&n(1));
        run_for(&mut net, 5_000, |_, _| true);
        let leader_3 = net.node(3).is_leader();
        let broken = invariants_broken(&net);
        match variant {
            RaftVariant::IgnoreDirectoryId => {
                assert!(
                    leader_3,
                    "2 votes for 3, whose log lacks the committed values"
                );
                assert!(broken.contains(&"ConsistentCommittedData"), "{broken:?}");
            }
            _ => {
                assert!(!leader_3, "no majority of voters is left up");
                assert_eq!(broken, Vec::<&str>::new());
                // 1 comes back: 1 and 3 elect a leader that holds the committed values.
                net.restart(1);
                run_for(&mut net, 10_000, |_, _| true);
                let leader = net.nodes.values().find(|node| node.is_leader()).unwrap();
                let values: Vec<u64> = leader.committed_data().map(|(_, v)| *v).collect();
                assert_eq!(values, vec![10, 11]);
                let observer = net.node(2);
                assert_eq!(
                    observer
                        .committed_data()
                        .map(|(_, v)| *v)
                        .collect::<Vec<_>>(),
                    values
                );
                net.assert_no_violation();
            }
        }
    }
}

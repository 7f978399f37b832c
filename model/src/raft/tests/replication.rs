//! Replication: fencing of fetches by epoch, divergence and truncation, the high watermark
//! rule (a majority, and an entry of the leader's epoch), followers' and observers' high
//! watermarks, and the commit-without-majority bug.

use super::election::{log_file, quorum_file};
use super::*;
use crate::effect::DiskOp;
use crate::raft::quorum_state::QUORUM_STATE_PATH;

/// A disk holding a log with these epochs, in `epoch`.
fn disk(epochs: &[u32], epoch: u32) -> Files {
    let mut files = Files::default();
    files.0.insert(log::LOG_PATH.into(), log_file(epochs));
    files
        .0
        .insert(QUORUM_STATE_PATH.into(), quorum_file(epoch, None, None));
    files
}

fn fetch(epoch: u32, fetch_offset: u64, last_fetched_epoch: u32, replica: u32) -> Msg {
    RaftMessage::FetchRequest {
        epoch: e(epoch),
        fetch_offset: o(fetch_offset),
        last_fetched_epoch: e(last_fetched_epoch),
        replica_id: n(replica),
        replica_directory: DirectoryId::INITIAL,
        max_wait_ms: 0,
        high_watermark: o(0),
    }
}

/// The one fetch answer in `out`: (epoch, leader, result).
fn answer(out: &Out) -> (LeaderEpoch, Option<NodeId>, FetchResult<u64>) {
    let answers: Vec<_> = sends(out)
        .into_iter()
        .filter_map(|(_, msg)| match msg {
            RaftMessage::FetchResponse {
                epoch,
                leader,
                result,
                ..
            } => Some((epoch, leader, result)),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 1, "{out:?}");
    answers.into_iter().next().unwrap()
}

fn epochs_of(node: &RaftNode<u64>) -> Vec<u32> {
    node.entries(o(0), node.log_end())
        .iter()
        .map(|e| e.epoch.0)
        .collect()
}

#[test]
fn fetches_of_other_epochs_or_to_non_leaders_get_errors_naming_the_leader() {
    let mut net = Manual::new(config(&[1, 2, 3]), &[]);
    net.elect(1);
    let mut ask = |node: u32, msg: Msg| {
        let mut out = Vec::new();
        let now = net.now;
        net.nodes
            .get_mut(&n(node))
            .unwrap()
            .handle(n(7), msg, now, &mut out);
        out
    };
    let fenced = answer(&ask(1, fetch(0, 0, 0, 7)));
    assert_eq!(
        fenced,
        (
            e(1),
            Some(n(1)),
            FetchResult::Error(RaftError::FencedLeaderEpoch)
        )
    );
    let future = answer(&ask(1, fetch(2, 0, 0, 7)));
    assert_eq!(future.2, FetchResult::Error(RaftError::UnknownLeaderEpoch));
    let follower = answer(&ask(2, fetch(1, 0, 0, 7)));
    assert_eq!(
        follower,
        (e(1), Some(n(1)), FetchResult::Error(RaftError::NotLeader))
    );
    assert_eq!(
        ask(1, fetch(1, 0, 0, 8)),
        vec![],
        "a fetch for another replica is ignored"
    );
    let served = answer(&ask(1, fetch(1, 0, 0, 7)));
    assert!(matches!(served.2, FetchResult::Entries { entries, .. } if entries.len() == 1));
}

/// Node 1 wrote epoch 3 after epoch 1 and node 2 wrote epoch 2 (never committed); node 1
/// wins epoch 4 with node 3's vote while node 2 hears nothing.
fn node_1_leads_without_node_2() -> Manual {
    let disks = vec![
        (1, disk(&[1, 1, 3, 3], 3)),
        (2, disk(&[1, 1, 2, 2, 2], 3)),
        (3, disk(&[1, 1, 3, 3], 3)),
    ];
    let mut net = Manual::with_disks(config(&[1, 2, 3]), &[], disks);
    net.expire(1, 0);
    net.deliver_where(|from, to, _| from != n(2) && to != n(2));
    net
}

#[test]
fn a_late_divergence_answer_does_not_cut_a_log_that_came_back_to_the_same_offset() {
    // Node 2's log [1, 1, 2, 2, 2] diverges; it truncates to 2 and catches up to
    // [1, 1, 3, 3, 4]: the same log end, 5, as when it first fetched. A late copy of the
    // first answer (fetch offset 5, last epoch 2: diverging at 2) must change nothing.
    let mut net = node_1_leads_without_node_2();
    net.now += 2_000;
    net.tick(1, 0);
    net.deliver_all();
    assert_eq!(epochs_of(net.node(2)), vec![1, 1, 3, 3, 4]);
    let late = RaftMessage::FetchResponse {
        epoch: e(4),
        leader: Some(n(1)),
        fetch_offset: o(5),
        last_fetched_epoch: e(2),
        result: FetchResult::Diverging {
            epoch: e(1),
            end_offset: o(2),
        },
    };
    let mut out = Vec::new();
    let now = net.now;
    net.nodes
        .get_mut(&n(2))
        .unwrap()
        .handle(n(1), late, now, &mut out);
    net.absorb(n(2), out);
    assert_eq!(epochs_of(net.node(2)), vec![1, 1, 3, 3, 4]);
    net.assert_no_violation();
}

#[test]
fn a_divergent_follower_truncates_where_the_logs_agree_and_catches_up() {
    let mut net = node_1_leads_without_node_2();
    assert!(net.node(1).is_leader());
    assert_eq!(net.node(1).epoch(), e(4));
    let committed = net.node(1).high_watermark();
    assert_eq!(committed, o(5), "3 holds the LeaderChange of epoch 4 too");
    // Node 2 learns the leader and fetches from offset 5, last epoch 2.
    net.now += 2_000;
    net.tick(1, 0);
    net.deliver_all();
    assert_eq!(
        epochs_of(net.node(2)),
        vec![1, 1, 3, 3, 4],
        "truncated to 2, then caught up"
    );
    let truncations: Vec<_> = net
        .events
        .iter()
        .filter(|ev| matches!(ev, RaftEvent::Truncated { node, .. } if *node == n(2)))
        .collect();
    assert_eq!(
        truncations,
        vec![&RaftEvent::Truncated {
            node: n(2),
            to: o(2)
        }]
    );
    assert_eq!(net.node(2).high_watermark(), committed);
    // The file was cut and rewritten to match.
    let mut out = Vec::new();
    let files = net.files[&n(2)].to_vec();
    let restarted = RaftNode::<u64>::start(
        n(2),
        config(&[1, 2, 3]),
        files,
        DirectoryId::INITIAL,
        0,
        &mut out,
    )
    .unwrap();
    assert_eq!(epochs_of(&restarted), vec![1, 1, 3, 3, 4]);
    assert!(!out
        .iter()
        .any(|o| matches!(o, RaftOutput::Disk(DiskOp::Truncate { .. }))));
    net.assert_no_violation();
}

#[test]
fn entries_of_an_older_epoch_commit_only_with_an_entry_of_the_leader_s_epoch() {
    // Nodes 1 and 2 hold epoch 2's entries, uncommitted; node 3 never got them.
    let disks = vec![
        (1, disk(&[1, 2, 2], 2)),
        (2, disk(&[1, 2, 2], 2)),
        (3, disk(&[1], 2)),
    ];
    let mut net = Manual::with_disks(config(&[1, 2, 3]), &[], disks);
    net.expire(1, 0);
    // Deliver one message at a time (none to node 3) and watch the leader's high
    // watermark after each fetch.
    let mut seen = Vec::new();
    while let Some((from, to, msg)) = net.queue.front().cloned() {
        if to == n(3) {
            net.queue.pop_front();
            continue;
        }
        net.deliver_one();
        if let RaftMessage::FetchRequest { fetch_offset, .. } = msg {
            seen.push((from, fetch_offset, net.node(1).high_watermark()));
        }
    }
    assert!(net.node(1).is_leader());
    // Node 2 holds offsets 0..3 (a majority with the leader) before it holds the
    // LeaderChange at 3: that is not enough, epoch 2's entries are not the leader's.
    assert_eq!(seen[0], (n(2), o(3), o(0)), "{seen:?}");
    assert_eq!(seen[1], (n(2), o(4), o(4)), "{seen:?}");
    assert_eq!(net.node(2).high_watermark(), o(4));
    net.assert_no_violation();
}

#[test]
fn the_leader_high_watermark_never_goes_back_and_followers_stay_below_their_log_end() {
    let mut cfg = config(&[1, 2, 3]);
    cfg.max_fetch_entries = 2;
    let mut net = Manual::new(cfg, &[9]);
    net.elect(1);
    for value in 0..5 {
        net.propose(1, value);
    }
    for _ in 0..4 {
        net.advance(50);
    }
    assert_eq!(net.node(1).high_watermark(), o(6));
    let mut out = Vec::new();
    let now = net.now;
    let leader = net.nodes.get_mut(&n(1)).unwrap();
    leader.handle(n(2), fetch(1, 1, 1, 2), now, &mut out);
    assert_eq!(
        leader.high_watermark(),
        o(6),
        "a lower fetch offset takes nothing back"
    );
    // Observer 9 catches up two entries per answer, its high watermark bounded by its log.
    let observer_marks: Vec<Offset> = net
        .events
        .iter()
        .filter_map(|ev| match ev {
            RaftEvent::HighWatermark { node, offset, .. } if *node == n(9) => Some(*offset),
            _ => None,
        })
        .collect();
    assert!(
        observer_marks.windows(2).all(|w| w[0] < w[1]),
        "{observer_marks:?}"
    );
    assert!(
        observer_marks.iter().all(|m| m.0 % 2 == 0 || m.0 == 1),
        "{observer_marks:?}"
    );
    assert_eq!(net.node(9).high_watermark(), o(6));
    net.assert_no_violation();
}

#[test]
fn observers_find_the_leader_through_a_voter_and_never_count_towards_the_high_watermark() {
    let mut net = Manual::new(config(&[1, 2, 3]), &[9]);
    net.elect(1);
    assert_eq!(net.node(9).leader(), None);
    // The observer asks voter 3 (random 2), which names the leader.
    net.expire(9, 2);
    assert_eq!(net.queue.back().map(|(_, to, _)| *to), Some(n(3)));
    net.deliver_all();
    assert_eq!(net.node(9).leader(), Some((n(1), e(1))));
    assert_eq!(net.node(9).role(), RaftRole::Follower);
    // With the voters 2 and 3 cut off, the observer's fetches do not commit anything.
    let hw = net.node(1).high_watermark();
    net.propose(1, 42);
    for _ in 0..5 {
        net.now += 50;
        for id in [1, 9] {
            net.tick(id, 0);
        }
        net.deliver_where(|from, to, _| ![from, to].iter().any(|x| *x == n(2) || *x == n(3)));
    }
    assert_eq!(
        net.node(9).log_end(),
        net.node(1).log_end(),
        "it replicated"
    );
    assert_eq!(net.node(1).high_watermark(), hw, "but does not count");
    // The voters' dropped fetches are sent again after a request timeout.
    for _ in 0..12 {
        net.advance(50);
    }
    assert_eq!(
        net.node(9).high_watermark(),
        net.node(1).log_end(),
        "once voters fetch"
    );
    net.assert_no_violation();
}

#[test]
fn late_and_duplicated_fetch_answers_are_ignored() {
    let mut net = Manual::new(config(&[1, 2, 3]), &[]);
    net.elect(1);
    net.propose(1, 7);
    net.now += 50;
    net.tick(2, 0);
    net.deliver_one(); // 2's fetch reaches the leader
    let (from, to, msg) = net.queue.front().cloned().unwrap();
    net.deliver_one();
    let end = net.node(2).log_end();
    net.queue.push_back((from, to, msg));
    net.deliver_one();
    assert_eq!(net.node(2).log_end(), end, "the duplicate appended nothing");
    net.deliver_all();
    net.assert_no_violation();
}

#[test]
fn a_follower_without_answers_stands_and_an_observer_looks_again() {
    let mut net = Manual::new(config(&[1, 2, 3]), &[9]);
    net.elect(1);
    net.advance(600);
    assert_eq!(net.node(9).leader(), Some((n(1), e(1))));
    net.nodes.remove(&n(1));
    let start = net.now;
    while net.now < start + 2_000 {
        net.advance(100);
    }
    assert_eq!(
        net.node(9).role(),
        RaftRole::Unattached,
        "the observer looks for a leader"
    );
    assert!(net.node(2).epoch() > e(1), "a follower stood for election");
    // Both followers stood at once and split the vote; their random election timeouts
    // differ, so a later round elects one.
    while net.node(2).leader().is_none() && net.now < start + 8_000 {
        net.advance(100);
    }
    let leader = net.node(2).leader().map(|(l, _)| l);
    assert!(
        leader.is_some_and(|l| l != n(1)),
        "a new leader: {leader:?}"
    );
    net.advance(600);
    assert_eq!(
        net.node(9).leader(),
        net.node(2).leader(),
        "the observer found it"
    );
    net.assert_no_violation();
}

#[test]
fn commit_without_majority_commits_on_the_leader_alone_and_is_caught() {
    let mut cfg = config(&[1, 2, 3]);
    cfg.variant = RaftVariant::CommitWithoutMajority;
    let mut net = Manual::new(cfg, &[]);
    net.elect(1);
    net.propose(1, 5);
    assert_eq!(
        net.node(1).high_watermark(),
        net.node(1).log_end(),
        "before anyone fetched"
    );
    let found: Vec<&str> = net
        .invariants
        .violations()
        .iter()
        .map(|v| v.invariant())
        .collect();
    assert!(found.contains(&"MajorityReachedHighWatermark"), "{found:?}");
}

#[test]
fn a_follower_fsyncs_what_it_appended_before_its_next_fetch_reports_it() {
    let mut net = Manual::new(config(&[1, 2, 3]), &[]);
    net.elect(1);
    net.propose(1, 7);
    net.now += 50;
    net.tick(2, 0);
    net.deliver_one(); // 2's fetch reaches the leader
    let (from, _, answer) = net.queue.pop_front().unwrap();
    let mut out = Vec::new();
    let now = net.now;
    net.nodes
        .get_mut(&n(2))
        .unwrap()
        .handle(from, answer, now, &mut out);
    let is_log = |path: &String| path == log::LOG_PATH;
    let append = out
        .iter()
        .position(|o| matches!(o, RaftOutput::Disk(DiskOp::Append { path, .. }) if is_log(path)));
    let fsync = out
        .iter()
        .position(|o| matches!(o, RaftOutput::Disk(DiskOp::Fsync { path }) if is_log(path)));
    let fetch = out.iter().position(|o| {
        matches!(
            o,
            RaftOutput::Send {
                msg: RaftMessage::FetchRequest { .. },
                ..
            }
        )
    });
    assert!(
        append < fsync && fsync < fetch && append.is_some(),
        "{out:?}"
    );
}

#[test]
fn a_truncation_below_the_high_watermark_is_reported_when_a_variant_commits_too_early() {
    // Five voters commit without a majority: 1 commits value 7 with only 2 holding it;
    // 3 wins epoch 2 with 4 and 5, and 2 must cut the committed entry.
    let mut cfg = config(&[1, 2, 3, 4, 5]);
    cfg.variant = RaftVariant::CommitWithoutMajority;
    let mut net = Manual::new(cfg, &[]);
    net.elect(1);
    net.advance(50);
    net.propose(1, 7);
    net.now += 50;
    net.tick(2, 0);
    net.deliver_where(|from, to, _| [from, to].iter().all(|x| *x == n(1) || *x == n(2)));
    net.nodes.remove(&n(1));
    assert_eq!(net.node(2).high_watermark(), o(2));
    net.now += net.config.fetch_timeout_ms;
    net.tick(3, 0);
    net.deliver_all();
    assert_eq!(net.node(3).leader(), Some((n(3), e(2))));
    let reported = net.events.iter().any(|ev| {
        matches!(ev, RaftEvent::TruncatedBelowHighWatermark { node, to, high_watermark }
            if *node == n(2) && *to == o(1) && *high_watermark == o(2))
    });
    assert!(reported, "{:?}", net.events);
    let found: Vec<&str> = net
        .invariants
        .violations()
        .iter()
        .map(|v| v.invariant())
        .collect();
    assert!(
        found.contains(&"NoTruncationBelowHighWatermark"),
        "{found:?}"
    );
}

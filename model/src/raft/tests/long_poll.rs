//! Long-polled observer fetches: the leader holds a fetch with nothing new until the high
//! watermark moves, the wait runs out or it stops leading; a fetcher whose high watermark
//! is behind is answered at once; voters never wait; and an idle observer fetches a few
//! times a second at most instead of twenty.

use super::*;

const WAIT_MS: Millis = 400;

/// Voters 1..=3 and observer 9, whose fetches may wait `WAIT_MS`; 1 leads and everyone
/// is caught up.
fn caught_up() -> Manual {
    let mut cfg = config(&[1, 2, 3]);
    cfg.fetch_max_wait_ms = WAIT_MS;
    let mut net = Manual::new(cfg, &[9]);
    net.elect(1);
    for _ in 0..5 {
        net.advance(100);
    }
    assert_eq!(net.node(9).leader(), Some((n(1), e(1))));
    assert_eq!(net.node(9).high_watermark(), net.node(1).high_watermark());
    // The tests send node 9's fetches by hand: drop the one the leader holds.
    net.nodes.get_mut(&n(1)).unwrap().parked.clear();
    net
}

/// Node 9's fetch as it would send it now.
fn observer_fetch(net: &Manual, high_watermark: Offset) -> Msg {
    let node = net.node(9);
    RaftMessage::FetchRequest {
        epoch: node.epoch(),
        fetch_offset: node.log_end(),
        last_fetched_epoch: node.last_epoch(),
        replica_id: n(9),
        replica_directory: node.directory(),
        max_wait_ms: WAIT_MS,
        high_watermark,
    }
}

/// A voter's fetch from its log end, as it sends them.
fn voter_fetch(node: &RaftNode<u64>) -> Msg {
    RaftMessage::FetchRequest {
        epoch: node.epoch(),
        fetch_offset: node.log_end(),
        last_fetched_epoch: node.last_epoch(),
        replica_id: node.id(),
        replica_directory: node.directory(),
        max_wait_ms: 0,
        high_watermark: node.high_watermark(),
    }
}

fn handle(net: &mut Manual, to: u32, from: u32, msg: Msg) -> Out {
    let mut out = Vec::new();
    let now = net.now;
    net.nodes
        .get_mut(&n(to))
        .unwrap()
        .handle(n(from), msg, now, &mut out);
    out
}

/// The fetch answers to node 9 in `out`: (entries, high watermark), or the error.
fn answers_to_9(out: &Out) -> Vec<Result<(usize, Option<Offset>), RaftError>> {
    sends(out)
        .into_iter()
        .filter_map(|(to, msg)| match msg {
            RaftMessage::FetchResponse { result, .. } if to == n(9) => Some(match result {
                FetchResult::Entries {
                    entries,
                    high_watermark,
                } => Ok((entries.len(), high_watermark)),
                FetchResult::Error(error) => Err(error),
                FetchResult::Diverging { .. } => Err(RaftError::NotLeader),
            }),
            _ => None,
        })
        .collect()
}

#[test]
fn a_fetch_with_nothing_new_waits_for_the_next_commit() {
    let mut net = caught_up();
    net.queue.clear();
    let hw = net.node(9).high_watermark();
    let out = {
        let fetch = observer_fetch(&net, hw);
        handle(&mut net, 1, 9, fetch)
    };
    assert_eq!(answers_to_9(&out), vec![], "held");
    assert!(net.node(1).next_deadline() <= net.now + WAIT_MS);

    // A proposal alone is no news: no other voter holds it yet.
    let (mut out, now) = (Vec::new(), net.now);
    let leader = net.nodes.get_mut(&n(1)).unwrap();
    let offset = leader.propose(42, now, &mut out).unwrap();
    assert_eq!(answers_to_9(&out), vec![]);
    // Node 2's fetch past the entry shows a majority holds it: the high watermark moves,
    // and the held fetch is answered in the same step, with the entry and the news.
    let mut past = voter_fetch(net.node(2));
    if let RaftMessage::FetchRequest { fetch_offset, .. } = &mut past {
        *fetch_offset = offset.next();
    }
    let out = handle(&mut net, 1, 2, past);
    assert_eq!(net.node(1).high_watermark(), offset.next());
    assert_eq!(answers_to_9(&out), vec![Ok((1, Some(offset.next())))]);
    net.assert_no_violation();
}

#[test]
fn a_held_fetch_is_answered_when_its_wait_runs_out_or_the_leader_steps_down() {
    let mut net = caught_up();
    net.queue.clear();
    let hw = net.node(9).high_watermark();
    {
        let fetch = observer_fetch(&net, hw);
        handle(&mut net, 1, 9, fetch)
    };
    net.now += WAIT_MS;
    let mut out = Vec::new();
    let now = net.now;
    net.nodes.get_mut(&n(1)).unwrap().tick(now, 0, &mut out);
    assert_eq!(
        answers_to_9(&out),
        vec![Ok((0, Some(hw)))],
        "empty, at the deadline"
    );

    {
        let fetch = observer_fetch(&net, hw);
        handle(&mut net, 1, 9, fetch)
    };
    let newer = RaftMessage::VoteRequest {
        candidate_epoch: e(2),
        candidate_id: n(2),
        candidate_directory: DirectoryId::INITIAL,
        last_epoch: e(1),
        last_epoch_end_offset: net.node(1).log_end(),
    };
    let out = handle(&mut net, 1, 2, newer);
    assert_eq!(
        answers_to_9(&out),
        vec![Err(RaftError::FencedLeaderEpoch)],
        "a leader of epoch 1 no more"
    );
}

#[test]
fn a_fetcher_that_lacks_the_high_watermark_and_voters_are_answered_at_once() {
    let mut net = caught_up();
    net.queue.clear();
    let hw = net.node(9).high_watermark();
    let behind = Offset(hw.0 - 1);
    let out = {
        let fetch = observer_fetch(&net, behind);
        handle(&mut net, 1, 9, fetch)
    };
    assert_eq!(answers_to_9(&out), vec![Ok((0, Some(hw)))]);

    // A voter's own fetches never ask to wait.
    net.queue.clear();
    net.expire(2, 0);
    let waits: Vec<Millis> = net
        .queue
        .iter()
        .filter_map(|(from, _, msg)| match msg {
            RaftMessage::FetchRequest { max_wait_ms, .. } if *from == n(2) => Some(*max_wait_ms),
            _ => None,
        })
        .collect();
    assert_eq!(waits, vec![0]);
}

#[test]
fn an_idle_observer_fetches_a_few_times_a_second_and_follows_every_commit() {
    for (wait_ms, most) in [(0, 25), (WAIT_MS, 3)] {
        let mut cfg = config(&[1, 2, 3]);
        cfg.fetch_max_wait_ms = wait_ms;
        let mut net = Manual::new(cfg, &[9]);
        net.elect(1);
        net.advance(100);
        let mut fetches = 0;
        let start = net.now;
        while net.now < start + 1_000 {
            net.now += 10;
            let ids: Vec<u32> = net.nodes.keys().map(|id| id.0).collect();
            for id in ids {
                net.tick(id, u64::from(id));
            }
            fetches += net
                .queue
                .iter()
                .filter(|(from, _, m)| {
                    *from == n(9) && matches!(m, RaftMessage::FetchRequest { .. })
                })
                .count();
            net.deliver_all();
        }
        assert!(
            fetches <= most,
            "wait {wait_ms}: {fetches} fetches in an idle second"
        );
        let value = net.propose(1, 5);
        for _ in 0..10 {
            net.now += 10;
            let ids: Vec<u32> = net.nodes.keys().map(|id| id.0).collect();
            for id in ids {
                net.tick(id, u64::from(id));
            }
            net.deliver_all();
        }
        assert_eq!(net.node(9).high_watermark(), value.next(), "wait {wait_ms}");
        net.assert_no_violation();
    }
}

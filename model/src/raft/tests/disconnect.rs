//! Disconnects: the fetch, vote or BeginQuorumEpoch in flight to a disconnected peer goes
//! again after the backoff (`fetch_interval_ms`), not at the request timeout, and a
//! disconnect from a peer nothing went to changes nothing.

use super::*;

/// What is queued from `from`, by receiver.
fn queued_from(manual: &Manual, from: u32) -> Vec<(NodeId, &'static str)> {
    manual
        .queue
        .iter()
        .filter(|(sender, _, _)| *sender == n(from))
        .map(|(_, to, msg)| {
            let kind = match msg {
                RaftMessage::FetchRequest { .. } => "fetch",
                RaftMessage::VoteRequest { .. } => "vote",
                RaftMessage::BeginQuorumEpoch { .. } => "begin-epoch",
                _ => "other",
            };
            (*to, kind)
        })
        .collect()
}

fn disconnect(manual: &mut Manual, id: u32, peer: u32) {
    let now = manual.now;
    manual
        .nodes
        .get_mut(&n(id))
        .unwrap()
        .on_disconnected(now, n(peer));
}

#[test]
fn a_followers_fetch_to_a_disconnected_leader_goes_again_after_the_backoff() {
    let mut m = Manual::new(config(&[1, 2, 3]), &[]);
    m.elect(1);
    m.now += m.config.fetch_interval_ms;
    m.tick(2, 0);
    assert_eq!(queued_from(&m, 2), vec![(n(1), "fetch")]);
    let stale = m.queue.pop_back().unwrap();
    let deadline = m.node(2).next_deadline();
    disconnect(&mut m, 2, 3);
    assert_eq!(m.node(2).next_deadline(), deadline, "3 is not the leader");
    disconnect(&mut m, 2, 1);
    let retry_ms = m.now + m.config.fetch_interval_ms;
    assert_eq!(
        m.node(2).next_deadline(),
        retry_ms,
        "not at the request timeout"
    );
    m.expire(2, 0);
    assert_eq!(m.now, retry_ms);
    assert_eq!(queued_from(&m, 2), vec![(n(1), "fetch")]);
    // The failed fetch, had it arrived after all, is answered too: harmless.
    m.queue.push_front(stale);
    m.deliver_all();
    assert_eq!(m.node(2).role(), RaftRole::Follower);
    assert_eq!(m.node(2).leader().map(|(l, _)| l), Some(n(1)));
    m.assert_no_violation();
}

#[test]
fn a_candidates_vote_request_to_a_disconnected_voter_goes_again_after_the_backoff() {
    let mut m = Manual::new(config(&[1, 2, 3]), &[]);
    m.expire(1, 0);
    assert_eq!(m.node(1).role(), RaftRole::Candidate);
    m.queue.clear();
    let deadline = m.node(1).next_deadline();
    disconnect(&mut m, 1, 4);
    assert_eq!(m.node(1).next_deadline(), deadline, "4 is no voter");
    disconnect(&mut m, 1, 2);
    let retry_ms = m.now + m.config.fetch_interval_ms;
    assert_eq!(
        m.node(1).next_deadline(),
        retry_ms,
        "not at the request timeout"
    );
    m.expire(1, 0);
    assert_eq!(
        queued_from(&m, 1),
        vec![(n(2), "vote")],
        "3 was not disconnected"
    );
    m.deliver_all();
    assert!(m.node(1).is_leader(), "2's vote makes the majority");
    m.assert_no_violation();
}

#[test]
fn a_leaders_begin_epoch_to_a_disconnected_voter_goes_again_after_the_backoff() {
    let mut m = Manual::new(config(&[1, 2, 3]), &[]);
    m.expire(1, 0);
    m.deliver_where(|_, _, msg| !matches!(msg, RaftMessage::BeginQuorumEpoch { .. }));
    assert!(m.node(1).is_leader());
    let deadline = m.node(1).next_deadline();
    disconnect(&mut m, 1, 4);
    assert_eq!(m.node(1).next_deadline(), deadline, "4 is no voter");
    disconnect(&mut m, 1, 3);
    let retry_ms = m.now + m.config.fetch_interval_ms;
    assert_eq!(
        m.node(1).next_deadline(),
        retry_ms,
        "not at the request timeout"
    );
    m.expire(1, 0);
    assert_eq!(queued_from(&m, 1), vec![(n(3), "begin-epoch")]);
    m.assert_no_violation();
}

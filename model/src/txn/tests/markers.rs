//! The markers: one request per leader, retried until every partition answers Ok.

use super::*;

fn config() -> TxnCoordinatorConfig {
    TxnCoordinatorConfig {
        retry_backoff_ms: 100,
        marker_request_timeout_ms: 1_000,
        ..TxnCoordinatorConfig::default()
    }
}

fn prepared_with_config(partitions: &[TopicPartition]) -> Harness {
    let mut h = Harness::with_config(config());
    h.init(1, 60_000);
    h.request(2, add(0, partitions));
    h.request(3, end(0, true));
    h
}

#[test]
fn partitions_of_one_leader_share_a_request_and_the_transaction_completes_only_when_all_answered() {
    let mut h = prepared_with_config(&[tp(0), tp(1), tp(2)]);
    let sent = marker_requests(&h.poll());
    assert_eq!(
        sent.iter()
            .map(|(_, to, m)| (*to, m.clone()))
            .collect::<Vec<_>>(),
        vec![
            (1, vec![marker(0, true, EPOCH, &[tp(0), tp(2)])]),
            (2, vec![marker(0, true, EPOCH, &[tp(1)])]),
        ]
    );
    assert_eq!(h.poll(), vec![], "nothing is sent twice while in flight");
    let (request, to, markers) = sent[0].clone();
    h.answer(request, to, &markers, Ok(()));
    assert_eq!(
        h.state(),
        Some(TxnState::PrepareCommit),
        "b2's partition has not answered"
    );
    let (request, to, markers) = sent[1].clone();
    h.answer(request, to, &markers, Ok(()));
    assert_eq!(h.state(), Some(TxnState::CompleteCommit));
}

#[test]
fn a_refused_marker_goes_again_after_the_backoff_until_it_is_written() {
    let mut h = prepared_with_config(&[tp(0)]);
    let (request, to, markers) = marker_requests(&h.poll())[0].clone();
    h.answer(request, to, &markers, Err(ErrorCode::NotEnoughReplicas));
    h.now += 99;
    assert_eq!(h.poll(), vec![], "within the backoff");
    assert_eq!(h.coordinator.next_deadline(), Some(100));
    h.now = 100;
    let again = marker_requests(&h.poll());
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].0, request, "a new request");
    assert_eq!(
        h.answer(request, to, &markers, Ok(())),
        vec![],
        "the old request's late answer is ignored"
    );
    assert_eq!(h.state(), Some(TxnState::PrepareCommit));
    h.answer(again[0].0, to, &markers, Ok(()));
    assert_eq!(h.state(), Some(TxnState::CompleteCommit));
}

#[test]
fn a_not_leader_answer_goes_to_the_new_leader_at_once_and_to_the_same_one_after_the_backoff() {
    let mut h = prepared_with_config(&[tp(0)]);
    let (request, _, markers) = marker_requests(&h.poll())[0].clone();
    h.answer(request, 1, &markers, Err(ErrorCode::NotLeaderOrFollower));
    assert_eq!(h.poll(), vec![], "the metadata still names b1");
    h.leaders.insert(tp(0), BrokerId(3));
    let sent = marker_requests(&h.poll());
    assert_eq!(
        sent.iter().map(|(_, to, _)| *to).collect::<Vec<_>>(),
        vec![3]
    );
    h.answer(
        sent[0].0,
        3,
        &sent[0].2,
        Err(ErrorCode::NotLeaderOrFollower),
    );
    assert_eq!(h.poll(), vec![], "b3 refused too and is still named");
    h.now = 100;
    let again = marker_requests(&h.poll());
    assert_eq!(
        again.iter().map(|(_, to, _)| *to).collect::<Vec<_>>(),
        vec![3],
        "after the backoff"
    );
    h.answer(again[0].0, 3, &again[0].2, Ok(()));
    assert_eq!(h.state(), Some(TxnState::CompleteCommit));
}

#[test]
fn a_marker_whose_leader_is_unknown_waits_and_an_unanswered_one_is_sent_again_after_the_timeout() {
    let mut h = prepared_with_config(&[tp(0)]);
    h.leaders.remove(&tp(0));
    assert_eq!(h.poll(), vec![]);
    assert_eq!(
        h.coordinator.next_deadline(),
        Some(100),
        "looks again after the backoff"
    );
    h.now = 100;
    h.leaders.insert(tp(0), BrokerId(2));
    let first = marker_requests(&h.poll());
    assert_eq!(
        first.iter().map(|(_, to, _)| *to).collect::<Vec<_>>(),
        vec![2]
    );
    h.now = 1_099;
    assert_eq!(h.poll(), vec![], "still within the request timeout");
    h.now = 1_100;
    let second = marker_requests(&h.poll());
    assert_eq!(second.len(), 1, "sent again: the first was never answered");
    h.answer(second[0].0, 2, &second[0].2, Ok(()));
    assert_eq!(h.state(), Some(TxnState::CompleteCommit));
}

#[test]
fn a_lost_request_goes_again_after_the_backoff() {
    let mut h = prepared_with_config(&[tp(0)]);
    let (request, _, _) = marker_requests(&h.poll())[0].clone();
    h.coordinator.markers_failed(h.now, request);
    assert_eq!(h.poll(), vec![]);
    h.now = 100;
    assert_eq!(marker_requests(&h.poll()).len(), 1);
}

#[test]
fn a_failed_completion_is_written_again_after_the_backoff() {
    let mut h = prepared_with_config(&[tp(0)]);
    h.hold_writes = true;
    h.answer_all_ok();
    assert_eq!(h.last_record().state, TxnState::CompleteCommit);
    h.release(Err(ErrorCode::CoordinatorNotAvailable));
    assert_eq!(h.state(), Some(TxnState::PrepareCommit));
    let written = h.log.len();
    h.now = 99;
    h.tick();
    assert_eq!(h.log.len(), written);
    h.now = 100;
    h.tick();
    assert_eq!(h.log.len(), written + 1);
    h.release(Ok(()));
    assert_eq!(h.state(), Some(TxnState::CompleteCommit));
}

#[test]
fn without_abort_markers_an_abort_completes_unwritten_and_a_commit_still_writes_them() {
    let broken = TxnCoordinatorConfig {
        write_abort_markers: false,
        ..config()
    };
    let mut h = Harness::with_config(broken.clone());
    h.init(1, 60_000);
    h.request(2, add(0, &[tp(0), tp(1)]));
    h.request(3, end(0, false));
    assert_eq!(marker_requests(&h.poll()), vec![], "no partition is told");
    assert_eq!(h.state(), Some(TxnState::CompleteAbort));

    let mut h = Harness::with_config(broken);
    h.init(1, 60_000);
    h.request(2, add(0, &[tp(0)]));
    h.request(3, end(0, true));
    let sent = marker_requests(&h.poll());
    assert_eq!(sent.len(), 1, "a commit's markers go out: {sent:?}");
    assert_eq!(h.state(), Some(TxnState::PrepareCommit));

    // Kafka's coordinator writes the abort markers.
    let mut kafka = Harness::with_config(config());
    kafka.init(1, 60_000);
    kafka.request(2, add(0, &[tp(0)]));
    kafka.request(3, end(0, false));
    assert_eq!(marker_requests(&kafka.poll()).len(), 1);
    assert_eq!(kafka.state(), Some(TxnState::PrepareAbort));
}

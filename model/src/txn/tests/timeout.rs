//! `transaction.timeout.ms`: the coordinator aborts a transaction left open, fencing its
//! producer.

use super::*;

#[test]
fn a_transaction_open_past_its_timeout_is_aborted_with_a_bumped_epoch_at_the_next_check() {
    let mut h = Harness::new();
    assert_eq!(h.init(1, 15_000), vec![inited(1, Ok((PID.0, 0)))]);
    h.now = 1_000;
    h.request(2, add(0, &[tp(0)]));
    h.now = 10_000;
    assert_eq!(h.tick(), vec![], "the first check: open for 9 s of 15");
    assert_eq!(h.state(), Some(TxnState::Ongoing));
    assert_eq!(
        h.coordinator.next_deadline(),
        Some(20_000),
        "checked every 10 s"
    );
    h.now = 20_000;
    let written = h.log.len();
    h.tick();
    assert_eq!(h.log.len(), written + 1);
    assert_eq!(
        (h.log[written].state, h.log[written].producer_epoch),
        (TxnState::PrepareAbort, ProducerEpoch(1))
    );
    assert_eq!(
        marker_requests(&h.poll())
            .into_iter()
            .map(|(_, _, m)| m)
            .collect::<Vec<_>>(),
        vec![vec![marker(1, false, EPOCH, &[tp(0)])]]
    );
    assert_eq!(
        h.request(3, add(0, &[tp(1)])),
        vec![added(3, &[tp(1)], Err(ErrorCode::ProducerFenced))],
        "the late producer is fenced"
    );
    assert_eq!(
        h.request(4, end(0, true)),
        vec![ended(4, Err(ErrorCode::ProducerFenced))]
    );
}

#[test]
fn a_transaction_within_its_timeout_or_an_idle_id_is_left_alone() {
    let mut h = Harness::new();
    h.init(1, 60_000);
    h.now = 10_000;
    h.tick();
    assert_eq!(
        h.state(),
        Some(TxnState::Empty),
        "no transaction: nothing to abort"
    );
    h.request(2, add(0, &[tp(0)]));
    h.now = 20_000;
    h.tick();
    h.now = 70_000;
    h.tick();
    assert_eq!(
        h.state(),
        Some(TxnState::Ongoing),
        "open for exactly 60 s: not yet past it"
    );
    h.now = 80_000;
    h.tick();
    assert_eq!(h.state(), Some(TxnState::PrepareAbort));
}

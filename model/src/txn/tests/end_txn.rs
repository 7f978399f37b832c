//! EndTxn: prepare, answer, markers, completion; and its retries and refusals.

use super::*;

#[test]
fn end_txn_is_answered_once_the_prepare_is_durable_then_markers_then_completion() {
    let mut h = Harness::ongoing(&[tp(0), tp(1)]);
    h.hold_writes = true;
    assert_eq!(
        h.request(3, end(0, true)),
        vec![],
        "not before the prepare is durable"
    );
    assert_eq!(h.last_record().state, TxnState::PrepareCommit);
    assert_eq!(
        marker_requests(&h.poll()),
        vec![],
        "no marker before the prepare is durable"
    );
    assert_eq!(h.release(Ok(())), vec![ended(3, Ok(()))]);
    assert_eq!(h.state(), Some(TxnState::PrepareCommit));
    let sent = marker_requests(&h.poll());
    assert_eq!(
        sent.iter()
            .map(|(_, to, m)| (*to, m.clone()))
            .collect::<Vec<_>>(),
        vec![
            (1, vec![marker(0, true, EPOCH, &[tp(0)])]),
            (2, vec![marker(0, true, EPOCH, &[tp(1)])]),
        ]
    );
    for (request, to, markers) in sent {
        assert_eq!(h.answer(request, to, &markers, Ok(())), vec![]);
    }
    assert_eq!(h.last_record().state, TxnState::CompleteCommit);
    assert_eq!(h.last_record().partitions, vec![]);
    h.release(Ok(()));
    assert_eq!(h.state(), Some(TxnState::CompleteCommit));
}

#[test]
fn a_retried_end_txn_is_told_how_the_transaction_ended_and_a_contrary_one_is_refused() {
    let mut h = Harness::prepared(&[tp(0)], true);
    assert_eq!(
        h.request(4, end(0, true)),
        vec![ended(4, Err(ErrorCode::ConcurrentTransactions))],
        "the markers are still out: ask again (Kafka's answer to a retry in PrepareCommit)"
    );
    assert_eq!(
        h.request(5, end(0, false)),
        vec![ended(5, Err(ErrorCode::InvalidTxnState))]
    );
    h.answer_all_ok();
    assert_eq!(h.request(6, end(0, true)), vec![ended(6, Ok(()))]);
    assert_eq!(
        h.request(7, end(0, false)),
        vec![ended(7, Err(ErrorCode::InvalidTxnState))]
    );

    let mut h = Harness::prepared(&[tp(0)], false);
    assert_eq!(
        h.request(4, end(0, true)),
        vec![ended(4, Err(ErrorCode::InvalidTxnState))]
    );
    h.answer_all_ok();
    assert_eq!(h.state(), Some(TxnState::CompleteAbort));
    assert_eq!(h.request(5, end(0, false)), vec![ended(5, Ok(()))]);
    assert_eq!(
        h.request(6, end(0, true)),
        vec![ended(6, Err(ErrorCode::InvalidTxnState))]
    );
}

#[test]
fn end_txn_without_a_transaction_or_from_another_producer_is_refused() {
    let mut h = Harness::new();
    assert_eq!(
        h.request(1, end(0, true)),
        vec![ended(1, Err(ErrorCode::InvalidProducerIdMapping))]
    );
    h.init(2, 60_000);
    assert_eq!(
        h.request(3, end(0, true)),
        vec![ended(3, Err(ErrorCode::InvalidTxnState))]
    );
    assert_eq!(
        h.request(4, end(1, true)),
        vec![ended(4, Err(ErrorCode::ProducerFenced))]
    );
    assert!(h.log.iter().all(|r| r.state == TxnState::Empty));
}

#[test]
fn a_failed_prepare_is_answered_with_its_error_and_the_transaction_stays_open() {
    let mut h = Harness::ongoing(&[tp(0)]);
    h.hold_writes = true;
    h.request(3, end(0, true));
    assert_eq!(
        h.release(Err(ErrorCode::NotCoordinator)),
        vec![ended(3, Err(ErrorCode::NotCoordinator))]
    );
    assert_eq!(h.state(), Some(TxnState::Ongoing));
    assert_eq!(marker_requests(&h.poll()), vec![]);
    h.hold_writes = false;
    assert_eq!(
        h.request(4, end(0, true)),
        vec![ended(4, Ok(()))],
        "the retry goes through"
    );
}

/// The hole KIP-890 part 2 (transaction version 2, Kafka 4.0) closes, modelled as Kafka
/// 3.x has it: every transaction of an instance runs under one epoch, so an EndTxn that
/// was delayed in the network past its client's timeout (the client retried it, and went
/// on to a new transaction) is taken as the end of the transaction open when it lands.
/// Part 2 bumps the epoch at every EndTxn, which fences such a request instead.
#[test]
fn a_delayed_end_txn_of_a_finished_transaction_ends_the_next_one_under_the_same_epoch() {
    let mut h = Harness::prepared(&[tp(0)], true);
    h.answer_all_ok();
    assert_eq!(h.state(), Some(TxnState::CompleteCommit));
    assert_eq!(
        h.request(4, add(0, &[tp(1)])),
        vec![added(4, &[tp(1)], Ok(()))]
    );
    assert_eq!(h.state(), Some(TxnState::Ongoing));
    // The first attempt of the finished transaction's commit lands now.
    assert_eq!(h.request(2, end(0, true)), vec![ended(2, Ok(()))]);
    assert_eq!(
        h.state(),
        Some(TxnState::PrepareCommit),
        "the open transaction commits before its producer asked"
    );
}

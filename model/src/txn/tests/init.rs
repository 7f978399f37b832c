//! InitProducerId: a new id, a new instance of an existing one (fencing), one that finds a
//! transaction open or ending, and the refusals.

use super::*;

#[test]
fn a_new_id_gets_a_fresh_producer_id_and_epoch_0_once_its_record_is_durable() {
    let mut h = Harness::new();
    h.hold_writes = true;
    assert_eq!(
        h.init(1, 60_000),
        vec![],
        "not answered before the write is durable"
    );
    assert_eq!(h.last_record().state, TxnState::Empty);
    assert_eq!(h.last_record().producer_epoch, ProducerEpoch(0));
    assert_eq!(h.release(Ok(())), vec![inited(1, Ok((PID.0, 0)))]);
    assert_eq!(h.state(), Some(TxnState::Empty));
}

#[test]
fn a_new_instance_bumps_the_epoch_and_the_old_one_is_fenced() {
    let mut h = Harness::new();
    assert_eq!(h.init(1, 60_000), vec![inited(1, Ok((PID.0, 0)))]);
    assert_eq!(
        h.init(2, 60_000),
        vec![inited(2, Ok((PID.0, 1)))],
        "same producer id, next epoch (a coordinator that does not fence answers epoch 0)"
    );
    assert_eq!(
        h.request(3, add(0, &[tp(0)])),
        vec![added(3, &[tp(0)], Err(ErrorCode::ProducerFenced))],
        "the old instance's epoch is refused"
    );
    assert_eq!(
        h.request(4, end(0, true)),
        vec![ended(4, Err(ErrorCode::ProducerFenced))]
    );
    assert_eq!(
        h.request(5, add(1, &[tp(0)])),
        vec![added(5, &[tp(0)], Ok(()))]
    );
}

#[test]
fn an_init_that_finds_a_transaction_open_aborts_it_with_a_bumped_epoch_first() {
    let mut h = Harness::ongoing(&[tp(0), tp(1)]);
    h.hold_writes = true;
    assert_eq!(h.init(5, 60_000), vec![]);
    assert_eq!(h.state(), Some(TxnState::PrepareEpochFence));
    assert_eq!(
        (h.last_record().state, h.last_record().producer_epoch),
        (TxnState::PrepareAbort, ProducerEpoch(1))
    );
    assert_eq!(
        h.release(Ok(())),
        vec![inited(5, Err(ErrorCode::ConcurrentTransactions))],
        "told to retry once the abort is prepared"
    );
    h.hold_writes = false;
    // The markers abort with the bumped epoch, so the old instance's data is fenced too.
    let sent = marker_requests(&h.poll());
    assert_eq!(
        sent.iter()
            .map(|(_, to, m)| (*to, m.clone()))
            .collect::<Vec<_>>(),
        vec![
            (1, vec![marker(1, false, EPOCH, &[tp(0)])]),
            (2, vec![marker(1, false, EPOCH, &[tp(1)])]),
        ]
    );
    assert_eq!(
        h.init(6, 60_000),
        vec![inited(6, Err(ErrorCode::ConcurrentTransactions))],
        "the markers are still being written"
    );
    assert_eq!(
        h.request(7, end(0, true)),
        vec![ended(7, Err(ErrorCode::ProducerFenced))],
        "the old instance cannot commit what was aborted"
    );
    for (request, to, markers) in sent {
        assert_eq!(h.answer(request, to, &markers, Ok(())), vec![]);
    }
    assert_eq!(h.state(), Some(TxnState::CompleteAbort));
    assert_eq!(h.init(8, 60_000), vec![inited(8, Ok((PID.0, 2)))]);
}

#[test]
fn an_init_while_a_write_is_pending_or_markers_are_out_is_told_concurrent_transactions() {
    let mut h = Harness::new();
    h.hold_writes = true;
    h.init(1, 60_000);
    assert_eq!(
        h.init(2, 60_000),
        vec![inited(2, Err(ErrorCode::ConcurrentTransactions))]
    );
    h.release(Ok(()));
    let mut h = Harness::prepared(&[tp(0)], true);
    assert_eq!(
        h.init(9, 60_000),
        vec![inited(9, Err(ErrorCode::ConcurrentTransactions))]
    );
}

#[test]
fn a_timeout_above_the_maximum_or_zero_is_refused_and_nothing_is_written() {
    let mut h = Harness::new();
    assert_eq!(
        h.init(1, 900_001),
        vec![inited(1, Err(ErrorCode::InvalidTransactionTimeout))]
    );
    assert_eq!(
        h.init(2, 0),
        vec![inited(2, Err(ErrorCode::InvalidTransactionTimeout))]
    );
    assert!(h.log.is_empty());
    assert_eq!(
        h.init(3, 900_000),
        vec![inited(3, Ok((PID.0, 0)))],
        "the maximum itself is allowed"
    );
}

#[test]
fn a_failed_init_write_is_answered_with_its_error_and_changes_nothing() {
    let mut h = Harness::new();
    assert_eq!(h.init(1, 60_000), vec![inited(1, Ok((PID.0, 0)))]);
    h.hold_writes = true;
    h.init(2, 60_000);
    assert_eq!(
        h.release(Err(ErrorCode::CoordinatorNotAvailable)),
        vec![inited(2, Err(ErrorCode::CoordinatorNotAvailable))]
    );
    assert_eq!(
        h.coordinator.metadata(&id()).map(|m| m.producer_epoch),
        Some(ProducerEpoch(0)),
        "the bump never became durable"
    );
}

#[test]
fn an_exhausted_epoch_takes_a_fresh_producer_id() {
    let record = TxnLogRecord {
        transactional_id: id(),
        producer_id: ProducerId(7),
        producer_epoch: ProducerEpoch(u16::MAX),
        transaction_timeout_ms: 60_000,
        state: TxnState::CompleteCommit,
        partitions: vec![],
        txn_start_ms: 0,
        last_update_ms: 0,
    };
    let coordinator =
        TransactionCoordinator::from_records(TxnCoordinatorConfig::default(), EPOCH, &[record], 0);
    let mut h = Harness::new();
    h.coordinator = coordinator;
    assert_eq!(h.init(1, 60_000), vec![inited(1, Ok((PID.0, 0)))]);
}

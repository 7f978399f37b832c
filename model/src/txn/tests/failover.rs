//! Failover: a coordinator rebuilt from the partition's log finishes what the old one left
//! prepared; a deposed one tells whoever waits NOT_COORDINATOR.

use super::*;

#[test]
fn a_new_coordinator_from_the_log_completes_a_commit_the_old_one_prepared() {
    let mut old = Harness::prepared(&[tp(0), tp(1)], true);
    // The old coordinator dies before any marker is answered.
    assert_eq!(marker_requests(&old.poll()).len(), 2);
    let log = old.log.clone();
    let mut h = Harness::new();
    h.coordinator =
        TransactionCoordinator::from_records(TxnCoordinatorConfig::default(), EPOCH + 1, &log, 0);
    assert_eq!(h.state(), Some(TxnState::PrepareCommit));
    let sent = marker_requests(&h.poll());
    assert_eq!(
        sent.iter()
            .map(|(_, to, m)| (*to, m.clone()))
            .collect::<Vec<_>>(),
        vec![
            (1, vec![marker(0, true, EPOCH + 1, &[tp(0)])]),
            (2, vec![marker(0, true, EPOCH + 1, &[tp(1)])]),
        ],
        "the markers again, in the new coordinator's epoch"
    );
    for (request, to, markers) in sent {
        h.answer(request, to, &markers, Ok(()));
    }
    assert_eq!(h.last_record().state, TxnState::CompleteCommit);
    assert_eq!(h.state(), Some(TxnState::CompleteCommit));
    assert_eq!(h.request(9, end(0, true)), vec![ended(9, Ok(()))]);
}

#[test]
fn without_the_prepare_record_the_new_coordinator_sends_no_marker() {
    // The failover test's assertion depends on the log: a log cut before the prepare
    // leaves the transaction open, and nothing is sent.
    let old = Harness::prepared(&[tp(0)], true);
    let log: Vec<TxnLogRecord> = old
        .log
        .iter()
        .filter(|r| r.state != TxnState::PrepareCommit)
        .cloned()
        .collect();
    let mut h = Harness::new();
    h.coordinator =
        TransactionCoordinator::from_records(TxnCoordinatorConfig::default(), EPOCH + 1, &log, 0);
    assert_eq!(h.state(), Some(TxnState::Ongoing));
    assert_eq!(h.poll(), vec![]);
}

#[test]
fn the_rebuilt_coordinator_keeps_every_id_and_epoch_and_still_fences() {
    let mut old = Harness::new();
    old.init(1, 60_000);
    old.init(2, 60_000);
    let mut h = Harness::new();
    h.coordinator = TransactionCoordinator::from_records(
        TxnCoordinatorConfig::default(),
        EPOCH + 1,
        &old.log,
        0,
    );
    assert_eq!(
        h.request(3, add(0, &[tp(0)])),
        vec![added(3, &[tp(0)], Err(ErrorCode::ProducerFenced))]
    );
    assert_eq!(h.init(4, 60_000), vec![inited(4, Ok((PID.0, 2)))]);
}

#[test]
fn a_resigned_coordinator_answers_what_waits_on_its_writes_not_coordinator() {
    let mut h = Harness::ongoing(&[tp(0)]);
    h.hold_writes = true;
    h.request(3, end(0, true));
    let other = TransactionalId::new("other");
    let next_pid = &mut 5_000u64;
    let mut fresh = || ProducerId(*next_pid);
    let waiting_init = h.coordinator.init_producer_id(
        0,
        client(4),
        TxnInit {
            transactional_id: other,
            transaction_timeout_ms: 60_000,
        },
        &mut fresh,
    );
    assert!(matches!(waiting_init.as_slice(), [TxnOutput::Write { .. }]));
    let coordinator = h.coordinator.clone();
    assert_eq!(
        coordinator.resign(),
        vec![
            inited(4, Err(ErrorCode::NotCoordinator)),
            ended(3, Err(ErrorCode::NotCoordinator)),
        ]
    );
}

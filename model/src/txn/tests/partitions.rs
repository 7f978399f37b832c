//! AddPartitionsToTxn, AddOffsetsToTxn and KIP-890's verification.

use super::*;
use crate::group::{coordinator_partition, GroupId, OFFSETS_TOPIC};

#[test]
fn add_partitions_is_refused_for_an_unknown_id_a_wrong_producer_id_and_an_old_epoch() {
    let mut h = Harness::new();
    assert_eq!(
        h.request(1, add(0, &[tp(0)])),
        vec![added(1, &[tp(0)], Err(ErrorCode::InvalidProducerIdMapping))],
        "never initialized"
    );
    h.init(2, 60_000);
    h.init(3, 60_000);
    let wrong_pid = TxnRequest::AddPartitions {
        transactional_id: id(),
        producer_id: ProducerId(PID.0 + 1),
        producer_epoch: ProducerEpoch(1),
        partitions: vec![tp(0)],
        verify_only: false,
    };
    assert_eq!(
        h.request(4, wrong_pid),
        vec![added(4, &[tp(0)], Err(ErrorCode::InvalidProducerIdMapping))]
    );
    assert_eq!(
        h.request(5, add(0, &[tp(0)])),
        vec![added(5, &[tp(0)], Err(ErrorCode::ProducerFenced))]
    );
    assert_eq!(
        h.state(),
        Some(TxnState::Empty),
        "no refusal began a transaction"
    );
}

#[test]
fn add_partitions_begins_the_transaction_and_is_answered_only_once_durable() {
    let mut h = Harness::new();
    h.init(1, 60_000);
    h.now = 500;
    h.hold_writes = true;
    assert_eq!(h.request(2, add(0, &[tp(0)])), vec![]);
    assert_eq!(
        h.request(3, add(0, &[tp(1)])),
        vec![added(3, &[tp(1)], Err(ErrorCode::ConcurrentTransactions))],
        "one write at a time per id"
    );
    assert_eq!(h.release(Ok(())), vec![added(2, &[tp(0)], Ok(()))]);
    let record = h.last_record().clone();
    assert_eq!(
        (record.state, record.partitions, record.txn_start_ms),
        (TxnState::Ongoing, vec![tp(0)], 500)
    );
    h.hold_writes = false;
    h.now = 900;
    let written = h.log.len();
    assert_eq!(
        h.request(4, add(0, &[tp(0)])),
        vec![added(4, &[tp(0)], Ok(()))]
    );
    assert_eq!(h.log.len(), written, "nothing new: no write");
    assert_eq!(
        h.request(5, add(0, &[tp(1)])),
        vec![added(5, &[tp(1)], Ok(()))]
    );
    let record = h.last_record();
    assert_eq!(
        (record.partitions.clone(), record.txn_start_ms),
        (vec![tp(0), tp(1)], 500),
        "the transaction keeps its start"
    );
}

#[test]
fn add_partitions_while_the_transaction_ends_is_told_concurrent_transactions() {
    let mut h = Harness::prepared(&[tp(0)], true);
    assert_eq!(
        h.request(4, add(0, &[tp(1)])),
        vec![added(4, &[tp(1)], Err(ErrorCode::ConcurrentTransactions))]
    );
    h.answer_all_ok();
    assert_eq!(h.state(), Some(TxnState::CompleteCommit));
    assert_eq!(
        h.request(5, add(0, &[tp(1)])),
        vec![added(5, &[tp(1)], Ok(()))]
    );
    assert_eq!(
        h.last_record().partitions,
        vec![tp(1)],
        "a new transaction: the last one's partitions are gone"
    );
}

#[test]
fn verification_answers_per_partition_and_writes_nothing() {
    let mut h = Harness::ongoing(&[tp(0)]);
    let written = h.log.len();
    assert_eq!(
        h.request(9, verify(PID, 0, &[tp(0), tp(1)])),
        vec![TxnOutput::Respond {
            to: client(9),
            response: TxnResponse::AddPartitions {
                results: vec![(tp(0), Ok(())), (tp(1), Err(ErrorCode::InvalidTxnState))]
            }
        }]
    );
    assert_eq!(h.log.len(), written);
    assert_eq!(h.state(), Some(TxnState::Ongoing));
    assert_eq!(
        h.request(10, verify(PID, 1, &[tp(0)])),
        vec![added(10, &[tp(0)], Err(ErrorCode::ProducerFenced))]
    );
    assert_eq!(
        h.request(11, verify(ProducerId(5), 0, &[tp(0)])),
        vec![added(
            11,
            &[tp(0)],
            Err(ErrorCode::InvalidProducerIdMapping)
        )]
    );
}

#[test]
fn verification_refuses_once_the_transaction_is_ending_or_fenced() {
    let mut h = Harness::prepared(&[tp(0)], true);
    assert_eq!(
        h.request(9, verify(PID, 0, &[tp(0)])),
        vec![added(9, &[tp(0)], Err(ErrorCode::InvalidTxnState))],
        "the transaction the produce would join is committing"
    );
    let mut h = Harness::ongoing(&[tp(0)]);
    h.init(5, 60_000);
    assert_eq!(
        h.request(9, verify(PID, 0, &[tp(0)])),
        vec![added(9, &[tp(0)], Err(ErrorCode::ProducerFenced))],
        "a zombie's produce after a new instance fenced it"
    );
}

#[test]
fn add_offsets_adds_the_groups_offsets_partition() {
    let mut h = Harness::new();
    h.init(1, 60_000);
    let group = GroupId::new("my-group");
    let request = TxnRequest::AddOffsets {
        transactional_id: id(),
        producer_id: PID,
        producer_epoch: ProducerEpoch(0),
        group: group.clone(),
    };
    assert_eq!(
        h.request(2, request),
        vec![TxnOutput::Respond {
            to: client(2),
            response: TxnResponse::AddOffsets { result: Ok(()) }
        }]
    );
    let offsets_tp = TopicPartition::new(OFFSETS_TOPIC, coordinator_partition(&group, 50));
    assert_eq!(h.last_record().partitions, vec![offsets_tp.clone()]);
    assert_eq!(h.last_record().state, TxnState::Ongoing);
    let fenced = TxnRequest::AddOffsets {
        transactional_id: id(),
        producer_id: PID,
        producer_epoch: ProducerEpoch(3),
        group,
    };
    assert_eq!(
        h.request(3, fenced),
        vec![TxnOutput::Respond {
            to: client(3),
            response: TxnResponse::AddOffsets {
                result: Err(ErrorCode::ProducerFenced)
            }
        }]
    );
}

#[test]
fn add_offsets_without_an_offsets_topic_is_refused() {
    let mut h = Harness::with_config(TxnCoordinatorConfig {
        offsets_topic_partitions: 0,
        ..TxnCoordinatorConfig::default()
    });
    h.init(1, 60_000);
    let request = TxnRequest::AddOffsets {
        transactional_id: id(),
        producer_id: PID,
        producer_epoch: ProducerEpoch(0),
        group: GroupId::new("g"),
    };
    assert_eq!(
        h.request(2, request),
        vec![TxnOutput::Respond {
            to: client(2),
            response: TxnResponse::AddOffsets {
                result: Err(ErrorCode::CoordinatorNotAvailable)
            }
        }]
    );
    assert_eq!(h.state(), Some(TxnState::Empty));
}

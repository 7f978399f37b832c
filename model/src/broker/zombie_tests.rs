//! Broker tests for zombie fencing on the partition: a leader refuses a batch of a producer
//! epoch older than the one it knows (KIP-98), and the broken variant
//! `fence_producer_epochs = false` lets a zombie's write ride on its successor's transaction.

use super::tests::{tp, PRODUCER};
use super::txn_tests::{
    coordinator, fetch, markers, produce_results, produce_verified, replicate, started_with,
    txn_data, txn_produce, ProduceAnswer,
};
use super::*;
use crate::txn::IsolationLevel;

/// The successor (epoch 1) opens a transaction on t-0 with value 10; the zombie (epoch 0,
/// its sequence going on from before the fence) sends value 1 into it; the successor sends
/// 11 and commits. Returns the zombie's and the successor's second answers, and the values
/// a read_committed fetch returns.
fn zombie_in_successors_transaction(fence: bool) -> (ProduceAnswer, ProduceAnswer, Vec<u64>) {
    let config = BrokerConfig {
        min_insync_replicas: 1,
        fence_producer_epochs: fence,
        ..BrokerConfig::default()
    };
    let mut broker = started_with(1, config);
    let mut out = Vec::new();
    produce_verified(&mut broker, 1, txn_data(1, 0, &[10]), &mut out);
    out.clear();
    // The successor's transaction is open here: no verification asks the coordinator,
    // so the epoch is the partition's only fence.
    broker.on_message(2, PRODUCER, txn_produce(2, txn_data(0, 7, &[1])), &mut out);
    broker.on_message(3, PRODUCER, txn_produce(3, txn_data(1, 1, &[11])), &mut out);
    let answers = produce_results(&out);
    let coordinator = coordinator(&broker);
    broker.on_message(4, coordinator, markers(true, 1, 0), &mut out);
    let end = broker.partitions[&tp()].log_end().0;
    replicate(&mut broker, 5, end, &mut out);
    let read = fetch(&broker, IsolationLevel::ReadCommitted, 0);
    let values = read
        .batches
        .iter()
        .filter(|b| !b.is_control())
        .flat_map(|b| b.records.iter().map(|r| r.value))
        .collect();
    (answers[0], answers[1], values)
}

#[test]
fn a_leader_refuses_an_older_producer_epoch() {
    let (zombie, successor, committed) = zombie_in_successors_transaction(true);
    assert_eq!(zombie, (2, Err(ErrorCode::InvalidProducerEpoch)));
    assert_eq!(successor, (3, Ok(Offset(1))));
    assert_eq!(committed, vec![10, 11]);
}

#[test]
fn without_epoch_fencing_the_zombies_write_is_committed_with_its_successors_transaction() {
    let (zombie, successor, committed) = zombie_in_successors_transaction(false);
    assert_eq!(zombie, (2, Ok(Offset(1))), "appended");
    assert_eq!(
        successor,
        (3, Ok(Offset(2))),
        "the successor's epoch and sequence are untouched"
    );
    assert_eq!(
        committed,
        vec![10, 1, 11],
        "the zombie's record is committed"
    );
}

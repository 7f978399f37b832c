//! Broker tests for the partition side of transactions: markers written as acks=all control
//! batches and the last stable offset they move, read_committed fetches, and KIP-890's
//! verification of a transactional produce, on and off (the hanging transaction).

use super::tests::{committed, fetch_from, tp, CONTROLLER, PRODUCER};
use super::*;
use crate::config::{Acks, TopicConfig};
use crate::controller::{Controller, ControllerConfig};
use crate::ids::LeaderEpoch;
use crate::protocol::FetchedPartition;
use crate::record::{ProducerStamp, Record, RecordBatch, TxnPart};
use crate::txn::{IsolationLevel, TransactionalId, TxnMarker, TxnRequest, TxnResponse};

pub(super) const PID: ProducerId = ProducerId(77);

fn txn_layout() -> ClusterLayout {
    ClusterLayout::new(
        3,
        vec![
            TopicConfig {
                name: "t".into(),
                partitions: 1,
                replication_factor: 3,
            },
            TopicConfig {
                name: crate::txn::TRANSACTION_STATE_TOPIC.into(),
                partitions: 1,
                replication_factor: 3,
            },
        ],
    )
}

/// Broker `me` of a cluster with a transaction state topic, told that b1 leads t-0.
fn started(me: u32, verify: bool) -> Broker {
    let config = BrokerConfig {
        min_insync_replicas: 1,
        verify_transactional_produce: verify,
        ..BrokerConfig::default()
    };
    started_with(me, config)
}

/// As `started`, with these settings.
pub(super) fn started_with(me: u32, config: BrokerConfig) -> Broker {
    let mut out = Vec::new();
    let (mut broker, _) = Broker::start(
        BrokerId(me),
        1,
        config,
        &txn_layout(),
        &[CONTROLLER],
        vec![],
        0,
        &mut out,
    );
    let mut controller = Controller::new(ControllerConfig::default());
    for b in 1..=3 {
        controller.heartbeat(0, BrokerId(b), 1);
    }
    controller.create_partitions(txn_layout().assignments());
    let message = committed(&broker, controller.log());
    broker.on_message(0, CONTROLLER, message, &mut out);
    assert_eq!(broker.partitions[&tp()].is_leader(), me == 1);
    broker
}

/// The node the metadata names as the transaction coordinator.
pub(super) fn coordinator(broker: &Broker) -> NodeId {
    let state = TopicPartition::new(crate::txn::TRANSACTION_STATE_TOPIC, 0);
    broker.image.partitions[&state].leader.unwrap().node()
}

pub(super) fn txn_data(epoch: u16, sequence: u32, values: &[u64]) -> RecordBatch {
    RecordBatch {
        base_offset: Offset(0),
        leader_epoch: LeaderEpoch(0),
        producer: Some(ProducerStamp {
            producer_id: PID,
            producer_epoch: ProducerEpoch(epoch),
            base_sequence: sequence,
        }),
        txn: Some(TxnPart::Data),
        records: values
            .iter()
            .map(|v| Record {
                key: None,
                value: *v,
                timestamp_ms: 0,
            })
            .collect(),
    }
}

pub(super) fn txn_produce(correlation_id: u64, batch: RecordBatch) -> Message {
    Message::ProduceRequest {
        correlation_id,
        acks: Acks::Leader,
        timeout_ms: 1_000,
        transactional_id: Some(TransactionalId::new("tx")),
        batches: vec![(tp(), batch)],
    }
}

pub(super) fn markers(commit: bool, epoch: u16, coordinator_epoch: u32) -> Message {
    Message::WriteTxnMarkersRequest {
        correlation_id: 40,
        markers: vec![TxnMarker {
            producer_id: PID,
            producer_epoch: ProducerEpoch(epoch),
            commit,
            coordinator_epoch,
            partitions: vec![tp()],
        }],
    }
}

/// b2 and b3 fetch up to `offset`, so the high watermark reaches it.
pub(super) fn replicate(broker: &mut Broker, now: Millis, offset: u64, out: &mut Vec<Output>) {
    broker.on_message(now, NodeId(2), fetch_from(2, offset, 1), out);
    broker.on_message(now, NodeId(3), fetch_from(3, offset, 1), out);
}

/// A produce answer: its correlation id and its one partition's result.
pub(super) type ProduceAnswer = (u64, Result<Offset, ErrorCode>);

pub(super) fn produce_results(out: &[Output]) -> Vec<ProduceAnswer> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                message:
                    Message::ProduceResponse {
                        correlation_id,
                        results,
                    },
                ..
            } => Some((*correlation_id, results[0].1)),
            _ => None,
        })
        .collect()
}

fn marker_results(out: &[Output]) -> Vec<Result<(), ErrorCode>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                message: Message::WriteTxnMarkersResponse { results, .. },
                ..
            } => Some(results[0].1[0].1),
            _ => None,
        })
        .collect()
}

/// The verifications the broker sent: (correlation id, partitions, verify_only).
fn verifications(out: &[Output]) -> Vec<(u64, Vec<TopicPartition>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                message:
                    Message::TxnRequest {
                        correlation_id,
                        request:
                            TxnRequest::AddPartitions {
                                partitions,
                                verify_only: true,
                                ..
                            },
                    },
                ..
            } => Some((*correlation_id, partitions.clone())),
            _ => None,
        })
        .collect()
}

fn verified(correlation_id: u64, result: Result<(), ErrorCode>) -> Message {
    Message::TxnResponse {
        correlation_id,
        response: TxnResponse::AddPartitions {
            results: vec![(tp(), result)],
        },
    }
}

pub(super) fn fetch(broker: &Broker, isolation: IsolationLevel, from: u64) -> FetchedPartition {
    let asked = crate::protocol::ConsumerFetchPartition {
        tp: tp(),
        fetch_offset: Offset(from),
        current_leader_epoch: LeaderEpoch(1),
    };
    let protocol = broker.config.replication_protocol;
    broker.partitions[&tp()]
        .read_for_consumer(&asked, isolation, protocol, 100)
        .unwrap()
}

/// A produce of the transaction's first batch, verified by the coordinator and appended.
pub(super) fn produce_verified(
    broker: &mut Broker,
    now: Millis,
    batch: RecordBatch,
    out: &mut Vec<Output>,
) {
    let from = out.len();
    broker.on_message(now, PRODUCER, txn_produce(1, batch), out);
    let (id, _) = verifications(&out[from..])[0].clone();
    let coordinator = coordinator(broker);
    broker.on_message(now, coordinator, verified(id, Ok(())), out);
    assert!(matches!(produce_results(&out[from..])[..], [(1, Ok(_))]));
}

#[test]
fn an_lso_that_ignores_open_transactions_hands_read_committed_an_open_transaction() {
    let broken = BrokerConfig {
        last_stable_offset_waits_for_open_transactions: false,
        ..BrokerConfig::default()
    };
    let mut broker = started_with(1, broken);
    let mut out = Vec::new();
    produce_verified(&mut broker, 1, txn_data(0, 0, &[1, 2]), &mut out);
    replicate(&mut broker, 2, 2, &mut out);
    let partition = &broker.partitions[&tp()];
    assert!(partition.has_open_txn(PID));
    assert_eq!(
        partition.last_stable_offset(),
        Offset(2),
        "the high watermark"
    );
    let read = fetch(&broker, IsolationLevel::ReadCommitted, 0);
    assert_eq!(read.batches.len(), 1, "the open transaction's records");
    assert!(read.aborted.is_empty());
}

#[test]
fn the_last_stable_offset_holds_at_an_open_transaction_until_its_marker_is_replicated() {
    let mut broker = started(1, true);
    let mut out = Vec::new();
    produce_verified(&mut broker, 1, txn_data(0, 0, &[1, 2]), &mut out);
    replicate(&mut broker, 2, 2, &mut out);
    let partition = &broker.partitions[&tp()];
    assert_eq!(partition.high_watermark(), Offset(2));
    // An LSO that ignored open transactions would be the high watermark.
    assert_eq!(partition.last_stable_offset(), Offset(0));
    assert!(fetch(&broker, IsolationLevel::ReadCommitted, 0)
        .batches
        .is_empty());
    let uncommitted = fetch(&broker, IsolationLevel::ReadUncommitted, 0);
    assert_eq!(uncommitted.batches.len(), 1);
    assert_eq!(uncommitted.last_stable_offset, Offset(0));

    out.clear();
    broker.on_message(3, coordinator(&broker), markers(true, 0, 5), &mut out);
    assert_eq!(
        broker.partitions[&tp()].log_end(),
        Offset(3),
        "the marker takes an offset"
    );
    assert!(
        marker_results(&out).is_empty(),
        "answered only once replicated"
    );
    assert_eq!(
        broker.partitions[&tp()].last_stable_offset(),
        Offset(0),
        "the marker is not below the high watermark yet"
    );
    replicate(&mut broker, 4, 3, &mut out);
    assert_eq!(marker_results(&out), vec![Ok(())]);
    assert_eq!(broker.partitions[&tp()].last_stable_offset(), Offset(3));
    let read = fetch(&broker, IsolationLevel::ReadCommitted, 0);
    assert_eq!(read.batches.len(), 2, "the data and its commit marker");
    assert!(read.batches[1].is_control());
    assert!(read.aborted.is_empty());
}

#[test]
fn a_read_committed_fetch_names_the_aborted_transactions_it_returns() {
    let mut broker = started(1, true);
    let mut out = Vec::new();
    produce_verified(&mut broker, 1, txn_data(0, 0, &[1, 2]), &mut out);
    broker.on_message(2, coordinator(&broker), markers(false, 0, 5), &mut out);
    broker.on_message(
        3,
        PRODUCER,
        super::tests::produce(Acks::Leader, &[3]),
        &mut out,
    );
    replicate(&mut broker, 4, 4, &mut out);
    let read = fetch(&broker, IsolationLevel::ReadCommitted, 0);
    assert_eq!(read.batches.len(), 3);
    assert_eq!(
        read.aborted,
        vec![crate::txn::AbortedTxn {
            producer_id: PID,
            first_offset: Offset(0)
        }]
    );
    assert!(
        fetch(&broker, IsolationLevel::ReadCommitted, 3)
            .aborted
            .is_empty(),
        "a read after the abort marker meets no aborted transaction"
    );
    assert!(fetch(&broker, IsolationLevel::ReadUncommitted, 0)
        .aborted
        .is_empty());
}

#[test]
fn markers_from_a_deposed_coordinator_or_an_older_epoch_are_refused() {
    let mut broker = started(1, true);
    let mut out = Vec::new();
    produce_verified(&mut broker, 1, txn_data(2, 0, &[1]), &mut out);
    broker.on_message(2, coordinator(&broker), markers(false, 2, 5), &mut out);
    replicate(&mut broker, 3, 2, &mut out);
    out.clear();
    broker.on_message(4, coordinator(&broker), markers(true, 2, 4), &mut out);
    broker.on_message(4, coordinator(&broker), markers(true, 1, 5), &mut out);
    assert_eq!(
        marker_results(&out),
        vec![
            Err(ErrorCode::TransactionCoordinatorFenced),
            Err(ErrorCode::InvalidProducerEpoch)
        ]
    );
    assert_eq!(
        broker.partitions[&tp()].log_end(),
        Offset(2),
        "nothing written"
    );
}

#[test]
fn a_follower_refuses_markers() {
    let mut follower = started(2, true);
    let mut out = Vec::new();
    follower.on_message(1, NodeId(1), markers(true, 0, 0), &mut out);
    assert_eq!(
        marker_results(&out),
        vec![Err(ErrorCode::NotLeaderOrFollower)]
    );
}

#[test]
fn a_refused_verification_refuses_the_produce_as_kafka_translates_it() {
    for (answer, expected) in [
        (ErrorCode::InvalidTxnState, ErrorCode::InvalidTxnState),
        (ErrorCode::ProducerFenced, ErrorCode::InvalidProducerEpoch),
        (ErrorCode::NotCoordinator, ErrorCode::NotEnoughReplicas),
        (
            ErrorCode::CoordinatorLoadInProgress,
            ErrorCode::NotEnoughReplicas,
        ),
    ] {
        let mut broker = started(1, true);
        let mut out = Vec::new();
        broker.on_message(1, PRODUCER, txn_produce(1, txn_data(0, 0, &[1])), &mut out);
        let sent = verifications(&out);
        assert_eq!(sent.len(), 1, "the produce waits for its verification");
        assert_eq!(sent[0].1, vec![tp()]);
        assert!(produce_results(&out).is_empty());
        assert_eq!(
            broker.partitions[&tp()].log_end(),
            Offset(0),
            "held, not appended"
        );
        broker.on_message(
            2,
            coordinator(&broker),
            verified(sent[0].0, Err(answer)),
            &mut out,
        );
        assert_eq!(produce_results(&out), vec![(1, Err(expected))]);
        assert_eq!(broker.partitions[&tp()].log_end(), Offset(0));
    }
}

#[test]
fn an_unanswered_verification_times_out() {
    let mut broker = started(1, true);
    let mut out = Vec::new();
    broker.on_message(1, PRODUCER, txn_produce(1, txn_data(0, 0, &[1])), &mut out);
    let timeout_ms = broker.config.inter_broker_request_timeout_ms;
    assert!(broker.next_deadline().unwrap() <= 1 + timeout_ms);
    broker.tick(1 + timeout_ms, &mut out);
    assert_eq!(
        produce_results(&out),
        vec![(1, Err(ErrorCode::RequestTimedOut))]
    );
    assert_eq!(broker.partitions[&tp()].log_end(), Offset(0));
}

#[test]
fn a_batch_of_an_open_transaction_needs_no_verification() {
    let mut broker = started(1, true);
    let mut out = Vec::new();
    produce_verified(&mut broker, 1, txn_data(0, 0, &[1]), &mut out);
    out.clear();
    broker.on_message(2, PRODUCER, txn_produce(2, txn_data(0, 1, &[2])), &mut out);
    assert!(verifications(&out).is_empty());
    assert_eq!(produce_results(&out), vec![(2, Ok(Offset(1)))]);
}

#[test]
fn a_marker_between_verification_and_append_voids_the_verification() {
    let mut broker = started(1, true);
    let mut out = Vec::new();
    broker.on_message(1, PRODUCER, txn_produce(1, txn_data(0, 0, &[1])), &mut out);
    let (id, _) = verifications(&out)[0].clone();
    // The coordinator vouched for the transaction, then aborted it (a timeout) before its
    // answer arrived: without the guard the batch would open a transaction nobody ends.
    broker.on_message(2, coordinator(&broker), markers(false, 0, 0), &mut out);
    broker.on_message(3, coordinator(&broker), verified(id, Ok(())), &mut out);
    assert_eq!(
        produce_results(&out),
        vec![(1, Err(ErrorCode::InvalidTxnState))]
    );
    replicate(&mut broker, 4, 1, &mut out);
    let partition = &broker.partitions[&tp()];
    assert_eq!(partition.log_end(), Offset(1), "only the marker");
    assert_eq!(partition.last_stable_offset(), Offset(1));
}

/// A transaction is aborted (its marker written), then a produce of it that was delayed
/// arrives. Returns the LSO and the high watermark after more plain writes replicate.
fn late_produce_after_abort(verify: bool) -> (Offset, Offset, Vec<ProduceAnswer>) {
    let mut broker = started(1, verify);
    let mut out = Vec::new();
    let coordinator = coordinator(&broker);
    if verify {
        produce_verified(&mut broker, 1, txn_data(0, 0, &[1]), &mut out);
    } else {
        broker.on_message(1, PRODUCER, txn_produce(1, txn_data(0, 0, &[1])), &mut out);
    }
    broker.on_message(2, coordinator, markers(false, 0, 0), &mut out);
    out.clear();
    // The late batch: the same epoch, the next sequence.
    broker.on_message(3, PRODUCER, txn_produce(3, txn_data(0, 1, &[2])), &mut out);
    for (id, _) in verifications(&out) {
        // The coordinator knows the transaction ended: the partition is in none.
        broker.on_message(
            4,
            coordinator,
            verified(id, Err(ErrorCode::InvalidTxnState)),
            &mut out,
        );
    }
    let answers = produce_results(&out);
    broker.on_message(
        5,
        PRODUCER,
        super::tests::produce(Acks::Leader, &[3, 4]),
        &mut out,
    );
    let end = broker.partitions[&tp()].log_end().0;
    replicate(&mut broker, 6, end, &mut out);
    let partition = &broker.partitions[&tp()];
    (
        partition.last_stable_offset(),
        partition.high_watermark(),
        answers,
    )
}

#[test]
fn with_verification_a_late_produce_of_an_aborted_transaction_is_refused_and_the_lso_moves_on() {
    let (lso, hw, answers) = late_produce_after_abort(true);
    assert_eq!(answers, vec![(3, Err(ErrorCode::InvalidTxnState))]);
    assert_eq!(hw, Offset(4));
    assert_eq!(lso, hw);
}

#[test]
fn without_verification_a_late_produce_of_an_aborted_transaction_hangs_the_lso() {
    let (lso, hw, answers) = late_produce_after_abort(false);
    assert_eq!(answers, vec![(3, Ok(Offset(2)))], "appended at once");
    assert_eq!(hw, Offset(5));
    assert_eq!(lso, Offset(2), "a transaction nobody will end holds it");
}

#[test]
fn list_offsets_latest_is_the_last_stable_offset_for_read_committed() {
    let mut broker = started(1, true);
    let mut out = Vec::new();
    broker.on_message(
        1,
        PRODUCER,
        super::tests::produce(Acks::Leader, &[1]),
        &mut out,
    );
    produce_verified(&mut broker, 2, txn_data(0, 0, &[2, 3]), &mut out);
    replicate(&mut broker, 3, 3, &mut out);
    let latest = |broker: &mut Broker, isolation| {
        let mut out = Vec::new();
        let request = Message::ListOffsetsRequest {
            correlation_id: 9,
            partitions: vec![(tp(), OffsetReset::Latest)],
            isolation,
        };
        broker.on_message(4, NodeId(200), request, &mut out);
        out.iter()
            .find_map(|o| match o {
                Output::Send {
                    message: Message::ListOffsetsResponse { results, .. },
                    ..
                } => Some(results[0].1),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(
        latest(&mut broker, IsolationLevel::ReadUncommitted),
        Ok(Offset(3))
    );
    assert_eq!(
        latest(&mut broker, IsolationLevel::ReadCommitted),
        Ok(Offset(1))
    );
}

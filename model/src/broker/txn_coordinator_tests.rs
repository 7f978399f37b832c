//! Broker tests for the hosted transaction coordinator: a broker that leads
//! `__transaction_state-0` answers InitProducerId and EndTxn once its writes are
//! replicated, and sends the markers to the leaders its metadata names.

use super::tests::{committed, CONTROLLER, PRODUCER};
use super::*;
use crate::config::TopicConfig;
use crate::controller::{Controller, ControllerConfig};
use crate::ids::ProducerEpoch;
use crate::protocol::ReplicaFetchPartition;
use crate::txn::{
    TransactionalId, TxnInit, TxnLogRecord, TxnMarker, TxnRequest, TxnResponse, TxnState,
    TRANSACTION_STATE_TOPIC,
};

/// t-0 led by b1, t-1 by b2, `__transaction_state-0` by b1.
fn layout() -> ClusterLayout {
    let topic = |name: &str, partitions| TopicConfig {
        name: name.into(),
        partitions,
        replication_factor: 3,
    };
    ClusterLayout::new(3, vec![topic("t", 2), topic(TRANSACTION_STATE_TOPIC, 1)])
}

fn state_tp() -> TopicPartition {
    TopicPartition::new(TRANSACTION_STATE_TOPIC, 0)
}

fn started_as(me: u32) -> (Broker, Controller) {
    let mut out = Vec::new();
    let config = BrokerConfig {
        min_insync_replicas: 2,
        ..BrokerConfig::default()
    };
    let (mut broker, _) = Broker::start(
        BrokerId(me),
        1,
        config,
        &layout(),
        &[CONTROLLER],
        vec![],
        0,
        &mut out,
    );
    let mut controller = Controller::new(ControllerConfig::default());
    for b in 1..=3 {
        controller.heartbeat(0, BrokerId(b), 1);
    }
    controller.create_partitions(layout().assignments());
    let message = committed(&broker, controller.log());
    broker.on_message(0, CONTROLLER, message, &mut out);
    (broker, controller)
}

/// b2 and b3 fetch the state partition to its end: its writes are replicated.
fn replicate(broker: &mut Broker, now: Millis, out: &mut Vec<Output>) {
    let partition = &broker.partitions[&state_tp()];
    let (end, epoch) = (partition.log_end(), partition.leader_epoch());
    for b in 2..=3 {
        let fetch = Message::ReplicaFetchRequest {
            correlation_id: 3,
            replica: BrokerId(b),
            max_wait_ms: 0,
            max_records: 100,
            partitions: vec![ReplicaFetchPartition {
                tp: state_tp(),
                fetch_offset: end,
                last_fetched_epoch: (end.0 > 0).then_some(epoch),
                current_leader_epoch: epoch,
            }],
        };
        broker.on_message(now, NodeId(b), fetch, out);
    }
}

fn id() -> TransactionalId {
    TransactionalId::new("tx")
}

fn init() -> Message {
    Message::InitProducerIdRequest {
        correlation_id: 1,
        transactional: Some(TxnInit {
            transactional_id: id(),
            transaction_timeout_ms: 60_000,
        }),
    }
}

fn init_answers(out: &[Output]) -> Vec<Result<(ProducerId, ProducerEpoch), ErrorCode>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                to,
                message: Message::InitProducerIdResponse { result, .. },
            } if *to == PRODUCER => Some(*result),
            _ => None,
        })
        .collect()
}

fn txn_answers(out: &[Output]) -> Vec<TxnResponse> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                to,
                message: Message::TxnResponse { response, .. },
            } if *to == PRODUCER => Some(response.clone()),
            _ => None,
        })
        .collect()
}

fn marker_requests(out: &[Output]) -> Vec<(NodeId, u64, Vec<TxnMarker>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                to,
                message:
                    Message::WriteTxnMarkersRequest {
                        correlation_id,
                        markers,
                    },
            } => Some((*to, *correlation_id, markers.clone())),
            _ => None,
        })
        .collect()
}

fn last_state_record(broker: &Broker) -> TxnLogRecord {
    let batch = broker.partitions[&state_tp()]
        .batches()
        .last()
        .expect("the state partition has records")
        .clone();
    let key = batch.records[0]
        .key
        .clone()
        .expect("state records carry a key");
    assert_eq!(
        batch.records[0].value >> 61,
        1,
        "bit 61 marks the state records' values"
    );
    TxnLogRecord::from_json(&key).expect("a transaction state record")
}

#[test]
fn the_state_partitions_leader_coordinates_and_sends_markers_to_the_leaders_in_its_image() {
    let (mut broker, _) = started_as(1);
    let mut out = Vec::new();
    let find = Message::FindTxnCoordinatorRequest {
        correlation_id: 9,
        transactional_id: id(),
    };
    broker.on_message(1, PRODUCER, find, &mut out);
    assert!(out.iter().any(|o| matches!(o,
        Output::Send { message: Message::FindTxnCoordinatorResponse { result: Ok(b), .. }, .. }
        if *b == BrokerId(1))));
    out.clear();

    broker.on_message(2, PRODUCER, init(), &mut out);
    assert_eq!(
        init_answers(&out),
        vec![],
        "waits for the state write's replication"
    );
    replicate(&mut broker, 3, &mut out);
    let answers = init_answers(&out);
    let [Ok((pid, ProducerEpoch(0)))] = answers.as_slice() else {
        panic!("one init answer with epoch 0: {answers:?}");
    };
    let pid = *pid;
    assert_eq!(pid.0 >> 40, 1, "from b1's producer id allocator");
    out.clear();

    let add = TxnRequest::AddPartitions {
        transactional_id: id(),
        producer_id: pid,
        producer_epoch: ProducerEpoch(0),
        partitions: vec![TopicPartition::new("t", 0), TopicPartition::new("t", 1)],
        verify_only: false,
    };
    broker.on_message(
        4,
        PRODUCER,
        Message::TxnRequest {
            correlation_id: 2,
            request: add,
        },
        &mut out,
    );
    replicate(&mut broker, 5, &mut out);
    assert_eq!(txn_answers(&out).len(), 1);
    out.clear();

    let end = TxnRequest::EndTxn {
        transactional_id: id(),
        producer_id: pid,
        producer_epoch: ProducerEpoch(0),
        commit: true,
    };
    broker.on_message(
        6,
        PRODUCER,
        Message::TxnRequest {
            correlation_id: 3,
            request: end,
        },
        &mut out,
    );
    assert_eq!(
        txn_answers(&out),
        vec![],
        "the prepare is not replicated yet"
    );
    assert_eq!(marker_requests(&out), vec![]);
    replicate(&mut broker, 7, &mut out);
    assert_eq!(
        txn_answers(&out),
        vec![TxnResponse::EndTxn { result: Ok(()) }]
    );
    assert_eq!(last_state_record(&broker).state, TxnState::PrepareCommit);
    let coordinator_epoch = broker.partitions[&state_tp()].leader_epoch().0;
    let marker = |partition| TxnMarker {
        producer_id: pid,
        producer_epoch: ProducerEpoch(0),
        commit: true,
        coordinator_epoch,
        partitions: vec![TopicPartition::new("t", partition)],
    };
    let sent = marker_requests(&out);
    assert_eq!(
        sent.iter()
            .map(|(to, _, m)| (*to, m.clone()))
            .collect::<Vec<_>>(),
        vec![(NodeId(1), vec![marker(0)]), (NodeId(2), vec![marker(1)])],
        "t-0's marker to b1 itself, t-1's to b2"
    );
    out.clear();

    for (to, correlation_id, markers) in sent {
        let results = markers
            .iter()
            .map(|m| {
                (
                    m.producer_id,
                    m.partitions.iter().map(|tp| (tp.clone(), Ok(()))).collect(),
                )
            })
            .collect();
        let answer = Message::WriteTxnMarkersResponse {
            correlation_id,
            results,
        };
        broker.on_message(8, to, answer, &mut out);
    }
    let complete = last_state_record(&broker);
    assert_eq!(
        (complete.state, complete.partitions),
        (TxnState::CompleteCommit, vec![])
    );
}

#[test]
fn a_broker_that_does_not_lead_the_state_partition_is_not_the_coordinator() {
    let (mut broker, _) = started_as(2);
    let mut out = Vec::new();
    broker.on_message(1, PRODUCER, init(), &mut out);
    assert_eq!(init_answers(&out), vec![Err(ErrorCode::NotCoordinator)]);
    out.clear();
    let end = TxnRequest::EndTxn {
        transactional_id: id(),
        producer_id: ProducerId(1),
        producer_epoch: ProducerEpoch(0),
        commit: true,
    };
    broker.on_message(
        2,
        PRODUCER,
        Message::TxnRequest {
            correlation_id: 2,
            request: end,
        },
        &mut out,
    );
    assert_eq!(
        txn_answers(&out),
        vec![TxnResponse::EndTxn {
            result: Err(ErrorCode::NotCoordinator)
        }]
    );
}

#[test]
fn a_coordinator_that_loses_the_lead_answers_what_waits_not_coordinator() {
    let (mut broker, mut controller) = started_as(1);
    let mut out = Vec::new();
    broker.on_message(1, PRODUCER, init(), &mut out);
    assert_eq!(init_answers(&out), vec![]);
    // b1 goes silent: the controller fences it and b2 leads the state partition.
    controller.heartbeat(9_000, BrokerId(2), 1);
    controller.heartbeat(9_000, BrokerId(3), 1);
    controller.tick(9_500);
    let message = committed(&broker, controller.log());
    broker.on_message(9_500, CONTROLLER, message, &mut out);
    assert!(!broker.partitions[&state_tp()].is_leader());
    assert_eq!(init_answers(&out), vec![Err(ErrorCode::NotCoordinator)]);
    assert!(broker.txn_coordinators.coordinator(0).is_none());
}

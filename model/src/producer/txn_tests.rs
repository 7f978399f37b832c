//! Transactional producer tests, against a scripted broker that leads `t-0` and
//! coordinates the transaction and the group: the request order Kafka's client keeps
//! (initialize, add a partition before producing to it, end only once every batch is
//! answered), and what aborts, fencing, lost answers and refused offsets do.

use super::txn_test_broker::*;
use super::*;
use crate::group::{Generation, GroupId, GroupRequest, GroupResponse, MemberId};
use crate::ids::{Offset, ProducerEpoch};
use crate::protocol::ErrorCode;
use crate::txn::{TxnRequest, TxnResponse};

#[test]
fn a_partition_is_added_before_it_is_produced_to_and_the_commit_waits_for_the_batch() {
    let mut broker = Broker::new();
    let mut producer = ready(&mut broker);
    let out = send_and_end(&mut producer, &mut broker, true);
    assert_eq!(
        broker.kinds(),
        [
            "FindTxnCoordinatorReq",
            "InitPidReq",
            "AddPartitionsToTxnReq",
            "ProduceReq",
            "EndTxnReq"
        ]
    );
    let produce = broker
        .seen
        .iter()
        .find(|m| m.kind() == "ProduceReq")
        .unwrap();
    let Message::ProduceRequest {
        transactional_id,
        batches,
        ..
    } = produce
    else {
        unreachable!()
    };
    assert_eq!(
        transactional_id.as_ref().map(|t| t.0.as_str()),
        Some("tx-1")
    );
    assert_eq!(
        batches[0].1.txn,
        Some(TxnPart::Data),
        "a transactional batch"
    );
    assert_eq!(
        batches[0].1.producer.unwrap().producer_epoch,
        ProducerEpoch(1)
    );
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Observe(Observation::SendOk { value: 7, .. }))));
    assert_eq!(ended(&mut producer), vec![TxnOutcome::Committed]);
    assert_eq!(producer.transactions().unwrap().phase(), &TxnPhase::Ready);
}

#[test]
fn records_outside_a_transaction_are_refused_and_an_empty_one_ends_without_the_coordinator() {
    let mut broker = Broker::new();
    let mut producer = ready(&mut broker);
    let mut out = Vec::new();
    producer.send(0, "t", None, 5, 0, &mut out);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Observe(Observation::SendFail { value: 5, .. }))));
    producer.begin_transaction().unwrap();
    assert!(
        producer.begin_transaction().is_err(),
        "one transaction at a time"
    );
    producer.end_transaction(0, true, &mut out).unwrap();
    settle(&mut producer, &mut broker, out, 60_000);
    assert_eq!(ended(&mut producer), vec![TxnOutcome::Committed]);
    assert_eq!(
        broker.kinds(),
        ["FindTxnCoordinatorReq", "InitPidReq"],
        "no EndTxn for nothing"
    );
}

#[test]
fn an_abort_drops_what_was_not_sent_and_ends_with_abort() {
    let mut broker = Broker::new();
    let mut producer = ready(&mut broker);
    let mut out = Vec::new();
    producer.begin_transaction().unwrap();
    producer.send(0, "t", None, 7, 0, &mut out);
    // Aborted before any delivery: the partition is being added, nothing was produced.
    producer.end_transaction(0, false, &mut out).unwrap();
    let out = settle(&mut producer, &mut broker, out, 60_000);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Observe(Observation::SendFail { value: 7, .. }))));
    assert!(!broker.kinds().contains(&"ProduceReq"));
    assert_eq!(
        broker.kinds().last(),
        Some(&"EndTxnReq"),
        "the added partition gets its abort marker"
    );
    assert!(broker.seen.iter().any(|m| matches!(
        m,
        Message::TxnRequest {
            request: TxnRequest::EndTxn { commit: false, .. },
            ..
        }
    )));
    assert_eq!(ended(&mut producer), vec![TxnOutcome::Aborted]);
}

#[test]
fn a_batch_given_up_turns_the_commit_into_an_abort() {
    let mut broker = Broker::new();
    broker.refuse = Box::new(|m| match m {
        Message::ProduceRequest { correlation_id, .. } => Some(Some(Message::ProduceResponse {
            correlation_id: *correlation_id,
            results: vec![(tp(), Err(ErrorCode::InvalidTxnState))],
        })),
        _ => None,
    });
    let mut producer = ready(&mut broker);
    send_and_end(&mut producer, &mut broker, true);
    assert!(broker.seen.iter().any(|m| matches!(
        m,
        Message::TxnRequest {
            request: TxnRequest::EndTxn { commit: false, .. },
            ..
        }
    )));
    assert!(!broker.seen.iter().any(|m| matches!(
        m,
        Message::TxnRequest {
            request: TxnRequest::EndTxn { commit: true, .. },
            ..
        }
    )));
    assert_eq!(ended(&mut producer), vec![TxnOutcome::Aborted]);
}

#[test]
fn a_lost_end_txn_answer_is_asked_again_of_a_coordinator_found_again() {
    let mut broker = Broker::new();
    let mut lost = false;
    broker.refuse = Box::new(move |m| match m {
        Message::TxnRequest {
            request: TxnRequest::EndTxn { .. },
            ..
        } if !lost => {
            lost = true;
            Some(None)
        }
        _ => None,
    });
    let mut producer = ready(&mut broker);
    send_and_end(&mut producer, &mut broker, true);
    let kinds = broker.kinds();
    assert_eq!(
        &kinds[kinds.len() - 3..],
        ["EndTxnReq", "FindTxnCoordinatorReq", "EndTxnReq"]
    );
    assert_eq!(ended(&mut producer), vec![TxnOutcome::Committed]);
}

#[test]
fn a_fenced_commit_has_an_unknown_outcome_and_stops_the_producer() {
    let mut broker = Broker::new();
    broker.refuse = Box::new(|m| match m {
        Message::TxnRequest {
            correlation_id,
            request: TxnRequest::EndTxn { .. },
        } => Some(Some(Message::TxnResponse {
            correlation_id: *correlation_id,
            response: TxnResponse::EndTxn {
                result: Err(ErrorCode::ProducerFenced),
            },
        })),
        _ => None,
    });
    let mut producer = ready(&mut broker);
    send_and_end(&mut producer, &mut broker, true);
    let events = producer.take_txn_events();
    assert!(
        matches!(
            events[0],
            TxnEvent::Ended {
                outcome: TxnOutcome::Unknown,
                ..
            }
        ),
        "{events:?}"
    );
    assert!(matches!(events[1], TxnEvent::Fatal(_)));
    assert!(matches!(
        producer.transactions().unwrap().phase(),
        TxnPhase::Fatal(_)
    ));
    let mut out = Vec::new();
    producer.send(10, "t", None, 8, 0, &mut out);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Observe(Observation::SendFail { value: 8, .. }))));
}

#[test]
fn offsets_sent_to_the_transaction_go_to_the_group_before_the_commit() {
    let mut broker = Broker::new();
    let mut producer = ready(&mut broker);
    let mut out = Vec::new();
    producer.begin_transaction().unwrap();
    producer.send(0, "t", None, 7, 0, &mut out);
    producer
        .send_offsets_to_transaction(
            0,
            GroupId::new("g"),
            Some(Generation(3)),
            Some(MemberId("m-1".into())),
            vec![(TopicPartition::new("in", 0), Offset(12))],
            &mut out,
        )
        .unwrap();
    producer.end_transaction(0, true, &mut out).unwrap();
    settle(&mut producer, &mut broker, out, 60_000);
    let kinds = broker.kinds();
    let at = |k: &str| {
        kinds
            .iter()
            .position(|x| *x == k)
            .unwrap_or_else(|| panic!("{k} in {kinds:?}"))
    };
    assert!(at("AddOffsetsToTxnReq") < at("FindCoordinatorReq"));
    assert!(at("FindCoordinatorReq") < at("TxnOffsetCommit"));
    assert!(at("TxnOffsetCommit") < at("EndTxnReq"));
    let commit = broker
        .seen
        .iter()
        .find(|m| m.kind() == "TxnOffsetCommit")
        .unwrap();
    assert!(matches!(
        commit,
        Message::GroupRequest {
            request: GroupRequest::TxnOffsetCommit {
                generation: Some(Generation(3)),
                ..
            },
            ..
        }
    ));
    assert_eq!(ended(&mut producer), vec![TxnOutcome::Committed]);
}

#[test]
fn a_refused_offset_commit_leaves_only_an_abort() {
    let mut broker = Broker::new();
    broker.refuse = Box::new(|m| match m {
        Message::GroupRequest {
            correlation_id,
            request: GroupRequest::TxnOffsetCommit { group, offsets, .. },
        } => Some(Some(Message::GroupResponse {
            correlation_id: *correlation_id,
            response: GroupResponse::TxnOffsetCommit {
                group: group.clone(),
                results: offsets
                    .iter()
                    .map(|(tp, _)| (tp.clone(), Err(crate::group::GroupError::IllegalGeneration)))
                    .collect(),
            },
        })),
        _ => None,
    });
    let mut producer = ready(&mut broker);
    let mut out = Vec::new();
    producer.begin_transaction().unwrap();
    producer
        .send_offsets_to_transaction(
            0,
            GroupId::new("g"),
            Some(Generation(3)),
            None,
            vec![(TopicPartition::new("in", 0), Offset(12))],
            &mut out,
        )
        .unwrap();
    producer.end_transaction(0, true, &mut out).unwrap();
    settle(&mut producer, &mut broker, out, 60_000);
    assert!(broker.seen.iter().any(|m| matches!(
        m,
        Message::TxnRequest {
            request: TxnRequest::EndTxn { commit: false, .. },
            ..
        }
    )));
    assert_eq!(ended(&mut producer), vec![TxnOutcome::Aborted]);
}

#[test]
fn a_transactional_id_needs_idempotence() {
    let config = ProducerConfig {
        transactional_id: Some("tx".into()),
        acks: crate::config::Acks::Leader,
        ..ProducerConfig::default()
    };
    let refusal = config.resolve().unwrap_err().describe("producer");
    assert_eq!(
        refusal,
        "`producer.transactional_id = \"tx\"` conflicts with `producer.acks = \"1\"`: Kafka's \
         producer refuses this (ConfigException: cannot set a transactional.id without also \
         enabling idempotence)"
    );
    let fine = ProducerConfig {
        transactional_id: Some("tx".into()),
        ..ProducerConfig::default()
    };
    assert!(fine.resolve().is_ok());
}

#[test]
fn nothing_is_produced_to_a_partition_until_the_coordinator_added_it() {
    let mut broker = Broker::new();
    let mut busy = true;
    broker.refuse = Box::new(move |m| match m {
        Message::TxnRequest {
            correlation_id,
            request: TxnRequest::AddPartitions { partitions, .. },
        } if busy => {
            busy = false;
            Some(Some(Message::TxnResponse {
                correlation_id: *correlation_id,
                response: TxnResponse::AddPartitions {
                    results: partitions
                        .iter()
                        .map(|p| (p.clone(), Err(ErrorCode::ConcurrentTransactions)))
                        .collect(),
                },
            }))
        }
        _ => None,
    });
    let mut producer = ready(&mut broker);
    send_and_end(&mut producer, &mut broker, true);
    assert_eq!(
        &broker.kinds()[2..],
        [
            "AddPartitionsToTxnReq",
            "AddPartitionsToTxnReq",
            "ProduceReq",
            "EndTxnReq"
        ]
    );
    assert_eq!(ended(&mut producer), vec![TxnOutcome::Committed]);
}

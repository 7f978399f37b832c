//! A coordinator that no longer knows the producer id (its `__transaction_state` was lost
//! or the id expired) answers INVALID_PRODUCER_ID_MAPPING: the transaction ends without an
//! EndTxn and the producer initializes anew, as Kafka's client does, rather than asking
//! again forever or waiting on nothing.

use super::txn_test_broker::*;
use super::*;
use crate::protocol::ErrorCode;
use crate::txn::{TxnRequest, TxnResponse};

/// A broker whose coordinator forgot the producer: every transactional request after the
/// first InitProducerId is refused with INVALID_PRODUCER_ID_MAPPING.
fn forgetful() -> Broker {
    let mut broker = Broker::new();
    broker.refuse = Box::new(|m| match m {
        Message::TxnRequest {
            correlation_id,
            request,
        } => Some(Some(Message::TxnResponse {
            correlation_id: *correlation_id,
            response: match request {
                TxnRequest::AddPartitions { partitions, .. } => TxnResponse::AddPartitions {
                    results: partitions
                        .iter()
                        .map(|p| (p.clone(), Err(ErrorCode::InvalidProducerIdMapping)))
                        .collect(),
                },
                TxnRequest::AddOffsets { .. } => TxnResponse::AddOffsets {
                    result: Err(ErrorCode::InvalidProducerIdMapping),
                },
                TxnRequest::EndTxn { .. } => TxnResponse::EndTxn {
                    result: Err(ErrorCode::InvalidProducerIdMapping),
                },
            },
        })),
        _ => None,
    });
    broker
}

fn end_txns(broker: &Broker) -> usize {
    broker
        .seen
        .iter()
        .filter(|m| {
            matches!(
                m,
                Message::TxnRequest {
                    request: TxnRequest::EndTxn { .. },
                    ..
                }
            )
        })
        .count()
}

#[test]
fn a_commit_whose_partition_the_coordinator_cannot_add_aborts_and_initializes_again() {
    let mut broker = Broker::new();
    let mut producer = ready(&mut broker);
    let mut forgetful = forgetful();
    forgetful.inits = broker.inits;
    send_and_end(&mut producer, &mut forgetful, true);
    assert_eq!(ended(&mut producer), vec![TxnOutcome::Aborted]);
    assert_eq!(end_txns(&forgetful), 0, "nothing was added: nothing to end");
    assert!(
        forgetful.kinds().contains(&"InitPidReq"),
        "the producer asks for a new identity without being woken: {:?}",
        forgetful.kinds()
    );
    assert_eq!(producer.transactions().unwrap().phase(), &TxnPhase::Ready);
}

#[test]
fn a_commit_refused_with_an_unknown_producer_id_is_aborted_once_not_asked_again_forever() {
    let mut broker = Broker::new();
    let mut producer = ready(&mut broker);
    // The partition is added, the batch written; then the coordinator forgets.
    broker.refuse = Box::new(|m| match m {
        Message::TxnRequest {
            correlation_id,
            request: TxnRequest::EndTxn { .. },
        } => Some(Some(Message::TxnResponse {
            correlation_id: *correlation_id,
            response: TxnResponse::EndTxn {
                result: Err(ErrorCode::InvalidProducerIdMapping),
            },
        })),
        _ => None,
    });
    send_and_end(&mut producer, &mut broker, true);
    assert_eq!(end_txns(&broker), 1, "EndTxn is not asked again");
    assert_eq!(
        ended(&mut producer),
        vec![TxnOutcome::Aborted],
        "its only attempt was refused outright: not committed"
    );
    assert_eq!(broker.inits, 2, "a new identity");
    assert_eq!(producer.transactions().unwrap().phase(), &TxnPhase::Ready);
}

#[test]
fn a_commit_whose_first_attempt_went_unanswered_is_unknown_when_the_id_is_then_forgotten() {
    let mut broker = Broker::new();
    let mut producer = ready(&mut broker);
    let mut end_attempts = 0;
    broker.refuse = Box::new(move |m| match m {
        Message::TxnRequest {
            correlation_id,
            request: TxnRequest::EndTxn { .. },
        } => {
            end_attempts += 1;
            if end_attempts == 1 {
                // Lost: the first attempt may have been written.
                return Some(None);
            }
            Some(Some(Message::TxnResponse {
                correlation_id: *correlation_id,
                response: TxnResponse::EndTxn {
                    result: Err(ErrorCode::InvalidProducerIdMapping),
                },
            }))
        }
        _ => None,
    });
    send_and_end(&mut producer, &mut broker, true);
    assert_eq!(end_txns(&broker), 2);
    assert_eq!(ended(&mut producer), vec![TxnOutcome::Unknown]);
    assert_eq!(producer.transactions().unwrap().phase(), &TxnPhase::Ready);
}

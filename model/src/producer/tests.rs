//! Producer tests: a disconnect fails what is in flight to that broker at once, and the
//! producer retries within its backoff instead of waiting for `request.timeout.ms`.

use super::*;
use crate::ids::{LeaderEpoch, Offset, ProducerEpoch, ProducerId};
use crate::protocol::PartitionMetadata;

const B1: NodeId = NodeId(1);
const B2: NodeId = NodeId(2);

/// Every request in `out`: where it went, its kind, and its correlation id.
fn sends(out: &[Output]) -> Vec<(NodeId, &'static str, u64)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to, message } => {
                let id = match message {
                    Message::MetadataRequest { correlation_id }
                    | Message::InitProducerIdRequest { correlation_id, .. }
                    | Message::ProduceRequest { correlation_id, .. } => *correlation_id,
                    _ => 0,
                };
                Some((*to, message.kind(), id))
            }
            _ => None,
        })
        .collect()
}

fn acknowledged(out: &[Output]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            Output::Observe(Observation::SendOk { value, .. }) => Some(*value),
            _ => None,
        })
        .collect()
}

/// Metadata naming b1 the leader of t-0.
fn metadata(correlation_id: u64) -> Message {
    Message::MetadataResponse {
        correlation_id,
        brokers: vec![BrokerId(1), BrokerId(2)],
        partitions: vec![PartitionMetadata {
            tp: TopicPartition::new("t", 0),
            leader: Some(BrokerId(1)),
            leader_epoch: LeaderEpoch(1),
        }],
    }
}

fn produced(correlation_id: u64) -> Message {
    Message::ProduceResponse {
        correlation_id,
        results: vec![(TopicPartition::new("t", 0), Ok(Offset(0)))],
    }
}

/// Ticks the producer at each deadline up to `until`; returns what it did.
fn run_until(producer: &mut Producer, until: Millis) -> Vec<Output> {
    let mut out = Vec::new();
    while let Some(at) = producer.next_deadline().filter(|at| *at <= until) {
        producer.tick(at, &mut out);
    }
    out
}

/// A producer without idempotence with one record of value 7 in flight to b1 since 5
/// ms; returns it and the produce request's correlation id.
fn producing() -> (Producer, u64) {
    let config = ProducerConfig {
        idempotence: Some(false),
        ..ProducerConfig::default()
    };
    let mut producer = Producer::new(config, vec![BrokerId(1), BrokerId(2)]);
    let mut out = Vec::new();
    producer.send(0, "t", None, 7, 0, &mut out);
    let (_, kind, id) = sends(&out)[0];
    assert_eq!(kind, "MetadataReq");
    producer.on_message(1, B1, metadata(id), &mut out);
    let out = run_until(&mut producer, 5);
    let (to, kind, id) = sends(&out)[0];
    assert_eq!((to, kind), (B1, "ProduceReq"));
    (producer, id)
}

#[test]
fn a_disconnect_fails_the_produce_in_flight_at_once_and_it_is_retried_after_the_backoff() {
    let (mut producer, first) = producing();
    let config = ProducerConfig::default();
    let deadline = producer.next_deadline();
    assert_eq!(deadline, Some(5 + config.request_timeout_ms));
    // b2 had nothing in flight: nothing changes.
    let mut out = Vec::new();
    producer.on_disconnected(10, B2, &mut out);
    assert!(out.is_empty());
    assert_eq!(producer.next_deadline(), deadline);
    producer.on_disconnected(10, B1, &mut out);
    assert_eq!(acknowledged(&out), Vec::<u64>::new());
    let out = run_until(&mut producer, 10 + config.retry_backoff_ms);
    let sent = sends(&out);
    assert!(
        sent.iter().any(|(_, kind, _)| *kind == "MetadataReq"),
        "a disconnect asks for fresh metadata: {sent:?}"
    );
    let retries: Vec<u64> = sent
        .iter()
        .filter(|(to, kind, _)| *to == B1 && *kind == "ProduceReq")
        .map(|(_, _, id)| *id)
        .collect();
    assert_eq!(retries.len(), 1, "retried within the backoff: {sent:?}");
    assert_ne!(retries[0], first);
    // The answer to the failed request, should one come, completes nothing.
    let mut out = Vec::new();
    producer.on_message(200, B1, produced(first), &mut out);
    assert_eq!(acknowledged(&out), Vec::<u64>::new());
    assert_eq!(producer.pending_records(), 1);
    producer.on_message(201, B1, produced(retries[0]), &mut out);
    assert_eq!(
        acknowledged(&out),
        vec![7],
        "acknowledged once, by the retry"
    );
    assert_eq!(producer.pending_records(), 0);
}

#[test]
fn a_disconnect_fails_init_producer_id_and_it_goes_to_the_next_broker_after_the_backoff() {
    let config = ProducerConfig::default();
    let mut producer = Producer::new(config.clone(), vec![BrokerId(1), BrokerId(2)]);
    let mut out = Vec::new();
    producer.send(0, "t", None, 7, 0, &mut out);
    let sent = sends(&out);
    assert_eq!(sent[0].1, "MetadataReq");
    assert_eq!((sent[1].0, sent[1].1), (B2, "InitPidReq"));
    let (metadata_id, first_pid) = (sent[0].2, sent[1].2);
    let mut out = Vec::new();
    producer.on_disconnected(10, B2, &mut out);
    assert!(out.is_empty(), "waits the backoff: {out:?}");
    producer.on_message(11, B1, metadata(metadata_id), &mut out);
    let out = run_until(&mut producer, 10 + config.retry_backoff_ms);
    let sent = sends(&out);
    let retries: Vec<_> = sent.iter().filter(|s| s.1 == "InitPidReq").collect();
    assert_eq!(retries.len(), 1, "asked again within the backoff: {sent:?}");
    assert_eq!(retries[0].0, B1, "of the next bootstrap broker");
    let retry = retries[0].2;
    // A late answer to the failed request is ignored: the identity is the retry's.
    let answer = |correlation_id, producer_id| Message::InitProducerIdResponse {
        correlation_id,
        result: Ok((ProducerId(producer_id), ProducerEpoch(0))),
    };
    let mut out = Vec::new();
    producer.on_message(120, B2, answer(first_pid, 66), &mut out);
    assert!(
        sends(&out).is_empty(),
        "no producer id yet, nothing produced"
    );
    producer.on_message(121, B1, answer(retry, 77), &mut out);
    let stamps: Vec<ProducerId> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send {
                message: Message::ProduceRequest { batches, .. },
                ..
            } => batches[0].1.producer.map(|s| s.producer_id),
            _ => None,
        })
        .collect();
    assert_eq!(stamps, vec![ProducerId(77)]);
}

#[test]
fn a_disconnect_fails_the_metadata_request_and_the_next_goes_after_the_backoff() {
    let config = ProducerConfig {
        idempotence: Some(false),
        ..ProducerConfig::default()
    };
    let mut producer = Producer::new(config.clone(), vec![BrokerId(1), BrokerId(2)]);
    let mut out = Vec::new();
    producer.send(0, "t", None, 7, 0, &mut out);
    let (_, _, first) = sends(&out)[0];
    let mut out = Vec::new();
    producer.on_disconnected(50, B1, &mut out);
    assert!(out.is_empty(), "not before the backoff from the failure");
    let out = run_until(&mut producer, 50 + config.retry_backoff_ms);
    let sent = sends(&out);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].0, sent[0].1), (B2, "MetadataReq"));
    // The failed request's answer is stale; the retry's is taken.
    let mut out = Vec::new();
    producer.on_message(160, B1, metadata(first), &mut out);
    assert!(
        sends(&out).is_empty(),
        "no partition known from a stale answer"
    );
    producer.on_message(161, B2, metadata(sent[0].2), &mut out);
    assert_eq!(sends(&out)[0].1, "ProduceReq");
}

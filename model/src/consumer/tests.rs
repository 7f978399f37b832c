//! Consumer tests: a reset after OffsetOutOfRange is observed with where it came from,
//! `processing_delay_ms` spaces the polls that return records, and a disconnect fails the
//! requests in flight to that broker at once (fetch, ListOffsets, a group member's join).

use super::*;
use crate::config::OffsetReset;
use crate::ids::LeaderEpoch;
use crate::protocol::PartitionMetadata;
use crate::record::{Record, RecordBatch};

const B1: NodeId = NodeId(1);

fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

/// The requests in `out`, by kind name, with their correlation ids.
fn requests(out: &[Output]) -> Vec<(&'static str, u64)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { message, .. } => Some(match message {
                Message::MetadataRequest { correlation_id }
                | Message::ListOffsetsRequest { correlation_id, .. }
                | Message::FetchRequest { correlation_id, .. } => (message.kind(), *correlation_id),
                other => (other.kind(), 0),
            }),
            _ => None,
        })
        .collect()
}

fn observations(out: &[Output]) -> Vec<&Observation> {
    out.iter()
        .filter_map(|o| match o {
            Output::Observe(observation) => Some(observation),
            _ => None,
        })
        .collect()
}

/// A consumer of "t" (one partition, led by b1) that has its position from ListOffsets at
/// `start`; returns it and the correlation id of its first fetch.
fn consuming(config: ConsumerConfig, start: u64) -> (Consumer, u64) {
    let mut consumer = Consumer::new(config, vec![BrokerId(1)], vec!["t".into()]);
    let mut out = Vec::new();
    consumer.start(0, &mut out);
    let (_, metadata) = requests(&out)[0];
    out.clear();
    let partitions = vec![PartitionMetadata {
        tp: tp(),
        leader: Some(BrokerId(1)),
        leader_epoch: LeaderEpoch(1),
    }];
    let answer = Message::MetadataResponse {
        correlation_id: metadata,
        brokers: vec![BrokerId(1)],
        partitions,
    };
    consumer.on_message(1, B1, answer, &mut out);
    let (kind, list) = requests(&out)[0];
    assert_eq!(kind, "ListOffsetsReq");
    out.clear();
    list_offsets(&mut consumer, 2, list, start, &mut out);
    let (kind, fetch) = requests(&out)[0];
    assert_eq!(kind, "FetchReq");
    (consumer, fetch)
}

fn list_offsets(consumer: &mut Consumer, now: u64, id: u64, at: u64, out: &mut Vec<Output>) {
    let answer = Message::ListOffsetsResponse {
        correlation_id: id,
        results: vec![(tp(), Ok(Offset(at)))],
    };
    consumer.on_message(now, B1, answer, out);
}

fn fetched(
    consumer: &mut Consumer,
    now: u64,
    id: u64,
    result: Result<Vec<u64>, ErrorCode>,
) -> Vec<Output> {
    let result = result.map(|values| FetchedPartition {
        batches: values
            .iter()
            .map(|v| RecordBatch {
                base_offset: Offset(*v),
                leader_epoch: LeaderEpoch(1),
                producer: None,
                txn: None,
                records: vec![Record {
                    key: None,
                    value: *v,
                    timestamp_ms: 0,
                }],
            })
            .collect(),
        high_watermark: Offset(100),
        log_start_offset: Offset(0),
        last_stable_offset: Offset(100),
        aborted: Vec::new(),
    });
    let mut out = Vec::new();
    let answer = Message::FetchResponse {
        correlation_id: id,
        results: vec![(tp(), result)],
    };
    consumer.on_message(now, B1, answer, &mut out);
    out
}

#[test]
fn a_reset_after_offset_out_of_range_is_observed_from_and_to() {
    let config = ConsumerConfig::default();
    let (mut consumer, fetch) = consuming(config, 0);
    // Offsets are values here: the consumer reads 0 and 1, then finds 2 deleted.
    let out = fetched(&mut consumer, 3, fetch, Ok(vec![0, 1]));
    let (_, fetch) = requests(&out)[0];
    let out = fetched(&mut consumer, 4, fetch, Err(ErrorCode::OffsetOutOfRange));
    // The error answer itself is observed too (for the spurious-error checker).
    let seen: Vec<_> = observations(&out)
        .into_iter()
        .filter(|o| !matches!(o, Observation::Refused(_)))
        .collect();
    assert!(matches!(seen[..], [Observation::PollFail { .. }]));
    let (kind, list) = requests(&out)[0];
    assert_eq!(kind, "ListOffsetsReq");
    let mut out = Vec::new();
    list_offsets(&mut consumer, 5, list, 7, &mut out);
    assert_eq!(
        observations(&out)[0],
        &Observation::OffsetReset {
            tp: tp(),
            from: Offset(2),
            to: Offset(7),
            policy: OffsetReset::Earliest,
        }
    );
    assert_eq!(requests(&out)[0].0, "FetchReq", "fetching from 7 at once");
}

#[test]
fn a_processing_delay_spaces_the_polls_that_return_records() {
    let config = ConsumerConfig {
        processing_delay_ms: 1_000,
        ..ConsumerConfig::default()
    };
    let (mut consumer, fetch) = consuming(config, 0);
    let out = fetched(&mut consumer, 10, fetch, Ok(vec![0, 1]));
    assert_eq!(requests(&out), vec![], "busy with 0 and 1");
    assert_eq!(consumer.next_deadline(), Some(1_010));
    let mut out = Vec::new();
    consumer.tick(1_009, &mut out);
    assert_eq!(requests(&out), vec![]);
    consumer.tick(1_010, &mut out);
    let (kind, fetch) = requests(&out)[0];
    assert_eq!(kind, "FetchReq");
    // An empty poll costs no processing: the next fetch leaves at once.
    let out = fetched(&mut consumer, 1_500, fetch, Ok(vec![]));
    assert_eq!(requests(&out)[0].0, "FetchReq");
}

/// Ticks the consumer at each deadline up to `until`; returns what it did.
fn run_until(consumer: &mut Consumer, until: Millis) -> Vec<Output> {
    let mut out = Vec::new();
    while let Some(at) = consumer.next_deadline().filter(|at| *at <= until) {
        consumer.tick(at, &mut out);
    }
    out
}

#[test]
fn a_disconnect_fails_the_fetch_in_flight_at_once_and_it_is_sent_again_after_the_backoff() {
    let config = ConsumerConfig::default();
    let (mut consumer, first) = consuming(config.clone(), 0);
    let deadline = consumer.next_deadline();
    // Nothing was in flight to b2: nothing changes.
    let mut out = Vec::new();
    consumer.on_disconnected(10, NodeId(2), &mut out);
    assert!(out.is_empty());
    assert_eq!(consumer.next_deadline(), deadline);
    consumer.on_disconnected(10, B1, &mut out);
    assert!(
        matches!(observations(&out)[..], [Observation::PollFail { .. }]),
        "the poll fails at once: {out:?}"
    );
    assert_eq!(requests(&out), vec![], "not before the backoff");
    let out = run_until(&mut consumer, 10 + config.retry_backoff_ms);
    let sent = requests(&out);
    assert!(
        sent.iter().any(|(kind, _)| *kind == "MetadataReq"),
        "{sent:?}"
    );
    let fetches: Vec<u64> = sent
        .iter()
        .filter(|(kind, _)| *kind == "FetchReq")
        .map(|(_, id)| *id)
        .collect();
    assert_eq!(
        fetches.len(),
        1,
        "fetched again within the backoff: {sent:?}"
    );
    // The failed fetch's answer, should one come, is stale: no records from it.
    let out = fetched(&mut consumer, 200, first, Ok(vec![0, 1]));
    assert!(
        !observations(&out)
            .iter()
            .any(|o| matches!(o, Observation::PollOk { .. })),
        "{out:?}"
    );
    let out = fetched(&mut consumer, 201, fetches[0], Ok(vec![0, 1]));
    assert!(matches!(
        observations(&out)[..],
        [Observation::PollOk { ref records, .. }, ..] if records.len() == 2
    ));
}

#[test]
fn a_disconnect_fails_list_offsets_and_it_is_sent_again_after_the_backoff() {
    let config = ConsumerConfig::default();
    let mut consumer = Consumer::new(config.clone(), vec![BrokerId(1)], vec!["t".into()]);
    let mut out = Vec::new();
    consumer.start(0, &mut out);
    let (_, metadata) = requests(&out)[0];
    let answer = Message::MetadataResponse {
        correlation_id: metadata,
        brokers: vec![BrokerId(1)],
        partitions: vec![PartitionMetadata {
            tp: tp(),
            leader: Some(BrokerId(1)),
            leader_epoch: LeaderEpoch(1),
        }],
    };
    let mut out = Vec::new();
    consumer.on_message(1, B1, answer, &mut out);
    let (kind, first) = requests(&out)[0];
    assert_eq!(kind, "ListOffsetsReq");
    let mut out = Vec::new();
    consumer.on_disconnected(10, B1, &mut out);
    assert_eq!(requests(&out), vec![]);
    let out = run_until(&mut consumer, 10 + config.retry_backoff_ms);
    let lists: Vec<u64> = requests(&out)
        .into_iter()
        .filter(|(kind, _)| *kind == "ListOffsetsReq")
        .map(|(_, id)| id)
        .collect();
    assert_eq!(lists.len(), 1, "{out:?}");
    // A stale answer gives no position; the retry's does.
    let mut out = Vec::new();
    list_offsets(&mut consumer, 200, first, 5, &mut out);
    assert!(observations(&out).is_empty(), "{out:?}");
    list_offsets(&mut consumer, 201, lists[0], 5, &mut out);
    assert!(matches!(
        observations(&out)[..],
        [
            Observation::Assign {
                offset: Offset(5),
                ..
            },
            ..
        ]
    ));
}

/// A group member of "g" whose coordinator is b1, with its JoinGroup in flight to b1;
/// returns it and the JoinGroup's correlation id.
fn joining() -> (Consumer, u64) {
    let member = MemberConfig {
        group: "g".into(),
        ..MemberConfig::default()
    };
    let config = ConsumerConfig::default();
    let mut consumer = Consumer::in_group(
        config,
        vec![BrokerId(1)],
        vec!["t".into()],
        member,
        "c1".into(),
    );
    let mut out = Vec::new();
    consumer.start(0, &mut out);
    let find = group_requests(&out)
        .into_iter()
        .find(|(kind, _)| *kind == "FindCoordinatorReq")
        .expect("looks for its coordinator")
        .1;
    let mut out = Vec::new();
    let answer = Message::FindCoordinatorResponse {
        correlation_id: find,
        result: Ok(BrokerId(1)),
    };
    consumer.on_message(1, B1, answer, &mut out);
    let join = group_requests(&out)
        .into_iter()
        .find(|(kind, _)| *kind == "JoinGroup")
        .expect("joins at its coordinator")
        .1;
    (consumer, join)
}

/// The group requests in `out`, by kind name, with their correlation ids.
fn group_requests(out: &[Output]) -> Vec<(&'static str, u64)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { message, .. } => match message {
                Message::FindCoordinatorRequest { correlation_id, .. }
                | Message::GroupRequest { correlation_id, .. } => {
                    Some((message.kind(), *correlation_id))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn a_disconnect_from_the_coordinator_fails_the_join_and_the_member_looks_for_it_again() {
    let (mut consumer, join) = joining();
    let backoff_ms = ConsumerConfig::default().retry_backoff_ms;
    let deadline = consumer.next_deadline();
    let mut out = Vec::new();
    consumer.on_disconnected(10, NodeId(2), &mut out);
    assert!(out.is_empty());
    assert_eq!(
        consumer.next_deadline(),
        deadline,
        "b2 is not the coordinator"
    );
    consumer.on_disconnected(10, B1, &mut out);
    assert_eq!(
        consumer.member().map(GroupMember::waiting_for).as_deref(),
        Some("looking for the group coordinator")
    );
    let out = run_until(&mut consumer, 10 + backoff_ms);
    let sent = group_requests(&out);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "FindCoordinatorReq", "within the backoff");
    // A late answer to the failed JoinGroup is ignored, refusal and all.
    let stale = Message::GroupResponse {
        correlation_id: join,
        response: crate::group::GroupResponse::JoinGroup {
            group: crate::group::GroupId::new("g".to_string()),
            member: Some(crate::group::MemberId("m-1".into())),
            result: Err(crate::group::GroupError::MemberIdRequired),
        },
    };
    let mut out = Vec::new();
    consumer.on_message(200, B1, stale, &mut out);
    assert!(observations(&out).is_empty(), "{out:?}");
    assert_eq!(consumer.member().and_then(GroupMember::member_id), None);
}

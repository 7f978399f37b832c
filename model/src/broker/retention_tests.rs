//! Broker tests of retention: the retention timer as leader, the leader's answer to a
//! follower below its log start, and a follower that follows its leader's log start or
//! restarts its log there.

use super::tests::{fetch_from, leader_with, produce, started_as, tp, PRODUCER};
use super::*;
use crate::config::{Acks, LogConfig};
use crate::effect::{DiskOp, LogStartCause, ReplicaEvent};
use crate::ids::LeaderEpoch;
use crate::protocol::{ConsumerFetchPartition, ReplicaFetchPartition, ReplicaFetched};
use crate::record::{Record, RecordBatch};

/// One batch per segment; records stamped 0 expire after 1 s; a check every 500 ms.
fn config(bounded_by_high_watermark: bool) -> BrokerConfig {
    BrokerConfig {
        log: LogConfig {
            segment_bytes: 1,
            retention_ms: 1_000,
            retention_check_interval_ms: 500,
            ..LogConfig::default()
        },
        retention_bounded_by_high_watermark: bounded_by_high_watermark,
        ..BrokerConfig::default()
    }
}

/// b1 leading t-0, with values 1, 2, 3 in three segments and each follower at `fetched`.
fn leader_with_three_segments(bounded: bool, fetched: u64) -> Broker {
    let (mut broker, _) = leader_with(config(bounded));
    let mut out = Vec::new();
    for v in 1..=3 {
        broker.on_message(v, PRODUCER, produce(Acks::Leader, &[v]), &mut out);
    }
    for follower in [2, 3] {
        broker.on_message(
            4,
            NodeId(follower),
            fetch_from(follower, fetched, 1),
            &mut out,
        );
    }
    assert_eq!(broker.partitions[&tp()].high_watermark(), Offset(fetched));
    broker
}

fn log_start_events(out: &[Output]) -> Vec<(Offset, LogStartCause)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Replica(ReplicaEvent::LogStartRaised {
                log_start, cause, ..
            }) => Some((*log_start, *cause)),
            _ => None,
        })
        .collect()
}

fn deleted_files(out: &[Output]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Disk(DiskOp::Delete { path }) => Some(path.as_str()),
            _ => None,
        })
        .collect()
}

/// The one message `out` sends, matched by `pick`.
fn sent<T>(out: &[Output], pick: impl Fn(&Message) -> Option<T>) -> T {
    let mut found: Vec<T> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send { message, .. } => pick(message),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "{out:?}");
    found.remove(0)
}

#[test]
fn the_retention_timer_deletes_expired_segments_below_the_high_watermark_and_reports_it() {
    let mut broker = leader_with_three_segments(true, 3);
    let mut out = Vec::new();
    // The first scheduled check (500) finds nothing expired; the records (stamped 0)
    // expire after 1,000, so the broker next wakes for retention at the check of 1,500.
    broker.tick(1_000, &mut out);
    assert_eq!(log_start_events(&out), vec![]);
    assert_eq!(broker.retention_deadline(), Some(1_500));
    assert!(broker.next_deadline() <= Some(1_500));
    broker.tick(1_500, &mut out);
    // The active segment stays, however old.
    assert_eq!(
        log_start_events(&out),
        vec![(Offset(2), LogStartCause::Retention)]
    );
    assert_eq!(
        deleted_files(&out),
        vec![
            "t-0/00000000000000000000.log",
            "t-0/00000000000000000001.log"
        ]
    );
    let partition = &broker.partitions[&tp()];
    assert_eq!(
        (partition.log_start(), partition.log_end()),
        (Offset(2), Offset(3))
    );
    assert_eq!(
        broker.retention_deadline(),
        None,
        "only the active segment is left"
    );
    // A consumer below the log start is told so, and ListOffsets(earliest) gives the start.
    out.clear();
    let fetch = Message::FetchRequest {
        correlation_id: 1,
        max_wait_ms: 0,
        max_records: 10,
        isolation: Default::default(),
        partitions: vec![ConsumerFetchPartition {
            tp: tp(),
            fetch_offset: Offset(0),
            current_leader_epoch: LeaderEpoch(1),
        }],
    };
    broker.on_message(1_600, NodeId(200), fetch, &mut out);
    let list = Message::ListOffsetsRequest {
        correlation_id: 2,
        partitions: vec![(tp(), crate::config::OffsetReset::Earliest)],
        isolation: crate::txn::IsolationLevel::ReadUncommitted,
    };
    broker.on_message(1_600, NodeId(200), list, &mut out);
    let fetched = sent(&out, |m| match m {
        Message::FetchResponse { results, .. } => Some(results[0].1.clone()),
        _ => None,
    });
    assert_eq!(fetched, Err(ErrorCode::OffsetOutOfRange));
    let listed = sent(&out, |m| match m {
        Message::ListOffsetsResponse { results, .. } => Some(results[0].1),
        _ => None,
    });
    assert_eq!(listed, Ok(Offset(2)));
}

#[test]
fn retention_stops_at_the_high_watermark_unless_deliberately_broken() {
    // The followers have only offset 0: the high watermark is 1.
    let mut broker = leader_with_three_segments(true, 1);
    let mut out = Vec::new();
    broker.tick(1_500, &mut out);
    assert_eq!(
        log_start_events(&out),
        vec![(Offset(1), LogStartCause::Retention)]
    );
    assert_eq!(
        broker.retention_deadline(),
        None,
        "segment 1 reaches the HW"
    );
    let mut broken = leader_with_three_segments(false, 1);
    out.clear();
    broken.tick(1_500, &mut out);
    assert_eq!(
        log_start_events(&out),
        vec![(Offset(2), LogStartCause::Retention)],
        "the broken variant deletes offset 1, which no follower has"
    );
}

#[test]
fn a_follower_below_the_log_start_gets_the_log_start_and_no_batches_at_once() {
    let mut broker = leader_with_three_segments(true, 3);
    let mut out = Vec::new();
    broker.tick(1_500, &mut out);
    out.clear();
    // b2 lost its disk and fetches from 0, willing to wait: it must not be parked.
    let request = Message::ReplicaFetchRequest {
        correlation_id: 9,
        replica: BrokerId(2),
        max_wait_ms: 500,
        max_records: 100,
        partitions: vec![ReplicaFetchPartition {
            tp: tp(),
            fetch_offset: Offset(0),
            last_fetched_epoch: None,
            current_leader_epoch: LeaderEpoch(1),
        }],
    };
    broker.on_message(1_600, NodeId(2), request, &mut out);
    let answer = sent(&out, |m| match m {
        Message::ReplicaFetchResponse { results, .. } => Some(results[0].1.clone()),
        _ => None,
    });
    assert_eq!(
        answer,
        Ok(ReplicaFetched {
            batches: Vec::new(),
            high_watermark: Offset(3),
            diverging: None,
            log_start_offset: Offset(2),
        })
    );
}

/// Broker 2 following b1 in epoch 1, and the correlation id of its first fetch.
fn follower() -> (Broker, u64) {
    let (broker, _) = started_as(2, config(true));
    assert_eq!(
        broker.partitions[&tp()].following(),
        Some((BrokerId(1), LeaderEpoch(1)))
    );
    let correlation_id = broker
        .fetcher
        .in_flight_to(BrokerId(1))
        .expect("a fetch to b1 in flight");
    (broker, correlation_id)
}

/// Leader epoch 1 batches of one record each, values `values`, from `base`.
fn leader_batches(base: u64, values: &[u64]) -> Vec<RecordBatch> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| RecordBatch {
            base_offset: Offset(base + i as u64),
            leader_epoch: LeaderEpoch(1),
            producer: None,
            txn: None,
            records: vec![Record {
                key: None,
                value: *v,
                timestamp_ms: 0,
            }],
        })
        .collect()
}

/// b1 answers `follower`'s fetch `correlation_id`; returns what the follower did, and its
/// next fetch: correlation id and partition.
fn answer(
    follower: &mut Broker,
    correlation_id: u64,
    fetched: ReplicaFetched,
) -> (Vec<Output>, (u64, ReplicaFetchPartition)) {
    let mut out = Vec::new();
    let response = Message::ReplicaFetchResponse {
        correlation_id,
        results: vec![(tp(), Ok(fetched))],
    };
    follower.on_message(10, NodeId(1), response, &mut out);
    let next = sent(&out, |m| match m {
        Message::ReplicaFetchRequest {
            correlation_id,
            partitions,
            ..
        } => Some((*correlation_id, partitions[0].clone())),
        _ => None,
    });
    (out, next)
}

#[test]
fn a_follower_whose_log_ends_below_the_leaders_log_start_restarts_its_log_there() {
    let (mut b2, first) = follower();
    let fetched = |batches, high_watermark, log_start_offset| ReplicaFetched {
        batches,
        high_watermark: Offset(high_watermark),
        diverging: None,
        log_start_offset: Offset(log_start_offset),
    };
    let (_, (second, next)) = answer(&mut b2, first, fetched(leader_batches(0, &[1, 2]), 2, 0));
    assert_eq!(next.fetch_offset, Offset(2));
    // Meanwhile the leader deleted everything below 5.
    let (out, (_, next)) = answer(&mut b2, second, fetched(Vec::new(), 7, 5));
    assert_eq!(
        log_start_events(&out),
        vec![(Offset(5), LogStartCause::Reset)]
    );
    assert!(out.contains(&Output::Replica(ReplicaEvent::HighWatermark {
        tp: tp(),
        high_watermark: Offset(5)
    })));
    assert_eq!(
        deleted_files(&out),
        vec![
            "t-0/00000000000000000000.log",
            "t-0/00000000000000000001.log"
        ]
    );
    let partition = &b2.partitions[&tp()];
    assert_eq!(
        (partition.log_start(), partition.log_end()),
        (Offset(5), Offset(5))
    );
    assert_eq!(
        (next.fetch_offset, next.last_fetched_epoch),
        (Offset(5), None),
        "it fetches from the leader's log start, with no epoch left to validate"
    );
}

#[test]
fn a_follower_deletes_below_its_leaders_log_start_up_to_its_own_high_watermark() {
    let (mut b2, first) = follower();
    let fetched = |batches, high_watermark, log_start_offset| ReplicaFetched {
        batches,
        high_watermark: Offset(high_watermark),
        diverging: None,
        log_start_offset: Offset(log_start_offset),
    };
    let (_, (second, _)) = answer(
        &mut b2,
        first,
        fetched(leader_batches(0, &[1, 2, 3, 4]), 1, 0),
    );
    // The leader's log start rose to 3, but its high watermark, so this follower's, is 1:
    // only segment 0 lies below both.
    let (out, (third, _)) = answer(&mut b2, second, fetched(Vec::new(), 1, 3));
    assert_eq!(
        log_start_events(&out),
        vec![(Offset(1), LogStartCause::LeaderLogStart)]
    );
    let (out, _) = answer(&mut b2, third, fetched(Vec::new(), 4, 3));
    assert_eq!(
        log_start_events(&out),
        vec![(Offset(3), LogStartCause::LeaderLogStart)]
    );
    assert_eq!(b2.partitions[&tp()].log_start(), Offset(3));
}

//! Consumer tests: a reset after OffsetOutOfRange is observed with where it came from, and
//! `processing_delay_ms` spaces the polls that return records.

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
                records: vec![Record {
                    key: None,
                    value: *v,
                    timestamp_ms: 0,
                }],
            })
            .collect(),
        high_watermark: Offset(100),
        log_start_offset: Offset(0),
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

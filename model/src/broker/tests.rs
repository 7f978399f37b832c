//! Broker tests: replication as the outputs of one broker, driven by hand-built messages.

use super::*;
use crate::config::Acks;
use crate::config::TopicConfig;
use crate::controller::{Controller, ControllerConfig};
use crate::ids::LeaderEpoch;
use crate::protocol::{ReplicaFetchPartition, ReplicaFetched};
use crate::raft::{FetchResult, LogEntry, RaftMessage, RaftRecord};
use crate::record::{Record, RecordBatch};

pub(super) const CONTROLLER: NodeId = NodeId(90);
pub(super) const PRODUCER: NodeId = NodeId(101);

pub(super) fn layout() -> ClusterLayout {
    ClusterLayout::new(
        3,
        vec![TopicConfig {
            name: "t".into(),
            partitions: 1,
            replication_factor: 3,
        }],
    )
}

pub(super) fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

/// Broker 1, leading t-0 with ISR [b1, b2, b3] in epoch 1 (the controller's records).
pub(super) fn leader(min_insync_replicas: usize) -> (Broker, Controller) {
    leader_with(BrokerConfig {
        min_insync_replicas,
        ..BrokerConfig::default()
    })
}

/// Broker `me` with `config`, told by the controller's records that b1 leads t-0 with ISR
/// [b1, b2, b3] in epoch 1.
pub(super) fn started_as(me: u32, config: BrokerConfig) -> (Broker, Controller) {
    let mut out = Vec::new();
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

/// Broker 1 with `config`, leading t-0 with ISR [b1, b2, b3] in epoch 1.
pub(super) fn leader_with(config: BrokerConfig) -> (Broker, Controller) {
    let (broker, controller) = started_as(1, config);
    assert!(broker.partitions[&tp()].is_leader());
    (broker, controller)
}

/// The quorum leader's answer to the broker's metadata fetch: the records of `log` it
/// lacks, committed.
pub(super) fn committed(broker: &Broker, log: &[MetadataRecord]) -> Message {
    let base = broker.metadata_log.log_end();
    let entries: Vec<LogEntry<MetadataRecord>> = log
        .iter()
        .enumerate()
        .skip(base.0 as usize)
        .map(|(offset, record)| LogEntry {
            offset: Offset(offset as u64),
            epoch: LeaderEpoch(1),
            record: RaftRecord::Data(record.clone()),
        })
        .collect();
    Message::Raft(RaftMessage::FetchResponse {
        epoch: LeaderEpoch(1),
        leader: Some(CONTROLLER),
        fetch_offset: base,
        last_fetched_epoch: broker.metadata_log.last_epoch(),
        result: FetchResult::Entries {
            entries,
            high_watermark: Some(Offset(log.len() as u64)),
        },
    })
}

pub(super) fn batch(values: &[u64]) -> RecordBatch {
    RecordBatch {
        base_offset: Offset(0),
        leader_epoch: LeaderEpoch(0),
        producer: None,
        txn: None,
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

pub(super) fn produce(acks: Acks, values: &[u64]) -> Message {
    Message::ProduceRequest {
        correlation_id: 7,
        acks,
        timeout_ms: 1_000,
        transactional_id: None,
        batches: vec![(tp(), batch(values))],
    }
}

pub(super) fn fetch_from(replica: u32, offset: u64, epoch: u32) -> Message {
    Message::ReplicaFetchRequest {
        correlation_id: 3,
        replica: BrokerId(replica),
        max_wait_ms: 0,
        max_records: 100,
        partitions: vec![ReplicaFetchPartition {
            tp: tp(),
            fetch_offset: Offset(offset),
            last_fetched_epoch: (offset > 0).then_some(LeaderEpoch(1)),
            current_leader_epoch: LeaderEpoch(epoch),
        }],
    }
}

fn produce_responses(out: &[Output]) -> Vec<Vec<(TopicPartition, Result<Offset, ErrorCode>)>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                message: Message::ProduceResponse { results, .. },
                ..
            } => Some(results.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn acks_all_is_answered_only_once_every_isr_member_has_the_write() {
    let (mut broker, _) = leader(2);
    let mut out = Vec::new();
    broker.on_message(1, PRODUCER, produce(Acks::All, &[1, 2]), &mut out);
    assert!(produce_responses(&out).is_empty(), "waiting for the ISR");
    broker.on_message(2, NodeId(2), fetch_from(2, 2, 1), &mut out);
    assert!(produce_responses(&out).is_empty(), "b3 has not fetched yet");
    broker.on_message(3, NodeId(3), fetch_from(3, 2, 1), &mut out);
    assert_eq!(produce_responses(&out), vec![vec![(tp(), Ok(Offset(0)))]]);
}

#[test]
fn acks_1_is_answered_after_the_leaders_append_and_acks_0_never() {
    let (mut broker, _) = leader(2);
    let mut out = Vec::new();
    broker.on_message(1, PRODUCER, produce(Acks::Leader, &[1]), &mut out);
    assert_eq!(produce_responses(&out), vec![vec![(tp(), Ok(Offset(0)))]]);
    out.clear();
    broker.on_message(2, PRODUCER, produce(Acks::None, &[2]), &mut out);
    assert!(produce_responses(&out).is_empty());
    assert_eq!(broker.partitions[&tp()].log_end(), Offset(2));
}

#[test]
fn a_shrunk_isr_below_min_insync_refuses_acks_all_and_times_out_what_waits() {
    let (mut broker, mut controller) = leader(2);
    let mut out = Vec::new();
    broker.on_message(1, PRODUCER, produce(Acks::All, &[1]), &mut out);
    // b2 and b3 go silent: the controller fences them and the ISR is b1 alone.
    controller.heartbeat(9_000, BrokerId(1), 1);
    controller.tick(9_500);
    broker.on_message(
        9_500,
        CONTROLLER,
        committed(&broker, controller.log()),
        &mut out,
    );
    assert_eq!(
        produce_responses(&out),
        vec![vec![(tp(), Err(ErrorCode::NotEnoughReplicasAfterAppend))]],
        "the high watermark passed the write with only the leader holding it"
    );
    out.clear();
    broker.on_message(9_600, PRODUCER, produce(Acks::All, &[2]), &mut out);
    assert_eq!(
        produce_responses(&out),
        vec![vec![(tp(), Err(ErrorCode::NotEnoughReplicas))]]
    );
    assert_eq!(
        broker.partitions[&tp()].log_end(),
        Offset(1),
        "not appended"
    );
}

#[test]
fn followers_are_fenced_by_epoch_and_told_where_they_diverge() {
    let (mut broker, _) = leader(1);
    let mut out = Vec::new();
    broker.on_message(1, PRODUCER, produce(Acks::Leader, &[1, 2]), &mut out);
    let answer = |broker: &mut Broker, request: Message| {
        let mut out = Vec::new();
        broker.on_message(2, NodeId(2), request, &mut out);
        out.into_iter()
            .find_map(|o| match o {
                Output::Send {
                    message: Message::ReplicaFetchResponse { mut results, .. },
                    ..
                } => Some(results.remove(0).1),
                _ => None,
            })
            .expect("answered at once")
    };
    assert_eq!(
        answer(&mut broker, fetch_from(2, 0, 0)),
        Err(ErrorCode::FencedLeaderEpoch)
    );
    assert_eq!(
        answer(&mut broker, fetch_from(2, 0, 5)),
        Err(ErrorCode::UnknownLeaderEpoch)
    );
    // b2 claims 5 records of epoch 1 where the leader has 2: it must cut back to 2.
    assert_eq!(
        answer(&mut broker, fetch_from(2, 5, 1)),
        Ok(ReplicaFetched {
            batches: Vec::new(),
            high_watermark: Offset(0),
            diverging: Some((LeaderEpoch(1), Offset(2))),
            log_start_offset: Offset(0),
        })
    );
    let Ok(fetched) = answer(&mut broker, fetch_from(2, 0, 1)) else {
        panic!("a follower in the current epoch reads");
    };
    assert_eq!(fetched.batches.len(), 1);
    assert_eq!(fetched.batches[0].leader_epoch, LeaderEpoch(1));
}

pub(super) fn alter_partition_requests(out: &[Output]) -> Vec<Vec<BrokerId>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                message: Message::AlterPartitionRequest { new_isr, .. },
                ..
            } => Some(new_isr.clone()),
            _ => None,
        })
        .collect()
}

/// b1 leading t-0 alone (b2 and b3 fell silent, left the ISR and came back out of sync)
/// with v1 and v2, just after b2 caught up at 9 800 ms: it has asked the controller to
/// expand the ISR to [b1, b2], and the request is in flight. With what b2's fetch made it
/// send.
pub(super) fn leader_asking_to_expand_the_isr() -> (Broker, Vec<Output>) {
    let (mut broker, mut controller) = leader(1);
    controller.heartbeat(9_000, BrokerId(1), 1);
    controller.tick(9_500);
    controller.heartbeat(9_600, BrokerId(2), 1);
    controller.heartbeat(9_600, BrokerId(3), 1);
    let mut out = Vec::new();
    let records = committed(&broker, controller.log());
    broker.on_message(9_600, CONTROLLER, records, &mut out);
    broker.on_message(9_700, PRODUCER, produce(Acks::Leader, &[1, 2]), &mut out);
    assert_eq!(
        broker.partitions[&tp()].high_watermark(),
        Offset(2),
        "ISR [b1]"
    );
    out.clear();
    broker.on_message(9_800, NodeId(2), fetch_from(2, 2, 1), &mut out);
    assert_eq!(
        alter_partition_requests(&out),
        vec![vec![BrokerId(1), BrokerId(2)]]
    );
    (broker, out)
}

#[test]
fn an_unanswered_isr_expansion_is_asked_again_and_the_high_watermark_counts_it_meanwhile() {
    let (mut broker, _) = leader_asking_to_expand_the_isr();
    let mut out = Vec::new();
    broker.on_message(9_900, PRODUCER, produce(Acks::Leader, &[3]), &mut out);
    assert_eq!(
        broker.partitions[&tp()].high_watermark(),
        Offset(2),
        "b2 may already be in the ISR the controller committed: it must have v3 first"
    );
    // No answer: after the timeout the same change is asked again, still counted.
    out.clear();
    broker.tick(
        9_800 + BrokerConfig::default().inter_broker_request_timeout_ms,
        &mut out,
    );
    assert_eq!(
        alter_partition_requests(&out),
        vec![vec![BrokerId(1), BrokerId(2)]]
    );
    assert_eq!(broker.partitions[&tp()].high_watermark(), Offset(2));
}

#[test]
fn an_isr_change_refused_as_not_controller_is_asked_again_after_the_backoff() {
    let (mut broker, _) = leader_asking_to_expand_the_isr();
    let mut out = Vec::new();
    // The voter it asked no longer leads the quorum: it says so, with no correlation id.
    out.clear();
    let not_controller = Message::NotController { leader: None };
    broker.on_message(9_850, CONTROLLER, not_controller, &mut out);
    broker.tick(9_900, &mut out);
    assert!(
        alter_partition_requests(&out).is_empty(),
        "within the backoff"
    );
    broker.tick(9_950, &mut out);
    assert_eq!(
        alter_partition_requests(&out),
        vec![vec![BrokerId(1), BrokerId(2)]],
        "asked again after retry.backoff.ms, not after the {} ms request timeout",
        BrokerConfig::default().inter_broker_request_timeout_ms
    );
}

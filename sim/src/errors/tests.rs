//! The partition expectations judged both ways on hand-built replicas: each code is
//! explained by its cause and unexplained without it. (The built-ins never give two of
//! them a real cause: INVALID_PRODUCER_EPOCH needs another instance of a producer id,
//! UNKNOWN_LEADER_EPOCH a client ahead of a broker's metadata.)

use super::expectations::{Expectation, ReplicaAtAnswer};
use super::replica_view::{LastRecord, RoleView};
use super::{fetch, produce};
use crate::checkers::ChainLink;
use crate::history::{FetchRefusal, ProduceRefusal};
use kafka_model::ids::{BrokerId, LeaderEpoch, ProducerEpoch, ProducerId, TopicPartition};
use kafka_model::record::ProducerStamp;
use std::collections::BTreeMap;

const PID: u64 = 7;

fn link(what: &str) -> ChainLink {
    ChainLink {
        seq: 1,
        time_ms: 10,
        node: "b1".into(),
        what: what.into(),
    }
}

/// b1 leads tasks-0 in epoch 3 with ISR `isr`, its log spanning 10..20, producer 7's last
/// record (epoch `epoch`, sequence `seq`) at offset 19.
fn leader(isr: &[u32], last: Option<(u16, u32)>) -> ReplicaAtAnswer {
    let last_records: BTreeMap<ProducerId, LastRecord> = last
        .map(|(epoch, seq)| {
            let stamp = ProducerStamp {
                producer_id: ProducerId(PID),
                producer_epoch: ProducerEpoch(epoch),
                base_sequence: seq,
            };
            (ProducerId(PID), LastRecord { stamp, offset: 19 })
        })
        .into_iter()
        .collect();
    ReplicaAtAnswer {
        broker: BrokerId(1),
        tp: TopicPartition::new("tasks", 0),
        log_start: 10,
        log_end: 20,
        role: RoleView::Leader {
            epoch: LeaderEpoch(3),
            isr: isr.iter().map(|b| BrokerId(*b)).collect(),
        },
        role_link: Some(link("became leader")),
        isr_link: Some(link("became leader")),
        log_start_link: None,
        last_cut: None,
        lost_by_log_start: BTreeMap::new(),
        last_records,
        isr_was_below_min: None,
    }
}

fn batch(error: &str, epoch: u16, base: u32) -> ProduceRefusal {
    ProduceRefusal {
        broker: "b1".into(),
        request: 4,
        topic: "tasks".into(),
        partition: 0,
        error: error.into(),
        retriable: true,
        values: vec![1],
        producer_id: Some(PID),
        producer_epoch: Some(epoch),
        base_sequence: Some(base),
        transactional: false,
    }
}

fn fetch_at(offset: u64, leader_epoch: u32) -> FetchRefusal {
    FetchRefusal {
        broker: "b1".into(),
        request: 5,
        topic: "tasks".into(),
        partition: 0,
        offset,
        leader_epoch,
        error: String::new(),
        retriable: true,
    }
}

fn produce_judged(
    expectation: Expectation,
    at: &ReplicaAtAnswer,
    refused: &ProduceRefusal,
) -> bool {
    produce::judge(expectation, at, refused, 2, "all").is_ok()
}

#[test]
fn invalid_producer_epoch_only_below_an_epoch_the_log_holds() {
    let e = Expectation::InvalidProducerEpoch;
    let refused = batch("INVALID_PRODUCER_EPOCH", 1, 0);
    assert!(produce_judged(e, &leader(&[1, 2], Some((2, 5))), &refused));
    assert!(!produce_judged(e, &leader(&[1, 2], Some((1, 5))), &refused));
    assert!(!produce_judged(e, &leader(&[1, 2], None), &refused));
    // A transactional batch's verification may meet a newer epoch the coordinator knows
    // and the partition does not yet (KIP-890).
    let transactional = ProduceRefusal {
        transactional: true,
        ..refused
    };
    assert!(produce_judged(
        e,
        &leader(&[1, 2], Some((1, 5))),
        &transactional
    ));
}

#[test]
fn out_of_order_sequence_only_where_the_batch_does_not_continue_the_log() {
    let e = Expectation::OutOfOrderSequence;
    let at = leader(&[1, 2], Some((0, 5)));
    assert!(!produce_judged(
        e,
        &at,
        &batch("OUT_OF_ORDER_SEQUENCE_NUMBER", 0, 6)
    ));
    assert!(produce_judged(
        e,
        &at,
        &batch("OUT_OF_ORDER_SEQUENCE_NUMBER", 0, 8)
    ));
    // A new epoch starts at 0; anything else in it is out of order.
    assert!(!produce_judged(
        e,
        &at,
        &batch("OUT_OF_ORDER_SEQUENCE_NUMBER", 1, 0)
    ));
    assert!(produce_judged(
        e,
        &at,
        &batch("OUT_OF_ORDER_SEQUENCE_NUMBER", 1, 3)
    ));
    // Retention removed the producer's records: the broker may have forgotten it.
    let mut retained = at.clone();
    retained
        .lost_by_log_start
        .insert(ProducerId(PID), link("raised the log start"));
    assert!(produce_judged(
        e,
        &retained,
        &batch("OUT_OF_ORDER_SEQUENCE_NUMBER", 0, 6)
    ));
}

#[test]
fn not_enough_replicas_only_below_min_insync() {
    for e in [
        Expectation::NotEnoughReplicas,
        Expectation::NotEnoughReplicasAfterAppend,
    ] {
        let refused = batch("NOT_ENOUGH_REPLICAS", 0, 6);
        assert!(produce_judged(e, &leader(&[1], None), &refused));
        assert!(!produce_judged(e, &leader(&[1, 2], None), &refused));
        let mut shrank_meanwhile = leader(&[1, 2], None);
        shrank_meanwhile.isr_was_below_min = Some(link("has ISR [b1]"));
        assert!(produce_judged(e, &shrank_meanwhile, &refused));
    }
    // A transactional batch may be refused so by a leader that could not verify it with
    // its coordinator (KIP-890), whatever the ISR; NOT_ENOUGH_REPLICAS_AFTER_APPEND may not.
    let transactional = ProduceRefusal {
        transactional: true,
        ..batch("NOT_ENOUGH_REPLICAS", 0, 6)
    };
    assert!(produce_judged(
        Expectation::NotEnoughReplicas,
        &leader(&[1, 2], None),
        &transactional
    ));
    assert!(!produce_judged(
        Expectation::NotEnoughReplicasAfterAppend,
        &leader(&[1, 2], None),
        &transactional
    ));
    let refused = batch("NOT_ENOUGH_REPLICAS", 0, 6);
    let acks_one = produce::judge(
        Expectation::NotEnoughReplicas,
        &leader(&[1], None),
        &refused,
        2,
        "1",
    );
    assert!(acks_one.is_err(), "acks=1 is never refused for the ISR");
}

#[test]
fn leader_epoch_errors_only_against_another_epoch() {
    let at = leader(&[1, 2], None);
    let judged = |e, epoch| fetch::judge(e, &at, &fetch_at(15, epoch)).is_ok();
    assert!(judged(Expectation::FencedLeaderEpoch, 2));
    assert!(!judged(Expectation::FencedLeaderEpoch, 3));
    assert!(!judged(Expectation::FencedLeaderEpoch, 4));
    assert!(judged(Expectation::UnknownLeaderEpoch, 4));
    assert!(!judged(Expectation::UnknownLeaderEpoch, 3));
    assert!(!judged(Expectation::UnknownLeaderEpoch, 2));
}

#[test]
fn offset_out_of_range_only_outside_the_log() {
    let at = leader(&[1, 2], None);
    let judged = |offset| fetch::judge(Expectation::OffsetOutOfRange, &at, &fetch_at(offset, 3));
    assert!(judged(9).is_ok());
    assert!(judged(21).is_ok());
    for inside in [10, 15, 20] {
        let unexplained = judged(inside).expect_err("within the log");
        assert!(
            unexplained.found.contains("spans offsets 10..20"),
            "{unexplained:?}"
        );
    }
}

#[test]
fn a_transactional_old_epoch_may_come_from_the_coordinators_verification() {
    // The log holds epoch 0 only: a leader's own check finds nothing newer than epoch 1.
    let at = leader(&[1, 2], Some((0, 5)));
    let plain = batch("INVALID_PRODUCER_EPOCH", 1, 6);
    assert!(!produce_judged(
        Expectation::InvalidProducerEpoch,
        &at,
        &plain
    ));
    // KIP-890: the leader relays the coordinator's answer, which knows a newer epoch.
    let transactional = ProduceRefusal {
        transactional: true,
        ..plain
    };
    assert!(produce_judged(
        Expectation::InvalidProducerEpoch,
        &at,
        &transactional
    ));
}

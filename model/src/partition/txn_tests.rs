//! Partition tests for transactions: the producer state a replica rebuilds from its log
//! (recovery after a restart, a follower's truncation) equals the one it kept batch by
//! batch as a follower, open transactions and the aborted index included.

use super::Partition;
use crate::config::{BrokerConfig, ReplicationProtocol};
use crate::disk::MemDisk;
use crate::effect::Output;
use crate::ids::{BrokerId, LeaderEpoch, Offset, ProducerEpoch, ProducerId, TopicPartition};
use crate::producer_state::ProducerStateTable;
use crate::record::{ControlMarker, ProducerStamp, Record, RecordBatch, TxnPart};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// One batch of a generated log: data of a producer (transactional or not), or its marker.
#[derive(Clone, Debug)]
enum Step {
    Data {
        producer: u64,
        records: u64,
        transactional: bool,
    },
    Marker {
        producer: u64,
        commit: bool,
    },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (1..4u64, 1..3u64, any::<bool>()).prop_map(|(producer, records, transactional)| {
            Step::Data { producer, records, transactional }
        }),
        1 => (1..4u64, any::<bool>()).prop_map(|(producer, commit)| Step::Marker { producer, commit }),
    ];
    proptest::collection::vec(step, 1..30)
}

/// The leader's log the steps write: dense offsets, each producer's sequence continuing.
fn leader_log(steps: &[Step]) -> Vec<RecordBatch> {
    let mut sequences: BTreeMap<u64, u32> = BTreeMap::new();
    let mut next = 0;
    let mut log = Vec::new();
    for step in steps {
        let (producer, records, txn, sequence) = match *step {
            Step::Data {
                producer,
                records,
                transactional,
            } => {
                let seq = sequences.entry(producer).or_insert(0);
                let sequence = *seq;
                *seq += records as u32;
                (
                    producer,
                    records,
                    transactional.then_some(TxnPart::Data),
                    sequence,
                )
            }
            Step::Marker { producer, commit } => {
                let marker = ControlMarker {
                    commit,
                    coordinator_epoch: 0,
                };
                (producer, 1, Some(TxnPart::Marker(marker)), 0)
            }
        };
        log.push(RecordBatch {
            base_offset: Offset(next),
            leader_epoch: LeaderEpoch(1),
            producer: Some(ProducerStamp {
                producer_id: ProducerId(producer),
                producer_epoch: ProducerEpoch(0),
                base_sequence: sequence,
            }),
            txn,
            records: (next..next + records)
                .map(|value| Record {
                    key: None,
                    value,
                    timestamp_ms: 0,
                })
                .collect(),
        });
        next += records;
    }
    log
}

fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

/// A follower that copied `log` one batch a fetch, the leader's high watermark trailing a
/// batch behind, with its disk.
fn follower_of(log: &[RecordBatch]) -> (Partition, MemDisk) {
    let mut out = Vec::new();
    let config = BrokerConfig::default();
    let (mut partition, _) = Partition::recover(BrokerId(2), tp(), &config, vec![], &mut out);
    let mut high_watermark = Offset(0);
    for batch in log {
        partition
            .append_as_follower(vec![batch.clone()], high_watermark, &mut out)
            .unwrap();
        high_watermark = batch.base_offset;
    }
    let mut disk = MemDisk::default();
    for output in &out {
        if let Output::Disk(op) = output {
            assert_eq!(disk.apply(op), None);
        }
    }
    (partition, disk)
}

/// The state with every ended transaction below `high_watermark` forgotten, as any replica
/// forgets them once its high watermark passes.
fn settled(state: &ProducerStateTable, high_watermark: Offset) -> ProducerStateTable {
    let mut state = state.clone();
    state.txns_mut().replicated_to(high_watermark);
    state
}

proptest! {
    #[test]
    fn recovery_rebuilds_the_state_the_follower_kept(steps in steps()) {
        let log = leader_log(&steps);
        let (follower, disk) = follower_of(&log);
        let mut out = Vec::new();
        let config = BrokerConfig::default();
        let (recovered, _) =
            Partition::recover(BrokerId(2), tp(), &config, disk.read_all(), &mut out);
        prop_assert_eq!(recovered.log_end(), follower.log_end());
        let end = follower.log_end();
        prop_assert_eq!(
            settled(recovered.producer_state(), end),
            settled(follower.producer_state(), end)
        );
        // A recovered replica knows no high watermark yet: every transaction of its log
        // still holds a read_committed reader back, none is forgotten.
        let open = follower.producer_state().txns().open_first_offsets().next();
        prop_assert!(open.is_none_or(|(first, _)| recovered.last_stable_offset() <= first));
    }

    #[test]
    fn truncation_rebuilds_the_state_of_the_prefix_left(steps in steps(), cut in 0..30usize) {
        let log = leader_log(&steps);
        let cut = cut.min(log.len());
        let (mut follower, _) = follower_of(&log);
        let to = log.get(cut).map_or(follower.log_end(), |b| b.base_offset);
        let mut out = Vec::new();
        follower.truncate_divergent(LeaderEpoch(1), to, ReplicationProtocol::Modern, &mut out);
        prop_assert_eq!(follower.log_end(), to);
        let (prefix_only, _) = follower_of(&log[..cut]);
        let end = log.last().map_or(Offset(0), |b| b.next_offset());
        prop_assert_eq!(
            settled(follower.producer_state(), end),
            settled(prefix_only.producer_state(), end)
        );
        // A broken truncation that kept the cut transactions would still hold them open.
        for (first, _) in follower.producer_state().txns().open_first_offsets() {
            prop_assert!(first < to);
        }
        for aborted in follower.producer_state().txns().aborted() {
            prop_assert!(aborted.last_offset < to);
        }
    }
}

#[test]
fn a_follower_keeps_the_leaders_open_transactions_and_aborted_index() {
    let steps = [
        Step::Data {
            producer: 1,
            records: 2,
            transactional: true,
        },
        Step::Data {
            producer: 2,
            records: 1,
            transactional: true,
        },
        Step::Marker {
            producer: 1,
            commit: false,
        },
    ];
    let (follower, _) = follower_of(&leader_log(&steps));
    let txns = follower.producer_state().txns();
    assert_eq!(
        txns.open_first_offsets().collect::<Vec<_>>(),
        vec![(Offset(2), ProducerId(2))]
    );
    assert_eq!(txns.aborted().len(), 1);
    assert_eq!(txns.aborted()[0].first_offset, Offset(0));
    assert_eq!(txns.aborted()[0].last_offset, Offset(3));
}

#[test]
fn retention_drops_the_aborted_transactions_it_deleted() {
    let steps = [
        Step::Data {
            producer: 1,
            records: 2,
            transactional: true,
        },
        Step::Marker {
            producer: 1,
            commit: false,
        },
        Step::Data {
            producer: 2,
            records: 1,
            transactional: true,
        },
        Step::Marker {
            producer: 2,
            commit: false,
        },
    ];
    let mut config = BrokerConfig::default();
    config.log.segment_bytes = 1; // a segment a batch
    let mut out = Vec::new();
    let (mut follower, _) = Partition::recover(BrokerId(2), tp(), &config, vec![], &mut out);
    follower
        .append_as_follower(leader_log(&steps), Offset(5), &mut out)
        .unwrap();
    assert_eq!(follower.producer_state().txns().aborted().len(), 2);
    // The leader's log start passed producer 1's abort marker: the follower deletes the
    // segments below it, and with them the aborted transaction they held.
    follower.follow_leader_log_start(Offset(3), &mut out);
    assert_eq!(follower.log_start(), Offset(3));
    let aborted: Vec<u64> = follower
        .producer_state()
        .txns()
        .aborted()
        .iter()
        .map(|a| a.producer_id.0)
        .collect();
    assert_eq!(aborted, vec![2]);
}

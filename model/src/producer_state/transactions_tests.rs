//! Producer-state tests for transactions: markers end transactions and fence stale ones,
//! the last stable offset waits for open and unreplicated transactions, and the state the
//! log rebuilds equals the state kept batch by batch.

use super::*;
use crate::ids::LeaderEpoch;
use crate::record::Record;
use proptest::prelude::*;

fn txn_batch(pid: u64, epoch: u16, seq: u32, n: usize, base: u64) -> RecordBatch {
    RecordBatch {
        base_offset: Offset(base),
        leader_epoch: LeaderEpoch(0),
        producer: Some(ProducerStamp {
            producer_id: ProducerId(pid),
            producer_epoch: ProducerEpoch(epoch),
            base_sequence: seq,
        }),
        txn: Some(TxnPart::Data),
        records: (0..n)
            .map(|i| Record {
                key: None,
                value: base + i as u64,
                timestamp_ms: 0,
            })
            .collect(),
    }
}

fn marker(pid: u64, epoch: u16, commit: bool, coordinator_epoch: u32, at: u64) -> RecordBatch {
    let mut batch = txn_batch(pid, epoch, 0, 1, at);
    batch.txn = Some(TxnPart::Marker(ControlMarker {
        commit,
        coordinator_epoch,
    }));
    batch
}

fn stamp(batch: &RecordBatch) -> ProducerStamp {
    batch.producer.unwrap()
}

fn control(batch: &RecordBatch) -> ControlMarker {
    match batch.txn {
        Some(TxnPart::Marker(m)) => m,
        _ => panic!("not a marker"),
    }
}

#[test]
fn the_last_stable_offset_waits_for_open_transactions_and_unreplicated_markers() {
    let mut table = ProducerStateTable::new(5);
    table.update(&txn_batch(1, 0, 0, 2, 0)); // producer 1's transaction opens at 0
    table.update(&txn_batch(2, 0, 0, 1, 2)); // producer 2's at 2
                                             // An LSO that ignored open transactions would be the high watermark, 3.
    assert_eq!(
        table.txns().last_stable_offset(Offset(3), Offset(0)),
        Offset(0)
    );
    table.update(&marker(1, 0, true, 0, 3)); // producer 1 commits at 3
                                             // Its marker is not below the high watermark yet: it still holds the LSO at 0.
    assert_eq!(
        table.txns().last_stable_offset(Offset(3), Offset(0)),
        Offset(0)
    );
    // Once replicated, producer 2's open transaction is the bound.
    assert_eq!(
        table.txns().last_stable_offset(Offset(4), Offset(0)),
        Offset(2)
    );
    table.update(&marker(2, 0, false, 0, 4)); // producer 2 aborts at 4
    assert_eq!(
        table.txns().last_stable_offset(Offset(5), Offset(0)),
        Offset(5)
    );
    assert_eq!(
        table.txns().aborted(),
        &[AbortedRange {
            producer_id: ProducerId(2),
            first_offset: Offset(2),
            last_offset: Offset(4),
        }],
        "only the abort is indexed"
    );
    // The LSO never sits below the log start.
    table.update(&txn_batch(3, 0, 0, 1, 5));
    assert_eq!(
        table.txns().last_stable_offset(Offset(6), Offset(6)),
        Offset(6)
    );
}

#[test]
fn markers_are_fenced_by_producer_and_coordinator_epoch() {
    let mut table = ProducerStateTable::new(5);
    table.update(&txn_batch(1, 3, 0, 1, 0));
    table.update(&marker(1, 3, false, 7, 1));
    let older_epoch = marker(1, 2, true, 7, 2);
    assert_eq!(
        table.check_marker(&stamp(&older_epoch), &control(&older_epoch)),
        Err(ErrorCode::InvalidProducerEpoch)
    );
    let deposed = marker(1, 3, true, 6, 2);
    assert_eq!(
        table.check_marker(&stamp(&deposed), &control(&deposed)),
        Err(ErrorCode::TransactionCoordinatorFenced)
    );
    // A newer epoch (the coordinator aborting a timed-out transaction) takes the entry,
    // and the producer's older-epoch data is refused afterwards.
    let bumped = marker(1, 4, false, 7, 2);
    assert_eq!(
        table.check_marker(&stamp(&bumped), &control(&bumped)),
        Ok(())
    );
    table.update(&bumped);
    let late = txn_batch(1, 3, 1, 1, 3);
    assert_eq!(
        table.check(&stamp(&late), 1),
        SequenceCheck::Reject(ErrorCode::InvalidProducerEpoch)
    );
    // Markers take no sequence: the producer's next data continues where it was.
    let next = txn_batch(1, 4, 0, 1, 3);
    assert_eq!(table.check(&stamp(&next), 1), SequenceCheck::Append);
}

#[test]
fn a_marker_voids_a_verification_started_before_it() {
    let mut table = ProducerStateTable::new(5);
    let guard = table.start_verification(ProducerId(1));
    assert!(table.verification_holds(ProducerId(1), guard));
    table.update(&marker(1, 0, false, 0, 0));
    assert!(!table.verification_holds(ProducerId(1), guard));
    let again = table.start_verification(ProducerId(1));
    assert_ne!(again, guard);
    table.update(&txn_batch(1, 0, 0, 1, 1));
    // The transaction is open: any verified batch of it may follow.
    assert!(table.verification_holds(ProducerId(1), guard));
}

#[test]
fn aborted_transactions_overlapping_a_read_are_found() {
    let mut table = ProducerStateTable::new(5);
    table.update(&txn_batch(1, 0, 0, 2, 0));
    table.update(&marker(1, 0, false, 0, 2));
    table.update(&txn_batch(2, 0, 0, 2, 3));
    table.update(&marker(2, 0, false, 0, 5));
    let ids = |table: &ProducerStateTable, from, below| -> Vec<u64> {
        table
            .txns()
            .aborted_overlapping(Offset(from), Offset(below))
            .iter()
            .map(|a| a.producer_id.0)
            .collect()
    };
    assert_eq!(ids(&table, 0, 6), vec![1, 2]);
    assert_eq!(ids(&table, 3, 6), vec![2], "producer 1's ended at 2");
    assert_eq!(ids(&table, 0, 3), vec![1], "producer 2's starts at 3");
    table.txns_mut().deleted_below(Offset(3));
    assert_eq!(ids(&table, 0, 6), vec![2], "retention took producer 1's");
}

/// One step of a generated log: a producer's data (transactional or not) or its marker.
#[derive(Clone, Debug)]
enum Step {
    Data {
        producer: u64,
        records: usize,
        transactional: bool,
    },
    Marker {
        producer: u64,
        commit: bool,
    },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (1..4u64, 1..3usize, any::<bool>()).prop_map(|(producer, records, transactional)| {
            Step::Data { producer, records, transactional }
        }),
        1 => (1..4u64, any::<bool>()).prop_map(|(producer, commit)| Step::Marker { producer, commit }),
    ];
    proptest::collection::vec(step, 0..40)
}

/// The log the steps write, each producer's sequences continuing.
fn log_of(steps: &[Step]) -> Vec<RecordBatch> {
    let mut sequences = BTreeMap::new();
    let mut next = 0u64;
    let mut log = Vec::new();
    for step in steps {
        let batch = match *step {
            Step::Data {
                producer,
                records,
                transactional,
            } => {
                let seq = sequences.entry(producer).or_insert(0u32);
                let mut batch = txn_batch(producer, 0, *seq, records, next);
                *seq += records as u32;
                if !transactional {
                    batch.txn = None;
                }
                batch
            }
            Step::Marker { producer, commit } => marker(producer, 0, commit, 0, next),
        };
        next = batch.next_offset().0;
        log.push(batch);
    }
    log
}

proptest! {
    /// The state rebuilt from a log (recovery) or from a prefix of it (truncation) is the
    /// state kept batch by batch, with the high watermark at the same place.
    #[test]
    fn rebuilt_state_equals_incremental_state(steps in steps(), cut in 0..40usize, hw in 0..80u64) {
        let log = log_of(&steps);
        let cut = cut.min(log.len());
        let end = log.get(cut).map_or(log.last().map_or(0, |b| b.next_offset().0), |b| b.base_offset.0);
        let hw = Offset(hw.min(end));
        let mut incremental = ProducerStateTable::new(5);
        for batch in &log[..cut] {
            incremental.update(batch);
            incremental.txns_mut().replicated_to(Offset(0));
        }
        incremental.txns_mut().replicated_to(hw);
        let rebuilt = ProducerStateTable::rebuilt(5, log[..cut].iter(), hw);
        prop_assert_eq!(&rebuilt, &incremental);
        prop_assert_eq!(
            rebuilt.txns().last_stable_offset(hw, Offset(0)),
            incremental.txns().last_stable_offset(hw, Offset(0))
        );
        // The LSO never passes an open transaction's first offset.
        for (first, _) in rebuilt.txns().open_first_offsets() {
            prop_assert!(rebuilt.txns().last_stable_offset(hw, Offset(0)) <= first);
        }
    }
}

//! Tests of the log: appends, segment rolls, truncation, resets and recovery.

use super::*;
use crate::disk::MemDisk;
use crate::record::Record;

fn batch(values: &[u64]) -> RecordBatch {
    batch_at(values, 0)
}

/// A batch of records with these values, all stamped `timestamp_ms`.
pub(super) fn batch_at(values: &[u64], timestamp_ms: u64) -> RecordBatch {
    RecordBatch {
        base_offset: Offset(0),
        leader_epoch: LeaderEpoch(0),
        producer: None,
        txn: None,
        records: values
            .iter()
            .map(|&value| Record {
                key: Some(format!("k{value}")),
                value,
                timestamp_ms,
            })
            .collect(),
    }
}

/// Carries out disk operations on the disk the simulator uses too.
pub(super) fn apply(disk: &mut MemDisk, ops: &[DiskOp]) {
    for op in ops {
        assert_eq!(disk.apply(op), None, "no fault is armed");
    }
}

fn small_log() -> Log {
    Log::new(
        TopicPartition::new("t", 0),
        LogConfig {
            segment_bytes: 200,
            ..LogConfig::default()
        },
    )
}

#[test]
fn append_assigns_dense_offsets_and_rolls_segments() {
    let mut log = small_log();
    let mut files = MemDisk::default();
    for i in 0..20 {
        let (base, ops) = log.append(batch(&[i * 2, i * 2 + 1]), LeaderEpoch(3));
        assert_eq!(base, Offset(i * 2));
        apply(&mut files, &ops);
    }
    assert_eq!(log.log_end_offset(), Offset(40));
    assert!(log.segment_count() > 1, "200-byte segments must roll");
    let read = log.read(Offset(5), Offset(9), 100);
    assert_eq!(read.first().unwrap().base_offset, Offset(4));
    assert_eq!(read.last().unwrap().next_offset(), Offset(9));
}

#[test]
fn recovery_restores_the_log_and_cuts_a_torn_tail() {
    let mut log = small_log();
    let mut files = MemDisk::default();
    for i in 0..20 {
        apply(&mut files, &log.append(batch(&[i]), LeaderEpoch(0)).1);
    }
    let (recovered, ops, report) =
        Log::recover(log.tp().clone(), log.config.clone(), files.read_all());
    assert!(ops.is_empty());
    assert_eq!(report.batches, 20);
    assert_eq!(recovered.log_end_offset(), Offset(20));

    // Tear the last segment in the middle of its last batch.
    let mut files = files.read_all();
    let last = files.iter_mut().max_by(|a, b| a.0.cmp(&b.0)).unwrap();
    let len = last.1.len();
    last.1.truncate(len - 3);
    let (recovered, ops, report) = Log::recover(log.tp().clone(), log.config.clone(), files);
    assert_eq!(recovered.log_end_offset(), Offset(19));
    assert!(report.bytes_truncated > 0);
    assert!(matches!(ops[0], DiskOp::Truncate { .. }));
}

#[test]
fn flush_messages_one_fsyncs_every_append() {
    let mut log = Log::new(
        TopicPartition::new("t", 0),
        LogConfig {
            segment_bytes: 1 << 20,
            flush_messages: Some(1),
            ..LogConfig::default()
        },
    );
    let (_, ops) = log.append(batch(&[1]), LeaderEpoch(0));
    assert!(matches!(ops.last(), Some(DiskOp::Fsync { .. })));
    let mut async_log = small_log();
    let (_, ops) = async_log.append(batch(&[1]), LeaderEpoch(0));
    assert!(!ops.iter().any(|op| matches!(op, DiskOp::Fsync { .. })));
}

/// A log of 3-record batches (values = offsets) over 200-byte segments, and its files.
fn filled_log(batches: u64) -> (Log, MemDisk) {
    let mut log = small_log();
    let mut files = MemDisk::default();
    for i in 0..batches {
        let (_, ops) = log.append(batch(&[i * 3, i * 3 + 1, i * 3 + 2]), LeaderEpoch(i as u32));
        apply(&mut files, &ops);
    }
    (log, files)
}

fn values(log: &Log) -> Vec<u64> {
    log.batches()
        .flat_map(|b| b.records.iter().map(|r| r.value))
        .collect()
}

/// Recovery from `files` gives `log` back: same end, batches and segments.
fn assert_recovers_to(log: &Log, files: &MemDisk) {
    let (recovered, ops, _) = Log::recover(log.tp().clone(), log.config.clone(), files.read_all());
    assert!(ops.is_empty(), "nothing to repair: {ops:?}");
    assert_eq!(recovered.log_end_offset(), log.log_end_offset());
    assert_eq!(
        recovered.batches().collect::<Vec<_>>(),
        log.batches().collect::<Vec<_>>()
    );
    let layout = |l: &Log| -> Vec<(Offset, String, u64)> {
        l.segments
            .iter()
            .map(|s| (s.base_offset, s.path.clone(), s.size_bytes))
            .collect()
    };
    assert_eq!(layout(&recovered), layout(log));
}

#[test]
fn truncation_mid_batch_mid_segment_and_across_segments_survives_recovery() {
    // Two batches per segment: segments start at 0, 6, 12, ... 30; the log ends at 36.
    assert_eq!(filled_log(12).0.segments[1].base_offset, Offset(6));
    let cases = [
        ("mid batch in the last segment", 34),
        ("batch boundary mid segment", 9),
        ("mid batch across segments", 7),
        ("segment boundary", 6),
        ("inside the first batch", 1),
    ];
    for (case, end) in cases {
        let (mut log, mut files) = filled_log(12);
        let ops = log.truncate_to(Offset(end));
        apply(&mut files, &ops);
        assert_eq!(log.log_end_offset(), Offset(end), "{case}");
        assert_eq!(values(&log), (0..end).collect::<Vec<_>>(), "{case}");
        assert!(
            log.batches()
                .all(|b| b.leader_epoch.0 as u64 == b.base_offset.0 / 3),
            "{case}"
        );
        assert_recovers_to(&log, &files);
    }
}

#[test]
fn truncation_to_the_log_start_or_past_the_end() {
    let (mut log, mut files) = filled_log(4);
    assert!(log.truncate_to(Offset(12)).is_empty() && log.truncate_to(Offset(99)).is_empty());
    apply(&mut files, &log.truncate_to(Offset(0)));
    let files = files.read_all();
    assert_eq!(
        files.len(),
        1,
        "every segment deleted but an empty one at the start"
    );
    assert!(files[0].1.is_empty());
    assert_eq!((log.log_end_offset(), log.segment_count()), (Offset(0), 1));
    let (recovered, ops, _) = Log::recover(log.tp().clone(), log.config.clone(), files);
    assert_eq!(recovered.log_end_offset(), Offset(0));
    assert!(
        matches!(ops.as_slice(), [DiskOp::Delete { .. }]),
        "an empty log at 0 needs no file"
    );
}

#[test]
fn appending_after_a_truncation_continues_at_the_new_end() {
    let (mut log, mut files) = filled_log(12);
    apply(&mut files, &log.truncate_to(Offset(7)));
    let (base, ops) = log.append(batch(&[100, 101]), LeaderEpoch(20));
    apply(&mut files, &ops);
    assert_eq!(base, Offset(7));
    let mut replicated = batch(&[102]);
    replicated.base_offset = Offset(9);
    replicated.leader_epoch = LeaderEpoch(21);
    apply(&mut files, &log.append_replicated(replicated).unwrap());
    assert_eq!(log.log_end_offset(), Offset(10));
    assert_eq!(values(&log), vec![0, 1, 2, 3, 4, 5, 6, 100, 101, 102]);
    assert_recovers_to(&log, &files);
}

#[test]
fn append_replicated_keeps_the_leaders_offsets_and_epochs_and_refuses_a_gap() {
    let mut log = small_log();
    let mut files = MemDisk::default();
    for (base, epoch, records) in [(0, 1, &[10, 11][..]), (2, 1, &[12]), (3, 4, &[13, 14])] {
        let mut copied = batch(records);
        copied.base_offset = Offset(base);
        copied.leader_epoch = LeaderEpoch(epoch);
        apply(&mut files, &log.append_replicated(copied.clone()).unwrap());
        assert_eq!(log.batches().last(), Some(&copied));
    }
    let mut gap = batch(&[20]);
    gap.base_offset = Offset(6);
    assert_eq!(
        log.append_replicated(gap),
        Err(LogError::NotContiguous {
            expected: Offset(5),
            got: Offset(6)
        })
    );
    let mut empty = batch(&[]);
    empty.base_offset = Offset(5);
    assert_eq!(
        log.append_replicated(empty),
        Err(LogError::EmptyBatch { at: Offset(5) })
    );
    assert_eq!(log.log_end_offset(), Offset(5));
    assert_recovers_to(&log, &files);
}

#[test]
fn batches_from_serves_whole_batches_up_to_the_log_end() {
    let (log, _) = filled_log(12);
    let served = log.batches_from(Offset(4), 4);
    assert_eq!(
        served.iter().map(|b| b.base_offset).collect::<Vec<_>>(),
        vec![Offset(3), Offset(6)]
    );
    assert_eq!(
        log.batches_from(Offset(33), 0).len(),
        1,
        "at least one batch"
    );
    assert_eq!(log.batches_from(Offset(0), usize::MAX).len(), 12);
    assert!(log.batches_from(Offset(36), 10).is_empty());
}

#[test]
fn reset_to_restarts_the_log_there_and_recovery_agrees() {
    let (mut log, mut files) = filled_log(4);
    apply(&mut files, &log.reset_to(Offset(100)));
    assert_eq!(
        (log.log_start_offset(), log.log_end_offset()),
        (Offset(100), Offset(100))
    );
    assert_recovers_to(&log, &files);
    // The empty segment takes the next appends, whatever their size.
    let mut copied = batch(&(0..50).collect::<Vec<_>>());
    copied.base_offset = Offset(100);
    apply(&mut files, &log.append_replicated(copied).unwrap());
    apply(&mut files, &log.append(batch(&[7]), LeaderEpoch(2)).1);
    assert_eq!(log.segment_base_offsets(), vec![Offset(100), Offset(150)]);
    assert_recovers_to(&log, &files);
    // Truncating below the log start is a reset too.
    apply(&mut files, &log.truncate_to(Offset(90)));
    assert_eq!(log.log_start_offset(), Offset(90));
    assert_recovers_to(&log, &files);
}

#[test]
fn recovery_starts_the_log_at_the_oldest_file_left() {
    let (log, files) = filled_log(12);
    // As if retention had deleted the first two segments.
    let rest: Vec<_> = files.read_all().into_iter().skip(2).collect();
    let (recovered, ops, report) = Log::recover(log.tp().clone(), log.config.clone(), rest);
    assert!(ops.is_empty());
    assert_eq!(report.batches, 8);
    assert_eq!(recovered.log_start_offset(), Offset(12));
    assert_eq!(recovered.log_end_offset(), Offset(36));
    assert_eq!(
        recovered.check_read_offset(Offset(11)),
        Err(LogError::OffsetOutOfRange {
            offset: Offset(11),
            log_start: Offset(12),
            log_end: Offset(36)
        })
    );
}

#[test]
fn a_lone_torn_file_is_an_empty_log_where_its_name_says() {
    let mut log = Log::new(TopicPartition::new("t", 0), LogConfig::default());
    let mut files = MemDisk::default();
    apply(&mut files, &log.reset_to(Offset(40)));
    apply(&mut files, &log.append(batch(&[1, 2]), LeaderEpoch(0)).1);
    let mut files = files.read_all();
    files[0].1.truncate(5);
    let (recovered, ops, report) = Log::recover(log.tp().clone(), log.config.clone(), files);
    assert_eq!(
        (recovered.log_start_offset(), recovered.log_end_offset()),
        (Offset(40), Offset(40))
    );
    assert_eq!(report.bytes_truncated, 5);
    assert!(matches!(ops.as_slice(), [DiskOp::Truncate { len: 0, .. }]));
}

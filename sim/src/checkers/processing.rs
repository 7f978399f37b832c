//! lost-processing and duplicate-processing: what a consumer group did with each record,
//! per group and partition. A record below the group's committed offset that no member
//! processed is lost to the group; a record its members processed twice is duplicated.
//!
//! Source: DESIGN.md sections 3 and 5 ("at-least-once delivery to each group") and Kafka's
//! delivery semantics (the consumer documentation's "Offsets and Consumer Position"; the
//! classic group protocol hands a partition's next owner the committed offset). The
//! committed offset is last processed + 1 when a group commits after processing
//! (at-least-once: a member that dies before committing leaves records to be processed
//! again, never lost), and the polled end when it commits before (at-most-once:
//! `Promises::at_most_once_groups`; a member that dies between commit and processing loses
//! records, never repeats them).
//!
//! The committed offset C of (group, partition) is the highest offset of any commit ok,
//! not the last to complete. Each ok declared, at that moment, that everything below it
//! was done; a later lower commit (itself a commit-backwards anomaly, e.g. a zombie's
//! overwrite) does not undo that, and must not hide the records between. In a run without
//! commit-backwards the two are the same; with async commits in flight together the
//! completion order is not even the order they were applied in.
//!
//! The records required are the offsets in [S, C) where some send ok or poll placed a
//! record, where S is the lowest offset any member of the group was `assign`ed for the
//! partition (where the group started reading it). A process is a member of the group of
//! its most recent `assignment`. Not required: offsets a reset jumped over, from the prior
//! position to the new one. A reset is an `assign` whose reason is not "committed": one after
//! OFFSET_OUT_OF_RANGE skips what retention deleted (another checker owns that verdict),
//! one for want of a committed offset skips by `auto.offset.reset` (`latest`), which Kafka
//! allows. The prior position is the member's own since its latest assignment (its last
//! read plus one, or last `assign`), else the highest commit ok so far (no member's
//! position is lower: a new owner starts at the committed offset), else 0. A record is
//! processed if its offset is (any value: a reused offset is inconsistent-offsets'
//! business); twice counts by (offset, value): two records that shared an offset are not
//! one record twice.
//!
//! Soundness: at-most-once duplicates assume a member processes a poll only after its
//! commit is ok. If committed records or offsets may vanish (unclean election, power loss
//! with async flush), both anomalies are allowed with that excuse.

use super::group_view::ranges;
use super::view::{name, sightings, Partition};
use super::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::history::{History, OpType, Operation};
use std::collections::BTreeMap;

/// The cap on values listed in an anomaly, and on ranges in its detail.
const MAX_LISTED: usize = 20;

/// What one group did with one partition.
#[derive(Default)]
struct GroupPartition {
    /// The lowest position any member was assigned.
    start: Option<u64>,
    /// Offsets resets jumped over: [from, to).
    skipped: Vec<(u64, u64)>,
    /// The highest committed offset so far, and the first ok that committed it.
    committed: Option<(u64, u64)>,
    /// offset -> value -> history indices of the process ops that processed it.
    processed: BTreeMap<u64, BTreeMap<u64, Vec<u64>>>,
}

impl GroupPartition {
    fn skipped(&self, offset: u64) -> bool {
        self.skipped
            .iter()
            .any(|&(from, to)| (from..to).contains(&offset))
    }
}

type Key<'h> = (&'h str, Partition<'h>);

/// Walks the history once: the group of each process, each member's position, and per
/// (group, partition) its start, skips, commits and processing.
fn group_partitions(history: &History) -> BTreeMap<Key<'_>, GroupPartition> {
    let mut group_of: BTreeMap<&str, &str> = BTreeMap::new();
    // process -> partition -> its position since its latest assignment
    let mut positions: BTreeMap<&str, BTreeMap<Partition<'_>, u64>> = BTreeMap::new();
    let mut by_key: BTreeMap<Key<'_>, GroupPartition> = BTreeMap::new();
    for entry in &history.entries {
        if entry.op_type != OpType::Ok {
            continue;
        }
        let process = entry.process.as_str();
        match &entry.op {
            Operation::Assignment(a) => {
                group_of.insert(process, &a.group);
                positions.insert(process, BTreeMap::new());
            }
            Operation::Assign(assign) => {
                let Some(&group) = group_of.get(process) else {
                    continue; // not a group member: a plain consumer
                };
                let partition = (assign.topic.as_str(), assign.partition);
                let own = positions.entry(process).or_default();
                let gp = by_key.entry((group, partition)).or_default();
                // A position from the committed offset jumps nothing; any other is a reset.
                let from = (!assign.reason.starts_with("committed")).then(|| {
                    let committed = gp.committed.map_or(0, |(offset, _)| offset);
                    own.get(&partition).copied().unwrap_or(committed)
                });
                if let Some(from) = from.filter(|&from| from < assign.offset) {
                    gp.skipped.push((from, assign.offset));
                }
                gp.start = Some(gp.start.map_or(assign.offset, |s| s.min(assign.offset)));
                own.insert(partition, assign.offset);
            }
            Operation::Poll(poll) => {
                if let Some(own) = positions.get_mut(process) {
                    for r in &poll.records {
                        own.insert((r.topic.as_str(), r.partition), r.offset + 1);
                    }
                }
            }
            Operation::Commit(commit) => {
                for o in &commit.offsets {
                    let gp = by_key
                        .entry((commit.group.as_str(), (o.topic.as_str(), o.partition)))
                        .or_default();
                    if gp.committed.is_none_or(|(c, _)| o.offset > c) {
                        gp.committed = Some((o.offset, entry.index));
                    }
                }
            }
            Operation::Process(p) => {
                for r in &p.records {
                    by_key
                        .entry((p.group.as_str(), (r.topic.as_str(), r.partition)))
                        .or_default()
                        .processed
                        .entry(r.offset)
                        .or_default()
                        .entry(r.value)
                        .or_default()
                        .push(entry.index);
                }
            }
            Operation::Send(_)
            | Operation::Produce(_)
            | Operation::Fetch(_)
            | Operation::Group(_)
            // Transactions are judged by their own checkers (checkers/txn).
            | Operation::Txn(_) => {}
        }
    }
    by_key
}

pub fn check(history: &History, promises: &Promises) -> Vec<Anomaly> {
    // partition -> offset -> the first value the history placed there
    let mut records: BTreeMap<Partition<'_>, BTreeMap<u64, u64>> = BTreeMap::new();
    for s in sightings(history) {
        records
            .entry(s.partition)
            .or_default()
            .entry(s.offset)
            .or_insert(s.value);
    }
    let mut anomalies = Vec::new();
    for ((group, partition), gp) in group_partitions(history) {
        let at_most_once = promises.at_most_once_groups.iter().any(|g| g == group);
        let none = BTreeMap::new();
        let known = records.get(&partition).unwrap_or(&none);
        anomalies.extend(lost(group, partition, &gp, known, at_most_once, promises));
        anomalies.extend(duplicated(group, partition, &gp, at_most_once, promises));
    }
    anomalies.sort_by_key(|anomaly| anomaly.index);
    anomalies
}

fn lost(
    group: &str,
    partition: Partition<'_>,
    gp: &GroupPartition,
    known: &BTreeMap<u64, u64>,
    at_most_once: bool,
    promises: &Promises,
) -> Option<Anomaly> {
    let ((committed, index), start) = (gp.committed?, gp.start?);
    let unprocessed: Vec<(u64, u64)> = known
        .range(start..committed)
        .filter(|(offset, _)| !gp.processed.contains_key(offset))
        .map(|(&offset, &value)| (offset, value))
        .collect();
    let (skipped, missing): (Vec<_>, Vec<_>) =
        unprocessed.into_iter().partition(|(o, _)| gp.skipped(*o));
    if missing.is_empty() {
        return None;
    }
    let offsets: Vec<u64> = missing.iter().map(|(o, _)| *o).collect();
    let (verdict, why) = if at_most_once {
        (
            Verdict::Allowed,
            "the group commits before processing: a member that dies between its commit \
             and its processing loses those records",
        )
    } else {
        promises.unless_loss_excused(
            "the group commits after processing: Kafka's at-least-once promises every record \
             below the committed offset was processed",
        )
    };
    let resets = match skipped.len() {
        0 => String::new(),
        n => format!(" ({n} more jumped over by offset resets, not counted)"),
    };
    let detail = format!(
        "group {group} {}: {} record(s) from offset {start} below committed offset \
         {committed} (ok #{index}) never processed{resets}: offsets {}",
        name(&partition),
        missing.len(),
        ranges(&offsets, MAX_LISTED)
    );
    // Every missing record counts for the excuse, not only the listed ones.
    let values = missing.iter().map(|(_, v)| *v).collect();
    let anomaly = Anomaly::new(
        AnomalyKind::LostProcessing,
        (verdict, why),
        detail,
        values,
        index,
    );
    Some(
        anomaly
            .unless_loss_explains()
            .involving(partition.0, partition.1, offsets),
    )
}

fn duplicated(
    group: &str,
    partition: Partition<'_>,
    gp: &GroupPartition,
    at_most_once: bool,
    promises: &Promises,
) -> Option<Anomaly> {
    // (offset, value, times processed, index of the second processing)
    let twice: Vec<(u64, u64, usize, u64)> = gp
        .processed
        .iter()
        .flat_map(|(&offset, values)| {
            values
                .iter()
                .filter(|(_, at)| at.len() > 1)
                .map(move |(&value, at)| (offset, value, at.len(), at[1]))
        })
        .collect();
    let index = twice.iter().map(|t| t.3).min()?;
    let mut offsets: Vec<u64> = twice.iter().map(|t| t.0).collect();
    offsets.dedup(); // two values at one offset: list the offset once
    let extra: usize = twice.iter().map(|t| t.2 - 1).sum();
    let (verdict, why) = if at_most_once {
        promises.unless_loss_excused(
            "the group commits before processing: Kafka's at-most-once promises no record \
             is processed twice",
        )
    } else {
        (
            Verdict::Allowed,
            "the group commits after processing: a member that dies before committing \
             leaves its records to be processed again",
        )
    };
    let detail = format!(
        "group {group} {}: {} record(s) processed more than once ({extra} extra \
         time(s)): offsets {}",
        name(&partition),
        twice.len(),
        ranges(&offsets, MAX_LISTED)
    );
    let values = twice.iter().map(|t| t.1).collect();
    let anomaly = Anomaly::new(
        AnomalyKind::DuplicateProcessing,
        (verdict, why),
        detail,
        values,
        index,
    );
    // A lost commit sends the group back over records it processed; lost records let
    // others take their offsets.
    Some(
        anomaly
            .unless_loss_explains()
            .involving_group(group)
            .involving(partition.0, partition.1, offsets),
    )
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;

    const M1: (&str, &str, u32) = ("g1", "m1", 1);
    const M2: (&str, &str, u32) = ("g1", "m2", 2);

    fn at_most_once() -> Promises {
        Promises {
            at_most_once_groups: vec!["g1".into()],
            ..Promises::default()
        }
    }

    /// Records 0..6 on partition 0 (value = 10 + offset); m1 reads 0..4 in generation 1.
    fn m1_reads_the_start() -> History {
        let mut h = History::default();
        for offset in 0..6 {
            send(&mut h, "producer-1", 10 + offset, "all", 0, offset);
        }
        assignment(&mut h, "g1-m1", "g1", "m1", 1, &[0]);
        assign_because(&mut h, "g1-m1", 0, 0, "auto.offset.reset=earliest");
        poll(
            &mut h,
            "g1-m1",
            &[(0, 0, 10), (0, 1, 11), (0, 2, 12), (0, 3, 13)],
        );
        h
    }

    #[test]
    fn an_at_least_once_group_that_processes_before_committing_passes() {
        let mut h = m1_reads_the_start();
        process(&mut h, "g1-m1", M1, &[(0, 0, 10), (0, 1, 11)]);
        commit(&mut h, "g1-m1", M1, &[(0, 2)]);
        process(&mut h, "g1-m1", M1, &[(0, 2, 12), (0, 3, 13)]); // dies before committing
        assignment(&mut h, "g1-m2", "g1", "m2", 2, &[0]);
        assign_because(&mut h, "g1-m2", 0, 2, "committed");
        poll(&mut h, "g1-m2", &[(0, 2, 12), (0, 3, 13), (0, 4, 14)]);
        process(&mut h, "g1-m2", M2, &[(0, 2, 12), (0, 3, 13), (0, 4, 14)]);
        commit(&mut h, "g1-m2", M2, &[(0, 5)]); // offset 5 unprocessed: above C
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::DuplicateProcessing);
        assert_eq!(found[0].verdict, Verdict::Allowed);
        assert_eq!(found[0].values, vec![12, 13]);
        assert!(found[0]
            .detail
            .contains("2 record(s) processed more than once (2 extra time(s)): offsets 2-3"));
        // At-most-once, the same repeat breaks the promise.
        assert_eq!(check(&h, &at_most_once())[0].verdict, Verdict::Violation);
    }

    #[test]
    fn records_below_the_committed_offset_never_processed_are_lost() {
        let mut h = m1_reads_the_start();
        process(&mut h, "g1-m1", M1, &[(0, 0, 10)]);
        commit(&mut h, "g1-m1", M1, &[(0, 4)]); // commits before processing 1..3
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::LostProcessing);
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert_eq!(found[0].index, h.entries.len() as u64 - 1);
        assert_eq!(found[0].values, vec![11, 12, 13]);
        assert_eq!(
            found[0].detail,
            "group g1 t/0: 3 record(s) from offset 0 below committed offset 4 (ok #18) \
             never processed: offsets 1-3"
        );
        // At-most-once: a member that died after its commit. At-least-once: only a loss
        // of those records could excuse it, which the excuse pass looks for.
        assert_eq!(check(&h, &at_most_once())[0].verdict, Verdict::Allowed);
        let found = check(&h, &Promises::default());
        assert!(found[0].verdict == Verdict::Violation && found[0].excusable);
    }

    #[test]
    fn the_highest_commit_counts_even_if_a_zombie_commits_lower_later() {
        let mut h = m1_reads_the_start();
        commit(&mut h, "g1-m1", M1, &[(0, 4)]); // at-most-once: before processing
        assignment(&mut h, "g1-m2", "g1", "m2", 2, &[0]);
        commit(&mut h, "g1-m1", M1, &[(0, 1)]); // stale, accepted by a broken coordinator
        process(&mut h, "g1-m1", M1, &[(0, 0, 10)]);
        let found = check(&h, &at_most_once());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].detail.contains("offsets 1-3"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn offsets_a_reset_jumped_over_and_offsets_before_the_start_are_not_lost() {
        let mut h = History::default();
        for offset in 0..6 {
            send(&mut h, "producer-1", 10 + offset, "all", 0, offset);
        }
        assignment(&mut h, "g1-m1", "g1", "m1", 1, &[0]);
        assign_because(&mut h, "g1-m1", 0, 0, "auto.offset.reset=earliest");
        poll(&mut h, "g1-m1", &[(0, 0, 10), (0, 1, 11)]);
        process(&mut h, "g1-m1", M1, &[(0, 0, 10), (0, 1, 11)]);
        commit(&mut h, "g1-m1", M1, &[(0, 2)]);
        // Retention deleted 2..3 before m1 fetched them: it resets to the log start.
        assign_because(&mut h, "g1-m1", 0, 4, "offset-out-of-range");
        poll(&mut h, "g1-m1", &[(0, 4, 14)]);
        process(&mut h, "g1-m1", M1, &[(0, 4, 14)]);
        commit(&mut h, "g1-m1", M1, &[(0, 5)]);
        // Another group starts at the end with `latest`: nothing before it is required.
        assignment(&mut h, "g2-m1", "g2", "n1", 1, &[0]);
        assign_because(&mut h, "g2-m1", 0, 5, "auto.offset.reset=latest");
        commit(&mut h, "g2-m1", ("g2", "n1", 1), &[(0, 5)]);
        assert_eq!(check(&h, &Promises::default()), vec![]);
        // A loss below the reset's prior position still counts, and says what it left out.
        let mut h2 = m1_reads_the_start();
        process(&mut h2, "g1-m1", M1, &[(0, 0, 10), (0, 2, 12), (0, 3, 13)]);
        assign_because(&mut h2, "g1-m1", 0, 5, "auto.offset.reset=latest"); // from 4
        commit(&mut h2, "g1-m1", M1, &[(0, 5)]);
        let found = check(&h2, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].detail.contains("1 record(s)")
                && found[0]
                    .detail
                    .contains("(1 more jumped over by offset resets, not counted): offsets 1"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn a_later_member_without_a_committed_offset_may_start_at_the_end() {
        let mut h = m1_reads_the_start();
        process(&mut h, "g1-m1", M1, &[(0, 0, 10)]); // dies before any commit
        assignment(&mut h, "g1-m2", "g1", "m2", 2, &[0]);
        assign_because(&mut h, "g1-m2", 0, 5, "auto.offset.reset=latest");
        poll(&mut h, "g1-m2", &[(0, 5, 15)]);
        process(&mut h, "g1-m2", M2, &[(0, 5, 15)]);
        commit(&mut h, "g1-m2", M2, &[(0, 6)]);
        assert_eq!(check(&h, &Promises::default()), vec![]);
    }
}

//! lost-write: an acknowledged send whose record is gone from the consumers' final view of
//! its partition. With acks "1" or "all" the send has an offset, and a reader that got past
//! it without it shows the loss; with acks=0 there is no offset, and a reader of the whole
//! partition that kept reading after the send and never saw it shows the loss.
//!
//! Source: the `lost-write` anomaly of Jepsen's Kafka workload (jepsen.tests.kafka), as
//! defined in the analyses "Jepsen: Redpanda 21.10.1" and "Jepsen: Kafka 3.x": a write is
//! lost when readers got past its offset without seeing it; a write no reader got past is
//! `unseen`, a liveness matter not reported here.
//!
//! The final view of a partition is, for each consumer, what it read in its last assignment
//! of that partition. The write of value v at (p, o) is lost if some consumer's last
//! assignment of p started at or below o and read an offset above o, or another value at o,
//! but never v at o. Kafka promises acks=all writes survive under clean election unless a
//! power loss meets asynchronous flush; with acks=1 a leader failover may lose them. A
//! transaction's sends are left to `txn::lost_write`: only a committed one must be read.

use super::view::{assignments, name, Partition};
use super::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::history::{History, OpType, Operation};
use std::collections::BTreeMap;

/// A consumer's last assignment of a partition: offset -> value -> first poll index.
struct FinalView<'a> {
    consumer: &'a str,
    start: u64,
    read: BTreeMap<u64, BTreeMap<u64, u64>>,
}

impl FinalView<'_> {
    /// For a write without an offset (acks=0) sent at history index `sent_index`: the
    /// first read of this view after it, if the view covers the partition from its start
    /// and never holds `value`.
    fn never_saw(&self, sent_index: u64, value: u64) -> Option<u64> {
        if self.start > 0 || self.read.values().any(|v| v.contains_key(&value)) {
            return None;
        }
        self.read
            .values()
            .flat_map(|values| values.values())
            .copied()
            .filter(|index| *index > sent_index)
            .min()
    }

    /// Where this view shows that `value` is not at `offset`: the poll that read another
    /// value there, or else the first read past it. `None` if the view holds it, or never
    /// got that far.
    fn misses(&self, offset: u64, value: u64) -> Option<(u64, String)> {
        if self.start > offset {
            return None;
        }
        if let Some(values) = self.read.get(&offset) {
            if values.contains_key(&value) {
                return None;
            }
            let (other, index) = values.iter().next().expect("a read offset has a value");
            return Some((*index, format!("read value {other} there")));
        }
        let (past, values) = self.read.range(offset + 1..).next()?;
        let index = values.values().min().expect("a read offset has a value");
        Some((*index, format!("read on to offset {past}")))
    }
}

fn final_views(history: &History) -> BTreeMap<Partition<'_>, Vec<FinalView<'_>>> {
    let mut views: BTreeMap<Partition<'_>, Vec<FinalView<'_>>> = BTreeMap::new();
    for ((consumer, partition), assignments) in assignments(history) {
        let Some(last) = assignments.last() else {
            continue;
        };
        let mut read: BTreeMap<u64, BTreeMap<u64, u64>> = BTreeMap::new();
        for r in &last.reads {
            read.entry(r.offset)
                .or_default()
                .entry(r.value)
                .or_insert(r.index);
        }
        let Some(start) = last.start.or(last.reads.first().map(|r| r.offset)) else {
            continue;
        };
        views.entry(partition).or_default().push(FinalView {
            consumer,
            start,
            read,
        });
    }
    views
}

pub fn check(history: &History, promises: &Promises) -> Vec<Anomaly> {
    let views = final_views(history);
    // A transaction's sends are acknowledged before it commits or aborts: whether a reader
    // must see them is `txn::lost_write`'s to judge (read_committed skips aborted ones).
    let transactional = super::txn::transactional_values(history);
    let mut anomalies = Vec::new();
    for entry in &history.entries {
        let (OpType::Ok, Operation::Send(send)) = (entry.op_type, &entry.op) else {
            continue;
        };
        if transactional.contains(&send.value) {
            continue;
        }
        let Some(p) = send.partition else {
            continue;
        };
        let partition = (send.topic.as_str(), p);
        let Some(readers) = views.get(&partition) else {
            continue;
        };
        let evidence = match send.offset {
            Some(offset) => readers
                .iter()
                .filter_map(|view| view.misses(offset, send.value).map(|m| (m, view)))
                .min_by_key(|((index, _), _)| *index),
            // acks=0 gives no offset: the write is lost if a reader of the whole
            // partition kept reading after it was sent and never saw it.
            None => readers
                .iter()
                .filter_map(|view| {
                    view.never_saw(entry.index, send.value)
                        .map(|index| ((index, "read the whole partition".to_string()), view))
                })
                .min_by_key(|((index, _), _)| *index),
        };
        let offset = send
            .offset
            .map_or_else(|| "? (acks=0)".to_string(), |o| o.to_string());
        let Some(((index, what), view)) = evidence else {
            continue;
        };
        let (verdict, why) = classify(&send.acks, promises);
        let anomaly = Anomaly::new(
            AnomalyKind::LostWrite,
            (verdict, why),
            format!(
                "{} value {} acked (acks={}) at {} offset {offset}, but {}'s last assignment \
                 (from offset {}) {what} without it",
                entry.process,
                send.value,
                send.acks,
                name(&partition),
                view.consumer,
                view.start
            ),
            vec![send.value],
            index,
        );
        let offsets = send.offset.into_iter().collect();
        anomalies.push(
            anomaly
                .unless_loss_explains()
                .involving(partition.0, partition.1, offsets),
        );
    }
    anomalies.sort_by_key(|anomaly| anomaly.index);
    anomalies
}

/// The verdict on a lost write acknowledged with `acks` (`retention_skip` judges the writes
/// it finds gone the same way).
pub(crate) fn classify(acks: &str, promises: &Promises) -> (Verdict, &'static str) {
    match acks {
        "all" | "-1" => {
            promises.unless_loss_excused("acks=all: Kafka promises an acknowledged write survives")
        }
        "0" => (
            Verdict::Allowed,
            "acks=0: the producer never hears whether a write arrived",
        ),
        _ => (
            Verdict::Allowed,
            "acks=1: a leader failover may lose a write only the leader had",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;

    #[test]
    fn writes_in_the_final_view_or_not_yet_reached_are_not_lost() {
        let mut h = History::default();
        send(&mut h, "producer-1", 1, "all", 0, 0);
        send(&mut h, "producer-1", 2, "all", 0, 1);
        send(&mut h, "producer-1", 3, "all", 0, 2); // unseen: nobody read that far
        send(&mut h, "producer-1", 4, "all", 1, 0); // unseen: nobody read partition 1
        assign(&mut h, "consumer-1", 0, 0);
        poll(&mut h, "consumer-1", &[(0, 0, 1), (0, 1, 2)]);
        assign(&mut h, "consumer-2", 0, 1); // started above offset 0: no say on it
        poll(&mut h, "consumer-2", &[(0, 1, 2)]);
        assert_eq!(check(&h, &Promises::default()), vec![]);
    }

    #[test]
    fn a_write_read_past_in_the_last_assignment_is_lost() {
        let mut h = History::default();
        send(&mut h, "producer-1", 1, "all", 0, 0);
        send(&mut h, "producer-1", 2, "all", 0, 1);
        assign(&mut h, "consumer-1", 0, 0);
        poll(&mut h, "consumer-1", &[(0, 0, 1), (0, 1, 2)]); // seen once...
        assign(&mut h, "consumer-1", 0, 0); // ...but after a reset the log differs
        poll(&mut h, "consumer-1", &[(0, 0, 1), (0, 1, 9), (0, 2, 8)]);
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert_eq!(found[0].index, 9);
        assert!(
            found[0].detail.contains("read value 9 there"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn a_gap_in_the_final_view_loses_the_write_and_acks_decide_the_verdict() {
        let mut h = History::default();
        send(&mut h, "producer-1", 1, "1", 0, 3);
        send(&mut h, "producer-1", 2, "all", 0, 4);
        ack(&mut h, "producer-1", 3, "0", 0, None);
        poll(&mut h, "consumer-1", &[(0, 2, 5), (0, 5, 6)]);
        let found = check(&h, &Promises::default());
        let verdicts: Vec<_> = found.iter().map(|a| a.verdict).collect();
        assert_eq!(
            verdicts,
            vec![Verdict::Allowed, Verdict::Violation],
            "{found:?}"
        );
        // The acks=0 write: consumer-1 started at offset 2, so it cannot tell.
        assign(&mut h, "consumer-2", 0, 0);
        poll(&mut h, "consumer-2", &[(0, 0, 7), (0, 1, 8)]);
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[2].values == vec![3] && found[2].verdict == Verdict::Allowed);
        assert!(found[2].why.contains("acks=0"), "{}", found[2].why);
        assert!(
            found[0].detail.contains("read on to offset 5"),
            "{}",
            found[0].detail
        );
        // Async flush alone excuses nothing: the acks=all loss waits for the excuse pass.
        let async_flush = Promises {
            async_flush: true,
            ..Promises::default()
        };
        let found = check(&h, &async_flush);
        assert!(found[0].verdict == Verdict::Allowed && !found[0].excusable);
        assert!(found[1].verdict == Verdict::Violation && found[1].excusable);
    }
}

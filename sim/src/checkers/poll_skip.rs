//! poll-skip: within one assignment of a partition, a consumer's successive reads go from
//! offset a to an offset b > a + 1, skipping the records between (offsets are dense here: no
//! compaction, no transaction markers). The first read after an `assign` at offset s must be
//! s itself; reading b > s skips s to b - 1.
//!
//! Source: the `poll-skip` anomaly of Jepsen's Kafka workload (jepsen.tests.kafka), as
//! defined in the analyses "Jepsen: Redpanda 21.10.1" and "Jepsen: Kafka 3.x". Kafka promises
//! a consumer reads every record of its partition in order; only a power loss that meets
//! asynchronous flush lets a truncated log reuse offsets and leave a reader a gap.
//!
//! A topic transactions wrote to has markers (and, under read_committed, aborted records)
//! between records: its offsets are not dense, and `txn::poll_skip` judges it instead.

use super::view::{name, successive_reads, Before};
use super::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::history::History;

pub fn check(history: &History, promises: &Promises) -> Vec<Anomaly> {
    let (verdict, why) = classify(promises);
    let transactional = super::txn::transactional_topics(history);
    let mut anomalies: Vec<Anomaly> = successive_reads(history)
        .into_iter()
        .filter(|(_, partition, _, _)| !transactional.contains(partition.0))
        .filter_map(|(consumer, partition, before, read)| {
            let (next, after) = match before {
                Before::Read(a) => (a + 1, format!("offset {a}")),
                Before::Assigned(s) => (s, format!("assign at {s}")),
                Before::Nothing => return None,
            };
            (read.offset > next).then(|| {
                let detail = format!(
                    "{consumer} read {} offset {} (value {}) after {after}, skipping offsets {next} to {}",
                    name(&partition),
                    read.offset,
                    read.value,
                    read.offset - 1
                );
                let skipped = (next..read.offset).collect();
                Anomaly::new(AnomalyKind::PollSkip, (verdict, why), detail, vec![read.value], read.index)
                    .unless_loss_explains()
                    .involving(partition.0, partition.1, skipped)
            })
        })
        .collect();
    anomalies.sort_by_key(|anomaly| anomaly.index);
    anomalies
}

fn classify(promises: &Promises) -> (Verdict, &'static str) {
    promises.unless_loss_excused("Kafka promises a consumer reads its partition without gaps")
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;

    #[test]
    fn contiguous_reads_across_polls_and_assignments_pass() {
        let mut h = History::default();
        assign(&mut h, "consumer-1", 0, 3);
        poll(&mut h, "consumer-1", &[(0, 3, 1), (1, 9, 5), (0, 4, 2)]);
        poll(&mut h, "consumer-1", &[(0, 5, 3)]);
        assign(&mut h, "consumer-1", 0, 0); // a reset starts a new assignment
        poll(&mut h, "consumer-1", &[(0, 0, 7)]);
        poll(&mut h, "consumer-2", &[(0, 4, 2)]); // no assign: any first offset
        assert_eq!(check(&h, &Promises::default()), vec![]);
    }

    #[test]
    fn a_gap_between_successive_reads_is_a_skip() {
        let mut h = History::default();
        assign(&mut h, "consumer-1", 0, 0);
        poll(&mut h, "consumer-1", &[(0, 0, 1), (0, 1, 2)]);
        poll(&mut h, "consumer-1", &[(0, 4, 5)]);
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert_eq!(found[0].index, 4);
        assert!(
            found[0].detail.contains("skipping offsets 2 to 3"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn a_first_read_past_the_assigned_offset_is_a_skip() {
        let mut h = History::default();
        assign(&mut h, "consumer-1", 0, 2);
        poll(&mut h, "consumer-1", &[(0, 3, 1)]);
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].detail.contains("after assign at 2"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn a_skip_is_left_to_the_excuse_pass_with_the_offsets_skipped() {
        let mut h = History::default();
        poll(&mut h, "consumer-1", &[(0, 0, 1), (0, 3, 2)]);
        let promises = Promises {
            async_flush: true,
            ..Promises::default()
        };
        let found = check(&h, &promises);
        assert!(found[0].verdict == Verdict::Violation && found[0].excusable);
        assert!(matches!(&found[0].scope[0],
            super::super::LossScope::Records { offsets, .. } if offsets == &vec![1, 2]));
    }
}

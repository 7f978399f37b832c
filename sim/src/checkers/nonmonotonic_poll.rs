//! nonmonotonic-poll: within one assignment of a partition, a consumer reads offset b after
//! offset a with b <= a (it went back, or read one offset twice). The first read after an
//! `assign` at offset s must not be below s either.
//!
//! Source: the `nonmonotonic-poll` anomaly of Jepsen's Kafka workload (jepsen.tests.kafka),
//! as defined in the analyses "Jepsen: Redpanda 21.10.1" and "Jepsen: Kafka 3.x". Kafka
//! promises a consumer reads its partition in increasing offset order; only a power loss that
//! meets asynchronous flush lets a truncated log reuse offsets a reader has already passed.
//! A position reset (an `assign` after OffsetOutOfRange) starts a new assignment, so going
//! back across it is not reported here.

use super::view::{name, successive_reads, Before};
use super::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::history::History;

pub fn check(history: &History, promises: &Promises) -> Vec<Anomaly> {
    let (verdict, why) = classify(promises);
    let mut anomalies: Vec<Anomaly> = successive_reads(history)
        .into_iter()
        .filter_map(|(consumer, partition, before, read)| {
            let (after, back_from) = match before {
                Before::Read(a) if read.offset <= a => (format!("offset {a}"), a),
                Before::Assigned(s) if read.offset < s => (format!("assign at {s}"), s),
                _ => return None,
            };
            let detail = format!(
                "{consumer} read {} offset {} (value {}) after {after}",
                name(&partition),
                read.offset,
                read.value
            );
            // The offsets read again: a leader that lost them wrote others there.
            let again = (read.offset..=back_from).collect();
            let anomaly = Anomaly::new(
                AnomalyKind::NonmonotonicPoll,
                (verdict, why),
                detail,
                vec![read.value],
                read.index,
            );
            Some(
                anomaly
                    .unless_loss_explains()
                    .involving(partition.0, partition.1, again),
            )
        })
        .collect();
    anomalies.sort_by_key(|anomaly| anomaly.index);
    anomalies
}

fn classify(promises: &Promises) -> (Verdict, &'static str) {
    promises.unless_loss_excused("Kafka promises a consumer reads its partition in offset order")
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;

    #[test]
    fn increasing_reads_and_a_reset_backwards_pass() {
        let mut h = History::default();
        assign(&mut h, "consumer-1", 0, 3);
        poll(&mut h, "consumer-1", &[(0, 3, 1), (1, 0, 5), (0, 4, 2)]);
        assign(&mut h, "consumer-1", 0, 0); // reset after OffsetOutOfRange
        poll(&mut h, "consumer-1", &[(0, 0, 7), (0, 1, 8)]);
        poll(&mut h, "consumer-2", &[(0, 3, 1)]); // other consumers are independent
        assert_eq!(check(&h, &Promises::default()), vec![]);
    }

    #[test]
    fn rereading_or_going_back_within_an_assignment_is_reported_per_read() {
        let mut h = History::default();
        assign(&mut h, "consumer-1", 0, 0);
        poll(&mut h, "consumer-1", &[(0, 0, 1), (0, 1, 2)]);
        poll(&mut h, "consumer-1", &[(0, 1, 2), (0, 0, 1), (0, 1, 2)]);
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|a| a.verdict == Verdict::Violation));
        assert_eq!(
            found[0].detail,
            "consumer-1 read t/0 offset 1 (value 2) after offset 1"
        );
        assert_eq!(
            found[1].detail,
            "consumer-1 read t/0 offset 0 (value 1) after offset 1"
        );
    }

    #[test]
    fn a_first_read_below_the_assigned_offset_goes_back() {
        let mut h = History::default();
        assign(&mut h, "consumer-1", 0, 5);
        poll(&mut h, "consumer-1", &[(0, 4, 1)]);
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].detail.ends_with("after assign at 5"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn going_back_is_left_to_the_excuse_pass_with_the_offsets_read_again() {
        let mut h = History::default();
        poll(&mut h, "consumer-1", &[(0, 2, 1), (0, 2, 9)]);
        let promises = Promises {
            async_flush: true,
            ..Promises::default()
        };
        let found = check(&h, &promises);
        assert!(found[0].verdict == Verdict::Violation && found[0].excusable);
        assert!(matches!(&found[0].scope[0],
            super::super::LossScope::Records { offsets, .. } if offsets == &vec![2]));
    }
}

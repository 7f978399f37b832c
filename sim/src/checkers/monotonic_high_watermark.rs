//! MonotonicHighWatermark: per consumer and partition, the high watermark that successive
//! successful polls report never decreases.
//!
//! Source: KAFKA-2334 ("Prevent HW from going back during leader failover") and KIP-207: a
//! newly elected leader's high watermark may lag the old leader's (hachikuji/kafka-
//! specification, `KafkaReplication.tla`: "the high watermark upon becoming a leader is
//! typically behind the 'true' high watermark"), so a leader must not report one below what
//! clients already saw; DESIGN.md section 5 asks for it as consumers observe it. A high
//! watermark can only truly go back if committed records vanish, so unclean election, or a
//! power loss meeting asynchronous flush, excuses it.

use super::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::history::{History, OpType, Operation};
use std::collections::BTreeMap;

pub fn check(history: &History, promises: &Promises) -> Vec<Anomaly> {
    let (verdict, why) = classify(promises);
    // (consumer, topic, partition) -> (highest high watermark seen, index of that poll)
    let mut seen: BTreeMap<(&str, &str, u32), (u64, u64)> = BTreeMap::new();
    let mut anomalies = Vec::new();
    for entry in &history.entries {
        let (OpType::Ok, Operation::Poll(poll)) = (entry.op_type, &entry.op) else {
            continue;
        };
        for reported in &poll.high_watermarks {
            let key = (
                entry.process.as_str(),
                reported.topic.as_str(),
                reported.partition,
            );
            let now = (reported.high_watermark, entry.index);
            let highest = seen.entry(key).or_insert(now);
            if reported.high_watermark >= highest.0 {
                *highest = now;
                continue;
            }
            let detail = format!(
                "{} saw {}/{} high watermark {} after {} (history index {})",
                entry.process,
                reported.topic,
                reported.partition,
                reported.high_watermark,
                highest.0,
                highest.1
            );
            // The records between the two were committed, then gone from the leader.
            let uncommitted = (reported.high_watermark..highest.0).collect();
            let anomaly = Anomaly::new(
                AnomalyKind::MonotonicHighWatermark,
                (verdict, why),
                detail,
                Vec::new(),
                entry.index,
            );
            anomalies.push(anomaly.unless_loss_explains().involving(
                &reported.topic,
                reported.partition,
                uncommitted,
            ));
        }
    }
    anomalies
}

fn classify(promises: &Promises) -> (Verdict, &'static str) {
    promises.unless_loss_excused(
        "Kafka promises a partition's high watermark never goes back (KIP-207)",
    )
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;

    /// consumer-1 sees t/0's high watermark at 5, then at 3.
    fn going_back() -> History {
        let mut h = History::default();
        poll_reporting(&mut h, "consumer-1", &[(0, 4, 1)], &[(0, 5), (1, 2)]);
        poll_reporting(&mut h, "consumer-1", &[], &[(0, 3), (1, 2)]);
        h
    }

    #[test]
    fn steady_or_growing_high_watermarks_pass_per_consumer_and_partition() {
        let mut h = History::default();
        poll_reporting(&mut h, "consumer-1", &[], &[(0, 5), (1, 9)]);
        poll_reporting(&mut h, "consumer-1", &[], &[(0, 5), (1, 10)]);
        // Another consumer, and another partition, are separate sequences.
        poll_reporting(&mut h, "consumer-2", &[], &[(0, 1)]);
        poll_reporting(&mut h, "consumer-1", &[], &[(0, 7)]);
        assert_eq!(check(&h, &Promises::default()), vec![]);
    }

    #[test]
    fn a_high_watermark_going_back_breaks_it() {
        let found = check(&going_back(), &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::MonotonicHighWatermark);
        assert_eq!((found[0].verdict, found[0].index), (Verdict::Violation, 3));
        assert_eq!(
            found[0].detail,
            "consumer-1 saw t/0 high watermark 3 after 5 (history index 1)"
        );
    }

    #[test]
    fn a_high_watermark_going_back_is_left_to_the_excuse_pass_under_unclean_election() {
        let promises = Promises {
            unclean_election: true,
            ..Promises::default()
        };
        let found = check(&going_back(), &promises);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].verdict == Verdict::Violation && found[0].excusable);
        assert!(matches!(&found[0].scope[0],
            super::super::LossScope::Records { offsets, .. } if offsets == &vec![3, 4]));
    }
}

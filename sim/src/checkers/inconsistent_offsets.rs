//! inconsistent-offsets: two different values at one (topic, partition, offset), across the
//! offsets acknowledged to producers and every consumer's reads. One offset must hold one
//! record, for every reader, forever.
//!
//! Source: the `inconsistent-offsets` anomaly of Jepsen's Kafka workload
//! (jepsen.tests.kafka), as defined in the analyses "Jepsen: Redpanda 21.10.1" and "Jepsen:
//! Kafka 3.x". Kafka promises it under clean leader election for what consumers read and
//! for `acks=all` acknowledgements; a power loss that meets asynchronous flush, or an unclean
//! election, lets a truncated log hand an offset to a second record. An `acks=1` write the
//! new leader never had is truncated, and its offset goes to the next record: allowed when
//! the only disagreement is such an acknowledgement.

use super::view::{name, sightings, Partition, Sighting};
use super::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::history::History;
use std::collections::BTreeMap;

/// The configuration changes nothing here: only the excuse pass can allow more than an
/// acks=1 write's reused offset (`_promises` keeps the checkers' one signature).
pub fn check(history: &History, _promises: &Promises) -> Vec<Anomaly> {
    // position -> value -> where it was first seen there, and whether a consumer read it
    // or acks=all acknowledged it there (so it was committed there)
    let mut values: BTreeMap<(Partition, u64), BTreeMap<u64, (Sighting, bool)>> = BTreeMap::new();
    for sighting in sightings(history) {
        let position = (sighting.partition, sighting.offset);
        let committed = sighting
            .acks
            .is_none_or(|acks| acks == "all" || acks == "-1");
        let seen = values
            .entry(position)
            .or_default()
            .entry(sighting.value)
            .or_insert((sighting, false));
        seen.1 |= committed;
    }

    let mut anomalies = Vec::new();
    for ((partition, offset), at) in values {
        if at.len() < 2 {
            continue;
        }
        // Consumers read only committed records, and acks=all acknowledges only those:
        // more than one such value at an offset is never excused by acks=1.
        let committed_values = at.values().filter(|(_, committed)| *committed).count();
        let mut first_seen: Vec<&Sighting> = at.values().map(|(s, _)| s).collect();
        first_seen.sort_by_key(|sighting| sighting.index);
        let (verdict, why) = classify(committed_values);
        let seen: Vec<String> = first_seen
            .iter()
            .map(|s| format!("{} ({})", s.value, s.process))
            .collect();
        let detail = format!(
            "{} offset {offset} holds values {}",
            name(&partition),
            seen.join(", ")
        );
        let values = first_seen.iter().map(|s| s.value).collect();
        // It shows when a second value is first seen there.
        let anomaly = Anomaly::new(
            AnomalyKind::InconsistentOffsets,
            (verdict, why),
            detail,
            values,
            first_seen[1].index,
        );
        anomalies.push(anomaly.unless_loss_explains().involving(
            partition.0,
            partition.1,
            vec![offset],
        ));
    }
    anomalies.sort_by_key(|anomaly| anomaly.index);
    anomalies
}

fn classify(committed_values: usize) -> (Verdict, &'static str) {
    if committed_values <= 1 {
        (
            Verdict::Allowed,
            "an acks=1 write the new leader never had was truncated and its offset reused",
        )
    } else {
        (
            Verdict::Violation,
            "Kafka promises one record per offset, for every reader, forever",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;

    #[test]
    fn agreeing_producers_and_consumers_pass() {
        let mut h = History::default();
        send(&mut h, "producer-1", 1, "all", 0, 0);
        send(&mut h, "producer-1", 2, "all", 1, 0); // same offset, other partition
        poll(&mut h, "consumer-1", &[(0, 0, 1), (1, 0, 2)]);
        poll(&mut h, "consumer-2", &[(0, 0, 1)]);
        assert_eq!(check(&h, &Promises::default()), vec![]);
    }

    #[test]
    fn a_read_disagreeing_with_an_ack_is_reported_once_per_offset() {
        let mut h = History::default();
        send(&mut h, "producer-1", 1, "all", 0, 7);
        poll(&mut h, "consumer-1", &[(0, 7, 2)]);
        poll(&mut h, "consumer-2", &[(0, 7, 3)]);
        poll(&mut h, "consumer-2", &[(0, 7, 2)]);
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert_eq!(found[0].index, 3);
        assert_eq!(
            found[0].detail,
            "t/0 offset 7 holds values 1 (producer-1), 2 (consumer-1), 3 (consumer-2)"
        );
    }

    #[test]
    fn two_readers_disagreeing_is_a_violation_only_a_loss_of_that_offset_could_excuse() {
        let mut h = History::default();
        poll(&mut h, "consumer-1", &[(0, 0, 1)]);
        poll(&mut h, "consumer-2", &[(0, 0, 2)]);
        let promises = Promises {
            async_flush: true,
            ..Promises::default()
        };
        let found = check(&h, &promises);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert!(found[0].excusable, "the excuse pass may allow it");
        assert_eq!(
            found[0].scope,
            vec![super::super::LossScope::Records {
                topic: "t".into(),
                partition: 0,
                offsets: vec![0]
            }]
        );
    }

    #[test]
    fn an_acks1_ack_reused_by_a_later_record_is_allowed_but_two_reads_are_not() {
        let mut h = History::default();
        send(&mut h, "producer-1", 1, "1", 0, 4);
        send(&mut h, "producer-1", 2, "1", 0, 4);
        poll(&mut h, "consumer-1", &[(0, 4, 2)]);
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Allowed);
        poll(&mut h, "consumer-2", &[(0, 4, 3)]);
        let found = check(&h, &Promises::default());
        assert_eq!(found[0].verdict, Verdict::Violation, "{found:?}");
    }
}

//! duplicate: one value (unique per send) appears at two or more different
//! (partition, offset) positions, across acknowledged sends and every consumer's reads.
//!
//! Source: the `duplicate` anomaly of Jepsen's Kafka workload (jepsen.tests.kafka), as
//! defined in the analyses "Jepsen: Redpanda 21.10.1" and "Jepsen: Kafka 3.x". A producer
//! that retries a batch whose first attempt was written but not acknowledged writes it twice;
//! Kafka promises it lands once only with the idempotent producer (or with retries off).

use super::view::{name, sightings, Partition, Sighting};
use super::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::history::History;
use std::collections::BTreeMap;

pub fn check(history: &History, promises: &Promises) -> Vec<Anomaly> {
    // value -> position -> where it was first seen there
    let mut positions: BTreeMap<u64, BTreeMap<(Partition, u64), Sighting>> = BTreeMap::new();
    // A transaction's values are judged under exactly-once by `txn::duplicate`.
    let transactional = super::txn::transactional_values(history);
    for sighting in sightings(history) {
        if transactional.contains(&sighting.value) {
            continue;
        }
        let position = (sighting.partition, sighting.offset);
        positions
            .entry(sighting.value)
            .or_default()
            .entry(position)
            .or_insert(sighting);
    }

    let (verdict, why) = classify(promises);
    let mut anomalies = Vec::new();
    for (value, at) in positions {
        if at.len() < 2 {
            continue;
        }
        let mut first_seen: Vec<&Sighting> = at.values().collect();
        first_seen.sort_by_key(|sighting| sighting.index);
        let places: Vec<String> = first_seen
            .iter()
            .map(|s| format!("{} offset {} ({})", name(&s.partition), s.offset, s.process))
            .collect();
        // It shows when a second position is first seen.
        let mut anomaly = Anomaly::new(
            AnomalyKind::Duplicate,
            (verdict, why),
            format!("value {value} is at {}", places.join(", ")),
            vec![value],
            first_seen[1].index,
        )
        .unless_loss_explains();
        for s in &first_seen {
            anomaly = anomaly.involving(s.partition.0, s.partition.1, vec![s.offset]);
        }
        anomalies.push(anomaly);
    }
    anomalies.sort_by_key(|anomaly| anomaly.index);
    anomalies
}

fn classify(promises: &Promises) -> (Verdict, &'static str) {
    if promises.idempotence {
        (
            Verdict::Violation,
            "idempotence is on: Kafka promises each send lands once",
        )
    } else if !promises.retries {
        (
            Verdict::Violation,
            "retries are off: a send is written at most once",
        )
    } else {
        (
            Verdict::Allowed,
            "no idempotence and retries on: a retried batch may be written twice",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;

    fn idempotent() -> Promises {
        Promises {
            idempotence: true,
            retries: true,
            ..Promises::default()
        }
    }

    #[test]
    fn a_value_read_where_it_was_acknowledged_is_no_duplicate() {
        let mut h = History::default();
        send(&mut h, "producer-1", 1, "all", 0, 0);
        send(&mut h, "producer-1", 2, "all", 0, 1);
        poll(&mut h, "consumer-1", &[(0, 0, 1), (0, 1, 2)]);
        poll(&mut h, "consumer-2", &[(0, 0, 1), (0, 1, 2)]);
        assert_eq!(check(&h, &idempotent()), vec![]);
    }

    #[test]
    fn a_value_read_at_a_second_offset_is_a_duplicate_reported_once() {
        let mut h = History::default();
        send(&mut h, "producer-1", 1, "all", 0, 0);
        poll(&mut h, "consumer-1", &[(0, 0, 1), (0, 1, 1)]);
        poll(&mut h, "consumer-2", &[(0, 1, 1)]);
        let found = check(&h, &idempotent());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert_eq!(found[0].index, 3);
        assert!(
            found[0].detail.contains("t/0 offset 1 (consumer-1)"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn the_same_offset_in_another_partition_is_another_position() {
        let mut h = History::default();
        send(&mut h, "producer-1", 1, "all", 0, 4);
        poll(&mut h, "consumer-1", &[(1, 4, 1)]);
        let found = check(&h, &idempotent());
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn duplicates_from_retries_without_idempotence_are_allowed() {
        let mut h = History::default();
        send(&mut h, "producer-1", 1, "1", 0, 0);
        poll(&mut h, "consumer-1", &[(0, 0, 1), (0, 1, 1)]);
        let retrying = Promises {
            retries: true,
            ..Promises::default()
        };
        assert_eq!(check(&h, &retrying)[0].verdict, Verdict::Allowed);
        assert_eq!(
            check(&h, &Promises::default())[0].verdict,
            Verdict::Violation
        );
    }
}

//! nonmonotonic-send: one producer's acknowledged records to one partition must land at
//! offsets that strictly increase in the order the producer sent them.
//!
//! Source: the `nonmonotonic-send` anomaly of Jepsen's Kafka workload (jepsen.tests.kafka),
//! as defined in the analyses "Jepsen: Redpanda 21.10.1" and "Jepsen: Kafka 3.x". Kafka
//! promises per-partition send order only with the idempotent producer, or when a retry
//! cannot overtake a later batch (retries off, or max.in.flight.requests.per.connection = 1).
//!
//! A producer has many sends in flight at once, so a completion is paired with its invoke by
//! the value (unique per run); send order is the order of the invokes. Each successive pair
//! of acknowledged sends (in send order) that is out of order is one anomaly, shown at the
//! later of the two acknowledgements.

use super::view::{name, Partition};
use super::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::history::{History, OpType, Operation};
use std::collections::BTreeMap;

/// An acknowledged send, placed in its producer's send order.
struct AckedSend {
    invoke_index: u64,
    ok_index: u64,
    offset: u64,
    value: u64,
}

pub fn check(history: &History, promises: &Promises) -> Vec<Anomaly> {
    let mut invoked_at: BTreeMap<u64, (&str, u64)> = BTreeMap::new();
    let mut acked: BTreeMap<(&str, Partition<'_>), Vec<AckedSend>> = BTreeMap::new();
    for entry in &history.entries {
        let Operation::Send(send) = &entry.op else {
            continue;
        };
        match entry.op_type {
            OpType::Invoke => {
                invoked_at.insert(send.value, (entry.process.as_str(), entry.index));
            }
            OpType::Ok => {
                let (Some(partition), Some(offset)) = (send.partition, send.offset) else {
                    continue;
                };
                let Some((producer, invoke_index)) = invoked_at.get(&send.value) else {
                    continue;
                };
                let key = (*producer, (send.topic.as_str(), partition));
                acked.entry(key).or_default().push(AckedSend {
                    invoke_index: *invoke_index,
                    ok_index: entry.index,
                    offset,
                    value: send.value,
                });
            }
            OpType::Fail | OpType::Info => {}
        }
    }

    let (verdict, why) = classify(promises);
    let mut anomalies = Vec::new();
    for ((producer, partition), mut sends) in acked {
        sends.sort_by_key(|send| send.invoke_index);
        for pair in sends.windows(2) {
            let (earlier, later) = (&pair[0], &pair[1]);
            if later.offset > earlier.offset {
                continue;
            }
            let detail = format!(
                "{producer} sent value {} then value {} to {}, but they landed at offsets \
                 {} then {}",
                earlier.value,
                later.value,
                name(&partition),
                earlier.offset,
                later.offset
            );
            let anomaly = Anomaly::new(
                AnomalyKind::NonmonotonicSend,
                (verdict, why),
                detail,
                vec![earlier.value, later.value],
                later.ok_index.max(earlier.ok_index),
            );
            // A leader that lost the earlier record gives its offset to the later one.
            let between = (later.offset..=earlier.offset).collect();
            anomalies.push(anomaly.unless_loss_explains().involving(
                partition.0,
                partition.1,
                between,
            ));
        }
    }
    anomalies.sort_by_key(|anomaly| anomaly.index);
    anomalies
}

fn classify(promises: &Promises) -> (Verdict, &'static str) {
    if promises.idempotence {
        (
            Verdict::Violation,
            "idempotence is on: Kafka promises per-partition send order",
        )
    } else if !promises.retries {
        (
            Verdict::Violation,
            "retries are off: no retry can overtake a later send",
        )
    } else if !promises.max_in_flight_above_one {
        (
            Verdict::Violation,
            "max.in.flight is 1: no retry can overtake a later send",
        )
    } else {
        (
            Verdict::Allowed,
            "no idempotence, retries on, max.in.flight > 1: a retried batch may land later",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;

    fn reordering_allowed() -> Promises {
        Promises {
            retries: true,
            max_in_flight_above_one: true,
            ..Promises::default()
        }
    }

    fn idempotent() -> Promises {
        Promises {
            idempotence: true,
            ..reordering_allowed()
        }
    }

    #[test]
    fn in_order_sends_pass_even_when_acks_arrive_out_of_order() {
        let mut h = History::default();
        invoke(&mut h, "producer-1", 1, "all");
        invoke(&mut h, "producer-1", 2, "all");
        ack(&mut h, "producer-1", 2, "all", 0, Some(6));
        ack(&mut h, "producer-1", 1, "all", 0, Some(5));
        send(&mut h, "producer-1", 3, "all", 1, 0); // another partition starts afresh
        send(&mut h, "producer-2", 4, "all", 0, 2); // another producer is independent
        assert_eq!(check(&h, &idempotent()), vec![]);
    }

    #[test]
    fn each_successive_pair_out_of_order_is_one_anomaly() {
        let mut h = History::default();
        invoke(&mut h, "producer-1", 1, "all");
        invoke(&mut h, "producer-1", 2, "all");
        invoke(&mut h, "producer-1", 3, "all");
        ack(&mut h, "producer-1", 2, "all", 0, Some(5));
        ack(&mut h, "producer-1", 3, "all", 0, Some(6));
        ack(&mut h, "producer-1", 1, "all", 0, Some(7));
        let found = check(&h, &idempotent());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert!(
            found[0].detail.contains("value 1 then value 2"),
            "{}",
            found[0].detail
        );
        assert!(
            found[0].detail.contains("offsets 7 then 5"),
            "{}",
            found[0].detail
        );
        assert_eq!(found[0].index, 5);
    }

    #[test]
    fn reordering_without_an_ordering_promise_is_allowed() {
        let mut h = History::default();
        send(&mut h, "producer-1", 1, "1", 0, 9);
        send(&mut h, "producer-1", 2, "1", 0, 8);
        let found = check(&h, &reordering_allowed());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].verdict, Verdict::Allowed);
        let single_flight = Promises {
            max_in_flight_above_one: false,
            ..reordering_allowed()
        };
        assert_eq!(check(&h, &single_flight)[0].verdict, Verdict::Violation);
    }

    #[test]
    fn failed_indeterminate_and_offsetless_sends_are_ignored() {
        let mut h = History::default();
        send(&mut h, "producer-1", 1, "all", 0, 9);
        invoke(&mut h, "producer-1", 2, "0");
        ack(&mut h, "producer-1", 2, "0", 0, None);
        assert_eq!(check(&h, &idempotent()), vec![]);
    }
}

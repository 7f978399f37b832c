//! retention-skip: records a consumer never read because retention deleted them before it got
//! there. Its position fell below the log start, the fetch answered OffsetOutOfRange, and
//! `auto.offset.reset` moved it forward (an `assign` with reason `offset-out-of-range`, from
//! its old position to the new one). Reported as allowed, one anomaly per consumer and
//! partition with the count and the offset ranges skipped.
//!
//! A forward reset is retention only as far as retention reached: the skipped offsets are
//! checked against the log starts the brokers reported, counting only rises at or below the
//! raising replica's high watermark (`invariants/retention.rs`), as of the reset. Past that,
//! with `auto.offset.reset=earliest`, the records skipped are gone for another reason, and
//! every acknowledged write among them is a `lost-write`, judged as that checker judges
//! it. With `latest` the reset skips, by design, what lies between the log start and the
//! end: reported with the retention skip, allowed.
//!
//! Source: Kafka's retention contract (`retention.ms`, `retention.bytes`: segments are
//! deleted whether or not any consumer read them) and the consumer's `auto.offset.reset`
//! (KafkaConsumer docs: "what to do when ... the current offset does not exist any more on
//! the server (e.g. because that data has been deleted)"); Jepsen's Kafka workload has no
//! retention, so a skip there is always `poll-skip` or `lost-write`.

use super::lost_write::classify;
use super::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::history::{History, OpType, Operation};
use crate::invariants::retention::RetentionLedger;
use kafka_model::ids::TopicPartition;
use std::collections::BTreeMap;
use std::ops::Range;

/// How many skipped ranges and values an anomaly lists; the detail gives the counts.
const LISTED_MAX: usize = 16;

/// What one consumer skipped of one partition.
#[derive(Default)]
struct Skipped {
    first_index: u64,
    resets: usize,
    retained: Vec<Range<u64>>,
    by_latest: u64,
}

/// An acknowledged write, by where it was acknowledged.
struct Acked<'a> {
    value: u64,
    acks: &'a str,
    producer: &'a str,
}

pub fn check(history: &History, promises: &Promises, ledger: &RetentionLedger) -> Vec<Anomaly> {
    let mut acked: BTreeMap<(&str, u32, u64), Acked<'_>> = BTreeMap::new();
    for entry in &history.entries {
        if let (OpType::Ok, Operation::Send(send)) = (entry.op_type, &entry.op) {
            if let (Some(partition), Some(offset)) = (send.partition, send.offset) {
                acked
                    .entry((send.topic.as_str(), partition, offset))
                    .or_insert(Acked {
                        value: send.value,
                        acks: &send.acks,
                        producer: &entry.process,
                    });
            }
        }
    }
    let mut skips: BTreeMap<(&str, &str, u32), Skipped> = BTreeMap::new();
    let mut anomalies = Vec::new();
    for entry in &history.entries {
        let (OpType::Ok, Operation::Assign(assign)) = (entry.op_type, &entry.op) else {
            continue;
        };
        let Some(range) = assign.skipped() else {
            continue;
        };
        let tp = TopicPartition::new(assign.topic.as_str(), assign.partition);
        let retained_below = ledger.retained_below(&tp, entry.index);
        let covered = range.start..range.end.min(retained_below);
        let beyond = range.start.max(retained_below)..range.end;
        let skipped = skips
            .entry((
                entry.process.as_str(),
                assign.topic.as_str(),
                assign.partition,
            ))
            .or_insert_with(|| Skipped {
                first_index: entry.index,
                ..Skipped::default()
            });
        skipped.resets += 1;
        if !covered.is_empty() {
            skipped.retained.push(covered);
        }
        if beyond.is_empty() {
            continue;
        }
        if assign.auto_offset_reset.as_deref() == Some("latest") {
            skipped.by_latest += beyond.end - beyond.start;
            continue;
        }
        for offset in beyond.clone() {
            let Some(write) = acked.get(&(assign.topic.as_str(), assign.partition, offset)) else {
                continue;
            };
            let (verdict, why) = classify(write.acks, promises);
            let detail = format!(
                "{} value {} acked (acks={}) at {tp} offset {offset}, but {} was reset \
                 from offset {} to {} after OffsetOutOfRange while retention had deleted \
                 records only below {retained_below}: the record is gone, not retained",
                write.producer, write.value, write.acks, entry.process, range.start, range.end
            );
            let anomaly = Anomaly::new(
                AnomalyKind::LostWrite,
                (verdict, why),
                detail,
                vec![write.value],
                entry.index,
            );
            anomalies.push(anomaly.unless_loss_explains().involving(
                &assign.topic,
                assign.partition,
                vec![offset],
            ));
        }
    }
    for ((consumer, topic, partition), skipped) in skips {
        let count: u64 = skipped.retained.iter().map(|r| r.end - r.start).sum();
        if count == 0 && skipped.by_latest == 0 {
            continue;
        }
        let mut ranges: Vec<String> = skipped
            .retained
            .iter()
            .take(LISTED_MAX)
            .map(|r| format!("{}..{}", r.start, r.end))
            .collect();
        if skipped.retained.len() > LISTED_MAX {
            ranges.push(format!("and {} more", skipped.retained.len() - LISTED_MAX));
        }
        let values: Vec<u64> = skipped
            .retained
            .iter()
            .flat_map(|r| r.clone())
            .filter_map(|offset| acked.get(&(topic, partition, offset)).map(|w| w.value))
            .take(LISTED_MAX)
            .collect();
        let latest = if skipped.by_latest > 0 {
            format!(
                "; {} more skipped by auto.offset.reset=latest",
                skipped.by_latest
            )
        } else {
            String::new()
        };
        anomalies.push(Anomaly {
            kind: AnomalyKind::RetentionSkip,
            verdict: Verdict::Allowed,
            why: "retention deletes records once they are older than retention.ms (or the \
                  log is over retention.bytes), read or not: a consumer that falls behind \
                  the log start gets OffsetOutOfRange and resets"
                .to_string(),
            detail: format!(
                "{consumer} skipped {count} record(s) of {topic}/{partition} that retention \
                 deleted before it read them, in {} reset(s) after OffsetOutOfRange: offsets \
                 {}{latest}",
                skipped.resets,
                if ranges.is_empty() {
                    "none".to_string()
                } else {
                    ranges.join(", ")
                }
            ),
            values,
            index: skipped.first_index,
            excusable: false,
            scope: Vec::new(),
            chain: Vec::new(),
        });
    }
    anomalies.sort_by_key(|anomaly| anomaly.index);
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;
    use crate::history::{AssignValue, OFFSET_OUT_OF_RANGE};
    use kafka_model::effect::LogStartCause;
    use kafka_model::ids::BrokerId;

    /// A reset of `consumer` on partition 0 from `from` to `to` by `policy`.
    fn reset(h: &mut History, consumer: &str, from: u64, to: u64, policy: &str) {
        let time = h.entries.len() as u64;
        h.push(
            time,
            consumer,
            OpType::Ok,
            Operation::Assign(AssignValue {
                topic: "t".into(),
                partition: 0,
                offset: to,
                reason: OFFSET_OUT_OF_RANGE.into(),
                from: Some(from),
                auto_offset_reset: Some(policy.into()),
            }),
        );
    }

    /// Ten acknowledged writes, values 100.. at offsets 0..10, and a consumer that read
    /// the first two.
    fn ten_written() -> History {
        let mut h = History::default();
        for offset in 0..10 {
            send(&mut h, "producer-1", 100 + offset, "all", 0, offset);
        }
        assign(&mut h, "consumer-1", 0, 0);
        poll(&mut h, "consumer-1", &[(0, 0, 100), (0, 1, 101)]);
        h
    }

    fn retained(index: u64, below: u64, high_watermark: u64) -> RetentionLedger {
        let mut ledger = RetentionLedger::default();
        ledger.on_raise(
            &TopicPartition::new("t", 0),
            BrokerId(1),
            index,
            below,
            high_watermark,
            LogStartCause::Retention,
        );
        ledger
    }

    #[test]
    fn a_reset_past_records_retention_deleted_is_an_allowed_skip_with_its_range() {
        let mut h = ten_written();
        reset(&mut h, "consumer-1", 2, 6, "earliest");
        poll(&mut h, "consumer-1", &[(0, 6, 106)]);
        let found = check(&h, &Promises::default(), &retained(20, 6, 9));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].kind, found[0].verdict),
            (AnomalyKind::RetentionSkip, Verdict::Allowed)
        );
        assert_eq!(
            found[0].detail,
            "consumer-1 skipped 4 record(s) of t/0 that retention deleted before it read \
             them, in 1 reset(s) after OffsetOutOfRange: offsets 2..6"
        );
        assert_eq!(found[0].values, vec![102, 103, 104, 105]);
        assert_eq!(found[0].index, 23);
    }

    #[test]
    fn a_reset_past_what_retention_reached_loses_the_acknowledged_writes_skipped() {
        let mut h = ten_written();
        reset(&mut h, "consumer-1", 2, 6, "earliest");
        // Retention reported only offsets below 4; the rise to 6 passed the high watermark.
        let mut ledger = retained(20, 4, 9);
        ledger.on_raise(
            &TopicPartition::new("t", 0),
            BrokerId(1),
            21,
            6,
            5,
            LogStartCause::Retention,
        );
        let found = check(&h, &Promises::default(), &ledger);
        let kinds: Vec<_> = found.iter().map(|a| (a.kind, a.verdict)).collect();
        assert_eq!(
            kinds,
            vec![
                (AnomalyKind::LostWrite, Verdict::Violation),
                (AnomalyKind::LostWrite, Verdict::Violation),
                (AnomalyKind::RetentionSkip, Verdict::Allowed),
            ],
            "{found:?}"
        );
        assert_eq!(found[0].values, vec![104]);
        assert!(
            found[0].detail.contains("only below 4"),
            "{}",
            found[0].detail
        );
        assert!(
            found[2].detail.contains("offsets 2..4"),
            "{}",
            found[2].detail
        );
        // Retention reported too late (after the reset) does not count either.
        let late = retained(30, 6, 9);
        let found = check(&h, &Promises::default(), &late);
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found.iter().all(|a| a.kind == AnomalyKind::LostWrite));
        // Only a loss of those records could excuse them: the excuse pass decides.
        assert!(check(&h, &Promises::default(), &late)
            .iter()
            .all(|a| a.verdict == Verdict::Violation && a.excusable));
    }

    #[test]
    fn backward_resets_and_latest_resets_are_not_losses() {
        let mut h = ten_written();
        // A failover cut the log below the position: back to the start, nothing skipped.
        reset(&mut h, "consumer-1", 2, 0, "earliest");
        assert_eq!(check(&h, &Promises::default(), &retained(20, 4, 9)), vec![]);
        // latest skips to the end, past the log start, by design.
        reset(&mut h, "consumer-2", 1, 9, "latest");
        let found = check(&h, &Promises::default(), &retained(20, 4, 9));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Allowed);
        assert!(
            found[0]
                .detail
                .ends_with("offsets 1..4; 5 more skipped by auto.offset.reset=latest"),
            "{}",
            found[0].detail
        );
    }
}

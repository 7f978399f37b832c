//! lost-effect and duplicate-effect: what an exactly-once pipeline (a group whose
//! transactions write its output and commit its input offsets together) did with each
//! input record. Exactly-once means each acknowledged input has exactly one effect: one
//! output record derived from it, in one committed transaction, read once downstream.
//!
//! Source: KIP-98 and KIP-447 (exactly-once for consume-transform-produce: the output and
//! the consumed offsets commit atomically, and the group generation fences a zombie's
//! offsets), and the "exactly once" guarantee of the Kafka documentation's "Message
//! Delivery Semantics", which holds for read_committed readers of the output only.
//!
//! A pipeline transaction is a `txn` operation with polls: its n-th send derives from its
//! n-th polled record (the pipeline sends one output per input, in the order polled). Its
//! outcome is committed (`ok`), aborted (`fail`), or unknown (`info`, or never completed).
//! - lost-effect: an acknowledged input record below the group's committed offset for its
//!   partition (the highest a committed transaction committed) and at or above where the
//!   group started reading it (its members' lowest `assign`), which no committed or unknown
//!   transaction polled. The group declared it done, yet nothing it committed derives from
//!   it: a violation, unless a loss of the record explains it (the excuse pass decides).
//! - duplicate-effect: an input two committed transactions polled (two effects committed),
//!   a violation; or a downstream reader that read two outputs derived from one input.
//!   Under read_committed that is a violation; under read_uncommitted an aborted attempt's
//!   output is returned by design (as `g1a` reports it), so it is allowed unless two of the
//!   outputs read were committed.
//!
//! A committed output that a read_committed reader never read is the transactional
//! lost-write checker's (`txn::lost_write`).

use super::view::name;
use super::{Anomaly, AnomalyKind, Verdict};
use crate::history::{History, OpType, Operation, TxnValue};
use kafka_model::effect::ObservedRecord;
use kafka_model::txn::IsolationLevel;
use std::collections::{BTreeMap, BTreeSet};

/// The cap on values listed in an anomaly.
const MAX_LISTED: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Committed,
    Aborted,
    Unknown,
}

/// One pipeline transaction.
struct PipelineTxn<'a> {
    process: &'a str,
    /// Its completion's history index (its invoke's, if it never completed).
    index: u64,
    outcome: Outcome,
    value: &'a TxnValue,
}

impl PipelineTxn<'_> {
    /// Each polled input with the output value derived from it.
    fn pairs(&self) -> impl Iterator<Item = (&ObservedRecord, u64)> {
        self.value
            .polled()
            .map(|(record, _)| record)
            .zip(self.value.sends().map(|send| send.value))
    }
}

/// The history's pipeline transactions, in completion order.
fn pipeline_txns(history: &History) -> Vec<PipelineTxn<'_>> {
    let mut open: BTreeMap<&str, (u64, &TxnValue)> = BTreeMap::new();
    let mut txns = Vec::new();
    for entry in &history.entries {
        let Operation::Txn(value) = &entry.op else {
            continue;
        };
        let process = entry.process.as_str();
        let outcome = match entry.op_type {
            OpType::Invoke => {
                // A process that begins again without completing crashed: unknown.
                if let Some((index, value)) = open.insert(process, (entry.index, value)) {
                    txns.push(PipelineTxn {
                        process,
                        index,
                        outcome: Outcome::Unknown,
                        value,
                    });
                }
                continue;
            }
            OpType::Ok => Outcome::Committed,
            OpType::Fail => Outcome::Aborted,
            OpType::Info => Outcome::Unknown,
        };
        open.remove(process);
        txns.push(PipelineTxn {
            process,
            index: entry.index,
            outcome,
            value,
        });
    }
    txns.extend(
        open.into_iter()
            .map(|(process, (index, value))| PipelineTxn {
                process,
                index,
                outcome: Outcome::Unknown,
                value,
            }),
    );
    txns.retain(|txn| txn.value.polled().next().is_some());
    txns
}

type InputPartition = (String, u32);

/// The outputs of one input a reader read, and where it read the second.
type OutputsRead = (BTreeSet<u64>, Option<u64>);

pub fn check(history: &History) -> Vec<Anomaly> {
    let txns = pipeline_txns(history);
    if txns.is_empty() {
        return Vec::new();
    }
    let mut anomalies = lost_and_committed_twice(history, &txns);
    anomalies.extend(read_twice(history, &txns));
    anomalies
}

/// lost-effect, and duplicate-effect by two committed transactions.
fn lost_and_committed_twice(history: &History, txns: &[PipelineTxn<'_>]) -> Vec<Anomaly> {
    // (group, input partition) -> the highest committed offset, and which txn committed it.
    let mut committed: BTreeMap<(&str, InputPartition), (u64, u64)> = BTreeMap::new();
    let mut members: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    // input value -> the committed and the unknown transactions that polled it.
    let mut polled_by: BTreeMap<u64, (Vec<u64>, usize)> = BTreeMap::new();
    for txn in txns {
        if let Some(group) = txn.value.group.as_deref() {
            members.entry(group).or_default().insert(txn.process);
            if txn.outcome == Outcome::Committed {
                for o in &txn.value.offsets {
                    let at = committed
                        .entry((group, (o.topic.clone(), o.partition)))
                        .or_insert((o.offset, txn.index));
                    if o.offset > at.0 {
                        *at = (o.offset, txn.index);
                    }
                }
            }
        }
        for (input, _) in txn.pairs() {
            let entry = polled_by.entry(input.value).or_default();
            match txn.outcome {
                Outcome::Committed => entry.0.push(txn.index),
                Outcome::Unknown => entry.1 += 1,
                Outcome::Aborted => {}
            }
        }
    }
    // Where each group started reading each partition: its members' lowest assign.
    let mut start: BTreeMap<(&str, InputPartition), u64> = BTreeMap::new();
    for entry in &history.entries {
        let Operation::Assign(assign) = &entry.op else {
            continue;
        };
        for (group, processes) in &members {
            if processes.contains(entry.process.as_str()) {
                let at = start
                    .entry((group, (assign.topic.clone(), assign.partition)))
                    .or_insert(assign.offset);
                *at = (*at).min(assign.offset);
            }
        }
    }
    let mut anomalies = Vec::new();
    for entry in &history.entries {
        let (OpType::Ok, Operation::Send(send)) = (entry.op_type, &entry.op) else {
            continue;
        };
        let (Some(partition), Some(offset)) = (send.partition, send.offset) else {
            continue;
        };
        let tp = (send.topic.clone(), partition);
        let (committing, unknown) = polled_by.get(&send.value).cloned().unwrap_or_default();
        if committing.len() >= 2 {
            anomalies.push(
                Anomaly::new(
                    AnomalyKind::DuplicateEffect,
                    (
                        Verdict::Violation,
                        "exactly-once: an input's offsets commit with its output, so only one transaction may commit it",
                    ),
                    format!(
                        "input value {} at {}-{partition} offset {offset} was polled by {} committed transactions (history {:?})",
                        send.value,
                        send.topic,
                        committing.len(),
                        committing
                    ),
                    vec![send.value],
                    committing[1],
                )
                .unless_loss_explains()
                .involving(&send.topic, partition, vec![offset]),
            );
        }
        if !committing.is_empty() || unknown > 0 {
            continue;
        }
        for group in members.keys() {
            let key = (*group, tp.clone());
            let Some(&(done, index)) = committed.get(&key) else {
                continue;
            };
            let from = start.get(&key).copied().unwrap_or(0);
            if (from..done).contains(&offset) {
                anomalies.push(
                    Anomaly::new(
                        AnomalyKind::LostEffect,
                        (
                            Verdict::Violation,
                            "exactly-once: a committed offset past an input promises a committed effect of it",
                        ),
                        format!(
                            "group {group} committed {}-{partition} up to {done} (history {index}), but no committed transaction polled input value {} at offset {offset}",
                            send.topic, send.value
                        ),
                        vec![send.value],
                        index,
                    )
                    .unless_loss_explains()
                    .involving(&send.topic, partition, vec![offset])
                    .involving_group(group),
                );
            }
        }
    }
    anomalies
}

/// duplicate-effect downstream: one reader read two outputs derived from one input.
fn read_twice(history: &History, txns: &[PipelineTxn<'_>]) -> Vec<Anomaly> {
    // output value -> (input value, the writer's outcome)
    let mut derived: BTreeMap<u64, (u64, Outcome)> = BTreeMap::new();
    for txn in txns {
        for (input, output) in txn.pairs() {
            derived.insert(output, (input.value, txn.outcome));
        }
    }
    // (reader, isolation, input) -> output values read, and the first read of the second.
    let mut seen: BTreeMap<(&str, IsolationLevel, u64), OutputsRead> = BTreeMap::new();
    let mut read_at: BTreeMap<u64, (String, u32, u64)> = BTreeMap::new();
    for entry in &history.entries {
        let (OpType::Ok, Operation::Poll(poll)) = (entry.op_type, &entry.op) else {
            continue;
        };
        for record in &poll.records {
            let Some(&(input, _)) = derived.get(&record.value) else {
                continue;
            };
            read_at.insert(
                record.value,
                (record.topic.clone(), record.partition, record.offset),
            );
            let at = seen
                .entry((entry.process.as_str(), poll.isolation, input))
                .or_default();
            if at.0.insert(record.value) && at.0.len() == 2 {
                at.1 = Some(entry.index);
            }
        }
    }
    let mut anomalies = Vec::new();
    for ((reader, isolation, input), (outputs, index)) in seen {
        let Some(index) = index else {
            continue;
        };
        let committed = outputs
            .iter()
            .filter(|o| derived.get(*o).is_some_and(|d| d.1 == Outcome::Committed))
            .count();
        let (verdict, why, level) = match isolation {
            IsolationLevel::ReadUncommitted if committed < 2 => (
                Verdict::Allowed,
                "read_uncommitted returns aborted attempts' output: exactly-once holds for read_committed readers only",
                "read_uncommitted",
            ),
            IsolationLevel::ReadUncommitted => (
                Verdict::Violation,
                "exactly-once: only one transaction may commit an input's output",
                "read_uncommitted",
            ),
            IsolationLevel::ReadCommitted => (
                Verdict::Violation,
                "read_committed: Kafka promises exactly one effect of each input downstream",
                "read_committed",
            ),
        };
        let listed: Vec<String> = outputs
            .iter()
            .take(MAX_LISTED)
            .map(|o| {
                let (topic, partition, offset) = &read_at[o];
                let outcome = derived.get(o).map_or(Outcome::Unknown, |d| d.1);
                format!(
                    "{o} at {} offset {offset} ({outcome:?})",
                    name(&(topic.as_str(), *partition))
                )
            })
            .collect();
        anomalies.push(Anomaly::new(
            AnomalyKind::DuplicateEffect,
            (verdict, why),
            format!(
                "{reader} ({level}) read {} outputs derived from input value {input}: {}",
                outputs.len(),
                listed.join(", ")
            ),
            outputs.iter().copied().take(MAX_LISTED).collect(),
            index,
        ));
    }
    anomalies
}

#[cfg(test)]
#[path = "pipeline_effect_tests.rs"]
mod tests;

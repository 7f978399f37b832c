//! Views of a history that several checkers share: what each consumer read of each partition,
//! split into assignments, and every place the history shows a value at (partition, offset).
//! Both follow the way Jepsen's Kafka workload (jepsen.tests.kafka) reads a history.

use crate::history::{History, OpType, Operation};
use std::collections::BTreeMap;

/// A topic-partition: (topic, partition), borrowed from the history.
pub(crate) type Partition<'a> = (&'a str, u32);

/// "topic/partition", for anomaly details.
pub(crate) fn name(partition: &Partition<'_>) -> String {
    format!("{}/{}", partition.0, partition.1)
}

/// One record a consumer read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Read {
    pub offset: u64,
    pub value: u64,
    /// History index of the poll that returned it.
    pub index: u64,
}

/// What one consumer read of one partition from one `assign` to the next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Assignment {
    /// The position the `assign` set; `None` for reads before any `assign`.
    pub start: Option<u64>,
    /// Reads in the order the consumer made them.
    pub reads: Vec<Read>,
}

/// Assignments per (consumer process, partition), oldest first.
pub(crate) fn assignments(history: &History) -> BTreeMap<(&str, Partition<'_>), Vec<Assignment>> {
    let mut by_reader: BTreeMap<(&str, Partition<'_>), Vec<Assignment>> = BTreeMap::new();
    for entry in &history.entries {
        if entry.op_type != OpType::Ok {
            continue;
        }
        match &entry.op {
            Operation::Assign(assign) => {
                let key = (
                    entry.process.as_str(),
                    (assign.topic.as_str(), assign.partition),
                );
                by_reader.entry(key).or_default().push(Assignment {
                    start: Some(assign.offset),
                    reads: Vec::new(),
                });
            }
            Operation::Poll(poll) => {
                for record in &poll.records {
                    let key = (
                        entry.process.as_str(),
                        (record.topic.as_str(), record.partition),
                    );
                    let assignments = by_reader.entry(key).or_default();
                    if assignments.is_empty() {
                        assignments.push(Assignment::default());
                    }
                    assignments
                        .last_mut()
                        .expect("just ensured")
                        .reads
                        .push(Read {
                            offset: record.offset,
                            value: record.value,
                            index: entry.index,
                        });
                }
            }
            // Group operations name records a poll already reported.
            Operation::Send(_)
            | Operation::Assignment(_)
            | Operation::Commit(_)
            | Operation::Process(_)
            | Operation::Produce(_)
            | Operation::Fetch(_)
            | Operation::Group(_)
            // Transactions are judged by their own checkers (checkers/txn).
            | Operation::Txn(_) => {}
        }
    }
    by_reader
}

/// What came just before a read within its assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Before {
    /// Nothing: the first read, with no `assign` to start from.
    Nothing,
    /// The `assign` that started the assignment, at this offset.
    Assigned(u64),
    /// The previous read, at this offset.
    Read(u64),
}

/// Every read with what came just before it in its assignment, for the checkers that
/// compare successive reads: (consumer, partition, before, read).
pub(crate) fn successive_reads(history: &History) -> Vec<(&str, Partition<'_>, Before, Read)> {
    let mut out = Vec::new();
    for ((consumer, partition), assignments) in assignments(history) {
        for assignment in assignments {
            let mut before = assignment.start.map_or(Before::Nothing, Before::Assigned);
            for read in assignment.reads {
                let offset = read.offset;
                out.push((consumer, partition, before, read));
                before = Before::Read(offset);
            }
        }
    }
    out
}

/// A value the history places at (partition, offset): an acknowledged send's reported
/// offset, or a consumer's read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sighting<'a> {
    pub partition: Partition<'a>,
    pub offset: u64,
    pub value: u64,
    pub process: &'a str,
    pub index: u64,
    /// The `acks` of the send that reported it; `None` for a consumer's read.
    pub acks: Option<&'a str>,
}

/// Every sighting, in history order.
pub(crate) fn sightings(history: &History) -> Vec<Sighting<'_>> {
    let mut found = Vec::new();
    for entry in &history.entries {
        if entry.op_type != OpType::Ok {
            continue;
        }
        let sighting = |topic, partition, offset, value, acks| Sighting {
            partition: (topic, partition),
            offset,
            value,
            process: entry.process.as_str(),
            index: entry.index,
            acks,
        };
        match &entry.op {
            Operation::Send(send) => {
                if let (Some(partition), Some(offset)) = (send.partition, send.offset) {
                    found.push(sighting(
                        &send.topic,
                        partition,
                        offset,
                        send.value,
                        Some(send.acks.as_str()),
                    ));
                }
            }
            Operation::Poll(poll) => {
                for r in &poll.records {
                    found.push(sighting(&r.topic, r.partition, r.offset, r.value, None));
                }
            }
            Operation::Assign(_)
            | Operation::Assignment(_)
            | Operation::Commit(_)
            | Operation::Process(_)
            | Operation::Produce(_)
            | Operation::Fetch(_)
            | Operation::Group(_)
            // Transactions are judged by their own checkers (checkers/txn).
            | Operation::Txn(_) => {}
        }
    }
    found
}

/// Hand-built histories for the checkers' tests. Topic is always "t"; time is the index.
#[cfg(test)]
pub(crate) mod build {
    use crate::history::{
        AssignValue, HighWatermarkSeen, History, OpType, Operation, PollValue, SendValue,
    };
    use kafka_model::effect::ObservedRecord;

    fn send_value(value: u64, acks: &str, at: Option<(u32, Option<u64>)>) -> Operation {
        Operation::Send(SendValue {
            topic: "t".into(),
            key: None,
            value,
            acks: acks.into(),
            partition: at.map(|(partition, _)| partition),
            offset: at.and_then(|(_, offset)| offset),
            error: None,
        })
    }

    /// Records of topic "t" given as (partition, offset, value).
    fn observed(records: &[(u32, u64, u64)]) -> Vec<ObservedRecord> {
        records
            .iter()
            .map(|&(partition, offset, value)| ObservedRecord {
                topic: "t".into(),
                partition,
                offset,
                key: None,
                value,
            })
            .collect()
    }

    fn push(h: &mut History, process: &str, op_type: OpType, op: Operation) {
        let time = h.entries.len() as u64;
        h.push(time, process, op_type, op);
    }

    /// A producer hands `value` to its client.
    pub fn invoke(h: &mut History, producer: &str, value: u64, acks: &str) {
        push(h, producer, OpType::Invoke, send_value(value, acks, None));
    }

    /// The send of `value` is acknowledged at (partition, offset).
    pub fn ack(h: &mut History, producer: &str, value: u64, acks: &str, p: u32, o: Option<u64>) {
        push(
            h,
            producer,
            OpType::Ok,
            send_value(value, acks, Some((p, o))),
        );
    }

    /// Invoke then acknowledge at once.
    pub fn send(h: &mut History, producer: &str, value: u64, acks: &str, p: u32, o: u64) {
        invoke(h, producer, value, acks);
        ack(h, producer, value, acks, p, Some(o));
    }

    pub fn assign(h: &mut History, consumer: &str, partition: u32, offset: u64) {
        let op = Operation::Assign(AssignValue {
            topic: "t".into(),
            partition,
            offset,
            reason: "start".into(),
            from: None,
            auto_offset_reset: None,
        });
        push(h, consumer, OpType::Ok, op);
    }

    /// A poll (invoke and ok) returning `records` as (partition, offset, value).
    pub fn poll(h: &mut History, consumer: &str, records: &[(u32, u64, u64)]) {
        poll_reporting(h, consumer, records, &[]);
    }

    /// A poll as [`poll`], whose fetch also reported `high_watermarks` as (partition, HW).
    pub fn poll_reporting(
        h: &mut History,
        consumer: &str,
        records: &[(u32, u64, u64)],
        high_watermarks: &[(u32, u64)],
    ) {
        let records = observed(records);
        let invoke = PollValue::default();
        push(h, consumer, OpType::Invoke, Operation::Poll(invoke));
        push(
            h,
            consumer,
            OpType::Ok,
            Operation::Poll(PollValue {
                records,
                high_watermarks: high_watermarks
                    .iter()
                    .map(|&(partition, high_watermark)| HighWatermarkSeen {
                        topic: "t".into(),
                        partition,
                        high_watermark,
                    })
                    .collect(),
                ..PollValue::default()
            }),
        );
    }

    /// An `assign` as [`assign`], giving its `reason` ("committed", "auto.offset.reset=...",
    /// "offset-out-of-range").
    pub fn assign_because(h: &mut History, consumer: &str, p: u32, offset: u64, reason: &str) {
        let op = Operation::Assign(AssignValue {
            topic: "t".into(),
            partition: p,
            offset,
            reason: reason.into(),
            from: None,
            auto_offset_reset: None,
        });
        push(h, consumer, OpType::Ok, op);
    }

    /// A group member's SyncGroup answer: `member` owns `partitions` in `generation`.
    pub fn assignment(
        h: &mut History,
        process: &str,
        group: &str,
        member: &str,
        generation: u32,
        partitions: &[u32],
    ) {
        let op = Operation::Assignment(crate::history::AssignmentValue {
            group: group.into(),
            member: member.into(),
            generation,
            partitions: partitions
                .iter()
                .map(|&partition| crate::history::PartitionRef {
                    topic: "t".into(),
                    partition,
                })
                .collect(),
        });
        push(h, process, OpType::Ok, op);
    }

    /// The member of a group commit, as (group, member, generation).
    pub type Committer<'a> = (&'a str, &'a str, u32);

    fn commit_op(by: Committer<'_>, offsets: &[(u32, u64)], error: Option<&str>) -> Operation {
        let (group, member, generation) = by;
        Operation::Commit(crate::history::CommitValue {
            group: group.into(),
            member: member.into(),
            generation,
            offsets: offsets
                .iter()
                .map(|&(partition, offset)| crate::history::CommittedOffset {
                    topic: "t".into(),
                    partition,
                    offset,
                })
                .collect(),
            error: error.map(Into::into),
        })
    }

    /// A commit of `offsets` as (partition, offset) is sent.
    pub fn commit_invoke(
        h: &mut History,
        process: &str,
        by: Committer<'_>,
        offsets: &[(u32, u64)],
    ) {
        push(h, process, OpType::Invoke, commit_op(by, offsets, None));
    }

    /// A commit is durable.
    pub fn commit_ok(h: &mut History, process: &str, by: Committer<'_>, offsets: &[(u32, u64)]) {
        push(h, process, OpType::Ok, commit_op(by, offsets, None));
    }

    /// A commit is refused or timed out with `error`.
    pub fn commit_fail(
        h: &mut History,
        process: &str,
        by: Committer<'_>,
        offsets: &[(u32, u64)],
        error: &str,
    ) {
        push(
            h,
            process,
            OpType::Fail,
            commit_op(by, offsets, Some(error)),
        );
    }

    /// Invoke then ok at once.
    pub fn commit(h: &mut History, process: &str, by: Committer<'_>, offsets: &[(u32, u64)]) {
        commit_invoke(h, process, by, offsets);
        commit_ok(h, process, by, offsets);
    }

    /// A group member processed `records` as (partition, offset, value).
    pub fn process(h: &mut History, process: &str, by: Committer<'_>, records: &[(u32, u64, u64)]) {
        let (group, member, generation) = by;
        let op = Operation::Process(crate::history::ProcessValue {
            group: group.into(),
            member: member.into(),
            generation,
            records: observed(records),
        });
        push(h, process, OpType::Ok, op);
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    #[test]
    fn reads_split_at_each_assign_and_reads_before_any_assign_have_no_start() {
        let mut h = History::default();
        poll(&mut h, "consumer-1", &[(0, 3, 30)]);
        assign(&mut h, "consumer-1", 0, 0);
        poll(&mut h, "consumer-1", &[(0, 0, 10), (1, 0, 11)]);
        let views = assignments(&h);
        let p0 = &views[&("consumer-1", ("t", 0))];
        assert_eq!(p0.len(), 2);
        assert_eq!((p0[0].start, p0[0].reads[0].offset), (None, 3));
        assert_eq!((p0[1].start, p0[1].reads[0].value), (Some(0), 10));
        assert_eq!(views.len(), 2);
    }

    #[test]
    fn sightings_take_acked_offsets_and_reads_but_not_unacked_sends() {
        let mut h = History::default();
        invoke(&mut h, "producer-1", 1, "all");
        send(&mut h, "producer-1", 2, "all", 0, 5);
        ack(&mut h, "producer-1", 3, "0", 0, None);
        poll(&mut h, "consumer-1", &[(0, 5, 2)]);
        let seen: Vec<_> = sightings(&h).iter().map(|s| (s.offset, s.value)).collect();
        assert_eq!(seen, vec![(5, 2), (5, 2)]);
    }
}

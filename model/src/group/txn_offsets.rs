//! Offsets committed inside a transaction (TxnOffsetCommit, KIP-98 and KIP-447): written to
//! the offsets topic in the producer's transactional batch, invisible until the
//! transaction's marker lands on the partition, then the group's (commit) or gone (abort),
//! as Kafka's `GroupMetadata.pendingTransactionalOffsetCommits`.

use super::coordinator::GroupCoordinator;
use super::ids::{ClientRef, Generation, GroupId, MemberId};
use super::output::{GroupEvent, GroupOutput};
use super::protocol::{GroupError, GroupResponse};
use super::records::OffsetsRecord;
use super::writes::PendingWrite;
use crate::ids::{Millis, Offset, ProducerEpoch, ProducerId, TopicPartition};
use std::collections::BTreeMap;

/// One pending transactional offset: the committed offset, who committed it, and its place
/// among the partition's durable commits (a later plain commit wins over it).
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingOffset {
    offset: Offset,
    generation: Option<Generation>,
    member: Option<MemberId>,
    group_generation: Generation,
    seq: u64,
}

/// What one offsets partition's open transactions committed, per producer, group and
/// partition, and the order of every durable commit.
#[derive(Clone, Debug, Default)]
pub(super) struct TxnOffsets {
    pending: BTreeMap<ProducerId, BTreeMap<GroupId, BTreeMap<TopicPartition, PendingOffset>>>,
    /// When each group partition's committed offset was last set by a plain commit.
    plain_seq: BTreeMap<(GroupId, TopicPartition), u64>,
    next_seq: u64,
}

impl TxnOffsets {
    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// A plain OffsetCommit became durable.
    pub(super) fn plain_commit(&mut self, group: &GroupId, offsets: &[(TopicPartition, Offset)]) {
        let seq = self.seq();
        for (tp, _) in offsets {
            self.plain_seq.insert((group.clone(), tp.clone()), seq);
        }
    }

    #[allow(clippy::too_many_arguments)] // one commit's fields, named
    fn hold(
        &mut self,
        producer_id: ProducerId,
        group: &GroupId,
        generation: Option<Generation>,
        member: Option<MemberId>,
        group_generation: Generation,
        offsets: &[(TopicPartition, Offset)],
    ) {
        let seq = self.seq();
        let held = self
            .pending
            .entry(producer_id)
            .or_default()
            .entry(group.clone())
            .or_default();
        for (tp, offset) in offsets {
            held.insert(
                tp.clone(),
                PendingOffset {
                    offset: *offset,
                    generation,
                    member: member.clone(),
                    group_generation,
                    seq,
                },
            );
        }
    }

    /// Whether an open transaction holds an offset for the group's partition (KIP-447: a
    /// `require_stable` OffsetFetch must wait for it).
    pub(super) fn holds(&self, group: &GroupId, tp: &TopicPartition) -> bool {
        self.pending
            .values()
            .any(|groups| groups.get(group).is_some_and(|tps| tps.contains_key(tp)))
    }
}

/// One entry of an offsets partition's log as a loading coordinator reads it: a record of
/// a plain batch, a record of a producer's transactional batch, or a producer's marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetsLogEntry<'a> {
    Record(&'a OffsetsRecord),
    TxnRecord {
        record: &'a OffsetsRecord,
        producer_id: ProducerId,
    },
    Marker {
        producer_id: ProducerId,
        commit: bool,
    },
}

impl GroupCoordinator {
    /// TxnOffsetCommit: checked like a plain commit (generation and member, KIP-447), then
    /// written in the producer's transactional batch; answered once durable, visible only
    /// when the transaction commits ([`GroupCoordinator::txn_completed`]).
    #[allow(clippy::too_many_arguments)] // one request's fields, named
    pub(super) fn txn_commit_into(
        &mut self,
        now: Millis,
        from: ClientRef,
        group: GroupId,
        producer: (ProducerId, ProducerEpoch),
        generation: Option<Generation>,
        member: Option<MemberId>,
        offsets: Vec<(TopicPartition, Offset)>,
        out: &mut Vec<GroupOutput>,
    ) {
        let group_generation = self.group_generation(&group);
        // A commit naming neither generation nor member is a pre-KIP-447 producer's
        // (`sendOffsetsToTransaction(offsets, groupId)`): Kafka's coordinator skips the
        // membership checks for it, even in a group with members, and leaves fencing to
        // the transactional id.
        let pre_kip_447 = generation.is_none() && member.is_none();
        let checked = if pre_kip_447 {
            Ok(())
        } else {
            self.validate_commit(&group, generation, member.as_ref())
        };
        if let Err(error) = checked {
            let results = offsets
                .iter()
                .map(|(tp, _)| (tp.clone(), Err(error)))
                .collect();
            return out.push(GroupOutput::Respond {
                to: from,
                response: GroupResponse::TxnOffsetCommit { group, results },
            });
        }
        let records = offsets
            .iter()
            .map(|(tp, offset)| OffsetsRecord::OffsetCommit {
                group: group.clone(),
                tp: tp.clone(),
                offset: *offset,
                commit_timestamp_ms: now,
            })
            .collect();
        let waiting = PendingWrite::TxnCommit {
            group,
            producer_id: producer.0,
            generation,
            member,
            group_generation,
            offsets,
            reply: from,
        };
        self.writes_mut().start_txn(records, producer, waiting, out);
    }

    /// A transactional commit's records are durable: hold them for the marker.
    #[allow(clippy::too_many_arguments)] // one commit's fields, named
    pub(super) fn txn_commit_written(
        &mut self,
        group: GroupId,
        producer_id: ProducerId,
        generation: Option<Generation>,
        member: Option<MemberId>,
        group_generation: Generation,
        offsets: Vec<(TopicPartition, Offset)>,
        reply: ClientRef,
        result: Result<(), GroupError>,
        out: &mut Vec<GroupOutput>,
    ) {
        if result.is_ok() {
            self.txn_offsets_mut().hold(
                producer_id,
                &group,
                generation,
                member,
                group_generation,
                &offsets,
            );
        }
        let results = offsets.into_iter().map(|(tp, _)| (tp, result)).collect();
        out.push(GroupOutput::Respond {
            to: reply,
            response: GroupResponse::TxnOffsetCommit { group, results },
        });
    }

    /// The producer's marker is on this partition (written and replicated): what its
    /// transaction committed here becomes the groups' committed offsets, unless a plain
    /// commit made durable after it says otherwise; an abort drops it.
    pub fn txn_completed(&mut self, producer_id: ProducerId, commit: bool) -> Vec<GroupOutput> {
        let mut out = Vec::new();
        let Some(groups) = self.txn_offsets_mut().pending.remove(&producer_id) else {
            return out;
        };
        if !commit {
            return out;
        }
        for (group, tps) in groups {
            let mut applied: BTreeMap<(Option<Generation>, Option<MemberId>, Generation), Vec<_>> =
                BTreeMap::new();
            for (tp, pending) in tps {
                let plain = self
                    .txn_offsets_mut()
                    .plain_seq
                    .get(&(group.clone(), tp.clone()))
                    .copied();
                if plain.is_some_and(|seq| seq > pending.seq) {
                    continue;
                }
                self.set_committed(&group, &tp, pending.offset);
                applied
                    .entry((pending.generation, pending.member, pending.group_generation))
                    .or_default()
                    .push((tp, pending.offset));
            }
            for ((generation, member, group_generation), offsets) in applied {
                out.push(GroupOutput::Event(GroupEvent::Committed {
                    group: group.clone(),
                    generation,
                    member,
                    group_generation,
                    offsets,
                }));
            }
        }
        out
    }

    /// Replays one log entry for [`GroupCoordinator::from_log`]'s transactional part.
    pub(super) fn replay_txn(&mut self, entry: OffsetsLogEntry<'_>) {
        match entry {
            OffsetsLogEntry::Record(_) => {}
            OffsetsLogEntry::TxnRecord {
                record:
                    OffsetsRecord::OffsetCommit {
                        group, tp, offset, ..
                    },
                producer_id,
            } => {
                let generation = self.group_generation(group);
                self.txn_offsets_mut().hold(
                    producer_id,
                    group,
                    None,
                    None,
                    generation,
                    &[(tp.clone(), *offset)],
                );
            }
            // Kafka writes no group metadata in a transaction.
            OffsetsLogEntry::TxnRecord { .. } => {}
            OffsetsLogEntry::Marker {
                producer_id,
                commit,
            } => {
                self.txn_completed(producer_id, commit);
            }
        }
    }
}

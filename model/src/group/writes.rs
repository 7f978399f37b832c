//! Writes to the offsets topic that the driver has not yet confirmed, and what waits on
//! each: a commit's answer, or a generation's assignment.

use super::ids::{ClientRef, Generation, GroupId, MemberId, WriteId};
use super::output::GroupOutput;
use super::records::OffsetsRecord;
use crate::ids::{Offset, ProducerEpoch, ProducerId, TopicPartition};
use std::collections::BTreeMap;

/// What a write completes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum PendingWrite {
    /// An accepted OffsetCommit: applied and answered once durable.
    Commit {
        group: GroupId,
        generation: Option<Generation>,
        member: Option<MemberId>,
        group_generation: Generation,
        offsets: Vec<(TopicPartition, Offset)>,
        reply: ClientRef,
    },
    /// An accepted TxnOffsetCommit: answered once durable, visible once its transaction
    /// commits.
    TxnCommit {
        group: GroupId,
        producer_id: ProducerId,
        generation: Option<Generation>,
        member: Option<MemberId>,
        group_generation: Generation,
        offsets: Vec<(TopicPartition, Offset)>,
        reply: ClientRef,
    },
    /// A generation's assignment: the group becomes Stable once durable.
    Assignment { group: GroupId },
    /// Group metadata nothing waits on (the group fell empty).
    Metadata,
}

#[derive(Clone, Debug, Default)]
pub(super) struct PendingWrites {
    next_id: u64,
    pending: BTreeMap<WriteId, PendingWrite>,
}

impl PendingWrites {
    /// Hands `records` to the driver and remembers what waits on them.
    pub(super) fn start(
        &mut self,
        records: Vec<OffsetsRecord>,
        waiting: PendingWrite,
        out: &mut Vec<GroupOutput>,
    ) -> WriteId {
        let write = WriteId(self.next_id);
        self.next_id += 1;
        self.pending.insert(write, waiting);
        out.push(GroupOutput::Write { write, records });
        write
    }

    /// Hands a transaction's `records` to the driver, to be written in the producer's
    /// transactional batch.
    pub(super) fn start_txn(
        &mut self,
        records: Vec<OffsetsRecord>,
        producer: (ProducerId, ProducerEpoch),
        waiting: PendingWrite,
        out: &mut Vec<GroupOutput>,
    ) -> WriteId {
        let write = WriteId(self.next_id);
        self.next_id += 1;
        self.pending.insert(write, waiting);
        out.push(GroupOutput::TxnWrite {
            write,
            records,
            producer_id: producer.0,
            producer_epoch: producer.1,
        });
        write
    }

    pub(super) fn finish(&mut self, write: WriteId) -> Option<PendingWrite> {
        self.pending.remove(&write)
    }

    /// Whether a commit of `tp` for `group` is being written (KIP-447's unstable offset).
    pub(super) fn commit_pending(&self, group: &GroupId, tp: &TopicPartition) -> bool {
        self.pending.values().any(|w| match w {
            PendingWrite::Commit {
                group: g, offsets, ..
            } => g == group && offsets.iter().any(|(t, _)| t == tp),
            _ => false,
        })
    }

    /// Forgets every pending write (the coordinator resigns) and returns what waited.
    pub(super) fn take_all(&mut self) -> Vec<PendingWrite> {
        std::mem::take(&mut self.pending).into_values().collect()
    }
}

//! The transactional commit mode (consume-transform-produce, KIP-447): the member hands its
//! application what it processed, with the group metadata that fences a zombie, instead of
//! committing it; the application commits the offsets inside its transaction, and after a
//! transaction that did not commit the member seeks back to the group's committed offsets.

use super::processing::Polled;
use super::GroupMember;
use crate::effect::ObservedRecord;
use crate::group::{Generation, GroupId, MemberId};
use crate::ids::{Offset, TopicPartition};
use std::collections::BTreeMap;

/// What the application processes in one transaction: the records, and the offsets (last
/// processed + 1) to commit with it for the member's generation (`groupMetadata()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionInput {
    pub group: GroupId,
    pub generation: Generation,
    pub member: MemberId,
    /// Each poll's records of one partition, in the order polled.
    pub polls: Vec<(TopicPartition, Vec<ObservedRecord>)>,
    pub offsets: Vec<(TopicPartition, Offset)>,
}

impl GroupMember {
    /// A processed poll in transactional mode waits for the application's next transaction.
    pub(super) fn processed_for_transaction(&mut self, item: Polled) {
        self.txn_ready.push(item);
    }

    /// Whether processed records wait for a transaction, or one is open with offsets.
    pub(super) fn transaction_pending(&self) -> bool {
        !self.txn_ready.is_empty() || self.in_transaction
    }

    /// What was processed since the last call, for the application's next transaction;
    /// `None` with nothing processed or outside a generation (there is no group metadata to
    /// commit with). Records of partitions given up since were dropped with them.
    pub fn take_processed(&mut self) -> Option<TransactionInput> {
        let generation = self.generation?;
        let member = self.member_id.clone()?;
        if self.txn_ready.is_empty() || self.rejoin_needed || self.sync.is_some() {
            return None;
        }
        let mut offsets: BTreeMap<TopicPartition, Offset> = BTreeMap::new();
        let mut polls = Vec::new();
        for item in std::mem::take(&mut self.txn_ready) {
            if !self.owned.contains(&item.tp) {
                continue;
            }
            offsets.insert(item.tp.clone(), item.next);
            polls.push((item.tp, item.records));
        }
        if polls.is_empty() {
            return None;
        }
        self.in_transaction = true;
        Some(TransactionInput {
            group: self.group.clone(),
            generation,
            member,
            polls,
            offsets: offsets.into_iter().collect(),
        })
    }

    /// The application's transaction ended. One that did not commit (aborted, or its
    /// outcome unknown) left its input uncommitted: every owned partition is fetched again
    /// from the group's committed offset (an OffsetFetch with require_stable, which waits
    /// out the transaction's markers), and what was polled since is dropped, to be
    /// processed again.
    pub fn transaction_ended(&mut self, committed: bool) {
        self.in_transaction = false;
        if committed || !self.config.rewind_after_abort {
            return;
        }
        self.txn_ready.clear();
        for tp in self.owned.clone() {
            self.restart_from_committed(&tp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CommitMode, GroupMember, MemberAction, MemberConfig};
    use crate::effect::ObservedRecord;
    use crate::group::{Generation, MemberId};
    use crate::ids::{Offset, TopicPartition};

    fn tp(partition: u32) -> TopicPartition {
        TopicPartition::new("orders", partition)
    }

    fn record(partition: u32, offset: u64) -> ObservedRecord {
        ObservedRecord {
            topic: "orders".into(),
            partition,
            offset,
            key: None,
            value: 100 + offset,
        }
    }

    /// A member in generation 3 owning orders-0 and orders-1, both started.
    fn member(rewind_after_abort: bool) -> GroupMember {
        let config = MemberConfig {
            commit_mode: CommitMode::Transactional,
            rewind_after_abort,
            ..MemberConfig::default()
        };
        let mut member =
            GroupMember::new(config, "g-m1".into(), vec!["orders".into()], 30_000, 100);
        member.member_id = Some(MemberId("g-m1-1".into()));
        member.generation = Some(Generation(3));
        member.rejoin_needed = false;
        member.owned.insert(tp(0));
        member.owned.insert(tp(1));
        member
    }

    fn poll(member: &mut GroupMember, partition: u32, offsets: std::ops::Range<u64>) {
        let records = offsets.clone().map(|o| record(partition, o)).collect();
        let (mut correlation, mut out) = (0, Vec::new());
        member.polled(
            0,
            tp(partition),
            records,
            Offset(offsets.end),
            &mut correlation,
            &mut out,
        );
        member.process_due(0, &mut correlation, &mut out);
        assert!(
            out.is_empty(),
            "a transactional member commits nothing: {out:?}"
        );
    }

    #[test]
    fn processed_records_go_to_the_application_with_the_group_metadata() {
        let mut m = member(true);
        assert_eq!(m.take_processed(), None);
        poll(&mut m, 0, 0..3);
        poll(&mut m, 1, 5..7);
        poll(&mut m, 0, 3..4);
        let input = m.take_processed().expect("processed records");
        assert_eq!(input.generation, Generation(3));
        assert_eq!(input.member, MemberId("g-m1-1".into()));
        assert_eq!(input.offsets, vec![(tp(0), Offset(4)), (tp(1), Offset(7))]);
        assert_eq!(input.polls.len(), 3);
        assert_eq!(m.take_processed(), None);
        // Not settled while the transaction is open.
        assert!(m.transaction_pending());
        m.transaction_ended(true);
        assert!(!m.transaction_pending());
        assert!(m.take_actions().is_empty(), "a commit keeps the positions");
    }

    #[test]
    fn an_abort_rewinds_every_owned_partition_to_the_committed_offset() {
        let mut m = member(true);
        poll(&mut m, 0, 0..3);
        m.take_processed().expect("processed");
        // Polled while the transaction was ending: dropped, to be read again.
        poll(&mut m, 1, 0..2);
        m.transaction_ended(false);
        assert_eq!(
            m.take_actions(),
            vec![
                MemberAction::Stop { tp: tp(0) },
                MemberAction::Stop { tp: tp(1) }
            ]
        );
        assert_eq!(m.take_processed(), None);
        assert_eq!(
            m.awaiting_offsets.len(),
            2,
            "both wait for their committed offset"
        );
    }

    #[test]
    fn the_broken_variant_keeps_its_positions_after_an_abort() {
        let mut m = member(false);
        poll(&mut m, 0, 0..3);
        m.take_processed().expect("processed");
        m.transaction_ended(false);
        assert!(m.take_actions().is_empty());
        assert!(m.awaiting_offsets.is_empty());
    }

    #[test]
    fn nothing_is_handed_over_outside_a_generation_or_for_a_partition_given_up() {
        let mut m = member(true);
        poll(&mut m, 0, 0..3);
        m.rejoin_needed = true;
        assert_eq!(
            m.take_processed(),
            None,
            "rejoining: no group metadata to commit with"
        );
        m.rejoin_needed = false;
        m.owned.remove(&tp(0));
        assert_eq!(m.take_processed(), None, "orders-0 was given up");
    }
}

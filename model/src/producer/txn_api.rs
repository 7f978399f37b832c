//! The application's transaction calls on a transactional producer (`beginTransaction`,
//! `sendOffsetsToTransaction`, `commitTransaction`, `abortTransaction`) and how the
//! producer carries out what its transaction manager decides.

use super::txn_calls::TxnCtx;
use super::{Producer, TransactionManager, TxnEvent};
use crate::effect::{Observation, Output};
use crate::group::{Generation, GroupId, MemberId};
use crate::ids::{Millis, Offset, TopicPartition};

impl Producer {
    /// The transactions of a producer with a `transactional.id`.
    pub fn transactions(&self) -> Option<&TransactionManager> {
        self.txn.as_ref()
    }

    /// What the transactions decided since the last call: identities, ends, a fatal error.
    pub fn take_txn_events(&mut self) -> Vec<TxnEvent> {
        std::mem::take(&mut self.txn_events)
    }

    /// `beginTransaction`.
    pub fn begin_transaction(&mut self) -> Result<(), String> {
        self.txn
            .as_mut()
            .ok_or("not a transactional producer")?
            .begin()
    }

    /// `sendOffsetsToTransaction`: `offsets` (last processed + 1) commit for `group` with
    /// the open transaction; the member's generation fences a zombie (KIP-447).
    pub fn send_offsets_to_transaction(
        &mut self,
        now: Millis,
        group: GroupId,
        generation: Option<Generation>,
        member: Option<MemberId>,
        offsets: Vec<(TopicPartition, Offset)>,
        out: &mut Vec<Output>,
    ) -> Result<(), String> {
        self.txn
            .as_mut()
            .ok_or("not a transactional producer")?
            .send_offsets(group, generation, member, offsets)?;
        self.drive(now, out);
        Ok(())
    }

    /// `commitTransaction` (`commit`) or `abortTransaction`: the outcome comes later as a
    /// [`TxnEvent::Ended`].
    pub fn end_transaction(
        &mut self,
        now: Millis,
        commit: bool,
        out: &mut Vec<Output>,
    ) -> Result<(), String> {
        let events = self
            .txn
            .as_mut()
            .ok_or("not a transactional producer")?
            .end(commit)?;
        self.apply_txn_events(events, out);
        self.drive(now, out);
        Ok(())
    }

    /// Lets the transactions send their next request, and carries out what they decide.
    pub(super) fn drive_transactions(&mut self, now: Millis, out: &mut Vec<Output>) {
        let batches_incomplete = !self.unpartitioned.is_empty()
            || self.queues.values().any(|q| !q.is_empty())
            || !self.in_flight.is_empty();
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        let ctx = TxnCtx {
            now,
            request_timeout_ms: self.config.request_timeout_ms,
            retry_backoff_ms: self.config.retry_backoff_ms,
            batches_incomplete,
            metadata: &mut self.metadata,
            next_correlation_id: &mut self.next_correlation_id,
        };
        let events = txn.poll(ctx, out);
        self.apply_txn_events(events, out);
    }

    /// Carries out the transactions' decisions, and keeps them for the driver.
    pub(super) fn apply_txn_events(&mut self, events: Vec<TxnEvent>, out: &mut Vec<Output>) {
        for event in &events {
            match event {
                TxnEvent::Identity(producer_id, epoch) => {
                    self.sequences.restart(*producer_id, *epoch);
                }
                TxnEvent::DropUnsent => self.give_up_queued("TransactionAbortedException", out),
                TxnEvent::Fatal(error) => self.give_up_queued(error, out),
                TxnEvent::Ended { .. } => {}
            }
        }
        self.txn_events.extend(events);
    }

    /// Gives up on every record not sent yet (a batch sent before stays unknown).
    fn give_up_queued(&mut self, error: &str, out: &mut Vec<Output>) {
        for record in std::mem::take(&mut self.unpartitioned) {
            out.push(Output::Observe(Observation::SendFail {
                value: record.value,
                error: error.to_string(),
            }));
        }
        for batch in std::mem::take(&mut self.queues).into_values().flatten() {
            batch.report_given_up(error, out);
        }
    }
}

//! The transaction coordinator of one `__transaction_state` partition (Kafka's
//! TransactionCoordinator over its TransactionStateManager): hands transactional producers
//! their id and epoch, tracks each id's transaction through its states, and ends
//! transactions with markers to every partition they touched.
//!
//! Durability: a transition takes effect, and is answered, only once its record is written
//! (acks=all) to the partition, which the driver reports through
//! [`TransactionCoordinator::write_completed`]. While an id's write is pending the id answers
//! CONCURRENT_TRANSACTIONS (Kafka's pending state; requests are not queued), so a
//! coordinator rebuilt by [`TransactionCoordinator::from_records`] knows everything a client
//! was told.
//!
//! The states, as Kafka's: InitProducerId gives a new id a fresh producer id and epoch 0
//! (Empty) and an existing one its next epoch, which fences every earlier instance (their
//! requests get PRODUCER_FENCED). One that finds a transaction Ongoing aborts it first
//! (PrepareEpochFence while the PrepareAbort with the bumped epoch is written) and is told
//! CONCURRENT_TRANSACTIONS, to ask again once the abort completed; while markers are out
//! it is told CONCURRENT_TRANSACTIONS too. AddPartitions and AddOffsets move Empty or
//! Complete* to Ongoing; KIP-890's `verify_only` form only checks. EndTxn moves Ongoing to
//! PrepareCommit or PrepareAbort and is answered once that is durable; the markers follow,
//! and CompleteCommit or CompleteAbort is written when every partition answered. A retried
//! EndTxn is told Ok once its transaction completed as asked (CONCURRENT_TRANSACTIONS while
//! its markers are out), INVALID_TXN_STATE if it asks the contrary. The timer
//! ([`TransactionCoordinator::tick`], every
//! `transaction.abort.timed.out.transaction.cleanup.interval.ms`) aborts, with a bumped
//! epoch, a transaction open longer than its `transaction.timeout.ms`.

use super::config::TxnCoordinatorConfig;
use super::log_records::{TxnLogRecord, TxnState};
use super::markers::MarkerChannel;
use super::metadata::TransactionMetadata;
use super::output::{MarkerRequestId, TxnOutput, TxnWriteId};
use super::pending::{Pending, Reply};
use super::protocol::{MarkerResults, TxnInit, TxnRequest, TxnResponse};
use super::TransactionalId;
use crate::group::{ClientRef, GroupId, OFFSETS_TOPIC};
use crate::ids::{BrokerId, Millis, ProducerEpoch, ProducerId, TopicPartition};
use crate::protocol::ErrorCode;
use std::collections::BTreeMap;

/// The coordinator state machine for the transactional ids of one partition.
#[derive(Clone, Debug)]
pub struct TransactionCoordinator {
    config: TxnCoordinatorConfig,
    /// The partition's leader epoch: markers carry it, so that leaders refuse a deposed
    /// coordinator's.
    coordinator_epoch: u32,
    /// Each id as its last durable record left it.
    ids: BTreeMap<TransactionalId, TransactionMetadata>,
    pending: BTreeMap<TransactionalId, Pending>,
    next_write: u64,
    markers: MarkerChannel,
    /// Completions whose write failed, with when each is written again.
    completions_to_retry: BTreeMap<TransactionalId, Millis>,
    next_timeout_check_ms: Millis,
}

impl TransactionCoordinator {
    /// A coordinator for a partition with an empty log.
    pub fn new(config: TxnCoordinatorConfig, coordinator_epoch: u32, now: Millis) -> Self {
        let markers = MarkerChannel::new(
            coordinator_epoch,
            config.marker_request_timeout_ms,
            config.retry_backoff_ms,
        );
        TransactionCoordinator {
            next_timeout_check_ms: now + config.abort_timed_out_check_interval_ms.max(1),
            config,
            coordinator_epoch,
            ids: BTreeMap::new(),
            pending: BTreeMap::new(),
            next_write: 0,
            markers,
            completions_to_retry: BTreeMap::new(),
        }
    }

    /// A coordinator taking over a partition (failover): replays its records in log order,
    /// the latest per id winning, and finishes the transactions it finds prepared (their
    /// markers go again: leaders take a repeated marker as written), as Kafka's loading
    /// does.
    pub fn from_records<'a>(
        config: TxnCoordinatorConfig,
        coordinator_epoch: u32,
        records: impl IntoIterator<Item = &'a TxnLogRecord>,
        now: Millis,
    ) -> Self {
        let mut coordinator = TransactionCoordinator::new(config, coordinator_epoch, now);
        for record in records {
            coordinator.ids.insert(
                record.transactional_id.clone(),
                TransactionMetadata::from_record(record),
            );
        }
        let prepared: Vec<(TransactionalId, TransactionMetadata)> = coordinator
            .ids
            .iter()
            .filter(|(_, m)| m.state.is_prepared())
            .map(|(id, m)| (id.clone(), m.clone()))
            .collect();
        for (id, metadata) in prepared {
            coordinator.start_markers(now, id, &metadata);
        }
        coordinator
    }

    pub fn coordinator_epoch(&self) -> u32 {
        self.coordinator_epoch
    }

    /// An id's durable metadata.
    pub fn metadata(&self, id: &TransactionalId) -> Option<&TransactionMetadata> {
        self.ids.get(id)
    }

    /// An id's state as requests see it: PrepareEpochFence while the coordinator's own
    /// abort of its open transaction is being written.
    pub fn state(&self, id: &TransactionalId) -> Option<TxnState> {
        let current = self.ids.get(id);
        let pending = self.pending.get(id);
        let fencing = pending.zip(current).is_some_and(|(p, m)| {
            p.target.state == TxnState::PrepareAbort && p.target.producer_epoch > m.producer_epoch
        });
        if fencing {
            return Some(TxnState::PrepareEpochFence);
        }
        current.map(|m| m.state).or(pending.map(|p| p.target.state))
    }

    pub fn transactional_ids(&self) -> impl Iterator<Item = &TransactionalId> {
        self.ids.keys()
    }

    /// A transactional InitProducerId. `fresh_producer_id` hands out a producer id never
    /// used before (the broker's allocator); it is called only for a new id, or one whose
    /// epoch is exhausted.
    pub fn init_producer_id(
        &mut self,
        now: Millis,
        from: ClientRef,
        init: TxnInit,
        fresh_producer_id: &mut dyn FnMut() -> ProducerId,
    ) -> Vec<TxnOutput> {
        let mut out = Vec::new();
        let refuse = |error| TxnOutput::InitProducerId {
            to: from,
            result: Err(error),
        };
        let timeout_ms = init.transaction_timeout_ms;
        if timeout_ms == 0 || timeout_ms > self.config.transaction_max_timeout_ms {
            out.push(refuse(ErrorCode::InvalidTransactionTimeout));
            return out;
        }
        let id = init.transactional_id;
        if self.pending.contains_key(&id) {
            out.push(refuse(ErrorCode::ConcurrentTransactions));
            return out;
        }
        let Some(current) = self.ids.get(&id).cloned() else {
            let target = TransactionMetadata::initial(fresh_producer_id(), timeout_ms, now);
            self.write(id, target, Reply::Init(from), &mut out);
            return out;
        };
        match current.state {
            TxnState::Ongoing => {
                out.push(TxnOutput::Note(format!(
                    "{id}: a new instance aborts the open transaction of {} {}",
                    current.producer_id, current.producer_epoch
                )));
                let target = current.fenced_abort(now);
                self.write(id, target, Reply::InitAfterFence(from), &mut out);
            }
            state if state.is_prepared() => {
                out.push(refuse(ErrorCode::ConcurrentTransactions));
            }
            _ => {
                let target = current.reinitialized(timeout_ms, now).unwrap_or_else(|| {
                    TransactionMetadata::initial(fresh_producer_id(), timeout_ms, now)
                });
                self.write(id, target, Reply::Init(from), &mut out);
            }
        }
        out
    }

    /// AddPartitionsToTxn (and KIP-890's verification), AddOffsetsToTxn, EndTxn.
    pub fn handle(&mut self, now: Millis, from: ClientRef, request: TxnRequest) -> Vec<TxnOutput> {
        let mut out = Vec::new();
        match request {
            TxnRequest::AddPartitions {
                transactional_id,
                producer_id,
                producer_epoch,
                partitions,
                verify_only: true,
            } => {
                let results = partitions
                    .into_iter()
                    .map(|tp| {
                        let result =
                            self.verify(&transactional_id, producer_id, producer_epoch, &tp);
                        (tp, result)
                    })
                    .collect();
                out.push(TxnOutput::Respond {
                    to: from,
                    response: TxnResponse::AddPartitions { results },
                });
            }
            TxnRequest::AddPartitions {
                transactional_id,
                producer_id,
                producer_epoch,
                partitions,
                verify_only: false,
            } => {
                let reply = Reply::AddPartitions(from, partitions.clone());
                let id = transactional_id;
                self.add(
                    now,
                    id,
                    producer_id,
                    producer_epoch,
                    &partitions,
                    reply,
                    &mut out,
                );
            }
            TxnRequest::AddOffsets {
                transactional_id,
                producer_id,
                producer_epoch,
                group,
            } => {
                let reply = Reply::AddOffsets(from);
                // No offsets topic: no partition for the offsets to go to, yet.
                if self.config.offsets_topic_partitions == 0 {
                    out.extend(reply.answer(Err(ErrorCode::CoordinatorNotAvailable)));
                    return out;
                }
                let partitions = [self.offsets_partition(&group)];
                let id = transactional_id;
                self.add(
                    now,
                    id,
                    producer_id,
                    producer_epoch,
                    &partitions,
                    reply,
                    &mut out,
                );
            }
            TxnRequest::EndTxn {
                transactional_id,
                producer_id,
                producer_epoch,
                commit,
            } => self.end(
                now,
                from,
                transactional_id,
                producer_id,
                producer_epoch,
                commit,
                &mut out,
            ),
        }
        out
    }

    /// The group's `__consumer_offsets` partition, which a transaction's offsets go to.
    fn offsets_partition(&self, group: &GroupId) -> TopicPartition {
        let partition =
            crate::group::coordinator_partition(group, self.config.offsets_topic_partitions);
        TopicPartition::new(OFFSETS_TOPIC, partition)
    }

    /// Checks the id, producer and state every transaction request needs.
    fn current(
        &self,
        id: &TransactionalId,
        producer_id: ProducerId,
        producer_epoch: ProducerEpoch,
    ) -> Result<&TransactionMetadata, ErrorCode> {
        let Some(current) = self.ids.get(id) else {
            return Err(if self.pending.contains_key(id) {
                ErrorCode::ConcurrentTransactions
            } else {
                ErrorCode::InvalidProducerIdMapping
            });
        };
        current.check_producer(producer_id, producer_epoch)?;
        if self.pending.contains_key(id) {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        Ok(current)
    }

    #[allow(clippy::too_many_arguments)] // one request's fields, named
    fn add(
        &mut self,
        now: Millis,
        id: TransactionalId,
        producer_id: ProducerId,
        producer_epoch: ProducerEpoch,
        partitions: &[TopicPartition],
        reply: Reply,
        out: &mut Vec<TxnOutput>,
    ) {
        let target = match self.current(&id, producer_id, producer_epoch) {
            Err(error) => Err(error),
            Ok(current) if current.state.is_prepared() => Err(ErrorCode::ConcurrentTransactions),
            Ok(current)
                if (current.state == TxnState::Ongoing || partitions.is_empty())
                    && partitions.iter().all(|tp| current.partitions.contains(tp)) =>
            {
                Ok(None)
            }
            Ok(current) if current.state == TxnState::Ongoing || current.state.is_idle() => {
                Ok(Some(current.with_partitions(partitions, now)))
            }
            Ok(_) => Err(ErrorCode::InvalidTxnState),
        };
        match target {
            Ok(Some(target)) => self.write(id, target, reply, out),
            // Nothing new to add: answered at once, as Kafka does.
            Ok(None) => out.extend(reply.answer(Ok((producer_id, producer_epoch)))),
            Err(error) => out.extend(reply.answer(Err(error))),
        }
    }

    /// KIP-890's check by a partition leader: is `tp` in the open transaction of this
    /// producer? Writes nothing.
    fn verify(
        &self,
        id: &TransactionalId,
        producer_id: ProducerId,
        producer_epoch: ProducerEpoch,
        tp: &TopicPartition,
    ) -> Result<(), ErrorCode> {
        let current = self
            .ids
            .get(id)
            .ok_or(ErrorCode::InvalidProducerIdMapping)?;
        current.check_producer(producer_id, producer_epoch)?;
        // A transition being written away from Ongoing (an EndTxn, a fence) ends the
        // transaction the produce would join.
        if let Some(pending) = self.pending.get(id) {
            if pending.target.producer_epoch != producer_epoch {
                return Err(ErrorCode::ProducerFenced);
            }
            if pending.target.state != TxnState::Ongoing {
                return Err(ErrorCode::InvalidTxnState);
            }
        }
        if current.state == TxnState::Ongoing && current.partitions.contains(tp) {
            Ok(())
        } else {
            Err(ErrorCode::InvalidTxnState)
        }
    }

    #[allow(clippy::too_many_arguments)] // one request's fields, named
    fn end(
        &mut self,
        now: Millis,
        from: ClientRef,
        id: TransactionalId,
        producer_id: ProducerId,
        producer_epoch: ProducerEpoch,
        commit: bool,
        out: &mut Vec<TxnOutput>,
    ) {
        let result = match self.current(&id, producer_id, producer_epoch) {
            Err(error) => Err(error),
            Ok(current) if current.state == TxnState::Ongoing => {
                let target = current.prepared(commit, now);
                self.write(id, target, Reply::EndTxn(from), out);
                return;
            }
            Ok(current) => current.end_without_open_txn(commit),
        };
        out.push(TxnOutput::Respond {
            to: from,
            response: TxnResponse::EndTxn { result },
        });
    }

    /// Hands a transition's record to the driver; it takes effect in
    /// [`TransactionCoordinator::write_completed`].
    fn write(
        &mut self,
        id: TransactionalId,
        target: TransactionMetadata,
        reply: Reply,
        out: &mut Vec<TxnOutput>,
    ) {
        let write = TxnWriteId(self.next_write);
        self.next_write += 1;
        out.push(TxnOutput::Write {
            write,
            record: target.to_record(&id),
        });
        self.pending.insert(
            id,
            Pending {
                write,
                target,
                reply,
            },
        );
    }

    /// The driver's report on a write: durable (the transition takes effect and is
    /// answered; a prepared transaction's markers start) or failed (the id stays as it
    /// was, and whoever waited is told why).
    pub fn write_completed(
        &mut self,
        now: Millis,
        write: TxnWriteId,
        result: Result<(), ErrorCode>,
    ) -> Vec<TxnOutput> {
        let mut out = Vec::new();
        let Some(id) = self
            .pending
            .iter()
            .find(|(_, p)| p.write == write)
            .map(|(id, _)| id.clone())
        else {
            return out;
        };
        let pending = self.pending.remove(&id).expect("found above");
        let completing = pending.reply == Reply::Nobody && pending.target.state.is_idle();
        if let Err(error) = result {
            out.push(TxnOutput::Note(format!(
                "{id}: writing {:?} failed: {error}",
                pending.target.state
            )));
            if completing {
                let retry_ms = now + self.config.retry_backoff_ms;
                self.completions_to_retry.insert(id, retry_ms);
            }
            out.extend(pending.reply.answer(Err(error)));
            return out;
        }
        self.ids.insert(id.clone(), pending.target.clone());
        if pending.target.state.is_prepared() {
            self.start_markers(now, id, &pending.target);
        }
        let granted = (pending.target.producer_id, pending.target.producer_epoch);
        out.extend(pending.reply.answer(Ok(granted)));
        out
    }

    fn start_markers(&mut self, now: Millis, id: TransactionalId, prepared: &TransactionMetadata) {
        let commit = prepared.state == TxnState::PrepareCommit;
        // The broken variant completes an abort at once, its partitions never told: their
        // records stay an open transaction that the producer's next one continues.
        let skip = !commit && !self.config.write_abort_markers;
        let partitions = prepared.partitions.iter().filter(|_| !skip).cloned();
        let (pid, epoch) = (prepared.producer_id, prepared.producer_epoch);
        self.markers.start(now, id, pid, epoch, commit, partitions);
    }

    /// Sends the markers that are due, to the leaders `leader_of` names (the broker's
    /// metadata), and writes the completion of every transaction whose markers are all
    /// written.
    pub fn poll_markers(
        &mut self,
        now: Millis,
        leader_of: &dyn Fn(&TopicPartition) -> Option<BrokerId>,
    ) -> Vec<TxnOutput> {
        let mut out = Vec::new();
        self.complete_finished(now, &mut out);
        self.markers.poll(now, leader_of, &mut out);
        out
    }

    /// A leader's WriteTxnMarkers answer to `request`.
    pub fn markers_answered(
        &mut self,
        now: Millis,
        request: MarkerRequestId,
        from: BrokerId,
        results: &MarkerResults,
    ) -> Vec<TxnOutput> {
        self.markers.answered(now, request, from, results);
        let mut out = Vec::new();
        self.complete_finished(now, &mut out);
        out
    }

    /// `request` was lost (its connection failed): its markers go again after a backoff.
    pub fn markers_failed(&mut self, now: Millis, request: MarkerRequestId) {
        self.markers.failed(now, request);
    }

    fn complete_finished(&mut self, now: Millis, out: &mut Vec<TxnOutput>) {
        for id in self.markers.take_finished() {
            self.write_completion(now, id, out);
        }
    }

    fn write_completion(&mut self, now: Millis, id: TransactionalId, out: &mut Vec<TxnOutput>) {
        let Some(prepared) = self.ids.get(&id).filter(|m| m.state.is_prepared()) else {
            return;
        };
        let target = prepared.completed(now);
        out.push(TxnOutput::Note(format!(
            "{id}: every marker written, {:?}",
            target.state
        )));
        self.write(id, target, Reply::Nobody, out);
    }

    /// Runs the timers: aborts transactions open longer than their timeout (Kafka's
    /// abortTimedOutTransactions: the epoch bumps, fencing the producer that left it), and
    /// writes again the completions whose write failed.
    pub fn tick(&mut self, now: Millis) -> Vec<TxnOutput> {
        let mut out = Vec::new();
        let due: Vec<TransactionalId> = self
            .completions_to_retry
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.completions_to_retry.remove(&id);
            if !self.pending.contains_key(&id) {
                self.write_completion(now, id, &mut out);
            }
        }
        if now >= self.next_timeout_check_ms {
            self.next_timeout_check_ms = now + self.config.abort_timed_out_check_interval_ms.max(1);
            let expired: Vec<(TransactionalId, TransactionMetadata)> = self
                .ids
                .iter()
                .filter(|(id, m)| m.timed_out(now) && !self.pending.contains_key(*id))
                .map(|(id, m)| (id.clone(), m.fenced_abort(now)))
                .collect();
            for (id, target) in expired {
                out.push(TxnOutput::Note(format!(
                    "{id}: transaction timed out, aborting with {}",
                    target.producer_epoch
                )));
                self.write(id, target, Reply::Nobody, &mut out);
            }
        }
        out
    }

    /// When [`TransactionCoordinator::tick`] (or a marker poll) must run next.
    pub fn next_deadline(&self) -> Option<Millis> {
        [
            Some(self.next_timeout_check_ms),
            self.markers.next_deadline(),
            self.completions_to_retry.values().min().copied(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// This broker no longer leads the partition: everyone waiting on a write is told
    /// NOT_COORDINATOR (they find the new coordinator, which rebuilt from the log).
    pub fn resign(self) -> Vec<TxnOutput> {
        self.pending
            .into_values()
            .filter_map(|p| p.reply.answer(Err(ErrorCode::NotCoordinator)))
            .collect()
    }
}

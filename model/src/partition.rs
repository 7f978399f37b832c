//! One partition replica hosted by a broker: its log, its memory of idempotent producers and
//! its replication state, kept consistent with each other. Every change it makes is also
//! reported as a `ReplicaEvent`, so that the harness can check the cluster invariants.

use crate::config::{BrokerConfig, ReplicationProtocol};
use crate::effect::{Output, ReplicaEvent, ReplicaRecord};
use crate::ids::{BrokerId, LeaderEpoch, Millis, Offset, TopicPartition};
use crate::leader_epoch_cache::LeaderEpochCache;
use crate::log::{Log, LogError, RecoveryReport};
use crate::metadata::PartitionRegistration;
use crate::producer_state::{ProducerStateTable, SequenceCheck};
use crate::protocol::{ConsumerFetchPartition, ErrorCode};
use crate::reach::RarePath;
use crate::record::{ProducerStamp, RecordBatch};
use crate::replica::ReplicaState;
use crate::txn::IsolationLevel;

mod retention;
mod transactions;
#[cfg(test)]
mod txn_tests;

/// Where an appended (or deduplicated) batch sits in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub base: Offset,
    pub last: Offset,
}

/// A partition replica.
#[derive(Clone, Debug)]
pub struct Partition {
    tp: TopicPartition,
    log: Log,
    producers: ProducerStateTable,
    replica: ReplicaState,
    /// How many batches per producer the producer state remembers.
    producer_batches_remembered: usize,
    /// `BrokerConfig::fence_producer_epochs`: false appends a batch of an older producer
    /// epoch as a leader (a deliberately broken variant).
    fence_producer_epochs: bool,
    /// This leader's log end when it took its epoch: until the high watermark reaches it,
    /// the leader cannot tell consumers where the committed log ends.
    epoch_start: Offset,
    /// Before KIP-320 a follower looked up where its log diverges only on becoming a
    /// follower, then fetched without epochs: true until that lookup is answered.
    epoch_lookup_pending: bool,
    /// `last_stable_offset_waits_for_open_transactions`: false is the broken variant whose
    /// last stable offset is the high watermark.
    lso_waits_for_open_txns: bool,
}

impl Partition {
    /// Rebuilds a replica from the segment files its broker found on disk (`files` under
    /// this partition's directory; none for a new replica).
    pub fn recover(
        me: BrokerId,
        tp: TopicPartition,
        config: &BrokerConfig,
        files: Vec<(String, Vec<u8>)>,
        out: &mut Vec<Output>,
    ) -> (Partition, RecoveryReport) {
        let (log, ops, report) = Log::recover(tp.clone(), config.log.clone(), files);
        out.extend(ops.into_iter().map(Output::Disk));
        let epochs =
            LeaderEpochCache::from_batches(log.batches().map(|b| (b.leader_epoch, b.base_offset)));
        let mut replica = ReplicaState::new(me, epochs, Offset(0));
        if config.strict_min_insync {
            replica = replica.with_strict_min_insync(config.min_insync_replicas);
        }
        let mut partition = Partition {
            tp: tp.clone(),
            producers: ProducerStateTable::new(config.producer_batches_remembered),
            replica,
            epoch_start: Offset(0),
            epoch_lookup_pending: false,
            producer_batches_remembered: config.producer_batches_remembered,
            lso_waits_for_open_txns: config.last_stable_offset_waits_for_open_transactions,
            fence_producer_epochs: config.fence_producer_epochs,
            log,
        };
        partition.rebuild_producer_state();
        out.push(Output::Replica(ReplicaEvent::Recovered {
            tp,
            log_start: partition.log.log_start_offset(),
            records: replica_records(partition.log.batches()),
        }));
        (partition, report)
    }

    /// Rebuilds the producer state, open transactions and aborted index included, from
    /// the log as it now stands (after recovery, truncation, or a reset), as Kafka's
    /// LogLoader replays the log into the ProducerStateManager.
    fn rebuild_producer_state(&mut self) {
        self.producers = ProducerStateTable::rebuilt(
            self.producer_batches_remembered,
            self.log.batches(),
            self.high_watermark(),
        );
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    pub fn log_end(&self) -> Offset {
        self.log.log_end_offset()
    }

    /// Every batch of the log, oldest first.
    pub fn batches(&self) -> impl Iterator<Item = &RecordBatch> {
        self.log.batches()
    }

    pub fn log_start(&self) -> Offset {
        self.log.log_start_offset()
    }

    pub fn high_watermark(&self) -> Offset {
        self.replica.high_watermark()
    }

    pub fn replica(&self) -> &ReplicaState {
        &self.replica
    }

    pub fn is_leader(&self) -> bool {
        self.replica.is_leader()
    }

    pub fn leader_epoch(&self) -> LeaderEpoch {
        self.replica.leader_epoch()
    }

    /// The leader this follower fetches from, in which epoch.
    pub fn following(&self) -> Option<(BrokerId, LeaderEpoch)> {
        match self.replica.role() {
            crate::replica::Role::Follower {
                leader: Some(leader),
                epoch,
            } => Some((*leader, *epoch)),
            _ => None,
        }
    }

    /// Brings the role in line with the metadata's registration of this partition.
    /// Returns true if this broker stopped leading it.
    pub fn reconcile(
        &mut self,
        me: BrokerId,
        registration: &PartitionRegistration,
        protocol: ReplicationProtocol,
        now: Millis,
        out: &mut Vec<Output>,
    ) -> bool {
        let was_leader = self.is_leader();
        let epoch = registration.leader_epoch;
        if registration.leader == Some(me) {
            if !was_leader || self.leader_epoch() != epoch {
                self.replica.become_leader(
                    epoch,
                    registration.partition_epoch,
                    registration.isr.clone(),
                    &registration.replicas,
                    self.log_end(),
                    now,
                );
                self.epoch_start = self.log_end();
                out.push(Output::Replica(ReplicaEvent::BecameLeader {
                    tp: self.tp.clone(),
                    epoch,
                    isr: registration.isr.clone(),
                    log_end: self.log_end(),
                }));
                self.advance_high_watermark(out);
            } else if self.replica.leader_isr().map(|(_, pe)| pe)
                < Some(registration.partition_epoch)
            {
                self.isr_committed(registration.isr.clone(), registration.partition_epoch, out);
            }
            return false;
        }
        if was_leader || self.following() != registration.leader.zip(Some(epoch)) {
            self.replica.become_follower(registration.leader, epoch);
            out.push(Output::Replica(ReplicaEvent::BecameFollower {
                tp: self.tp.clone(),
                epoch,
                leader: registration.leader,
            }));
            if protocol.looks_up_epochs() {
                self.epoch_lookup_pending = true;
            } else {
                let high_watermark = self.high_watermark();
                self.truncate(
                    None,
                    high_watermark,
                    "to its high watermark (pre-KIP-101)",
                    out,
                );
            }
        }
        was_leader
    }

    /// The controller committed an ISR (by AlterPartition answer or metadata).
    pub fn isr_committed(
        &mut self,
        isr: Vec<BrokerId>,
        partition_epoch: u32,
        out: &mut Vec<Output>,
    ) {
        if self.replica.leader_isr().map(|(_, pe)| pe) >= Some(partition_epoch) {
            return;
        }
        let before = self.high_watermark();
        self.replica
            .isr_change_answered(Some((isr.clone(), partition_epoch)), self.log_end());
        out.push(Output::Replica(ReplicaEvent::IsrChanged {
            tp: self.tp.clone(),
            epoch: self.leader_epoch(),
            isr,
        }));
        self.report_high_watermark(before, self.high_watermark(), out);
    }

    /// An AlterPartition was refused or lost: the leader may ask again.
    pub fn isr_change_refused(&mut self, out: &mut Vec<Output>) {
        let before = self.high_watermark();
        self.replica.isr_change_answered(None, self.log_end());
        self.report_high_watermark(before, self.high_watermark(), out);
    }

    /// A follower fetched from this leader: its progress may move the high watermark
    /// (reported, with whether it moved).
    pub fn follower_fetched(
        &mut self,
        fetch: &crate::protocol::ReplicaFetchPartition,
        follower: BrokerId,
        protocol: ReplicationProtocol,
        now: Millis,
        out: &mut Vec<Output>,
    ) -> (crate::replica::FollowerFetch, bool) {
        let before = self.high_watermark();
        // Before KIP-320 a fetch named no leader epoch: a leader served whoever asked.
        let current_leader_epoch = if protocol.fences_fetches() {
            fetch.current_leader_epoch
        } else {
            self.leader_epoch()
        };
        let answer = self.replica.on_follower_fetch(
            follower,
            fetch.fetch_offset,
            fetch.last_fetched_epoch,
            current_leader_epoch,
            self.log_end(),
            now,
        );
        let moved = self.report_high_watermark(before, self.high_watermark(), out);
        (answer, moved)
    }

    pub fn replica_mut(&mut self) -> &mut ReplicaState {
        &mut self.replica
    }

    /// Recomputes the leader's high watermark; reports it if it moved.
    pub fn advance_high_watermark(&mut self, out: &mut Vec<Output>) -> bool {
        let before = self.replica.high_watermark();
        let after = self.replica.advance_high_watermark(self.log_end());
        self.report_high_watermark(before, after, out)
    }

    fn report_high_watermark(&self, before: Offset, after: Offset, out: &mut Vec<Output>) -> bool {
        if before != after {
            out.push(Output::Replica(ReplicaEvent::HighWatermark {
                tp: self.tp.clone(),
                high_watermark: after,
            }));
        }
        before != after
    }

    /// Appends a producer's batch as leader, checking its sequence if asked to. A
    /// duplicate is answered with where it already is.
    pub fn append_as_leader(
        &mut self,
        batch: RecordBatch,
        check_sequences: bool,
        out: &mut Vec<Output>,
    ) -> Result<Appended, ErrorCode> {
        if batch.records.is_empty() {
            let end = self.log_end();
            return Ok(Appended {
                base: end,
                last: Offset(end.0.saturating_sub(1)),
            });
        }
        let count = batch.records.len() as u64;
        if let Some(stamp) = batch.producer.filter(|_| check_sequences) {
            match self.producers.check(&stamp, count as u32) {
                SequenceCheck::Append => {}
                SequenceCheck::Reject(ErrorCode::InvalidProducerEpoch)
                    if !self.fence_producer_epochs =>
                {
                    out.push(Output::Note(format!(
                        "append {} of an older producer epoch {} (epochs not fenced)",
                        self.tp, stamp.producer_epoch.0
                    )));
                }
                SequenceCheck::Duplicate(base) => {
                    out.push(Output::Note(format!(
                        "duplicate {} seq {} already at offset {}: {}",
                        self.tp,
                        stamp.base_sequence,
                        base.0,
                        values(&batch)
                    )));
                    out.push(Output::Reached(RarePath::DuplicateSequenceAnswered));
                    return Ok(Appended {
                        base,
                        last: Offset(base.0 + count - 1),
                    });
                }
                SequenceCheck::Reject(error) => {
                    out.push(Output::Note(format!(
                        "refuse {} seq {}: {error}: {}",
                        self.tp,
                        stamp.base_sequence,
                        values(&batch)
                    )));
                    return Err(error);
                }
            }
        }
        let described = values(&batch);
        let (base, ops) = self.log.append(batch, self.leader_epoch());
        out.push(Output::Note(format!(
            "append {}@{}..{}: {described}",
            self.tp,
            base.0,
            self.log_end().0 - 1
        )));
        out.extend(ops.into_iter().map(Output::Disk));
        self.after_append(out);
        self.advance_high_watermark(out);
        Ok(Appended {
            base,
            last: Offset(base.0 + count - 1),
        })
    }

    /// Bookkeeping shared by leader and follower appends, for the batch just written.
    fn after_append(&mut self, out: &mut Vec<Output>) {
        let stored = self
            .log
            .batches()
            .last()
            .expect("a batch was just appended");
        self.producers.update(stored);
        self.producers
            .txns_mut()
            .replicated_to(self.replica.high_watermark());
        self.replica
            .follower_appended(stored.leader_epoch, stored.base_offset);
        out.push(Output::Replica(ReplicaEvent::Appended {
            tp: self.tp.clone(),
            base: stored.base_offset,
            records: replica_records(std::iter::once(stored)),
        }));
    }

    /// A follower copies its leader's batches and takes its high watermark.
    pub fn append_as_follower(
        &mut self,
        batches: Vec<RecordBatch>,
        leader_high_watermark: Offset,
        out: &mut Vec<Output>,
    ) -> Result<(), LogError> {
        for batch in batches {
            if batch.next_offset() <= self.log_end() {
                // The leader sends whole batches; the part we have is skipped.
                continue;
            }
            let ops = self.log.append_replicated(batch)?;
            out.extend(ops.into_iter().map(Output::Disk));
            self.after_append(out);
        }
        let before = self.replica.high_watermark();
        self.replica
            .follow_high_watermark(leader_high_watermark, self.log_end());
        let after = self.replica.high_watermark();
        self.report_high_watermark(before, after, out);
        Ok(())
    }

    /// The leader said this follower's log diverges from the end of `epoch` at
    /// `end_offset`: cut the divergent suffix. With KIP-279 the follower checks the
    /// answer against its own end of `epoch`, and asks again until the leader serves it;
    /// before, it took the offset as it came, once.
    pub fn truncate_divergent(
        &mut self,
        epoch: LeaderEpoch,
        end_offset: Offset,
        protocol: ReplicationProtocol,
        out: &mut Vec<Output>,
    ) {
        let checked_epoch = Some(epoch).filter(|_| protocol.follower_checks_answer_epoch());
        if checked_epoch.is_none() {
            self.epoch_lookup_pending = false;
        }
        self.truncate(
            checked_epoch,
            end_offset,
            "(diverging from the leader)",
            out,
        );
    }

    /// The leader served this follower's fetch: no divergence was found at its offset.
    pub fn fetch_served(&mut self) {
        self.epoch_lookup_pending = false;
    }

    /// The epoch to name as the last fetched in a replica fetch, so the leader can tell
    /// where this log diverges: with every fetch under KIP-320, only in the first fetch
    /// after becoming a follower before it, never before KIP-101.
    pub fn epoch_to_validate(&self, protocol: ReplicationProtocol) -> Option<LeaderEpoch> {
        let validate =
            protocol.fences_fetches() || (protocol.looks_up_epochs() && self.epoch_lookup_pending);
        self.last_fetched_epoch().filter(|_| validate)
    }

    /// Cuts the log at `end_offset` (or leaves it, if shorter), with the producer state
    /// and epoch cache that go with it.
    fn truncate(
        &mut self,
        diverging_epoch: Option<LeaderEpoch>,
        end_offset: Offset,
        why: &str,
        out: &mut Vec<Output>,
    ) {
        let log_end = self.log_end();
        let to = self
            .replica
            .truncation_for(diverging_epoch, end_offset, log_end);
        if to >= log_end {
            return;
        }
        out.push(Output::Note(format!(
            "truncate {} from {} to {} {why}",
            self.tp, log_end.0, to.0
        )));
        let ops = self.log.truncate_to(to);
        out.extend(ops.into_iter().map(Output::Disk));
        self.rebuild_producer_state();
        out.push(Output::Replica(ReplicaEvent::Truncated {
            tp: self.tp.clone(),
            log_end: self.log_end(),
        }));
    }

    /// Why a consumer fetch at `offset` cannot be served now, if it cannot.
    pub fn check_consumer_fetch(
        &self,
        asked: &ConsumerFetchPartition,
        protocol: ReplicationProtocol,
    ) -> Result<(), ErrorCode> {
        if !self.is_leader() {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        if protocol.fences_fetches() {
            if asked.current_leader_epoch < self.leader_epoch() {
                return Err(ErrorCode::FencedLeaderEpoch);
            }
            if asked.current_leader_epoch > self.leader_epoch() {
                return Err(ErrorCode::UnknownLeaderEpoch);
            }
        }
        let offset = asked.fetch_offset;
        if self.high_watermark() < self.epoch_start {
            return Err(ErrorCode::OffsetNotAvailable);
        }
        // Between the high watermark and the log end the answer is "nothing yet", as in
        // Kafka: a consumer ahead of a new leader's high watermark waits, it is not reset.
        if offset > self.log_end() || offset < self.log_start() {
            return Err(ErrorCode::OffsetOutOfRange);
        }
        Ok(())
    }

    /// Whether a consumer parked at `offset` has something to take now: an error, or
    /// records below where its isolation level lets it read.
    pub fn has_news_for_consumer(
        &self,
        asked: &ConsumerFetchPartition,
        isolation: IsolationLevel,
        protocol: ReplicationProtocol,
    ) -> bool {
        self.check_consumer_fetch(asked, protocol).is_err()
            || asked.fetch_offset < self.readable_end(isolation)
    }

    /// The committed end, for ListOffsets(latest), or why it is not known.
    pub fn committed_end(&self) -> Result<Offset, ErrorCode> {
        if !self.is_leader() {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        if self.high_watermark() < self.epoch_start {
            return Err(ErrorCode::OffsetNotAvailable);
        }
        Ok(self.high_watermark())
    }

    /// Batches for a follower, from `offset` to the log end; `offset` must not be below
    /// the log start (the caller answers with the log start instead).
    pub fn read_for_follower(&self, offset: Offset, max_records: usize) -> Vec<RecordBatch> {
        self.log.batches_from(offset, max_records)
    }

    /// The epoch of this replica's last record, for its fetches (KIP-320).
    pub fn last_fetched_epoch(&self) -> Option<LeaderEpoch> {
        self.replica.epochs().latest_epoch()
    }

    pub fn tp(&self) -> &TopicPartition {
        &self.tp
    }
}

fn replica_records<'a>(batches: impl Iterator<Item = &'a RecordBatch>) -> Vec<ReplicaRecord> {
    batches
        .flat_map(|b| {
            b.records.iter().zip(0u32..).map(|(r, i)| ReplicaRecord {
                value: r.value,
                epoch: b.leader_epoch,
                producer: b.producer.map(|stamp| ProducerStamp {
                    base_sequence: stamp.base_sequence.wrapping_add(i),
                    ..stamp
                }),
            })
        })
        .collect()
}

/// The values of a batch as trace lines show them ("v3 v4 v5"), so that one record's
/// life can be followed through the trace.
pub fn values(batch: &RecordBatch) -> String {
    let values: Vec<String> = batch
        .records
        .iter()
        .map(|r| format!("v{}", r.value))
        .collect();
    values.join(" ")
}

//! A partition replica's side of transactions: its last stable offset, the markers its
//! leader writes, KIP-890's verification guard on a held transactional append, and the
//! read_committed read.

use super::{values, Appended, Partition};
use crate::config::ReplicationProtocol;
use crate::effect::Output;
use crate::ids::{Offset, ProducerId};
use crate::producer_state::ProducerStateTable;
use crate::protocol::{ConsumerFetchPartition, ErrorCode, FetchedPartition};
use crate::record::{RecordBatch, TxnPart};
use crate::txn::IsolationLevel;

impl Partition {
    /// The last stable offset: below it every transaction has ended and its marker is
    /// replicated (the high watermark when no transaction holds it back). The broken
    /// variant that ignores open transactions answers the high watermark always.
    pub fn last_stable_offset(&self) -> Offset {
        if !self.lso_waits_for_open_txns {
            return self.high_watermark();
        }
        self.producers
            .txns()
            .last_stable_offset(self.high_watermark(), self.log_start())
    }

    /// The producer state as it stands, for checks that it matches the log.
    pub fn producer_state(&self) -> &ProducerStateTable {
        &self.producers
    }

    /// Whether `producer` has a transaction open here.
    pub fn has_open_txn(&self, producer: ProducerId) -> bool {
        self.producers.has_open_txn(producer)
    }

    /// KIP-890: this leader starts verifying `producer`'s transactional produce; the guard
    /// its held append must present.
    pub fn start_verification(&mut self, producer: ProducerId) -> u64 {
        self.producers.start_verification(producer)
    }

    /// Appends a verified transactional batch, unless a marker for its producer came
    /// between the verification and now (Kafka's VerificationGuard): the transaction the
    /// coordinator vouched for has ended, so this batch would open one nobody ends.
    pub fn append_verified_as_leader(
        &mut self,
        batch: RecordBatch,
        guard: u64,
        check_sequences: bool,
        out: &mut Vec<Output>,
    ) -> Result<Appended, ErrorCode> {
        if let Some(stamp) = batch.producer {
            if !self.producers.verification_holds(stamp.producer_id, guard) {
                out.push(Output::Note(format!(
                    "refuse {}: a marker for producer {} came after its verification: {}",
                    self.tp,
                    stamp.producer_id.0,
                    values(&batch)
                )));
                return Err(ErrorCode::InvalidTxnState);
            }
        }
        self.append_as_leader(batch, check_sequences, out)
    }

    /// Appends a commit or abort marker as leader: one control record, not
    /// sequence-checked, fenced by the producer epoch and the coordinator epoch.
    pub fn append_marker_as_leader(
        &mut self,
        batch: RecordBatch,
        out: &mut Vec<Output>,
    ) -> Result<Appended, ErrorCode> {
        let (Some(stamp), Some(TxnPart::Marker(marker))) = (batch.producer, batch.txn) else {
            return Err(ErrorCode::InvalidTxnState);
        };
        if batch.records.len() != 1 {
            return Err(ErrorCode::InvalidTxnState);
        }
        if let Err(error) = self.producers.check_marker(&stamp, &marker) {
            out.push(Output::Note(format!(
                "refuse {} marker for producer {} epoch {}: {error}",
                self.tp, stamp.producer_id.0, stamp.producer_epoch.0
            )));
            return Err(error);
        }
        let (base, ops) = self.log.append(batch, self.leader_epoch());
        out.push(Output::Note(format!(
            "append {}@{}: {} marker for producer {}",
            self.tp,
            base.0,
            if marker.commit { "commit" } else { "abort" },
            stamp.producer_id.0
        )));
        out.extend(ops.into_iter().map(Output::Disk));
        self.after_append(out);
        self.advance_high_watermark(out);
        Ok(Appended { base, last: base })
    }

    /// What a consumer may read from its offset: up to the high watermark
    /// (read_uncommitted), or whole batches below the last stable offset with the aborted
    /// transactions they may hold (read_committed).
    pub fn read_for_consumer(
        &self,
        asked: &ConsumerFetchPartition,
        isolation: IsolationLevel,
        protocol: ReplicationProtocol,
        max_records: usize,
    ) -> Result<FetchedPartition, ErrorCode> {
        self.check_consumer_fetch(asked, protocol)?;
        let high_watermark = self.high_watermark();
        let last_stable_offset = self.last_stable_offset();
        let (batches, aborted) = match isolation {
            IsolationLevel::ReadUncommitted => (
                self.log
                    .read(asked.fetch_offset, high_watermark, max_records),
                Vec::new(),
            ),
            IsolationLevel::ReadCommitted => {
                let batches =
                    self.log
                        .read_whole(asked.fetch_offset, last_stable_offset, max_records);
                let read_end = batches
                    .last()
                    .map_or(asked.fetch_offset, |b| b.next_offset());
                let read_start = batches
                    .first()
                    .map_or(asked.fetch_offset, |b| b.base_offset);
                let aborted = self
                    .producers
                    .txns()
                    .aborted_overlapping(read_start, read_end);
                (batches, aborted)
            }
        };
        Ok(FetchedPartition {
            batches,
            high_watermark,
            log_start_offset: self.log_start(),
            last_stable_offset,
            aborted,
        })
    }

    /// Where a consumer of `isolation` may read up to.
    pub fn readable_end(&self, isolation: IsolationLevel) -> Offset {
        match isolation {
            IsolationLevel::ReadUncommitted => self.high_watermark(),
            IsolationLevel::ReadCommitted => self.last_stable_offset(),
        }
    }
}

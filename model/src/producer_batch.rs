//! A producer batch: records for one partition that travel, are retried and are
//! acknowledged together, and how their outcome is reported to the application.

use crate::effect::{Observation, Output};
use crate::ids::{LeaderEpoch, Millis, Offset, TopicPartition};
use crate::record::{ProducerStamp, Record, RecordBatch};

/// A batch in the accumulator or in flight.
#[derive(Clone, Debug)]
pub struct ProducerBatch {
    pub tp: TopicPartition,
    pub records: Vec<Record>,
    pub created_ms: Millis,
    /// The idempotent stamp, fixed at first send and kept across retries.
    pub stamp: Option<ProducerStamp>,
    pub attempts: u32,
    pub retry_after_ms: Millis,
    /// Some attempt timed out: a broker may have written it. A later refusal does not
    /// clear it: a broker that has the batch but no longer remembers it among the last
    /// five (or a new leader whose window moved on) refuses a retry as out of order.
    pub maybe_written: bool,
    /// The partition's acknowledged sequence when this attempt was sent.
    pub acknowledged_when_sent: u32,
}

impl ProducerBatch {
    pub fn new(tp: TopicPartition, first: Record) -> Self {
        ProducerBatch {
            tp,
            created_ms: first.timestamp_ms,
            records: vec![first],
            stamp: None,
            attempts: 0,
            retry_after_ms: 0,
            maybe_written: false,
            acknowledged_when_sent: 0,
        }
    }

    /// Whether more records may join: never sent, not full.
    pub fn is_open(&self, batch_size_records: usize) -> bool {
        self.stamp.is_none() && self.attempts == 0 && self.records.len() < batch_size_records
    }

    /// When the batch may leave: after `linger.ms`, and after the retry backoff.
    pub fn ready_ms(&self, linger_ms: u64) -> Millis {
        self.retry_after_ms.max(self.created_ms + linger_ms)
    }

    /// Whether it may leave now. A batch that is not the last of its partition, was
    /// sent before or is full does not linger.
    pub fn is_ready(
        &self,
        now: Millis,
        is_last: bool,
        linger_ms: u64,
        batch_size_records: usize,
    ) -> bool {
        if self.retry_after_ms > now {
            return false;
        }
        !is_last
            || self.attempts > 0
            || self.records.len() >= batch_size_records
            || self.created_ms + linger_ms <= now
    }

    /// The batch as a ProduceRequest carries it (the leader assigns offsets and epoch).
    pub fn to_wire(&self) -> RecordBatch {
        RecordBatch {
            base_offset: Offset(0),
            leader_epoch: LeaderEpoch(0),
            producer: self.stamp,
            txn: None,
            records: self.records.clone(),
        }
    }

    /// Every record acknowledged, at `base` onwards (no offset with acks=0).
    pub fn report_ok(&self, base: Option<Offset>, out: &mut Vec<Output>) {
        for (i, record) in self.records.iter().enumerate() {
            out.push(Output::Observe(Observation::SendOk {
                value: record.value,
                tp: self.tp.clone(),
                offset: base.map(|b| Offset(b.0 + i as u64)),
            }));
        }
    }

    /// Every record's outcome is unknown: it may have been written.
    pub fn report_info(&self, error: &str, out: &mut Vec<Output>) {
        for record in &self.records {
            out.push(Output::Observe(Observation::SendInfo {
                value: record.value,
                error: error.to_string(),
            }));
        }
    }

    /// Given up on: a definite failure if it never left, unknown otherwise.
    pub fn report_given_up(&self, error: &str, out: &mut Vec<Output>) {
        if self.attempts > 0 {
            return self.report_info(error, out);
        }
        for record in &self.records {
            out.push(Output::Observe(Observation::SendFail {
                value: record.value,
                error: error.to_string(),
            }));
        }
    }
}

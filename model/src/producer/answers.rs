//! What a produce answer, a timeout or a disconnect does to the batches it concerns:
//! acknowledged, retried in sequence order, or given up on (reported as failed or unknown),
//! and when a refused sequence is a gap only a new epoch closes.

use super::Producer;
use crate::effect::{Observation, Output, Refusal, RefusedRequest};
use crate::ids::{Millis, Offset, TopicPartition};
use crate::producer_batch::ProducerBatch;
use crate::protocol::ErrorCode;

impl Producer {
    pub(super) fn complete(
        &mut self,
        now: Millis,
        correlation_id: u64,
        request: super::InFlightRequest,
        results: Vec<(TopicPartition, Result<Offset, ErrorCode>)>,
        out: &mut Vec<Output>,
    ) {
        for batch in request.batches {
            let answer = results.iter().find(|(tp, _)| *tp == batch.tp);
            if let Some((_, Err(error))) = answer {
                out.push(Output::Observe(Observation::Refused(Refusal {
                    broker: request.broker,
                    correlation_id,
                    error: error.to_string(),
                    retriable: error.is_retriable(),
                    request: RefusedRequest::Produce {
                        tp: batch.tp.clone(),
                        values: batch.records.iter().map(|r| r.value).collect(),
                        stamp: batch.stamp,
                        transactional: self.txn.is_some(),
                        maybe_written: error.may_have_been_written(),
                    },
                })));
            }
            let result = answer.map_or(Err(ErrorCode::RequestTimedOut), |(_, r)| *r);
            match result {
                Ok(base) => {
                    if let Some(stamp) = &batch.stamp {
                        self.sequences
                            .on_acknowledged(&batch.tp, stamp, batch.records.len());
                    }
                    batch.report_ok(Some(base), out);
                }
                Err(error) => self.failed(now, batch, error, out),
            }
        }
    }

    /// A batch came back with an error or timed out: retry it or give up on it.
    pub(super) fn failed(
        &mut self,
        now: Millis,
        mut batch: ProducerBatch,
        error: ErrorCode,
        out: &mut Vec<Output>,
    ) {
        if error.needs_metadata_refresh() || error == ErrorCode::RequestTimedOut {
            self.metadata.refresh();
        }
        if !error.is_retriable() || batch.attempts > self.config.retries {
            batch.report_info(&error.to_string(), out);
            return self.batch_given_up(error, out);
        }
        if let (ErrorCode::OutOfOrderSequence, Some(stamp)) = (error, batch.stamp) {
            if self.sequences.was_written(&batch.tp, &stamp) {
                return batch.report_info(
                    "written (a later sequence was acknowledged), offset unknown",
                    out,
                );
            }
            if self.is_unfillable_gap(&batch, &stamp) {
                // Nothing earlier can fill the gap (the broker lost it or it expired):
                // bump the epoch and restart sequences (KIP-360).
                out.push(Output::Note(format!(
                    "{} seq {} refused as out of order with nothing earlier pending",
                    batch.tp, stamp.base_sequence
                )));
                match self.txn.as_mut() {
                    // The epoch is the coordinator's: the transaction aborts, and the
                    // producer initializes again for a new one.
                    Some(txn) => {
                        let events = txn.require_epoch_bump();
                        self.apply_txn_events(events, out);
                    }
                    None => self.sequences.request_bump(),
                }
            }
        }
        // Once an attempt may have been written, the batch stays "maybe written": a later
        // refusal of a retry does not undo the earlier attempt.
        batch.maybe_written |= error.may_have_been_written();
        if self.txn.as_ref().is_some_and(|t| t.drops_retries()) {
            // The transaction can only abort: a retry would be dropped with the rest.
            let error = format!("TransactionAbortedException after {error}");
            return batch.report_given_up(&error, out);
        }
        batch.retry_after_ms = now + self.config.retry_backoff_ms;
        let queue = self.queues.entry(batch.tp.clone()).or_default();
        match batch.stamp {
            // Idempotent retries go back in sequence order so that order is kept.
            Some(stamp) => {
                let at = queue
                    .iter()
                    .position(|b| {
                        b.stamp
                            .is_none_or(|s| s.base_sequence > stamp.base_sequence)
                    })
                    .unwrap_or(queue.len());
                queue.insert(at, batch);
            }
            // Kafka re-enqueues a failed batch at the head of its partition's deque.
            None => queue.push_front(batch),
        }
    }

    /// A refused sequence is a gap nothing will fill when no earlier batch of its
    /// partition is pending and no acknowledgement reached it since the attempt left.
    fn is_unfillable_gap(
        &self,
        batch: &ProducerBatch,
        stamp: &crate::record::ProducerStamp,
    ) -> bool {
        if self
            .sequences
            .caught_up_since(&batch.tp, stamp, batch.acknowledged_when_sent)
        {
            return false;
        }
        let earlier = |b: &ProducerBatch| {
            b.tp == batch.tp
                && b.stamp.is_some_and(|s| {
                    s.producer_epoch == stamp.producer_epoch
                        && s.base_sequence < stamp.base_sequence
                })
        };
        !self.queues.values().flatten().any(earlier)
            && !self
                .in_flight
                .values()
                .flat_map(|r| &r.batches)
                .any(earlier)
    }

    /// A transactional producer gave up on a batch: fenced (the producer is done), or any
    /// other error (the open transaction can only abort).
    fn batch_given_up(&mut self, error: ErrorCode, out: &mut Vec<Output>) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        let events = match error {
            ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch => {
                txn.fenced(format!("{error}: a newer instance took over"))
            }
            _ => txn.on_batch_failed(&error.to_string()),
        };
        self.apply_txn_events(events, out);
    }
}

//! The markers of the transactions a coordinator is ending (Kafka's
//! TransactionMarkerChannelManager): which partitions still lack their marker, which
//! requests are in flight to which leader, and when a refused or lost one goes again.
//! A transaction completes once every one of its partitions answered Ok.

use super::output::{MarkerRequestId, TxnOutput};
use super::protocol::{MarkerResults, TxnMarker};
use super::TransactionalId;
use crate::ids::{BrokerId, Millis, ProducerEpoch, ProducerId, TopicPartition};
use crate::protocol::ErrorCode;
use std::collections::BTreeMap;

/// Where one partition's marker stands.
#[derive(Clone, Debug, PartialEq, Eq)]
enum MarkerStatus {
    /// To be sent from `at`; or sooner if `refused_by` was its leader and the metadata now
    /// names another (a NOT_LEADER_OR_FOLLOWER answer).
    Ready {
        at: Millis,
        refused_by: Option<BrokerId>,
    },
    InFlight {
        request: MarkerRequestId,
        sent_ms: Millis,
    },
}

/// One ending transaction's markers.
#[derive(Clone, Debug)]
struct EndingTxn {
    producer_id: ProducerId,
    producer_epoch: ProducerEpoch,
    commit: bool,
    partitions: BTreeMap<TopicPartition, MarkerStatus>,
}

/// Every marker a coordinator still has to get written.
#[derive(Clone, Debug)]
pub(super) struct MarkerChannel {
    coordinator_epoch: u32,
    request_timeout_ms: u64,
    retry_backoff_ms: u64,
    next_request: u64,
    ending: BTreeMap<TransactionalId, EndingTxn>,
}

impl MarkerChannel {
    pub(super) fn new(
        coordinator_epoch: u32,
        request_timeout_ms: u64,
        retry_backoff_ms: u64,
    ) -> Self {
        MarkerChannel {
            coordinator_epoch,
            request_timeout_ms,
            retry_backoff_ms,
            next_request: 0,
            ending: BTreeMap::new(),
        }
    }

    /// Starts writing the markers of a transaction that is prepared (durably).
    pub(super) fn start(
        &mut self,
        now: Millis,
        transactional_id: TransactionalId,
        producer_id: ProducerId,
        producer_epoch: ProducerEpoch,
        commit: bool,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) {
        let ready = MarkerStatus::Ready {
            at: now,
            refused_by: None,
        };
        let partitions = partitions
            .into_iter()
            .map(|tp| (tp, ready.clone()))
            .collect();
        self.ending.insert(
            transactional_id,
            EndingTxn {
                producer_id,
                producer_epoch,
                commit,
                partitions,
            },
        );
    }

    /// Transactions whose every marker is written, removed from the channel.
    pub(super) fn take_finished(&mut self) -> Vec<TransactionalId> {
        let finished: Vec<TransactionalId> = self
            .ending
            .iter()
            .filter(|(_, txn)| txn.partitions.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        for id in &finished {
            self.ending.remove(id);
        }
        finished
    }

    /// Sends what is due, one request per leader: markers ready to go whose leader the
    /// metadata names, and those whose request timed out. A marker whose leader is unknown
    /// waits a backoff and looks again.
    pub(super) fn poll(
        &mut self,
        now: Millis,
        leader_of: &dyn Fn(&TopicPartition) -> Option<BrokerId>,
        out: &mut Vec<TxnOutput>,
    ) {
        let mut by_leader: BTreeMap<BrokerId, Vec<(TransactionalId, TopicPartition)>> =
            BTreeMap::new();
        for (id, txn) in self.ending.iter_mut() {
            for (tp, status) in txn.partitions.iter_mut() {
                if let MarkerStatus::InFlight { sent_ms, .. } = status {
                    if now >= sent_ms.saturating_add(self.request_timeout_ms) {
                        *status = MarkerStatus::Ready {
                            at: now,
                            refused_by: None,
                        };
                    }
                }
                let MarkerStatus::Ready { at, refused_by } = *status else {
                    continue;
                };
                let leader = leader_of(tp);
                let moved = refused_by.is_some() && leader.is_some() && leader != refused_by;
                if now < at && !moved {
                    continue;
                }
                match leader {
                    Some(leader) => by_leader
                        .entry(leader)
                        .or_default()
                        .push((id.clone(), tp.clone())),
                    None => {
                        *status = MarkerStatus::Ready {
                            at: now + self.retry_backoff_ms,
                            refused_by: None,
                        }
                    }
                }
            }
        }
        for (leader, entries) in by_leader {
            let request = MarkerRequestId(self.next_request);
            self.next_request += 1;
            let mut markers: Vec<TxnMarker> = Vec::new();
            for (id, tp) in entries {
                let txn = self.ending.get_mut(&id).expect("collected from the map");
                txn.partitions.insert(
                    tp.clone(),
                    MarkerStatus::InFlight {
                        request,
                        sent_ms: now,
                    },
                );
                match markers
                    .iter_mut()
                    .find(|m| m.producer_id == txn.producer_id)
                {
                    Some(marker) => marker.partitions.push(tp),
                    None => markers.push(TxnMarker {
                        producer_id: txn.producer_id,
                        producer_epoch: txn.producer_epoch,
                        commit: txn.commit,
                        coordinator_epoch: self.coordinator_epoch,
                        partitions: vec![tp],
                    }),
                }
            }
            out.push(TxnOutput::SendMarkers {
                request,
                to: leader,
                markers,
            });
        }
    }

    /// A leader's answer to `request`: an Ok partition is done; a refused one goes again
    /// after the backoff (NOT_LEADER_OR_FOLLOWER: sooner, if the metadata names another
    /// leader). Answers to a request the channel no longer waits for change nothing.
    pub(super) fn answered(
        &mut self,
        now: Millis,
        request: MarkerRequestId,
        from: BrokerId,
        results: &MarkerResults,
    ) {
        for (producer_id, partitions) in results {
            let Some(txn) = self
                .ending
                .values_mut()
                .find(|txn| txn.producer_id == *producer_id)
            else {
                continue;
            };
            for (tp, result) in partitions {
                let waiting = matches!(
                    txn.partitions.get(tp),
                    Some(MarkerStatus::InFlight { request: r, .. }) if *r == request
                );
                if !waiting {
                    continue;
                }
                match result {
                    Ok(()) => {
                        txn.partitions.remove(tp);
                    }
                    Err(error) => {
                        let refused_by = (*error == ErrorCode::NotLeaderOrFollower).then_some(from);
                        txn.partitions.insert(
                            tp.clone(),
                            MarkerStatus::Ready {
                                at: now + self.retry_backoff_ms,
                                refused_by,
                            },
                        );
                    }
                }
            }
        }
    }

    /// A request whose connection failed before its answer: its markers go again after
    /// the backoff.
    pub(super) fn failed(&mut self, now: Millis, request: MarkerRequestId) {
        for txn in self.ending.values_mut() {
            for status in txn.partitions.values_mut() {
                if matches!(status, MarkerStatus::InFlight { request: r, .. } if *r == request) {
                    *status = MarkerStatus::Ready {
                        at: now + self.retry_backoff_ms,
                        refused_by: None,
                    };
                }
            }
        }
    }

    /// The earliest time a marker is due (to send, or to give up waiting for).
    pub(super) fn next_deadline(&self) -> Option<Millis> {
        self.ending
            .values()
            .flat_map(|txn| txn.partitions.values())
            .map(|status| match status {
                MarkerStatus::Ready { at, .. } => *at,
                MarkerStatus::InFlight { sent_ms, .. } => {
                    sent_ms.saturating_add(self.request_timeout_ms)
                }
            })
            .min()
    }
}

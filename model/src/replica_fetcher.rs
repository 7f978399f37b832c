//! A follower broker's fetch sessions: one fetch in flight per leader it follows, carrying
//! every partition it follows there, each with its log end and epochs (KIP-320), sent again
//! as soon as the answer is in (the leader parks a fetch that finds nothing new).

use crate::config::BrokerConfig;
use crate::effect::Output;
use crate::ids::{BrokerId, LeaderEpoch, Millis, NodeId, Offset, TopicPartition};
use crate::metadata_client::InFlight;
use crate::partition::Partition;
use crate::protocol::{Message, ReplicaFetchPartition};
use std::collections::BTreeMap;

/// What one fetch asked for each partition: answers for a partition whose leader, epoch or
/// log end changed since are stale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AskedPartition {
    pub tp: TopicPartition,
    pub epoch: LeaderEpoch,
    pub fetch_offset: Offset,
}

#[derive(Clone, Debug, Default)]
struct Session {
    in_flight: Option<(InFlight, Vec<AskedPartition>)>,
    not_before_ms: Millis,
}

/// Fetch sessions by leader.
#[derive(Clone, Debug, Default)]
pub struct ReplicaFetcher {
    sessions: BTreeMap<BrokerId, Session>,
}

impl ReplicaFetcher {
    /// Sends a fetch to every leader this broker follows a partition on, unless one is in
    /// flight or backing off; forgets fetches that timed out.
    pub fn poll(
        &mut self,
        me: BrokerId,
        now: Millis,
        config: &BrokerConfig,
        partitions: &BTreeMap<TopicPartition, Partition>,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        // Polled on every step of the broker: the partitions a fetch covers are gathered
        // only for a leader that is sent one now.
        let mut leaders: Vec<BrokerId> = partitions
            .values()
            .filter_map(|p| p.following().map(|(leader, _)| leader))
            .collect();
        leaders.sort();
        leaders.dedup();
        self.sessions
            .retain(|leader, _| leaders.binary_search(leader).is_ok());
        for leader in leaders {
            let session = self.sessions.entry(leader).or_default();
            if session.in_flight.as_ref().is_some_and(|(sent, _)| {
                sent.timed_out(now, config.inter_broker_request_timeout_ms)
            }) {
                session.in_flight = None;
            }
            if session.in_flight.is_some() || now < session.not_before_ms {
                continue;
            }
            let followed: Vec<&Partition> = partitions
                .values()
                .filter(|p| p.following().is_some_and(|(l, _)| l == leader))
                .collect();
            *last_correlation_id += 1;
            let correlation_id = *last_correlation_id;
            let asked: Vec<AskedPartition> = followed
                .iter()
                .map(|p| AskedPartition {
                    tp: p.tp().clone(),
                    epoch: p.leader_epoch(),
                    fetch_offset: p.log_end(),
                })
                .collect();
            out.push(Output::Send {
                to: leader.node(),
                message: Message::ReplicaFetchRequest {
                    correlation_id,
                    replica: me,
                    max_wait_ms: config.replica_fetch_wait_max_ms,
                    max_records: config.replica_fetch_max_records,
                    partitions: followed
                        .iter()
                        .map(|p| ReplicaFetchPartition {
                            tp: p.tp().clone(),
                            fetch_offset: p.log_end(),
                            last_fetched_epoch: p.epoch_to_validate(config.replication_protocol),
                            current_leader_epoch: p.leader_epoch(),
                        })
                        .collect(),
                },
            });
            session.in_flight = Some((
                InFlight {
                    correlation_id,
                    to: leader.node(),
                    sent_ms: now,
                },
                asked,
            ));
        }
    }

    /// Takes the answer to the fetch in flight to `leader`; `None` for a stale one.
    pub fn take_response(
        &mut self,
        leader: BrokerId,
        correlation_id: u64,
    ) -> Option<Vec<AskedPartition>> {
        let session = self.sessions.get_mut(&leader)?;
        match &session.in_flight {
            Some((sent, _)) if sent.correlation_id == correlation_id => {
                session.in_flight.take().map(|(_, asked)| asked)
            }
            _ => None,
        }
    }

    /// The correlation id of the fetch in flight to `leader`, if any.
    pub fn in_flight_to(&self, leader: BrokerId) -> Option<u64> {
        let (sent, _) = self.sessions.get(&leader)?.in_flight.as_ref()?;
        Some(sent.correlation_id)
    }

    /// After an error, the next fetch to `leader` waits (Kafka's `replica.fetch.backoff.ms`).
    pub fn back_off(&mut self, leader: BrokerId, until_ms: Millis) {
        if let Some(session) = self.sessions.get_mut(&leader) {
            session.not_before_ms = session.not_before_ms.max(until_ms);
        }
    }

    /// The connection to `peer` closed: the fetch in flight to it failed, and the next one
    /// waits until `until_ms` (Kafka's fetcher thread delays the partitions of a failed
    /// fetch by `replica.fetch.backoff.ms`). Returns whether one was in flight.
    pub fn on_disconnected(&mut self, peer: NodeId, until_ms: Millis) -> bool {
        let Some(session) = self.sessions.get_mut(&BrokerId(peer.0)) else {
            return false;
        };
        if !session
            .in_flight
            .as_ref()
            .is_some_and(|(sent, _)| sent.went_to(peer))
        {
            return false;
        }
        session.in_flight = None;
        session.not_before_ms = session.not_before_ms.max(until_ms);
        true
    }

    /// When `poll` next has something to do.
    pub fn next_deadline(&self, timeout_ms: u64) -> Option<Millis> {
        self.sessions
            .values()
            .map(|s| match &s.in_flight {
                Some((sent, _)) => sent.sent_ms + timeout_ms,
                None => s.not_before_ms,
            })
            .min()
    }
}

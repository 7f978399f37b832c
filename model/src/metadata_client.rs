//! A client's view of the cluster: which broker leads each partition, refreshed with
//! Metadata requests to the bootstrap brokers in turn, one at a time, with a backoff.

use crate::effect::Output;
use crate::ids::{BrokerId, LeaderEpoch, Millis, NodeId, TopicPartition};
use crate::protocol::{Message, PartitionMetadata};
use std::collections::BTreeMap;

/// A request in flight: its correlation id, the node it went to, and when it left (local
/// ms). The node is what a disconnect fails it by: Kafka's NetworkClient fails every
/// request in flight on a connection when the connection closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlight {
    pub correlation_id: u64,
    pub to: NodeId,
    pub sent_ms: Millis,
}

impl InFlight {
    pub fn timed_out(&self, now: Millis, timeout_ms: u64) -> bool {
        self.sent_ms + timeout_ms <= now
    }

    /// Whether a disconnect from `peer` fails this request.
    pub fn went_to(&self, peer: NodeId) -> bool {
        self.to == peer
    }
}

/// Leadership as the client last heard it, and the request that refreshes it.
#[derive(Clone, Debug)]
pub struct MetadataClient {
    bootstrap: Vec<BrokerId>,
    bootstrap_cursor: usize,
    leaders: BTreeMap<TopicPartition, (Option<BrokerId>, LeaderEpoch)>,
    request: Option<InFlight>,
    wanted: bool,
    not_before_ms: Millis,
}

impl MetadataClient {
    pub fn new(bootstrap: Vec<BrokerId>) -> Self {
        assert!(!bootstrap.is_empty(), "a client needs bootstrap brokers");
        MetadataClient {
            bootstrap,
            bootstrap_cursor: 0,
            leaders: BTreeMap::new(),
            request: None,
            wanted: true,
            not_before_ms: 0,
        }
    }

    /// The next bootstrap broker, round robin (for requests any broker can answer).
    pub fn next_bootstrap(&mut self) -> BrokerId {
        let broker = self.bootstrap[self.bootstrap_cursor % self.bootstrap.len()];
        self.bootstrap_cursor += 1;
        broker
    }

    pub fn leader(&self, tp: &TopicPartition) -> Option<BrokerId> {
        self.leaders.get(tp).and_then(|(leader, _)| *leader)
    }

    /// The leader epoch the client believes current for `tp`.
    pub fn epoch(&self, tp: &TopicPartition) -> Option<LeaderEpoch> {
        self.leaders.get(tp).map(|(_, epoch)| *epoch)
    }

    /// Every known partition with its leader (if any).
    pub fn leaders(&self) -> impl Iterator<Item = (&TopicPartition, Option<BrokerId>)> {
        self.leaders.iter().map(|(tp, (leader, _))| (tp, *leader))
    }

    /// Records read from `tp` were written in `epoch`: a leader of an older epoch is
    /// deposed, so metadata naming one is stale (KIP-320: the consumer validates its
    /// position against the epoch of what it consumed).
    pub fn observe_epoch(&mut self, tp: &TopicPartition, epoch: LeaderEpoch) {
        if let Some((_, known)) = self.leaders.get_mut(tp) {
            *known = (*known).max(epoch);
        }
    }

    /// Asks for a refresh (after NotLeaderOrFollower, a timeout...).
    pub fn refresh(&mut self) {
        self.wanted = true;
    }

    /// Sends a Metadata request if one is wanted and none is in flight; gives up on one
    /// that timed out. `last_correlation_id` is the client's counter, bumped if it sends.
    pub fn poll(
        &mut self,
        now: Millis,
        timeout_ms: u64,
        backoff_ms: u64,
        last_correlation_id: &mut u64,
        out: &mut Vec<Output>,
    ) {
        if self.request.is_some_and(|r| r.timed_out(now, timeout_ms)) {
            self.request = None;
            self.wanted = true;
        }
        if !self.wanted || self.request.is_some() || now < self.not_before_ms {
            return;
        }
        *last_correlation_id += 1;
        let correlation_id = *last_correlation_id;
        let broker = self.next_bootstrap();
        self.request = Some(InFlight {
            correlation_id,
            to: broker.node(),
            sent_ms: now,
        });
        self.not_before_ms = now + backoff_ms;
        out.push(Output::Send {
            to: broker.node(),
            message: Message::MetadataRequest { correlation_id },
        });
    }

    /// Takes a Metadata response if it answers the request in flight; returns whether
    /// it did. A partition's entry is replaced only by one of the same or a newer leader
    /// epoch (KIP-320): a broker with stale metadata cannot send the client back to a
    /// deposed leader. A broker that knows nothing yet (just restarted) changes nothing,
    /// and the client asks again, as it does while some partition has no leader.
    pub fn accept(&mut self, correlation_id: u64, partitions: Vec<PartitionMetadata>) -> bool {
        if self.request.map(|r| r.correlation_id) != Some(correlation_id) {
            return false;
        }
        self.request = None;
        let empty = partitions.is_empty();
        for p in partitions {
            let newer = self
                .leaders
                .get(&p.tp)
                .is_none_or(|(_, known)| p.leader_epoch >= *known);
            if newer {
                self.leaders.insert(p.tp, (p.leader, p.leader_epoch));
            }
        }
        // A partition without a leader is being elected: ask again (after the backoff)
        // rather than wait for an error that will never come.
        self.wanted = empty || self.leaders.values().any(|(leader, _)| leader.is_none());
        true
    }

    /// The connection to `peer` closed: a Metadata request in flight to it failed, and the
    /// next one waits `backoff_ms` from now (Kafka's `Metadata.failedUpdate`), to the next
    /// bootstrap broker. Returns whether one was in flight to `peer`.
    pub fn on_disconnected(&mut self, now: Millis, peer: NodeId, backoff_ms: u64) -> bool {
        if !self.request.is_some_and(|r| r.went_to(peer)) {
            return false;
        }
        self.request = None;
        self.wanted = true;
        self.not_before_ms = now + backoff_ms;
        true
    }

    /// When `poll` next has something to do.
    pub fn next_deadline(&self, timeout_ms: u64) -> Option<Millis> {
        match self.request {
            Some(r) => Some(r.sent_ms + timeout_ms),
            None if self.wanted => Some(self.not_before_ms),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_at_a_time_round_robin_with_backoff_and_timeout() {
        let mut client = MetadataClient::new(vec![BrokerId(1), BrokerId(2)]);
        let mut out = Vec::new();
        let mut ids = 6;
        client.poll(0, 1_000, 100, &mut ids, &mut out);
        client.poll(10, 1_000, 100, &mut ids, &mut out);
        assert_eq!(out.len(), 1, "one request in flight");
        assert_eq!(client.next_deadline(1_000), Some(1_000));
        client.poll(1_000, 1_000, 100, &mut ids, &mut out);
        assert_eq!(out.len(), 2, "a timed-out request is sent again");
        assert!(matches!(out[1], Output::Send { to, .. } if to == BrokerId(2).node()));
        assert!(!client.accept(7, vec![]), "a stale response is ignored");
        let tp = TopicPartition::new("t", 0);
        let partitions = vec![PartitionMetadata {
            tp: tp.clone(),
            leader: Some(BrokerId(2)),
            leader_epoch: LeaderEpoch(1),
        }];
        assert!(client.accept(8, partitions));
        assert_eq!(client.leader(&tp), Some(BrokerId(2)));
        assert_eq!(client.next_deadline(1_000), None);
        client.refresh();
        client.poll(2_000, 1_000, 100, &mut ids, &mut out);
        let stale = vec![PartitionMetadata {
            tp: tp.clone(),
            leader: Some(BrokerId(1)),
            leader_epoch: LeaderEpoch(0),
        }];
        assert!(client.accept(ids, stale));
        assert_eq!(
            client.leader(&tp),
            Some(BrokerId(2)),
            "an older epoch does not send the client back to a deposed leader"
        );
        // Records of epoch 3 were read: a broker still claiming epoch 2 is deposed.
        client.observe_epoch(&tp, LeaderEpoch(3));
        client.refresh();
        client.poll(3_000, 1_000, 100, &mut ids, &mut out);
        let deposed = vec![PartitionMetadata {
            tp: tp.clone(),
            leader: Some(BrokerId(1)),
            leader_epoch: LeaderEpoch(2),
        }];
        assert!(client.accept(ids, deposed));
        assert_eq!(client.leader(&tp), Some(BrokerId(2)));
    }
}

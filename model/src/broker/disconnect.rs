//! What a broker does when a connection to a peer closes (Kafka's NetworkClient fails every
//! request in flight on it): its replica fetch to that leader fails and backs off, its
//! metadata log's fetch goes again after Raft's backoff, and its channel to a disconnected
//! controller forgets it, as Kafka's NodeToControllerChannelManager does, and sends the
//! failed requests again to the controller it finds next.

use super::{Broker, REPLICA_FETCH_BACKOFF_MS};
use crate::effect::Output;
use crate::ids::{Millis, NodeId, TopicPartition};

/// How long the controller channel waits before sending a failed request again (Kafka's
/// `retry.backoff.ms` default): a controller just disconnected is not reconnected at once.
const CONTROLLER_RETRY_BACKOFF_MS: u64 = 100;

impl Broker {
    /// The connection to `peer` closed: every request in flight to it failed at once.
    pub fn on_disconnected(&mut self, now: Millis, peer: NodeId, out: &mut Vec<Output>) {
        self.fetcher
            .on_disconnected(peer, now + REPLICA_FETCH_BACKOFF_MS);
        // The metadata log's fetch to that voter, if it was the one followed.
        self.metadata_log.on_disconnected(now, peer);
        let retry_ms = now + CONTROLLER_RETRY_BACKOFF_MS;
        self.retry_alter_partitions_sent_to(peer, retry_ms);
        self.txn_markers_disconnected(now, peer);
        if peer == self.controller {
            // The heartbeat in flight failed too (heartbeats carry the registration): it
            // goes again, to whichever voter the metadata log says leads, or the next one.
            let heartbeat_ms = self.next_heartbeat_ms.min(retry_ms);
            let leader = self
                .metadata_log
                .leader()
                .map(|(leader, _)| leader)
                .filter(|l| self.controllers.contains(l));
            self.switch_controller(now, leader);
            self.next_heartbeat_ms = heartbeat_ms;
        }
        self.drive(now, out);
    }

    /// Sends again the AlterPartition requests a disconnect failed, once their backoff is
    /// over.
    pub(super) fn retry_failed_alter_partitions(&mut self, now: Millis, out: &mut Vec<Output>) {
        let due: Vec<TopicPartition> = self
            .alter_partition_retry_ms
            .iter()
            .filter(|(_, at_ms)| **at_ms <= now)
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in due {
            self.alter_partition_retry_ms.remove(&tp);
            self.maybe_alter_isr(&tp, now, out);
        }
    }
}

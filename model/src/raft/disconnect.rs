//! What a quorum member does when its connection to a peer closes. Kafka's network channel
//! answers the request in flight to it with BROKER_NOT_AVAILABLE, and KafkaRaftClient's
//! request manager backs that node off before asking it again: here, the fetch, vote or
//! BeginQuorumEpoch to the peer goes again after `fetch_interval_ms` (the backoff a fetch
//! error answer gets too) instead of at the request timeout. Roles and the fetch and
//! election timers are untouched, as in Kafka: a failed request is no news of the peer.

use super::node::{Payload, RaftNode};
use super::role::Role;
use crate::ids::{Millis, NodeId};

impl<T: Payload> RaftNode<T> {
    /// The connection to `peer` closed: what was in flight to it fails, and goes again
    /// after the backoff (the next `tick` at `next_deadline` sends it).
    pub fn on_disconnected(&mut self, now: Millis, peer: NodeId) {
        let retry_ms = now.saturating_add(self.config.fetch_interval_ms);
        match &mut self.role {
            Role::Follower(follower)
                if follower.leader == peer && follower.in_flight_since_ms.is_some() =>
            {
                follower.in_flight_since_ms = None;
                follower.next_fetch_ms = retry_ms;
            }
            Role::Candidate(candidate) => candidate.ask_again_by(peer, retry_ms),
            Role::Leader(leader) => leader.tell_again_by(peer, retry_ms),
            // An observer looking for the leader asks a voter every request timeout
            // anyway, and which one it asked last is not kept: a failed ask waits for it.
            Role::Follower(_) | Role::Unattached { .. } => {}
        }
    }
}

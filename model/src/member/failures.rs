//! A group member's requests that failed without an answer: timed out, or cut off by a
//! disconnect from the broker they went to (Kafka's NetworkClient fails every request in
//! flight on a closed connection, and the coordinator client then marks the coordinator
//! unknown).

use super::GroupMember;
use crate::effect::Output;
use crate::ids::{Millis, NodeId};
use crate::metadata_client::InFlight;

/// What [`GroupMember::fail_requests`] gave up.
struct Failed {
    find_coordinator: bool,
    /// A request to the coordinator (JoinGroup, SyncGroup, Heartbeat, OffsetFetch,
    /// OffsetCommit).
    coordinator_requests: bool,
}

impl GroupMember {
    /// Gives up requests that went unanswered: the coordinator is presumed gone.
    pub(super) fn expire_requests(&mut self, now: Millis, out: &mut Vec<Output>) {
        let timeout = self.request_timeout_ms;
        // JoinGroup and SyncGroup answers wait for the whole group (Kafka's client gives
        // them the rebalance timeout plus 5 s).
        let join_timeout = timeout.max(self.config.rebalance_timeout_ms + 5_000);
        let timed_out = |request: &InFlight, waits_for_group: bool| {
            request.timed_out(
                now,
                if waits_for_group {
                    join_timeout
                } else {
                    timeout
                },
            )
        };
        let failed = self.fail_requests(timed_out, "request timed out", out);
        if failed.coordinator_requests {
            self.coordinator = None;
        }
    }

    /// The connection to `peer` closed: every request in flight to it failed at once, as
    /// each fails at its timeout, and a coordinator on `peer` becomes unknown even with
    /// nothing in flight (Kafka's coordinator client finds a coordinator it cannot reach
    /// unknown). The next try waits `retry.backoff.ms`. Stale answers to the failed
    /// requests are ignored: their correlation ids are forgotten.
    pub fn on_disconnected(&mut self, now: Millis, peer: NodeId, out: &mut Vec<Output>) {
        let failed_ids: Vec<u64> = self
            .in_flight()
            .filter(|r| r.went_to(peer))
            .map(|r| r.correlation_id)
            .collect();
        self.sent.retain(|(id, _)| !failed_ids.contains(id));
        let failed = self.fail_requests(|r, _| r.went_to(peer), "disconnected", out);
        let coordinator_gone = self.coordinator.is_some_and(|c| c.node() == peer);
        if coordinator_gone {
            self.coordinator = None;
        }
        if failed.find_coordinator || failed.coordinator_requests || coordinator_gone {
            self.not_before_ms = self.not_before_ms.max(now + self.retry_backoff_ms);
        }
    }

    /// Every request in flight.
    fn in_flight(&self) -> impl Iterator<Item = &InFlight> {
        let sync = self.sync.as_ref().map(|(r, _)| r);
        self.find_coordinator
            .iter()
            .chain(&self.join)
            .chain(sync)
            .chain(&self.heartbeat)
            .chain(&self.offset_fetch)
            .chain(self.commits.values().map(|c| &c.request))
    }

    /// Gives up the requests `fails` picks (given each request and whether its answer
    /// waits for the whole group), each as its timeout would: a SyncGroup means joining
    /// again, a commit is reported failed with `error`.
    fn fail_requests(
        &mut self,
        fails: impl Fn(&InFlight, bool) -> bool,
        error: &str,
        out: &mut Vec<Output>,
    ) -> Failed {
        let mut failed = Failed {
            find_coordinator: false,
            coordinator_requests: false,
        };
        if self.find_coordinator.is_some_and(|r| fails(&r, false)) {
            self.find_coordinator = None;
            failed.find_coordinator = true;
        }
        if self.join.is_some_and(|r| fails(&r, true)) {
            self.join = None;
            failed.coordinator_requests = true;
        }
        if self.sync.as_ref().is_some_and(|(r, _)| fails(r, true)) {
            self.sync = None;
            self.rejoin_needed = true;
            failed.coordinator_requests = true;
        }
        if self.heartbeat.is_some_and(|r| fails(&r, false)) {
            self.heartbeat = None;
            failed.coordinator_requests = true;
        }
        if self.offset_fetch.is_some_and(|r| fails(&r, false)) {
            self.offset_fetch = None;
            failed.coordinator_requests = true;
        }
        let failed_commits: Vec<u64> = self
            .commits
            .iter()
            .filter(|(_, c)| fails(&c.request, false))
            .map(|(id, _)| *id)
            .collect();
        for correlation_id in failed_commits {
            let commit = self.commits.remove(&correlation_id).expect("listed");
            failed.coordinator_requests = true;
            self.commit_failed(correlation_id, commit.commit, error.into(), out);
        }
        failed
    }
}

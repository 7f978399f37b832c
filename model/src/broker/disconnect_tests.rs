//! Broker disconnect tests: a follower's fetch to a disconnected leader and an
//! AlterPartition to a disconnected controller fail at once and go again after the backoff.

use super::tests::{started_as, tp, CONTROLLER};
use super::*;
use crate::protocol::ReplicaFetched;

/// Every request in `out`: where it went, its kind, and its correlation id.
fn sends(out: &[Output]) -> Vec<(NodeId, &'static str, u64)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to, message } => {
                let id = match message {
                    Message::ReplicaFetchRequest { correlation_id, .. }
                    | Message::AlterPartitionRequest { correlation_id, .. } => *correlation_id,
                    _ => 0,
                };
                Some((*to, message.kind(), id))
            }
            _ => None,
        })
        .collect()
}

/// Ticks the broker at each deadline from `from` up to `until`; returns what it did.
fn run_until(broker: &mut Broker, until: Millis) -> Vec<Output> {
    let mut out = Vec::new();
    while let Some(at) = broker.next_deadline().filter(|at| *at <= until) {
        broker.tick(at, &mut out);
    }
    out
}

#[test]
fn a_disconnect_from_the_leader_fails_the_replica_fetch_and_it_goes_again_after_the_backoff() {
    let (mut broker, _) = started_as(2, BrokerConfig::default());
    let first = broker
        .fetcher
        .in_flight_to(BrokerId(1))
        .expect("b2 fetches from b1");
    // b3 is no leader of b2's: nothing changes.
    let mut out = Vec::new();
    broker.on_disconnected(0, NodeId(3), &mut out);
    assert_eq!(sends(&out), vec![]);
    assert_eq!(broker.fetcher.in_flight_to(BrokerId(1)), Some(first));
    broker.on_disconnected(10, NodeId(1), &mut out);
    assert_eq!(broker.fetcher.in_flight_to(BrokerId(1)), None);
    let fetches = |out: &[Output]| -> Vec<u64> {
        sends(out)
            .into_iter()
            .filter(|(to, kind, _)| *to == NodeId(1) && *kind == "ReplicaFetchReq")
            .map(|(_, _, id)| id)
            .collect()
    };
    assert!(fetches(&out).is_empty(), "not before the backoff");
    let out = run_until(&mut broker, 10 + REPLICA_FETCH_BACKOFF_MS);
    let retry = fetches(&out);
    assert_eq!(retry.len(), 1, "fetched again within the backoff: {out:?}");
    // The failed fetch's answer, should one come, is stale.
    let stale = Message::ReplicaFetchResponse {
        correlation_id: first,
        results: vec![(
            tp(),
            Ok(ReplicaFetched {
                batches: vec![super::tests::batch(&[1])],
                high_watermark: Offset(1),
                diverging: None,
                log_start_offset: Offset(0),
            }),
        )],
    };
    let mut out = Vec::new();
    broker.on_message(200, NodeId(1), stale, &mut out);
    assert_eq!(
        broker.partitions[&tp()].log_end(),
        Offset(0),
        "nothing taken"
    );
    assert_eq!(broker.fetcher.in_flight_to(BrokerId(1)), Some(retry[0]));
}

#[test]
fn a_disconnect_from_the_controller_fails_alter_partition_and_it_is_asked_again_after_the_backoff()
{
    // b2 and b3 left the ISR, came back, and b2 caught up: the leader asks for [b1, b2].
    let (mut broker, out) = super::tests::leader_asking_to_expand_the_isr();
    let alter = |out: &[Output]| -> Vec<u64> {
        sends(out)
            .into_iter()
            .filter(|(to, kind, _)| *to == CONTROLLER && *kind == "AlterPartitionReq")
            .map(|(_, _, id)| id)
            .collect()
    };
    let first = alter(&out);
    assert_eq!(first.len(), 1);
    // A follower's connection is no controller's: nothing changes.
    let mut out = Vec::new();
    broker.on_disconnected(9_800, NodeId(3), &mut out);
    assert_eq!(sends(&out), vec![]);
    broker.on_disconnected(9_850, CONTROLLER, &mut out);
    assert!(alter(&out).is_empty(), "not before the backoff");
    let out = run_until(&mut broker, 9_850 + 100);
    let retry = alter(&out);
    assert_eq!(retry.len(), 1, "asked again within the backoff: {out:?}");
    assert!(
        sends(&out)
            .iter()
            .any(|(to, kind, _)| *to == CONTROLLER && *kind == "HeartbeatReq"),
        "the failed heartbeat goes again too: {out:?}"
    );
    // The failed request's answer, should one come, is stale: the ISR stays.
    let stale = Message::AlterPartitionResponse {
        correlation_id: first[0],
        tp: tp(),
        result: Ok((vec![BrokerId(1), BrokerId(2)], 9)),
    };
    let mut out = Vec::new();
    broker.on_message(10_000, CONTROLLER, stale, &mut out);
    let in_flight = broker.alter_partition_in_flight.get(&tp());
    assert_eq!(in_flight.map(|r| r.correlation_id), Some(retry[0]));
    let isr = broker.partitions[&tp()]
        .replica()
        .leader_isr()
        .map(|(isr, _)| isr.to_vec());
    assert_eq!(isr, Some(vec![BrokerId(1)]));
}

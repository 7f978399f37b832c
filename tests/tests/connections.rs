//! The connections transport: a reset fails the requests in flight on it at once (over
//! datagrams the same request waits out its timeout), a connection delivers in order, a
//! partition delays what a connection carries instead of losing it, and with Kafka's
//! 30 s request timeouts `acks-all-failover` settles no later than over datagrams with
//! the harness's 3 s ones.

use kafka_model::ids::NodeId;
use kafka_sim::connections::ResetReason;
use kafka_sim::events::{Actor, Event, EventKind, FaultEvent};
use kafka_sim::faults::trigger::{Trigger, TriggerEvent};
use kafka_sim::faults::Fault;
use kafka_sim::history::{OpType, Operation};
use kafka_sim::network::DropReason;
use kafka_sim::outcome::Outcome;
use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::{Scenario, Transport};
use kafka_sim::scenario_builder::ScenarioBuilder;
use kafka_sim::world::FIRST_PRODUCER;

const PRODUCER: NodeId = NodeId(FIRST_PRODUCER + 1);

/// A run that keeps every event.
fn kept(scenario: &Scenario, seed: u64) -> Outcome {
    let options = RunOptions {
        keep_trace: true,
        ..RunOptions::default()
    };
    run(scenario, seed, options)
}

fn full(scenario: &Scenario, seed: u64) -> Vec<Event> {
    kept(scenario, seed).events.events().to_vec()
}

/// The leader of a one-partition topic crashes as a produce request reaches it, so that
/// the producer has a request in flight to a dead broker. The request timeout is Kafka's
/// 30 s either way; only the transport differs.
fn leader_crashes_under_a_request(connections: bool) -> Scenario {
    let builder = ScenarioBuilder::new("reset-under-a-request")
        .topic("tasks", 1)
        .replication_factor(3)
        .min_insync_replicas(2)
        .acks("all")
        .idempotence(true)
        .records(200, 50)
        .producer_config(|p| p.request_timeout_ms = 30_000)
        .broker_config(|b| b.inter_broker_request_timeout_ms = 30_000)
        .at_ms(1_000)
        .crash("leader of tasks-0")
        .restart_after_ms(3_000)
        .on(Trigger::new("leader of tasks-0", TriggerEvent::Receive).message("ProduceReq"))
        .heal_at_ms(8_000);
    let builder = if connections {
        builder.connections()
    } else {
        builder
    };
    builder.build().unwrap()
}

/// The run's events, when its crash struck and whom, and when the producer's first
/// acknowledgement after the crash came.
fn crash_and_first_ack(scenario: &Scenario, seed: u64) -> (Vec<Event>, u64, NodeId, u64) {
    let outcome = kept(scenario, seed);
    let events = outcome.events.events().to_vec();
    let (crashed_at, crashed) = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Fault(FaultEvent::Injected(struck)) => match struck.fault()? {
                Fault::Crash { node, .. } => Some((
                    e.time_ms,
                    NodeId(node.trim_start_matches('b').parse().ok()?),
                )),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_else(|| panic!("seed {seed}: the triggered crash never struck"));
    let first_ack = outcome
        .history
        .entries
        .iter()
        // Past what the broker answered before it died, still on the wire.
        .filter(|e| e.time_ms > crashed_at + 50 && e.op_type == OpType::Ok)
        .find(|e| matches!(e.op, Operation::Send(_)))
        .map_or(u64::MAX, |e| e.time_ms);
    (events, crashed_at, crashed, first_ack)
}

#[test]
fn a_reset_fails_the_request_in_flight_at_once() {
    for seed in 0..3 {
        let scenario = leader_crashes_under_a_request(true);
        let (events, crashed_at, crashed, first_ack) = crash_and_first_ack(&scenario, seed);
        let reset = events
            .iter()
            .find(|e| {
                e.time_ms >= crashed_at
                    && e.actor == Actor::Node(PRODUCER)
                    && matches!(e.kind, EventKind::ConnectionReset { peer, .. } if peer == crashed)
            })
            .unwrap_or_else(|| panic!("seed {seed}: the producer never heard of the reset"));
        // After what the broker had sent before it died (at most madsim's 10 ms latency).
        assert!(
            reset.time_ms <= crashed_at + 10,
            "seed {seed}: crash at {crashed_at}, the producer heard of it at {}",
            reset.time_ms
        );
        // Its request failed then, so it is sent again as soon as a leader answers (a
        // new one, or b1 back after 3 s), not after its 30 s timeout.
        assert!(
            first_ack < crashed_at + 10_000,
            "seed {seed}: crash at {crashed_at}, first acknowledgement after it at {first_ack}"
        );
    }
}

/// The same request over datagrams: nothing tells the producer the broker died, so the
/// request waits out its 30 s timeout and nothing behind it is acknowledged before. This
/// is what the test above would see if a reset did not fail the requests in flight.
#[test]
fn over_datagrams_the_same_request_waits_out_its_timeout() {
    for seed in 0..3 {
        let scenario = leader_crashes_under_a_request(false);
        let (events, crashed_at, _, first_ack) = crash_and_first_ack(&scenario, seed);
        assert!(
            !events
                .iter()
                .any(|e| matches!(e.kind, EventKind::ConnectionReset { .. })),
            "datagrams have no connections to reset"
        );
        assert!(
            first_ack >= crashed_at + 25_000,
            "seed {seed}: crash at {crashed_at}, first acknowledgement after it at {first_ack}"
        );
    }
}

#[test]
fn a_connection_delivers_in_send_order() {
    let scenario = ScenarioBuilder::new("ordered")
        .replication_factor(3)
        .records(300, 100)
        .connections()
        .build()
        .unwrap();
    for seed in 0..3 {
        let events = full(&scenario, seed);
        // Message ids grow with send time; per (from, to) they must arrive in that order.
        let mut last: std::collections::BTreeMap<(NodeId, NodeId), u64> = Default::default();
        let mut delivered = 0;
        for event in &events {
            if let (Actor::Node(to), EventKind::MessageDelivered { id, from, .. }) =
                (event.actor, &event.kind)
            {
                delivered += 1;
                if let Some(previous) = last.insert((*from, to), *id) {
                    assert!(
                        previous < *id,
                        "seed {seed}: {from:?} -> {to:?} delivered {id} after {previous}"
                    );
                }
            }
        }
        assert!(
            delivered > 1_000,
            "seed {seed}: only {delivered} deliveries"
        );
    }
}

/// Over datagrams the same runs do reorder (madsim's latency is drawn per message), so
/// the ordering test above can fail.
#[test]
fn datagrams_reorder() {
    let scenario = ScenarioBuilder::new("unordered")
        .replication_factor(3)
        .records(300, 100)
        .build()
        .unwrap();
    let reordered = (0..3).any(|seed| {
        let mut last: std::collections::BTreeMap<(NodeId, NodeId), u64> = Default::default();
        full(&scenario, seed)
            .iter()
            .any(|event| match (event.actor, &event.kind) {
                (Actor::Node(to), EventKind::MessageDelivered { id, from, .. }) => last
                    .insert((*from, to), *id)
                    .is_some_and(|previous| previous > *id),
                _ => false,
            })
    });
    assert!(reordered);
}

#[test]
fn a_partition_holds_what_a_connection_carries_and_loses_none_of_it() {
    let scenario = ScenarioBuilder::new("stalled")
        .replication_factor(3)
        .records(200, 50)
        .connections()
        .at_ms(1_000)
        .isolate("leader of tasks-0")
        .for_ms(2_000)
        .build()
        .unwrap();
    for seed in 0..3 {
        let outcome = kept(&scenario, seed);
        let events = outcome.events.events();
        assert!(
            events
                .iter()
                .any(|e| matches!(e.kind, EventKind::MessageHeld { .. })),
            "seed {seed}: the partition held something"
        );
        // Only a host with no process listening (a node still starting) turns a message
        // away; the partition drops nothing.
        let dropped: Vec<&Event> = events
            .iter()
            .filter(|e| {
                matches!(e.kind, EventKind::MessageDropped { reason, .. } if reason != DropReason::Refused)
            })
            .collect();
        assert!(dropped.is_empty(), "seed {seed}: {dropped:?}");
        assert!(outcome.liveness_problems.is_empty(), "seed {seed}");
    }
}

/// How long after the heal a run settled (every send completed, every consumer caught
/// up), over `seeds`; the slowest seed.
fn slowest_settle_ms(scenario: &Scenario, seeds: std::ops::Range<u64>) -> u64 {
    seeds
        .map(|seed| {
            let outcome = run(scenario, seed, RunOptions::default());
            assert!(
                outcome.liveness_problems.is_empty() && outcome.violations().next().is_none(),
                "{} seed {seed}: {:?} {:?}",
                scenario.name,
                outcome.liveness_problems,
                outcome.violations().collect::<Vec<_>>()
            );
            outcome.stats.simulated_ms - scenario.fault_phase_ms
        })
        .max()
        .unwrap()
}

#[test]
fn acks_all_failover_settles_no_later_with_kafkas_timeouts_over_connections() {
    let datagrams = registry::find("acks-all-failover").unwrap();
    assert_eq!(datagrams.network.transport, Transport::Datagrams);
    assert_eq!(datagrams.producer.request_timeout_ms, 3_000);
    let text = format!(
        "{}\n[network]\ntransport = \"connections\"\n",
        datagrams.to_minimal_toml()
    );
    let connections = Scenario::from_toml(&text, "acks-all-failover-connections").unwrap();
    assert_eq!(connections.producer.request_timeout_ms, 30_000);
    assert_eq!(connections.broker.inter_broker_request_timeout_ms, 30_000);
    let seeds = 0..12;
    let over_datagrams = slowest_settle_ms(&datagrams, seeds.clone());
    let over_connections = slowest_settle_ms(&connections, seeds);
    assert!(
        over_connections <= over_datagrams,
        "with Kafka's 30 s timeouts over connections the slowest seed settles {over_connections} \
         ms after the heal, over datagrams with 3 s timeouts {over_datagrams} ms"
    );
}

#[test]
fn a_connection_reset_fault_resets_both_ends_and_loses_nothing() {
    let scenario = ScenarioBuilder::new("reset-fault")
        .replication_factor(3)
        .min_insync_replicas(2)
        .acks("all")
        .idempotence(true)
        .records(200, 50)
        .connections()
        .at_ms(1_500)
        .reset_connections(&["producer-1"], &["b1", "b2", "b3"])
        .build()
        .unwrap();
    for seed in 0..3 {
        let outcome = kept(&scenario, seed);
        let resets: Vec<&Event> = outcome
            .events
            .events()
            .iter()
            .filter(|e| {
                e.time_ms >= 1_500
                    && matches!(e.kind, EventKind::ConnectionReset { why, .. } if why == ResetReason::Fault)
            })
            .collect();
        assert!(
            resets.iter().any(|e| e.actor == Actor::Node(PRODUCER)),
            "seed {seed}: the producer hears of it"
        );
        assert!(
            resets.iter().any(|e| e.actor != Actor::Node(PRODUCER)),
            "seed {seed}: so does a broker"
        );
        assert!(outcome.violations().next().is_none(), "seed {seed}");
        assert!(outcome.liveness_problems.is_empty(), "seed {seed}");
    }
}

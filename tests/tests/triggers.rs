//! Triggered faults: a fault with `on` strikes right after its node does the named thing,
//! before that node does anything else; an alias in the trigger is matched against the
//! cluster's belief when the event happens; `nth` counts matches; bad triggers are refused
//! naming the field; the minimal TOML keeps them; and a triggered run replays exactly.

use kafka_model::effect::ReplicaEvent;
use kafka_model::ids::NodeId;
use kafka_sim::events::{Actor, Event, EventKind, FaultEvent};
use kafka_sim::faults::trigger::{Trigger, TriggerEvent};
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::Scenario;
use kafka_sim::scenario_builder::ScenarioBuilder;

fn power_loss_on_append(nth: u32) -> Scenario {
    ScenarioBuilder::new("triggered")
        .replication_factor(3)
        .at_ms(1_000)
        .power_loss("follower of tasks-0")
        .on(Trigger::new("follower of tasks-0", TriggerEvent::Append)
            .partition("tasks-0")
            .nth(nth))
        .build()
        .unwrap()
}

fn full(scenario: &Scenario, seed: u64) -> Vec<Event> {
    let options = RunOptions {
        keep_trace: true,
        ..RunOptions::default()
    };
    run(scenario, seed, options).events.events().to_vec()
}

fn is_append_of_tasks_0(event: &Event) -> bool {
    matches!(&event.kind, EventKind::Replica(ReplicaEvent::Appended { tp, .. }) if tp.to_string() == "tasks-0")
}

#[test]
fn a_triggered_fault_strikes_right_after_its_event_before_the_node_goes_on() {
    for seed in 0..4 {
        let events = full(&power_loss_on_append(1), seed);
        let fired = events
            .iter()
            .position(|e| matches!(e.kind, EventKind::Fault(FaultEvent::Triggered { .. })))
            .unwrap_or_else(|| panic!("seed {seed}: the trigger never fired"));
        assert!(events[fired].time_ms >= 1_000, "armed at 1000 ms");
        // The struck node is the one whose append fired it, and it did nothing in between.
        let struck = events[fired..]
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::Fault(FaultEvent::PowerCut { node, .. }) => Some(node.clone()),
                _ => None,
            })
            .expect("the power loss struck");
        let node = NodeId(struck.trim_start_matches('b').parse().unwrap());
        let last_step = events[..fired]
            .iter()
            .rev()
            .find(|e| e.actor == Actor::Node(node))
            .unwrap();
        assert!(
            is_append_of_tasks_0(last_step),
            "seed {seed}: {struck}'s last step before the trigger: {last_step:?}"
        );
        let cut = events[fired..]
            .iter()
            .position(|e| matches!(e.kind, EventKind::Fault(FaultEvent::PowerCut { .. })))
            .unwrap();
        let between = &events[fired..fired + cut];
        assert!(
            between.iter().all(|e| e.actor != Actor::Node(node)),
            "seed {seed}: {struck} went on before the fault struck: {between:?}"
        );
        assert!(
            events[..fired]
                .iter()
                .all(|e| !matches!(e.kind, EventKind::Fault(FaultEvent::PowerCut { .. }))),
            "nothing struck before the trigger"
        );
    }
}

#[test]
fn nth_counts_the_matching_events_once_armed() {
    let events = full(&power_loss_on_append(3), 2);
    let fired = events
        .iter()
        .position(|e| matches!(e.kind, EventKind::Fault(FaultEvent::Triggered { .. })))
        .expect("fired");
    let node = events[..fired]
        .iter()
        .rev()
        .find(|e| is_append_of_tasks_0(e))
        .unwrap()
        .actor;
    let counted = events[..fired]
        .iter()
        .filter(|e| e.time_ms >= 1_000 && e.actor == node && is_append_of_tasks_0(e))
        .count();
    assert_eq!(counted, 3);
    // The first match would have fired a trigger with nth = 1 earlier.
    let first = full(&power_loss_on_append(1), 2);
    let fired_first = first
        .iter()
        .find(|e| matches!(e.kind, EventKind::Fault(FaultEvent::Triggered { .. })))
        .unwrap();
    assert!(fired_first.time_ms <= events[fired].time_ms);
}

#[test]
fn a_triggered_run_replays_exactly() {
    let scenario = power_loss_on_append(2);
    let a = run(&scenario, 7, RunOptions::default());
    let b = run(&scenario, 7, RunOptions::default());
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.history, b.history);
}

#[test]
fn the_minimal_toml_keeps_the_trigger() {
    let scenario = power_loss_on_append(2);
    let text = scenario.to_minimal_toml();
    let back = Scenario::from_toml(&text, "minimal.toml").unwrap();
    assert_eq!(back.faults.events, scenario.faults.events, "{text}");
}

#[test]
fn bad_triggers_are_refused_naming_the_field() {
    let base = |on: &str| {
        format!(
            "name = \"t\"\n[[topics]]\nname = \"tasks\"\npartitions = 2\nreplication_factor = 3\n\
             [[faults.events]]\nat_ms = 100\nkind = \"crash\"\nnode = \"b1\"\nrestart_after_ms = 100\n\
             on = {on}\n"
        )
    };
    let cases = [
        (
            "{ node = \"b9\", event = \"append\" }",
            "on.node",
            "unknown node `b9`",
        ),
        (
            "{ node = \"leader of tasks-5\", event = \"append\" }",
            "on.node",
            "partitions 0..=1",
        ),
        (
            "{ node = \"b1\", event = \"append\", message = \"ProduceReq\" }",
            "on.message",
            "only `send` and `receive`",
        ),
        (
            "{ node = \"b1\", event = \"send\", message = \"ProduceRequest\" }",
            "on.message",
            "unknown message kind",
        ),
        (
            "{ node = \"b1\", event = \"send\", partition = \"tasks-0\" }",
            "on.partition",
            "takes no partition",
        ),
        (
            "{ node = \"b1\", event = \"append\", partition = \"orders-0\" }",
            "on.partition",
            "no topic `orders`",
        ),
        (
            "{ node = \"b1\", event = \"append\", nth = 0 }",
            "on.nth",
            "counts from 1",
        ),
        ("{ node = \"b1\", event = \"explode\" }", "", "explode"),
    ];
    for (on, field, reason) in cases {
        let error = Scenario::from_toml(&base(on), "t.toml")
            .and_then(|s| s.validate("t.toml").map(|_| s))
            .expect_err(on)
            .to_string();
        assert!(
            error.contains(field) && error.contains(reason),
            "{on}: {error}"
        );
        assert_eq!(error.lines().count(), 1, "{error}");
    }
    let good =
        base("{ node = \"leader of tasks-1\", event = \"receive\", message = \"ProduceReq\" }");
    let scenario = Scenario::from_toml(&good, "t.toml").unwrap();
    scenario.validate("t.toml").unwrap();
}

#[test]
fn the_swarm_nemesis_draws_triggered_faults_from_their_own_stream() {
    let mut scenario = kafka_sim::registry::find("crash-restart").unwrap();
    let spec = scenario.faults.nemesis.clone().unwrap();
    let brokers = scenario.broker_names();
    let targets = kafka_sim::faults::DiskLossTargets::default();
    let (_, timed) = spec.draw(3, scenario.fault_phase_ms, &brokers, &[], &targets);
    let mut half = spec.clone();
    half.triggered_percent = 50;
    let (_, triggered) = half.draw(3, scenario.fault_phase_ms, &brokers, &[], &targets);
    // The same faults at the same times: only `on` differs.
    let strip = |events: &[kafka_sim::faults::TimedFault]| {
        events
            .iter()
            .map(|e| (e.at_ms, e.fault.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&timed), strip(&triggered));
    assert!(timed.iter().all(|e| e.on.is_none()));
    assert!(triggered.iter().any(|e| e.on.is_some()), "{triggered:?}");
    // And the drawn triggers fire in a run.
    scenario.faults.nemesis = Some(half);
    scenario.faults.events.clear();
    let fired: usize = (0..4)
        .map(|seed| {
            let options = RunOptions {
                keep_trace: true,
                ..RunOptions::default()
            };
            run(&scenario, seed, options)
                .events
                .events()
                .iter()
                .filter(|e| matches!(e.kind, EventKind::Fault(FaultEvent::Triggered { .. })))
                .count()
        })
        .sum();
    assert!(fired > 0);
    scenario.faults.nemesis.as_mut().unwrap().triggered_percent = 101;
    let error = scenario.validate("s.toml").unwrap_err().to_string();
    assert!(error.contains("triggered_percent"), "{error}");
}

#[test]
fn shrink_keeps_a_trigger_the_failure_needs() {
    use kafka_sim::checkers::AnomalyKind::LostWrite;
    use kafka_sim::shrink::shrink_to;
    // RF 1 and async flush: a power loss right after the leader's 20th append loses the
    // acknowledged records it had not fsynced; the pause and the clock jump are noise.
    let scenario = ScenarioBuilder::new("triggered-loss")
        .replication_factor(1)
        .acks(1)
        .at_ms(500)
        .pause("b3")
        .for_ms(200)
        .at_ms(1_000)
        .power_loss("leader of tasks-0")
        .restart_after_ms(500)
        .on(Trigger::new("leader of tasks-0", TriggerEvent::Append)
            .partition("tasks-0")
            .nth(20))
        .at_ms(3_000)
        .clock_jump("b2", 5_000)
        .build()
        .unwrap();
    let shows = |s: &Scenario, seed| kafka_sim_tests::shows(s, seed, LostWrite);
    let seed = (0..10)
        .find(|&seed| shows(&scenario, seed))
        .expect("the triggered power loss loses a write within 10 seeds");
    let report = shrink_to(&scenario, seed, Some(LostWrite), |_| {}).unwrap();
    let kept = &report.minimal.faults.events;
    assert_eq!(kept.len(), 1, "{}", report.minimal.to_toml());
    assert!(kept[0].on.is_some(), "{}", report.minimal.to_toml());
    let replayed = Scenario::from_toml(&report.minimal.to_toml(), "min.toml").unwrap();
    assert!(shows(&replayed, seed), "{}", report.minimal.to_toml());
}

//! What triggered faults reach that faults at random times do not: two deliberately broken
//! brokers (examples/answer-before-flush.toml and examples/answer-before-write.toml) whose
//! bug lives in the moment between a produce's answer and its fsync or write. Triggered
//! faults find each within 100 seeds; the same nemesis striking at random times finds
//! neither in 1,000; Kafka's order of write, fsync and answer survives the same triggered
//! faults. And a send trigger strikes once the message is on the wire, not before.

use kafka_model::config::ProduceAnswer;
use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::events::{Actor, EventKind, FaultEvent};
use kafka_sim::faults::trigger::{Trigger, TriggerEvent};
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::Scenario;
use kafka_sim::scenario_builder::ScenarioBuilder;
use kafka_sim::sweep::{sweep, SeedResult};

const ANSWER_BEFORE_FLUSH: &str = include_str!("../../examples/answer-before-flush.toml");
const ANSWER_BEFORE_WRITE: &str = include_str!("../../examples/answer-before-write.toml");

fn example(text: &str, triggered_percent: u32) -> Scenario {
    let mut scenario = Scenario::from_toml(text, "example").expect("the example parses");
    scenario
        .faults
        .nemesis
        .as_mut()
        .expect("the example has a nemesis")
        .triggered_percent = triggered_percent;
    scenario
}

/// The seeds whose run lost an acknowledged write as a violation.
fn losing_seeds(scenario: &Scenario, seeds: std::ops::Range<u64>) -> Vec<u64> {
    let seeds: Vec<u64> = seeds.collect();
    sweep(scenario, &seeds, |_| {})
        .iter()
        .filter(|r: &&SeedResult| {
            r.anomalies
                .contains(&(AnomalyKind::LostWrite, Verdict::Violation))
        })
        .map(|r| r.seed)
        .collect()
}

fn triggered_faults_find_what_timed_faults_miss(text: &str) {
    let triggered = losing_seeds(&example(text, 100), 0..100);
    assert!(
        !triggered.is_empty(),
        "triggered faults found no lost acknowledged write in 100 seeds"
    );
    let timed = losing_seeds(&example(text, 0), 0..1_000);
    assert_eq!(
        timed,
        Vec::<u64>::new(),
        "faults at random times found the one-message window"
    );
    // The same faults, the same seeds, against a broker that answers after its fsync.
    let mut kafka = example(text, 100);
    kafka.broker.answer_produce = ProduceAnswer::AfterFlush;
    assert_eq!(
        losing_seeds(&kafka, 0..100),
        Vec::<u64>::new(),
        "Kafka's order lost a write the configuration promised"
    );
}

#[test]
fn a_power_loss_right_after_an_answer_given_before_the_fsync_is_found_only_by_triggers() {
    triggered_faults_find_what_timed_faults_miss(ANSWER_BEFORE_FLUSH);
}

#[test]
fn a_crash_right_after_an_answer_given_before_the_write_is_found_only_by_triggers() {
    triggered_faults_find_what_timed_faults_miss(ANSWER_BEFORE_WRITE);
}

#[test]
fn a_send_trigger_strikes_after_the_message_left() {
    let scenario = ScenarioBuilder::new("crash-on-answer")
        .at_ms(1_000)
        .crash("b1")
        .on(Trigger::new("b1", TriggerEvent::Send).message("ProduceResp"))
        .build()
        .unwrap();
    for seed in 0..4 {
        let options = RunOptions {
            keep_trace: true,
            ..RunOptions::default()
        };
        let outcome = run(&scenario, seed, options);
        let events = outcome.events.events();
        let fired = events
            .iter()
            .position(|e| matches!(e.kind, EventKind::Fault(FaultEvent::Triggered { .. })))
            .unwrap_or_else(|| panic!("seed {seed}: the trigger never fired"));
        let sent = events[..fired]
            .iter()
            .rev()
            .find_map(|e| match &e.kind {
                EventKind::MessageSent { id, kind, .. }
                    if e.actor == Actor::Node(kafka_model::ids::NodeId(1))
                        && kind.starts_with("ProduceResp") =>
                {
                    Some(*id)
                }
                _ => None,
            })
            .expect("b1 sent the answer that fired the trigger");
        assert!(
            events[fired..].iter().any(|e| matches!(
                &e.kind,
                EventKind::MessageDelivered { id, .. } if *id == sent
            )),
            "seed {seed}: the answer that fired the crash never arrived"
        );
    }
}

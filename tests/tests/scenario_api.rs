//! The Rust scenario API and a TOML file describe the same scenario, and give the same run.

use kafka_model::config::Acks;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::Scenario;
use kafka_sim::scenario_builder::ScenarioBuilder;

const STORY: &str = r#"
name = "leader-cut-off"
brokers = 3
fault_phase_ms = 10000

[[topics]]
name = "tasks"
partitions = 6

[producer]
acks = "all"

[workload]
topic = "tasks"
records = 300
rate_per_s = 100

[[faults.events]]
at_ms = 5000
kind = "partition"
groups = [["b1"], ["b2", "b3", "controller", "producer-1", "consumer-1"]]
duration_ms = 3000

[[faults.events]]
at_ms = 7000
kind = "power-loss"
node = "b2"
restart_after_ms = 2000
"#;

fn built() -> Scenario {
    ScenarioBuilder::new("leader-cut-off")
        .brokers(3)
        .topic("tasks", 6)
        .acks(Acks::All)
        .records(300, 100)
        .at_ms(5_000)
        .isolate(&ScenarioBuilder::leader_of(3, 0))
        .for_ms(3_000)
        .at_ms(7_000)
        .power_loss("b2")
        .restart_after_ms(2_000)
        .heal_at_ms(10_000)
        .build()
        .unwrap()
}

#[test]
fn api_and_toml_build_the_same_scenario_and_trace() {
    let from_api = built();
    let from_toml = Scenario::from_toml(STORY, "story.toml").unwrap();
    assert_eq!(from_api, from_toml);
    let options = RunOptions {
        keep_trace: true,
        ..RunOptions::default()
    };
    let a = run(&from_api, 11, options);
    let b = run(&from_toml, 11, options);
    assert_eq!(a.trace, b.trace);
    assert!(a.trace.iter().any(|line| line.contains("partition [b1]")));
}

#[test]
fn the_api_refuses_what_a_file_would() {
    let error = ScenarioBuilder::new("x")
        .brokers(2)
        .at_ms(1_000)
        .crash("b5")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("unknown node `b5`"), "{error}");
}

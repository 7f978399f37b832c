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
        .isolate(ScenarioBuilder::preferred_leader(3, 0))
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

/// Whether event `index` cuts `node` off from every other node of the scenario.
fn isolates_from_everyone(scenario: &Scenario, index: usize, node: &str) -> bool {
    let others: Vec<String> = scenario
        .broker_names()
        .into_iter()
        .chain(scenario.controller_names())
        .chain(scenario.client_names())
        .filter(|n| n != node)
        .collect();
    matches!(
        &scenario.faults.events[index].fault,
        kafka_sim::faults::Fault::Partition { groups, .. }
            if groups.len() == 2 && groups[0] == [node] && groups[1] == others
    )
}

#[test]
fn isolate_cuts_off_the_nodes_added_after_it() {
    let scenario = ScenarioBuilder::new("x")
        .at_ms(1_000)
        .isolate("b1")
        .for_ms(2_000)
        .brokers(5)
        .controllers(3)
        .group("g1", 2)
        .build()
        .unwrap();
    assert!(
        isolates_from_everyone(&scenario, 0, "b1"),
        "{:?}",
        scenario.faults.events[0]
    );
    // The oracle, shown failing: the node list as it was when `isolate` was called (what
    // the builder once snapshotted) leaves b4, b5, the quorum and the group connected.
    let mut snapshot = scenario.clone();
    snapshot.faults.events[0].fault = kafka_sim::faults::Fault::Partition {
        groups: vec![
            vec!["b1".into()],
            ["b2", "b3", "controller", "producer-1", "consumer-1"]
                .map(String::from)
                .to_vec(),
        ],
        duration_ms: 2_000,
    };
    assert!(!isolates_from_everyone(&snapshot, 0, "b1"));
}

#[test]
fn the_builder_reaches_every_setting_of_a_builtin() {
    use kafka_sim::checkers::AnomalyKind;
    use kafka_sim::faults::FaultKind;
    use kafka_sim::scenario::SweepExpectations;
    let builtin = kafka_sim::registry::find("acks1-failover").unwrap();
    let built = ScenarioBuilder::new("acks1-failover")
        .describe(&builtin.description)
        .topic("tasks", 3)
        .replication_factor(3)
        .min_insync_replicas(2)
        .acks(1)
        .idempotence(false)
        .records(600, 30)
        .nemesis(
            &[
                FaultKind::Crash,
                FaultKind::Partition,
                FaultKind::PartitionOneWay,
                FaultKind::Pause,
            ],
            1_500,
        )
        .heal_at_ms(20_000)
        .expect(SweepExpectations::passing().shows_allowed(AnomalyKind::LostWrite, 20))
        .build()
        .unwrap();
    assert_eq!(built, builtin);
}

const NETWORK_STORY: &str = r#"
name = "every-fault"
brokers = 4
consumers = 0
fault_phase_ms = 12000
liveness_ms = 60000

[[topics]]
name = "orders"
partitions = 4
replication_factor = 3

[[topics]]
name = "audit"
partitions = 1

[[groups]]
id = "g1"
members = 3

[broker]
min_insync_replicas = 2

[broker.log]
flush_messages = 1

[controller]
voters = 3
unclean_leader_election = true

[producer]
acks = "all"
retries = 10
max_in_flight_requests_per_connection = 1
linger_ms = 20

[consumer]
max_poll_records = 50

[workload]
topic = "orders"
records = 100
keys = 0

[[faults.events]]
at_ms = 1000
kind = "delay"
from = ["producer-1"]
to = ["b1"]
delay_ms = 300
jitter_ms = 40
duration_ms = 2000

[[faults.events]]
at_ms = 2000
kind = "clog"
node = "b2"
duration_ms = 500

[[faults.events]]
at_ms = 3000
kind = "partition-one-way"
from = ["b3"]
to = ["controller"]
duration_ms = 1500

[[faults.events]]
at_ms = 4000
kind = "disk-loss"
node = "controller-2"
restart_after_ms = 2000

[[faults.events]]
at_ms = 5000
kind = "clock-drift"
node = "b4"
ppm = 20000

[faults.nemesis]
kinds = ["loss"]
mean_interval_ms = 2000
swarm = false
"#;

#[test]
fn the_builder_reaches_groups_quorums_and_every_network_fault() {
    let built = ScenarioBuilder::new("every-fault")
        .brokers(4)
        .clients(1, 0)
        .controllers(3)
        .topic("orders", 4)
        .replication_factor(3)
        .topic("audit", 1)
        .group("g1", 3)
        .min_insync_replicas(2)
        .fsync_every_append()
        .unclean_leader_election(true)
        .acks("all")
        .retries(10, 1)
        .producer_config(|p| p.linger_ms = 20)
        .consumer_config(|c| c.max_poll_records = 50)
        .records(100, 100)
        .keys(0)
        .at_ms(1_000)
        .delay(&["producer-1"], &["b1"], 300)
        .jitter_ms(40)
        .for_ms(2_000)
        .at_ms(2_000)
        .clog("b2")
        .for_ms(500)
        .at_ms(3_000)
        .partition_one_way(&["b3"], &["controller"])
        .for_ms(1_500)
        .at_ms(4_000)
        .disk_loss("controller-2")
        .restart_after_ms(2_000)
        .at_ms(5_000)
        .clock_drift("b4", 20_000)
        .nemesis(&[kafka_sim::faults::FaultKind::Loss], 2_000)
        .swarm(false)
        .heal_at_ms(12_000)
        .liveness_ms(60_000)
        .build()
        .unwrap();
    assert_eq!(
        built,
        Scenario::from_toml(NETWORK_STORY, "story.toml").unwrap()
    );
}

#[test]
fn calls_that_would_do_nothing_fail_the_build() {
    let cases = [
        (
            ScenarioBuilder::new("x")
                .at_ms(1_000)
                .clock_jump("b1", 500)
                .for_ms(100),
            "`for_ms` after a clock-jump does nothing",
        ),
        (
            ScenarioBuilder::new("x")
                .at_ms(1_000)
                .clock_drift("b1", 5)
                .for_ms(100),
            "`for_ms` after a clock-drift does nothing",
        ),
        (
            ScenarioBuilder::new("x").for_ms(100),
            "`for_ms` before any fault",
        ),
        (
            ScenarioBuilder::new("x")
                .at_ms(1_000)
                .pause("b1")
                .restart_after_ms(100),
            "`restart_after_ms` after a pause does nothing",
        ),
        (
            ScenarioBuilder::new("x")
                .at_ms(1_000)
                .crash("b1")
                .jitter_ms(5),
            "`jitter_ms` after a crash does nothing",
        ),
        (
            ScenarioBuilder::new("x").swarm(false),
            "`swarm` without a `nemesis`",
        ),
        (
            ScenarioBuilder::new("x").acks(2),
            "acks = 2: Kafka's producer refuses it",
        ),
        (ScenarioBuilder::new("x").acks("one"), "acks = \"one\""),
    ];
    for (builder, needle) in cases {
        let error = builder.build().unwrap_err().to_string();
        assert!(error.starts_with("scenario `x`: field `"), "{error}");
        assert!(error.contains(needle), "`{needle}` missing from: {error}");
    }
    // The same calls where they take effect build.
    ScenarioBuilder::new("x")
        .at_ms(1_000)
        .pause("b1")
        .for_ms(100)
        .crash("b2")
        .restart_after_ms(100)
        .acks(Acks::Leader)
        .build()
        .unwrap();
}

//! Node aliases (`leader of tasks-0`, `follower of tasks-0`, `active controller`) strike the
//! node the cluster believes in that role when the fault strikes, recomputed here from the
//! run's own event log; they read back from TOML and survive shrinking as written.

use kafka_model::ids::{NodeId, TopicPartition};
use kafka_model::metadata::MetadataRecord;
use kafka_model::raft::RaftEvent;
use kafka_sim::checkers::AnomalyKind;
use kafka_sim::events::{Event, EventKind, EventLog, FaultEvent};
use kafka_sim::faults::alias::NodeAlias;
use kafka_sim::faults::strike::StruckFault;
use kafka_sim::faults::Fault;
use kafka_sim::outcome::Outcome;
use kafka_sim::report::{run_report, Detail};
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::{to_minimal_toml, Scenario};
use kafka_sim::scenario_builder::ScenarioBuilder;
use kafka_sim::shrink::shrink_to;
use kafka_sim::summary::RunSummary;
use std::collections::BTreeMap;

fn kept(scenario: &Scenario, seed: u64) -> Outcome {
    let options = RunOptions {
        keep_trace: true,
        ..RunOptions::default()
    };
    run(scenario, seed, options)
}

/// Every fault that struck, with its time.
fn struck(log: &EventLog) -> Vec<(u64, &StruckFault)> {
    log.events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Fault(FaultEvent::Injected(struck)) => Some((e.time_ms, struck)),
            _ => None,
        })
        .collect()
}

/// The leader of `tp` in the committed metadata before the event at `seq`, replayed by hand:
/// the first record any node reported at each index, in index order.
fn metadata_leader_before(events: &[Event], seq: u64, tp: &TopicPartition) -> Option<NodeId> {
    let mut committed: BTreeMap<u64, &MetadataRecord> = BTreeMap::new();
    for event in events.iter().take_while(|e| e.seq < seq) {
        if let EventKind::Metadata { index, record } = &event.kind {
            committed.entry(*index).or_insert(record);
        }
    }
    let mut leader = None;
    for record in committed.values() {
        if let MetadataRecord::PartitionChange {
            tp: of, leader: l, ..
        } = record
        {
            if of == tp {
                leader = *l;
            }
        }
    }
    leader.map(|b| NodeId(b.0))
}

fn restarted_after(log: &EventLog, node: &str, after_ms: u64) -> bool {
    log.events().iter().any(|e| {
        e.time_ms >= after_ms
            && matches!(&e.kind, EventKind::Fault(FaultEvent::Restarted { node: n }) if n == node)
    })
}

/// b1, the preferred leader of tasks-0, is down long enough for another broker to take the
/// partition over; then `leader of tasks-0` is crashed.
fn moved_leader() -> Scenario {
    ScenarioBuilder::new("leader-moved")
        .brokers(3)
        .topic("tasks", 3)
        .replication_factor(3)
        .min_insync_replicas(2)
        .acks("all")
        .records(400, 50)
        .at_ms(2_000)
        .crash("b1")
        .restart_after_ms(9_000)
        .at_ms(7_000)
        .crash(NodeAlias::leader_of("tasks", 0))
        .restart_after_ms(1_000)
        .heal_at_ms(14_000)
        .build()
        .unwrap()
}

#[test]
fn leader_of_strikes_the_leader_the_metadata_names_after_an_election_moved_it() {
    let scenario = moved_leader();
    let tp = TopicPartition::new("tasks", 0);
    let preferred = ScenarioBuilder::preferred_leader(scenario.brokers, 0);
    let mut moved = 0;
    for seed in 0..4 {
        let outcome = kept(&scenario, seed);
        let log = &outcome.events;
        let strike = log
            .events()
            .iter()
            .find(|e| {
                matches!(&e.kind, EventKind::Fault(FaultEvent::Injected(s))
                    if s.planned.nodes().iter().any(|n| n.starts_with("leader of")))
            })
            .expect("the aliased crash struck");
        let EventKind::Fault(FaultEvent::Injected(struck)) = &strike.kind else {
            unreachable!()
        };
        let expected = metadata_leader_before(log.events(), strike.seq, &tp)
            .map(|id| log.node_name(id).to_string());
        let resolved = struck.resolved["leader of tasks-0"].clone();
        assert_eq!(resolved, expected, "seed {seed}: {struck}");
        let Some(node) = resolved else {
            continue;
        };
        // The old guess, `p % brokers + 1`, names b1: it is down, and leads nothing.
        assert_ne!(node, preferred, "seed {seed}: b1 is down and cannot lead");
        moved += 1;
        assert_eq!(
            struck.fault(),
            Some(Fault::Crash {
                node: node.clone(),
                restart_after_ms: 1_000
            })
        );
        let line = format!("crash leader of tasks-0 (= {node}) (restart +1000ms)");
        assert!(
            outcome.trace.iter().any(|l| l.ends_with(&line)),
            "seed {seed}: the trace tells `{line}`"
        );
        assert!(
            restarted_after(log, &node, strike.time_ms),
            "seed {seed}: {node} was crashed, so it restarts"
        );
        // The report's fault plan tells it resolved too.
        let summary = RunSummary::of_run(&outcome, &scenario);
        let report = run_report(&outcome, "leader-moved.toml", &summary, Detail::Summary);
        assert!(
            report.contains(&format!("@  7000ms {line}")),
            "seed {seed}: {report}"
        );
    }
    assert!(
        moved >= 3,
        "the leadership moved off b1 in {moved} of 4 seeds"
    );
}

#[test]
fn active_controller_crashes_the_quorum_leader_and_a_new_one_is_elected() {
    let scenario = ScenarioBuilder::new("controller-crash")
        .controllers(3)
        .brokers(3)
        .replication_factor(3)
        .records(300, 50)
        .at_ms(4_000)
        .crash("active controller")
        .restart_after_ms(4_000)
        .heal_at_ms(12_000)
        .build()
        .unwrap();
    for seed in 0..3 {
        let outcome = kept(&scenario, seed);
        let log = &outcome.events;
        let (at_ms, struck) = struck(log)[0];
        // The quorum leader, by hand: the newest epoch anyone became leader of.
        let leader_before = |ms: u64| {
            log.events()
                .iter()
                .filter(|e| e.time_ms <= ms)
                .filter_map(|e| match &e.kind {
                    EventKind::Raft(RaftEvent::BecameLeader { node, epoch }) => {
                        Some((*epoch, *node))
                    }
                    _ => None,
                })
                .max()
        };
        let (epoch, leader) = leader_before(at_ms).expect("a leader by 4 s");
        let name = log.node_name(leader).to_string();
        assert_eq!(
            struck.resolved["active controller"].as_deref(),
            Some(name.as_str()),
            "seed {seed}"
        );
        assert!(restarted_after(log, &name, at_ms), "seed {seed}");
        // With its leader down, the quorum elects another.
        let (later, new_leader) = leader_before(at_ms + 4_000).unwrap();
        assert!(later > epoch && new_leader != leader, "seed {seed}");
    }
}

/// acks=1 with the leader of tasks-0 crashed again and again, and faults that lose nothing
/// beside them.
fn acks1_leader_crashes() -> Scenario {
    let mut builder = ScenarioBuilder::new("acks1-leader-crashes")
        .brokers(3)
        .topic("tasks", 3)
        .replication_factor(3)
        .acks(1)
        .records(600, 100)
        .at_ms(500)
        .clock_drift("consumer-1", 2_000)
        .at_ms(800)
        .pause("follower of tasks-1")
        .for_ms(200);
    for at_ms in [2_000, 4_500, 7_000, 9_500] {
        builder = builder
            .at_ms(at_ms)
            .crash("leader of tasks-0")
            .restart_after_ms(1_500);
    }
    builder.heal_at_ms(12_000).build().unwrap()
}

#[test]
fn show_and_shrink_keep_aliases_as_written() {
    let scenario = acks1_leader_crashes();
    let text = to_minimal_toml(&scenario);
    assert!(text.contains("node = \"leader of tasks-0\""), "{text}");
    assert!(text.contains("node = \"follower of tasks-1\""), "{text}");
    let read = Scenario::from_toml(&text, "aliases.toml").unwrap();
    assert_eq!(read, scenario);
    assert_eq!(
        run(&read, 3, RunOptions::default()).trace_hash,
        run(&scenario, 3, RunOptions::default()).trace_hash
    );

    let shows = |s: &Scenario, seed| {
        run(s, seed, RunOptions::default())
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::LostWrite)
    };
    let seed = (0..10)
        .find(|&seed| shows(&scenario, seed))
        .expect("crashing the acks=1 leader loses a write within 10 seeds");
    let report = shrink_to(&scenario, seed, Some(AnomalyKind::LostWrite), |_| {}).unwrap();
    let events = &report.minimal.faults.events;
    assert!(events.len() < scenario.faults.events.len());
    // Shrinking drops events and shortens them; the nodes they strike stay as written.
    let written = |e: &kafka_sim::faults::TimedFault| (e.fault.kind(), e.fault.nodes().len());
    for event in events {
        assert!(
            scenario
                .faults
                .events
                .iter()
                .any(|original| written(original) == written(event)
                    && original.fault.nodes() == event.fault.nodes()),
            "{event:?}"
        );
    }
    assert!(
        events
            .iter()
            .any(|e| e.fault.nodes().iter().any(|n| *n == "leader of tasks-0")),
        "only crashing the leader loses a write: {events:?}"
    );
    let minimal_text = report.minimal.to_toml();
    let replayed = Scenario::from_toml(&minimal_text, "min.toml").unwrap();
    assert_eq!(replayed.faults.events, *events);
    assert!(shows(&replayed, seed), "{minimal_text}");
}

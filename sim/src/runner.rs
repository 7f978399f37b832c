//! The runner: one call runs one scenario with one seed, on a fresh OS thread with its own
//! madsim runtime, and returns its outcome. A panic or deadlock inside the simulation
//! becomes an outcome of its own class, never a crashed caller.

use crate::actors::broker::BrokerRole;
use crate::actors::consumer::ConsumerRole;
use crate::actors::controller::ControllerRole;
use crate::actors::eos_pipeline::EosPipelineRole;
use crate::actors::producer::{ProducerRole, WorkItem};
use crate::actors::run_node;
use crate::actors::txn_producer::TxnProducerRole;
use crate::actors::wire::{run_wire, WIRE};
use crate::checkers::{self, Promises};
use crate::disk::SimDisk;
use crate::errors::{ErrorChecker, ErrorSettings};
use crate::events::{Actor, EventKind, FaultEvent, Retention};
use crate::faults::{max_disk_losses, DiskLossTargets, SwarmDraw, TimedFault};
use crate::liveness_phase::{liveness, LivenessEnd};
use crate::nemesis::Nemesis;
use crate::outcome::{Outcome, OutcomeClass, RunStats};
use crate::scenario::{successor_name, GroupSpec, Scenario};
use crate::workload;
use crate::world::{
    address, controller_ids, controller_name, member_id, World, FIRST_CONSUMER, FIRST_PRODUCER,
    FIRST_SUCCESSOR,
};
use futures::future::Either;
use kafka_model::config::{ConsumerConfig, ProducerConfig};
use kafka_model::consumer::Consumer;
use kafka_model::ids::{BrokerId, NodeId};
use kafka_model::layout::ClusterLayout;
use kafka_model::member::CommitMode;
use kafka_model::producer::Producer;
use kafka_model::txn::IsolationLevel;
use madsim::runtime::{Handle, Runtime};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What to keep from a run beyond its verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Keep the trace's lines (not only its hash).
    pub keep_trace: bool,
    /// For testing the harness itself: a task inside the simulation panics at this
    /// simulated time, which must end as a `Crash` outcome, not a crashed caller.
    pub panic_at_ms: Option<u64>,
    /// For testing the harness itself: this node's actor stops at this simulated time and
    /// waits on nothing, with no timer armed, which must end as a `Crash` outcome (a
    /// deadlock, exit 4), not as a liveness violation.
    pub stall: Option<Stall>,
}

/// A deliberately stuck actor (`RunOptions::stall`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stall {
    /// The node, as the trace names it (`producer-1`).
    pub node: &'static str,
    pub at_ms: u64,
}

/// How far the clock jumps at the end of a run so that every pending timer fires and every
/// task is dropped (scenario timeouts are at most a day: see `Scenario::validate`).
const TEARDOWN_MS: u64 = 2 * 24 * 3_600_000;

/// The plan a seed gives a scenario: its scripted faults plus what the nemesis draws.
pub fn fault_plan(scenario: &Scenario, seed: u64) -> (Option<SwarmDraw>, Vec<TimedFault>) {
    let mut plan = scenario.faults.events.clone();
    let mut swarm = None;
    if let Some(nemesis) = &scenario.faults.nemesis {
        // Network faults may cut controllers off too (a leader they cannot hear is
        // fenced while it still serves). Process faults strike brokers, and the
        // controllers of a quorum: a single controller stays up, as the cluster's one
        // point of failure it is.
        let mut targets = scenario.broker_names();
        let mut others = scenario.controller_names();
        let disk_loss = disk_loss_targets(scenario);
        if scenario.controller.voters > 1 {
            targets.append(&mut others);
        }
        others.extend(scenario.client_names());
        for group in scenario.groups.iter().filter(|g| g.member_faults) {
            let members = group.member_names();
            others.retain(|name| !members.contains(name));
            targets.extend(members);
        }
        // Services are the application under test: their replicas crash and restart.
        let services = scenario.services.names();
        others.retain(|name| !services.contains(name));
        targets.extend(services);
        let (draw, events) =
            nemesis.draw(seed, scenario.fault_phase_ms, &targets, &others, &disk_loss);
        swarm = Some(draw);
        plan.extend(events);
    }
    plan.sort_by_key(|e| e.at_ms);
    (swarm, plan)
}

/// The controllers whose disk the nemesis may replace: a minority of a quorum's voters at
/// most, counting those the scenario's own events replace (no voter changes are modelled,
/// so a majority on new disks could never elect a leader again). None for one controller.
/// Restarts each broker that halts over a storage error, after the delay of the fault that
/// struck its disk (see `world::operator`). Runs through the liveness phase too: a broker
/// may read damaged bytes long after the heal.
fn spawn_operator(world: &Arc<World>, nodes: &BTreeMap<String, madsim::task::NodeId>) {
    let (halts, mut halted) = futures::channel::mpsc::unbounded();
    world.lock().operator.watch(halts);
    let (world, nodes) = (world.clone(), nodes.clone());
    madsim::task::spawn(async move {
        while let Some(node) = futures::StreamExt::next(&mut halted).await {
            let (delay_ms, incarnation) = {
                let state = world.lock();
                let incarnation = state.incarnations.get(&node).copied().unwrap_or(0);
                (state.operator.restart_after_ms(node), incarnation)
            };
            let name = world.name(node).to_string();
            let id = nodes[&name];
            let world = world.clone();
            madsim::task::spawn(async move {
                madsim::time::sleep(Duration::from_millis(delay_ms)).await;
                let restart = {
                    let state = world.lock();
                    let current = state.incarnations.get(&node).copied().unwrap_or(0);
                    state.operator.should_restart(node, incarnation, current)
                };
                if restart {
                    world.fault(FaultEvent::Restarted { node: name });
                    Handle::current().restart(id);
                }
            });
        }
    });
}

fn disk_loss_targets(scenario: &Scenario) -> DiskLossTargets {
    let max_nodes = max_disk_losses(scenario.controller.voters);
    DiskLossTargets {
        controllers: if max_nodes > 0 {
            scenario.controller_names()
        } else {
            Vec::new()
        },
        max_nodes,
        scripted: scenario.scripted_disk_losses(),
    }
}

/// How far the plan sets clocks back in all. Kafka computes timeouts from the wall
/// clock, so a clock set back by X delays every pending timeout on it by X: the
/// liveness bound grows by that much.
pub fn clock_setback_ms(plan: &[TimedFault]) -> u64 {
    plan.iter()
        .map(|e| match e.fault {
            crate::faults::Fault::ClockJump { by_ms, .. } if by_ms < 0 => by_ms.unsigned_abs(),
            _ => 0,
        })
        .sum()
}

/// What the configuration promises, for the checkers. Which faults struck is not asked:
/// the excuse pass finds in the run's events what lost each record.
pub fn promises(scenario: &Scenario) -> Promises {
    Promises {
        idempotence: scenario.producer.idempotence_enabled(),
        retries: scenario.producer.retries > 0,
        max_in_flight_above_one: scenario.producer.max_in_flight_requests_per_connection > 1,
        acks: scenario.acks().as_str().to_string(),
        async_flush: scenario.broker.log.flush_messages != Some(1),
        unclean_election: scenario.controller.unclean_leader_election,
        at_most_once_groups: scenario
            .groups
            .iter()
            .filter(|g| g.commit_mode == CommitMode::BeforeProcessing)
            .map(|g| g.id.clone())
            .collect(),
    }
}

fn node_names(scenario: &Scenario) -> BTreeMap<NodeId, String> {
    let mut names = BTreeMap::new();
    let voters = scenario.controller.voters;
    for id in controller_ids(voters) {
        names.insert(id, controller_name(id, voters));
    }
    for b in 1..=scenario.brokers {
        names.insert(NodeId(b), format!("b{b}"));
    }
    for p in 1..=scenario.producers {
        names.insert(NodeId(FIRST_PRODUCER + p), format!("producer-{p}"));
    }
    for (p, name) in (1..).zip(scenario.successor_names()) {
        names.insert(NodeId(FIRST_SUCCESSOR + p), name);
    }
    for c in 1..=scenario.consumers {
        names.insert(NodeId(FIRST_CONSUMER + c), format!("consumer-{c}"));
    }
    for (g, group) in scenario.groups.iter().enumerate() {
        for (m, name) in (1..).zip(group.member_names()) {
            names.insert(member_id(g, m), name);
        }
    }
    names.extend(crate::app::spawn::node_names(scenario));
    names
}

/// Runs `scenario` with `seed`. The scenario must be valid (`Scenario::validate`).
pub fn run(scenario: &Scenario, seed: u64, options: RunOptions) -> Outcome {
    let (swarm, plan) = fault_plan(scenario, seed);
    let promised = promises(scenario);
    let retention = if options.keep_trace {
        Retention::All
    } else {
        Retention::Verdicts
    };
    let names = node_names(scenario);
    let stalled = options.stall.as_ref().and_then(|stall| {
        let node = names.iter().find(|(_, name)| **name == stall.node)?.0;
        Some((*node, stall.at_ms))
    });
    let mut world = World::new(seed, names, promised.clone(), retention, options.keep_trace)
        .with_network(scenario.network);
    if let Some((node, at_ms)) = stalled {
        world = world.with_stall(node, at_ms);
    }
    let world = Arc::new(world);
    world.lock().errors = ErrorChecker::new(ErrorSettings {
        min_insync_replicas: scenario.broker.min_insync_replicas,
        acks: promised.acks.clone(),
        offsets_topic_partitions: scenario.offsets_topic_partitions,
    });
    let thread_world = world.clone();
    let thread_scenario = scenario.clone();
    let thread_plan = plan.clone();
    let thread_swarm = swarm.clone();
    // determinism-ok: one fresh OS thread per simulation, as DESIGN.md section 2 requires.
    let joined = std::thread::Builder::new()
        .name(format!("sim-seed-{seed}"))
        .spawn(move || {
            let mut runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
            runtime.add_simulator::<SimDisk>();
            let bound_ms = thread_scenario.end_ms() + clock_setback_ms(&thread_plan);
            runtime.set_time_limit(Duration::from_millis(bound_ms + TEARDOWN_MS + 60_000));
            runtime.block_on(async move {
                if let Some(at_ms) = options.panic_at_ms {
                    madsim::task::spawn(async move {
                        madsim::time::sleep(Duration::from_millis(at_ms)).await;
                        panic!("deliberate panic at {at_ms}ms (RunOptions::panic_at_ms)");
                    });
                }
                supervise(thread_world, thread_scenario, thread_swarm, thread_plan).await
            })
        })
        .expect("spawning a simulation thread")
        .join();
    let (mut liveness_problems, simulated_ms, crash, hanging) = match joined {
        Ok(end) => match end.deadlock {
            Some(deadlock) => (Vec::new(), end.simulated_ms, Some(deadlock), end.hanging),
            None => (end.problems, end.simulated_ms, None, end.hanging),
        },
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic with a non-string payload".into());
            let message = if message.contains("no events, all tasks will block forever") {
                format!("deadlock: {message}")
            } else {
                message
            };
            (Vec::new(), 0, Some(message), Vec::new())
        }
    };
    let payloads = world.service_payloads.clone();
    let state = match Arc::try_unwrap(world) {
        Ok(world) => world.into_state(),
        // The runtime is gone with its thread; a clone can only linger if a panic
        // unwound past it, and then a copy of the state is as good.
        Err(shared) => shared.snapshot(),
    };
    let history = state.history.history;
    let mut anomalies = checkers::check_all(&history, &promised);
    anomalies.extend(checkers::hanging_transaction::check(&hanging, &history));
    let payloads = payloads.lock().expect("payloads").clone();
    anomalies.extend(crate::app::run_checks(
        &scenario.services.checks,
        &history,
        &payloads,
    ));
    let retention = state.invariants.retention();
    anomalies.extend(checkers::retention_skip::check(
        &history, &promised, &retention,
    ));
    let ledger = state.invariants.ledger().clone();
    anomalies.extend(state.invariants.finish(&history));
    anomalies.extend(state.quorum.anomalies().iter().cloned());
    anomalies.extend(state.errors.anomalies().iter().cloned());
    if let (Some(healed_at_ms), None) = (state.errors.stuck.healed_at_ms(), &crash) {
        liveness_problems.extend(crate::errors::stuck::failed_after_heal(
            &history,
            healed_at_ms,
        ));
    }
    anomalies.sort_by_key(|a| a.index);
    crate::excuse::apply(
        &mut anomalies,
        &ledger,
        &promised,
        crate::excuse::StatePartitions::of(scenario),
    );
    let class = if crash.is_some() {
        OutcomeClass::Crash
    } else if anomalies
        .iter()
        .any(|a| a.verdict == checkers::Verdict::Violation)
    {
        OutcomeClass::SafetyViolation
    } else if !liveness_problems.is_empty() {
        OutcomeClass::LivenessViolation
    } else {
        OutcomeClass::Pass
    };
    let mut stats = RunStats::from_net(state.net.stats);
    // What the connections' resets dropped (held, or sent on a connection that reset).
    stats.messages_dropped += state.connections.as_ref().map_or(0, |c| c.dropped);
    stats.simulated_ms = simulated_ms;
    stats.trace_lines = state.trace.line_count();
    stats.history_entries = history.entries.len() as u64;
    stats.sends_acknowledged = history
        .entries
        .iter()
        .filter(|e| {
            e.op_type == crate::history::OpType::Ok
                && matches!(e.op, crate::history::Operation::Send(_))
        })
        .count() as u64;
    Outcome {
        scenario: scenario.name.clone(),
        seed,
        class,
        anomalies,
        liveness_problems,
        crash,
        swarm,
        fault_plan: plan,
        trace_hash: state.trace.hash(),
        trace: state.trace.into_lines(),
        history,
        events: state.log,
        losses: ledger,
        reached: state.coverage.reached().clone(),
        stats,
    }
}

/// The simulation's main task: builds the nodes, runs the nemesis, then waits (bounded)
/// for every client to finish. Returns how the liveness phase ended.
async fn supervise(
    world: Arc<World>,
    scenario: Scenario,
    swarm: Option<SwarmDraw>,
    plan: Vec<TimedFault>,
) -> LivenessEnd {
    let handle = Handle::current();
    if let Some(swarm) = &swarm {
        world.fault(FaultEvent::SwarmDrawn(swarm.clone()));
    }
    for event in &plan {
        world.fault(FaultEvent::Planned(event.clone()));
    }
    if scenario.faults.clock_skew_ms > 0 {
        let ids: Vec<NodeId> = world.nodes().map(|(id, _)| id).collect();
        let skews =
            crate::clock::skewed(world.seed, ids.into_iter(), scenario.faults.clock_skew_ms);
        for (id, clock) in skews {
            world.lock().clocks.insert(id, clock);
            let note = format!(
                "clock of {} starts {:+}ms off",
                world.name(id),
                clock.offset_ms
            );
            world.record(Actor::Nemesis, EventKind::Note(note));
        }
    }
    // Armed before any node starts, so that a trigger sees the nodes' first steps.
    let (wake, triggered) = futures::channel::mpsc::unbounded();
    world.arm_triggers(&plan, wake);
    let triggered = plan.iter().any(|e| e.on.is_some()).then_some(triggered);
    let layout = ClusterLayout::new(scenario.brokers, scenario.cluster_topics());
    let bootstrap: Vec<BrokerId> = layout.brokers.clone();
    let mut nodes = BTreeMap::new();
    // Up before any node sends: the connections' wire, on a node no fault strikes.
    let wire = world.open_wire().map(|outbox| {
        let node = handle
            .create_node()
            .name("wire")
            .ip(address(WIRE).ip())
            .build();
        node.spawn(run_wire(world.clone(), outbox));
        node.id()
    });
    let voters = scenario.controller.voters;
    let controllers = controller_ids(voters);
    for &id in &controllers {
        let (world, config, layout, quorum) = (
            world.clone(),
            scenario.controller_config(),
            layout.clone(),
            controllers.clone(),
        );
        let name = controller_name(id, voters);
        let node = handle
            .create_node()
            .name(name.clone())
            .ip(address(id).ip())
            .init(move || {
                run_node(
                    world.clone(),
                    id,
                    ControllerRole::new(id, quorum.clone(), config.clone(), layout.clone()),
                )
            })
            .build();
        nodes.insert(name, node.id());
    }
    for b in 1..=scenario.brokers {
        let id = NodeId(b);
        let (world, config, layout, controllers) = (
            world.clone(),
            scenario.broker_config(),
            layout.clone(),
            controllers.clone(),
        );
        let node = handle
            .create_node()
            .name(format!("b{b}"))
            .ip(address(id).ip())
            .init(move || {
                run_node(
                    world.clone(),
                    id,
                    BrokerRole::new(
                        BrokerId(b),
                        config.clone(),
                        layout.clone(),
                        controllers.clone(),
                    ),
                )
            })
            .build();
        nodes.insert(format!("b{b}"), node.id());
    }
    let work = workload::draw(&scenario, world.seed);
    let successor_at_ms = scenario
        .transactions
        .successor_at_ms
        .filter(|_| !scenario.successor_names().is_empty());
    for (p, items) in (1..=scenario.producers).zip(work) {
        let (first, successor) = match successor_at_ms {
            Some(_) => scenario.transactions.split_work(items, |w| w.at_ms),
            None => (items, Vec::new()),
        };
        let config = scenario.producer_config(p);
        let mut instances = vec![(format!("producer-{p}"), FIRST_PRODUCER, first, 0)];
        if let Some(at_ms) = successor_at_ms.filter(|_| !successor.is_empty()) {
            instances.push((successor_name(p), FIRST_SUCCESSOR, successor, at_ms));
        }
        for (name, first_id, items, starts_at_ms) in instances {
            let id = (NodeId(first_id + p), name.as_str());
            let bootstrap = &bootstrap;
            let node = spawn_producer(
                &world,
                &scenario,
                id,
                &config,
                bootstrap,
                items,
                starts_at_ms,
            );
            nodes.insert(name, node);
        }
    }
    let topics = vec![scenario.workload.topic.clone()];
    // Downstream of a pipeline, the plain consumers read its output too.
    let read_topics: Vec<String> = topics
        .iter()
        .cloned()
        .chain(
            scenario
                .groups
                .iter()
                .filter_map(|g| g.output_topic.clone()),
        )
        .chain(scenario.services.outputs.iter().cloned())
        .collect();
    for c in 1..=scenario.consumers {
        let id = NodeId(FIRST_CONSUMER + c);
        let (world, config, bootstrap, topics) = (
            world.clone(),
            scenario.consumer.clone(),
            bootstrap.clone(),
            read_topics.clone(),
        );
        let node = handle
            .create_node()
            .name(format!("consumer-{c}"))
            .ip(address(id).ip())
            .init(move || {
                let role = ConsumerRole::new(Consumer::new(
                    config.clone(),
                    bootstrap.clone(),
                    topics.clone(),
                ));
                run_node(world.clone(), id, role)
            })
            .build();
        nodes.insert(format!("consumer-{c}"), node.id());
    }
    for (g, group) in scenario.groups.iter().enumerate() {
        for (m, name) in (1..).zip(group.member_names()) {
            let id = member_id(g, m);
            let (world, config, bootstrap, topics, member, client_id) = (
                world.clone(),
                scenario.consumer.clone(),
                bootstrap.clone(),
                topics.clone(),
                group.member_config(),
                name.clone(),
            );
            // A pipeline member reads read_committed and produces in transactions of its
            // own transactional id.
            let pipeline = group
                .output_topic
                .clone()
                .filter(|_| group.is_pipeline())
                .map(|output| {
                    let producer = ProducerConfig {
                        transactional_id: Some(GroupSpec::transactional_id(&name)),
                        ..scenario.producer.clone()
                    };
                    (producer, output)
                });
            let (abort_every, fence_with_generation) =
                (group.abort_every, group.fence_with_generation);
            let config = if pipeline.is_some() {
                ConsumerConfig {
                    isolation_level: IsolationLevel::ReadCommitted,
                    ..config
                }
            } else {
                config
            };
            let node = handle
                .create_node()
                .name(name.clone())
                .ip(address(id).ip())
                .init(move || {
                    let consumer = Consumer::in_group(
                        config.clone(),
                        bootstrap.clone(),
                        topics.clone(),
                        member.clone(),
                        client_id.clone(),
                    );
                    match &pipeline {
                        Some((producer, output)) => Either::Left(run_node(
                            world.clone(),
                            id,
                            EosPipelineRole::new(
                                id,
                                consumer,
                                producer.clone(),
                                bootstrap.clone(),
                                output.clone(),
                                m,
                                (abort_every, fence_with_generation),
                            ),
                        )),
                        None => {
                            Either::Right(run_node(world.clone(), id, ConsumerRole::new(consumer)))
                        }
                    }
                })
                .build();
            nodes.insert(name, node.id());
        }
    }
    nodes.extend(crate::app::spawn::spawn_services(
        &world, &scenario, &bootstrap,
    ));
    let node_ids: Vec<madsim::task::NodeId> = nodes.values().copied().chain(wire).collect();
    if plan.iter().any(|e| e.fault.kind().is_storage()) {
        spawn_operator(&world, &nodes);
    }
    Nemesis::new(
        world.clone(),
        nodes,
        &plan,
        scenario.fault_phase_ms,
        triggered,
    )
    .run()
    .await;
    let result = liveness(&world, &scenario, &plan).await;
    tear_down(&handle, &node_ids).await;
    result
}

/// Creates a producer's node: a transactional one (starting at `starts_at_ms`, global) or
/// a plain one, sending `items`.
fn spawn_producer(
    world: &Arc<World>,
    scenario: &Scenario,
    (id, name): (NodeId, &str),
    config: &ProducerConfig,
    bootstrap: &[BrokerId],
    items: Vec<WorkItem>,
    starts_at_ms: u64,
) -> madsim::task::NodeId {
    let (world, config, transactions) = (world.clone(), config.clone(), scenario.transactions);
    let bootstrap = bootstrap.to_vec();
    Handle::current()
        .create_node()
        .name(name)
        .ip(address(id).ip())
        .init(move || {
            let producer = Producer::new(config.clone(), bootstrap.clone());
            if config.transactional_id.is_some() {
                let role = TxnProducerRole::new(producer, items.clone(), transactions)
                    .starting_at(starts_at_ms);
                return Either::Left(run_node(world.clone(), id, role));
            }
            let role = ProducerRole::new(producer, items.clone());
            Either::Right(run_node(world.clone(), id, role))
        })
        .build()
        .id()
}

/// Ends every node and fires every pending timer, so that madsim drops every task. A
/// sleeping task holds the timer that holds its waker: without this, each run's runtime,
/// world and history would stay in memory for good (about 2.5 MB a seed in a sweep).
async fn tear_down(handle: &Handle, nodes: &[madsim::task::NodeId]) {
    for node in nodes {
        handle.kill(*node);
    }
    madsim::time::advance(Duration::from_millis(TEARDOWN_MS));
    madsim::time::sleep(Duration::from_millis(1)).await;
}

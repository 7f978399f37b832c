//! The runner: one call runs one scenario with one seed, on a fresh OS thread with its own
//! madsim runtime, and returns its outcome. A panic or deadlock inside the simulation
//! becomes an outcome of its own class, never a crashed caller.

use crate::actors::broker::BrokerRole;
use crate::actors::consumer::ConsumerRole;
use crate::actors::controller::ControllerRole;
use crate::actors::producer::ProducerRole;
use crate::actors::run_node;
use crate::checkers::{self, Promises};
use crate::disk::SimDisk;
use crate::errors::{ErrorChecker, ErrorSettings};
use crate::events::{Actor, EventKind, FaultEvent, Retention};
use crate::faults::{max_disk_losses, DiskLossTargets, SwarmDraw, TimedFault};
use crate::nemesis::Nemesis;
use crate::outcome::{Outcome, OutcomeClass, RunStats};
use crate::scenario::Scenario;
use crate::workload;
use crate::world::{
    address, controller_ids, controller_name, member_id, World, FIRST_CONSUMER, FIRST_PRODUCER,
};
use kafka_model::consumer::Consumer;
use kafka_model::ids::{BrokerId, NodeId};
use kafka_model::layout::ClusterLayout;
use kafka_model::member::CommitMode;
use kafka_model::producer::Producer;
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
}

/// How often the liveness phase looks at the clients.
const LIVENESS_POLL_MS: u64 = 250;
/// How much older than its fetch wait a consumer's last fetch response may be for its
/// catch-up to count (network latency, with room to spare).
const FRESH_SLACK_MS: u64 = 500;
/// How far the clock jumps at the end of a run so that every pending timer fires and every
/// task is dropped (scenario timeouts are at most a day: see `Scenario::validate`).
const TEARDOWN_MS: u64 = 2 * 24 * 3_600_000;
/// How long everything must look finished before the run ends early.
const QUIET_MS: u64 = 1_500;

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
    for c in 1..=scenario.consumers {
        names.insert(NodeId(FIRST_CONSUMER + c), format!("consumer-{c}"));
    }
    for (g, group) in scenario.groups.iter().enumerate() {
        for (m, name) in (1..).zip(group.member_names()) {
            names.insert(member_id(g, m), name);
        }
    }
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
    let world = Arc::new(World::new(
        seed,
        node_names(scenario),
        promised.clone(),
        retention,
        options.keep_trace,
    ));
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
    let (mut liveness_problems, simulated_ms, crash) = match joined {
        Ok((problems, simulated_ms)) => (problems, simulated_ms, None),
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
            (Vec::new(), 0, Some(message))
        }
    };
    let state = match Arc::try_unwrap(world) {
        Ok(world) => world.into_state(),
        // The runtime is gone with its thread; a clone can only linger if a panic
        // unwound past it, and then a copy of the state is as good.
        Err(shared) => shared.snapshot(),
    };
    let history = state.history.history;
    let mut anomalies = checkers::check_all(&history, &promised);
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
        scenario.offsets_topic_partitions,
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
/// for every client to finish. Returns the liveness problems and the simulated end time.
async fn supervise(
    world: Arc<World>,
    scenario: Scenario,
    swarm: Option<SwarmDraw>,
    plan: Vec<TimedFault>,
) -> (Vec<String>, u64) {
    let handle = Handle::current();
    if let Some(swarm) = &swarm {
        world.fault(FaultEvent::SwarmDrawn(swarm.clone()));
    }
    for event in &plan {
        world.fault(FaultEvent::Planned(event.clone()));
    }
    // Armed before any node starts, so that a trigger sees the nodes' first steps.
    let (wake, triggered) = futures::channel::mpsc::unbounded();
    world.arm_triggers(&plan, wake);
    let triggered = plan.iter().any(|e| e.on.is_some()).then_some(triggered);
    let layout = ClusterLayout::new(scenario.brokers, scenario.cluster_topics());
    let bootstrap: Vec<BrokerId> = layout.brokers.clone();
    let mut nodes = BTreeMap::new();
    let voters = scenario.controller.voters;
    let controllers = controller_ids(voters);
    for &id in &controllers {
        let (world, config, layout, quorum) = (
            world.clone(),
            scenario.controller.clone(),
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
            scenario.broker.clone(),
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
    for (p, items) in (1..=scenario.producers).zip(work) {
        let id = NodeId(FIRST_PRODUCER + p);
        let (world, config, bootstrap) =
            (world.clone(), scenario.producer.clone(), bootstrap.clone());
        let node = handle
            .create_node()
            .name(format!("producer-{p}"))
            .ip(address(id).ip())
            .init(move || {
                let role = ProducerRole::new(
                    Producer::new(config.clone(), bootstrap.clone()),
                    items.clone(),
                );
                run_node(world.clone(), id, role)
            })
            .build();
        nodes.insert(format!("producer-{p}"), node.id());
    }
    let topics = vec![scenario.workload.topic.clone()];
    for c in 1..=scenario.consumers {
        let id = NodeId(FIRST_CONSUMER + c);
        let (world, config, bootstrap, topics) = (
            world.clone(),
            scenario.consumer.clone(),
            bootstrap.clone(),
            topics.clone(),
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
            let node = handle
                .create_node()
                .name(name.clone())
                .ip(address(id).ip())
                .init(move || {
                    let role = ConsumerRole::new(Consumer::in_group(
                        config.clone(),
                        bootstrap.clone(),
                        topics.clone(),
                        member.clone(),
                        client_id.clone(),
                    ));
                    run_node(world.clone(), id, role)
                })
                .build();
            nodes.insert(name, node.id());
        }
    }
    let node_ids: Vec<madsim::task::NodeId> = nodes.values().copied().collect();
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

/// The liveness phase: waits, within the bound, for every client to finish. Returns the
/// problems left at the bound and the simulated end time.
async fn liveness(world: &World, scenario: &Scenario, plan: &[TimedFault]) -> (Vec<String>, u64) {
    let deadline_ms = scenario.end_ms() + clock_setback_ms(plan);
    let mut quiet_since: Option<u64> = None;
    loop {
        let now = World::now_ms();
        // A consumer at work on its last records fetches again only when done.
        let fresh_ms = scenario.consumer.fetch_max_wait_ms
            + scenario.consumer.processing_delay_ms
            + FRESH_SLACK_MS;
        let mut waiting = waiting_clients(world, fresh_ms);
        waiting.extend(unsettled_groups(world, scenario));
        if waiting.is_empty() {
            let since = *quiet_since.get_or_insert(now);
            if now >= since + QUIET_MS {
                world.record(Actor::Runner, EventKind::Quiescent);
                return (Vec::new(), now);
            }
        } else {
            quiet_since = None;
        }
        if now >= deadline_ms {
            for problem in &waiting {
                world.record(Actor::Runner, EventKind::LivenessProblem(problem.clone()));
            }
            let problems = waiting
                .into_iter()
                .map(|w| {
                    format!(
                        "{w}, {}ms after the heal",
                        deadline_ms - scenario.fault_phase_ms
                    )
                })
                .collect();
            return (problems, now);
        }
        madsim::time::sleep(Duration::from_millis(LIVENESS_POLL_MS)).await;
    }
}

/// Partitions without a leader and clients not finished yet, one line each.
fn waiting_clients(world: &World, fresh_ms: u64) -> Vec<String> {
    let now = World::now_ms();
    let state = world.lock();
    let mut waiting: Vec<String> = state
        .invariants
        .leaderless()
        .into_iter()
        .map(|tp| format!("{tp}: no leader"))
        .collect();
    // A new active controller must be elected after the heal: one that leads the newest
    // epoch any controller has reached.
    if let Some(newest) = state
        .liveness
        .controllers
        .values()
        .map(|(epoch, _)| *epoch)
        .max()
    {
        let active = state
            .liveness
            .controllers
            .values()
            .any(|(epoch, active)| *active && *epoch == newest);
        if !active {
            waiting.push(format!(
                "controller quorum: no active controller in epoch {}",
                newest.0
            ));
        }
    }
    for (id, name) in world.nodes() {
        if id.0 < FIRST_PRODUCER {
            continue;
        }
        match state.liveness.clients.get(&id) {
            None => waiting.push(format!("{name}: never started")),
            Some(status) if status.pending_sends > 0 => {
                waiting.push(format!("{name}: {}", status.waiting_for))
            }
            Some(status) => match status.caught_up_as_of_ms {
                // A caught-up consumer hears from every leader within its fetch wait; an
                // older report may hide a leader that stopped answering.
                Some(as_of) if as_of.saturating_add(fresh_ms) >= now => {}
                Some(as_of) => {
                    waiting.push(format!("{name}: no fresh fetch response since {as_of}ms"))
                }
                None => waiting.push(format!("{name}: {}", status.waiting_for)),
            },
        }
        // Liveness counts errors too: a client still waiting names the retriable errors
        // it kept getting from a healed cluster.
        if let (Some(line), Some(stuck)) = (
            waiting
                .last_mut()
                .filter(|l| l.starts_with(&format!("{name}: "))),
            state.errors.stuck.describe(name),
        ) {
            line.push_str(&format!("; {stuck}"));
        }
    }
    waiting
}

/// Groups not settled yet, one line each: after the heal every group must be Stable at
/// one generation that all its members are in, with every partition of the workload topic
/// assigned once and max(0, members - partitions) members idle (DESIGN.md section 5).
fn unsettled_groups(world: &World, scenario: &Scenario) -> Vec<String> {
    let partitions = scenario
        .topics
        .iter()
        .find(|t| t.name == scenario.workload.topic)
        .map_or(0, |t| t.partitions);
    let state = world.lock();
    let mut waiting = Vec::new();
    for (g, group) in scenario.groups.iter().enumerate() {
        let standings: Vec<_> = (1..=group.members)
            .filter_map(|m| state.liveness.clients.get(&member_id(g, m))?.group.clone())
            .collect();
        let generations: std::collections::BTreeSet<Option<u32>> =
            standings.iter().map(|s| s.generation).collect();
        let [Some(generation)] = generations.into_iter().collect::<Vec<_>>()[..] else {
            waiting.push(format!(
                "group {}: members are not in one generation",
                group.id
            ));
            continue;
        };
        let summary = state
            .liveness
            .group_summaries
            .values()
            .filter_map(|groups| groups.get(&group.id))
            .find(|s| s.generation.0 == generation);
        let Some(summary) = summary else {
            waiting.push(format!(
                "group {}: no coordinator reports generation {generation}",
                group.id
            ));
            continue;
        };
        let mut owned: Vec<_> = standings
            .iter()
            .flat_map(|s| s.partitions.clone())
            .collect();
        owned.sort();
        let assigned_once =
            owned.len() == partitions as usize && owned.windows(2).all(|w| w[0] != w[1]);
        let idle = standings.iter().filter(|s| s.partitions.is_empty()).count();
        let expected_idle = group.members.saturating_sub(partitions) as usize;
        if summary.state != kafka_model::group::GroupState::Stable
            || summary.members.len() != group.members as usize
            || standings.len() != group.members as usize
            || !assigned_once
            || idle != expected_idle
        {
            waiting.push(format!(
                "group {}: generation {generation} is {:?} with {} members, {} of {partitions} partitions owned, {idle} idle (want {expected_idle})",
                group.id,
                summary.state,
                summary.members.len(),
                owned.len(),
            ));
        }
    }
    waiting
}

//! The liveness phase: after the heal, waits (bounded) for every partition to have a
//! leader, the quorum an active controller, every client to finish and every group to
//! settle; at the bound, names what is still waiting, or the deadlock that explains it: a
//! client with work left, parked with no timer armed, that nothing has reached for longer
//! than any answer can take.

use crate::events::{Actor, EventKind};
use crate::faults::TimedFault;
use crate::runner::clock_setback_ms;
use crate::scenario::Scenario;
use crate::world::{member_id, World, FIRST_PRODUCER};
use kafka_model::consumer::HeldPartition;
use std::time::Duration;

/// How often the liveness phase looks at the clients.
const LIVENESS_POLL_MS: u64 = 250;
/// How much older than its fetch wait a consumer's last fetch response may be for its
/// catch-up to count (network latency, with room to spare).
const FRESH_SLACK_MS: u64 = 500;
/// How long everything must look finished before the run ends early.
const QUIET_MS: u64 = 1_500;

/// How the liveness phase ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LivenessEnd {
    /// What was still waiting at the bound, one line each (empty: all done).
    pub problems: Vec<String>,
    /// The simulated time it ended.
    pub simulated_ms: u64,
    /// A client that can never move again, when that is why it waits.
    pub deadlock: Option<String>,
    /// read_committed consumers held at the bound by transactions nothing is left to end
    /// (every producer finished): reported as `hanging-transaction`, not as liveness.
    pub hanging: Vec<HangingTransaction>,
}

/// A read_committed consumer held at a last stable offset below the high watermark at the
/// liveness bound, with every producer done: an open transaction that no one will end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HangingTransaction {
    pub consumer: String,
    pub held: HeldPartition,
    /// How long after the heal the bound was.
    pub after_heal_ms: u64,
}

/// The liveness phase: waits, within the bound, for every client to finish. Returns the
/// problems left at the bound and the simulated end time.
pub async fn liveness(world: &World, scenario: &Scenario, plan: &[TimedFault]) -> LivenessEnd {
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
                return LivenessEnd {
                    simulated_ms: now,
                    ..LivenessEnd::default()
                };
            }
        } else {
            quiet_since = None;
        }
        if now >= deadline_ms {
            let after_heal_ms = deadline_ms - scenario.fault_phase_ms;
            let hanging = hanging_transactions(world, fresh_ms, &mut waiting, after_heal_ms);
            let deadlock = deadlocked(world, scenario, &waiting);
            for problem in &waiting {
                world.record(Actor::Runner, EventKind::LivenessProblem(problem.clone()));
            }
            let problems = waiting
                .into_iter()
                .map(|w| format!("{w}, {after_heal_ms}ms after the heal"))
                .collect();
            return LivenessEnd {
                problems,
                simulated_ms: now,
                deadlock,
                hanging,
            };
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

/// Takes out of `waiting` the read_committed consumers that only open transactions hold
/// back, when no producer has work left (so that no transaction in progress explains the
/// wait), and returns what holds each.
fn hanging_transactions(
    world: &World,
    fresh_ms: u64,
    waiting: &mut Vec<String>,
    after_heal_ms: u64,
) -> Vec<HangingTransaction> {
    let now = World::now_ms();
    let state = world.lock();
    let clients = &state.liveness.clients;
    if clients.values().any(|status| status.pending_sends > 0) {
        return Vec::new();
    }
    let mut hanging = Vec::new();
    for (id, name) in world.nodes() {
        let Some((as_of, held)) = clients
            .get(&id)
            .and_then(|status| status.held_by_open_transactions.as_ref())
        else {
            continue;
        };
        // As for a caught-up consumer: a stale report may hide a leader that stopped
        // answering, not a transaction.
        if as_of.saturating_add(fresh_ms) < now {
            continue;
        }
        let prefix = format!("{name}: ");
        waiting.retain(|line| !line.starts_with(&prefix));
        hanging.extend(held.iter().map(|held| HangingTransaction {
            consumer: name.to_string(),
            held: held.clone(),
            after_heal_ms,
        }));
    }
    hanging
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

/// The first client among those still `waiting` that is deadlocked: parked with no timer
/// armed, and reached by no message for longer than any answer it may wait for can take
/// (twice the longest client request timeout: a broker parks a request at most that long).
/// Such a client can never move again: nothing it waits for is on its way.
fn deadlocked(world: &World, scenario: &Scenario, waiting: &[String]) -> Option<String> {
    let now = World::now_ms();
    let quiet_ms = 2 * scenario
        .producer
        .request_timeout_ms
        .max(scenario.consumer.request_timeout_ms);
    let state = world.lock();
    world.nodes().find_map(|(id, name)| {
        if id.0 < FIRST_PRODUCER {
            return None;
        }
        let since = *state.liveness.parked_since_ms.get(&id)?;
        let prefix = format!("{name}: ");
        let line = waiting.iter().find(|l| l.starts_with(&prefix))?;
        (now.saturating_sub(since) > quiet_ms).then(|| {
            format!(
                "deadlock: {name} waits on nothing: no timer armed and no message since \
                 {since}ms, with work left ({})",
                &line[prefix.len()..]
            )
        })
    })
}

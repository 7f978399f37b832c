//! What the viewers read off a run's events: the lanes (one per node, the nemesis last), the
//! messages (with their real send times), the fault spans and marks as the nemesis applied
//! them, and the run's end. The HTML page and the Perfetto export share it.

use crate::events::{Actor, EventKind, EventLog, FaultEvent};
use crate::faults::alias::NodeAlias;
use crate::faults::Fault;
use crate::network::DropReason;
use crate::outcome::Outcome;
use crate::scenario::Scenario;
use std::collections::BTreeMap;

/// The nemesis's lane, which the runner's few events share.
pub const NEMESIS_LANE: &str = "nemesis";

/// The lane an actor is drawn on.
pub fn lane_of(log: &EventLog, actor: Actor) -> &str {
    match actor {
        Actor::Node(node) => log.node_name(node),
        Actor::Nemesis | Actor::Runner => NEMESIS_LANE,
    }
}

fn lane_key(name: &str) -> (u8, u64, String) {
    let number = |prefix: &str| name.strip_prefix(prefix)?.parse::<u64>().ok();
    let (group, n) = match (number("b"), number("producer-"), number("consumer-")) {
        _ if name == NEMESIS_LANE => (4, 0),
        (Some(n), _, _) => (0, n),
        (_, Some(n), _) => (1, n),
        (_, _, Some(n)) => (2, n),
        _ => (3, 0),
    };
    (group, n, name.to_string())
}

/// The lanes, in drawing order: brokers, producers, consumers, any other node, nemesis.
/// A node gets one if the scenario has it, an event happened on it or a message reached or
/// left it, or the fault plan names it.
pub fn lanes(outcome: &Outcome, scenario: Option<&Scenario>) -> Vec<String> {
    let log = &outcome.events;
    let mut names = BTreeMap::new();
    let mut add = |n: &str| names.insert(lane_key(n), ());
    add(NEMESIS_LANE);
    if let Some(s) = scenario {
        let clients = s.client_names();
        s.broker_names()
            .iter()
            .chain(&clients)
            .for_each(|n| _ = add(n));
    }
    for event in log.events() {
        add(lane_of(log, event.actor));
        match &event.kind {
            EventKind::MessageSent { to, .. } | EventKind::MessageDropped { to, .. } => {
                add(log.node_name(*to));
            }
            EventKind::MessageDelivered { from, .. } => _ = add(log.node_name(*from)),
            _ => {}
        }
    }
    // An alias is no lane: its node gets the fault's span when it strikes.
    let planned = outcome.fault_plan.iter().flat_map(|e| e.fault.nodes());
    planned
        .filter(|n| NodeAlias::parse(n).is_none())
        .for_each(|n| _ = add(n));
    names.into_keys().map(|(_, _, n)| n).collect()
}

/// A message as the viewers draw it: delivered (from its send to its receipt) or dropped by
/// the network (at its send, with the reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub id: u64,
    pub sent_ms: u64,
    /// Its receipt, or its drop (which happens as it is sent).
    pub time_ms: u64,
    pub from: &'a str,
    pub to: &'a str,
    pub kind: &'static str,
    pub dropped: Option<DropReason>,
}

/// Every delivered or dropped message, in the order of its receipt or drop.
pub fn messages(log: &EventLog) -> impl Iterator<Item = Message<'_>> {
    log.events().iter().filter_map(move |event| {
        let (from, to, id, kind, sent_ms, dropped) = match (&event.kind, event.actor) {
            (
                EventKind::MessageDelivered {
                    id,
                    from,
                    kind,
                    sent_ms,
                },
                Actor::Node(to),
            ) => (*from, to, id, kind, *sent_ms, None),
            (
                EventKind::MessageDropped {
                    id,
                    to,
                    kind,
                    reason,
                },
                Actor::Node(from),
            ) => (from, *to, id, kind, event.time_ms, Some(*reason)),
            _ => return None,
        };
        Some(Message {
            id: *id,
            sent_ms,
            time_ms: event.time_ms,
            from: log.node_name(from),
            to: log.node_name(to),
            kind,
            dropped,
        })
    })
}

/// A fault over time on one lane. `kind` is the fault kind as scenarios spell it (`crash`,
/// `power-loss`, `pause`, `partition`, `loss`...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub lane: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub kind: String,
    pub label: String,
    pub detail: String,
}

/// A fault at an instant on one lane (clock jumps and drifts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub lane: String,
    pub time_ms: u64,
    pub label: String,
}

/// The faults of a run as the viewer draws them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultView {
    pub spans: Vec<Span>,
    pub marks: Vec<Mark>,
    pub heal_ms: Option<u64>,
}

/// The last simulated ms anything happened at.
pub fn end_ms(outcome: &Outcome) -> u64 {
    let event = outcome.events.events().last().map_or(0, |e| e.time_ms);
    let history = outcome.history.entries.last().map_or(0, |e| e.time_ms);
    outcome.stats.simulated_ms.max(event).max(history).max(1)
}

/// The lanes a link or clock fault is drawn on, with their labels, and how long it lasts
/// (`None`: an instant). Node faults draw nothing here: `fault_view` follows them.
fn link_and_clock_faults(fault: &Fault) -> (Vec<(String, String)>, Option<u64>) {
    let one = |n: &String, label: String| vec![(n.clone(), label)];
    let all = |nodes: &[String], label: String| -> Vec<(String, String)> {
        nodes.iter().map(|n| (n.clone(), label.clone())).collect()
    };
    let side = |i: usize| char::from(b'A' + (i % 26) as u8);
    match fault {
        Fault::Partition {
            groups,
            duration_ms,
        } => {
            let sides = groups.iter().enumerate();
            let hit = sides.flat_map(|(i, g)| all(g, format!("partition {}", side(i))));
            (hit.collect(), Some(*duration_ms))
        }
        Fault::PartitionOneWay {
            from,
            to,
            duration_ms,
        } => {
            let hit = [
                all(from, "one-way out".into()),
                all(to, "one-way in".into()),
            ];
            (hit.concat(), Some(*duration_ms))
        }
        Fault::Loss {
            from,
            rate,
            duration_ms,
            ..
        } => (
            all(from, format!("loss {:.0}%", rate * 100.0)),
            Some(*duration_ms),
        ),
        Fault::Delay {
            from,
            delay_ms,
            duration_ms,
            ..
        } => (
            all(from, format!("delay +{delay_ms}ms")),
            Some(*duration_ms),
        ),
        Fault::Clog { node, duration_ms } => (one(node, "clog".into()), Some(*duration_ms)),
        Fault::ClockJump { node, by_ms } => (one(node, format!("clock {by_ms:+}ms")), None),
        Fault::ClockDrift { node, ppm } => (one(node, format!("drift {ppm:+}ppm")), None),
        Fault::ConnectionReset { from, .. } => (all(from, "connections reset".into()), None),
        // Armed on the disk: a mark; the halt it may cause shows as the node's restart.
        Fault::DiskCorrupt { node, .. }
        | Fault::MisdirectedWrite { node, .. }
        | Fault::FsyncFail { node, .. } => (one(node, fault.kind().name().into()), None),
        Fault::Crash { .. }
        | Fault::PowerLoss { .. }
        | Fault::DiskLoss { .. }
        | Fault::Pause { .. } => (Vec::new(), None),
    }
}

/// Fault spans from the nemesis's events. Node faults as the nemesis applied them: a crash,
/// power or disk loss keeps its node down until its restart, a pause until its resume, and
/// all end at the heal; a crash or pause of a node already down (or a pause of a paused one)
/// changes nothing and draws nothing. Link faults last their duration from when they struck,
/// cut at the heal; clock jumps and drifts are marks. `heal_fallback` is used when the run
/// has no heal event.
pub fn fault_view(outcome: &Outcome, heal_fallback: Option<u64>) -> FaultView {
    let faults: Vec<(u64, &FaultEvent)> = (outcome.events.events().iter())
        .filter_map(|e| match &e.kind {
            EventKind::Fault(fault) => Some((e.time_ms, fault)),
            _ => None,
        })
        .collect();
    let healed = faults.iter().find(|(_, f)| matches!(f, FaultEvent::Healed));
    let heal_ms = healed.map(|(t, _)| *t).or(heal_fallback);
    let end = end_ms(outcome);
    let cut = |t: u64| heal_ms.map_or(t, |h| t.min(h)).min(end);
    let (mut spans, mut marks) = (Vec::new(), Vec::new());
    let mut span = |lane: &str, (start_ms, end_ms): (u64, u64), kind: &str, label, detail| {
        if end_ms > start_ms {
            spans.push(Span {
                lane: lane.to_string(),
                start_ms,
                end_ms,
                kind: kind.to_string(),
                label,
                detail,
            });
        }
    };
    // (node, is a pause) -> (start, kind, the fault)
    let mut open: BTreeMap<(String, bool), (u64, &'static str, String)> = BTreeMap::new();
    for (time_ms, fault) in faults {
        let ended: Vec<(String, bool)> = match fault {
            FaultEvent::Restarted { node } => vec![(node.clone(), false)],
            FaultEvent::Resumed { node } => vec![(node.clone(), true)],
            FaultEvent::Healed => open.keys().cloned().collect(),
            _ => Vec::new(),
        };
        for key in ended {
            if let Some((start, kind, detail)) = open.remove(&key) {
                span(&key.0, (start, time_ms), kind, kind.to_string(), detail);
            }
        }
        let FaultEvent::Injected(struck) = fault else {
            continue;
        };
        let Some(fault) = struck.fault() else {
            continue;
        };
        let fault = &fault;
        let (kind, detail) = (fault.kind().name(), struck.to_string());
        let is_open = |node: &String, pause| open.contains_key(&(node.clone(), pause));
        match fault {
            Fault::Crash { node, .. }
            | Fault::PowerLoss { node, .. }
            | Fault::DiskLoss { node, .. }
                if !is_open(node, false) =>
            {
                open.insert((node.clone(), false), (time_ms, kind, detail));
            }
            Fault::Pause { node, .. } if !is_open(node, false) && !is_open(node, true) => {
                open.insert((node.clone(), true), (time_ms, kind, detail));
            }
            _ => {
                let (hit, duration_ms) = link_and_clock_faults(fault);
                for (lane, label) in hit {
                    match duration_ms {
                        Some(d) => {
                            let during = (time_ms, cut(time_ms + d));
                            span(&lane, during, kind, label, detail.clone());
                        }
                        None => marks.push(Mark {
                            lane,
                            time_ms,
                            label,
                        }),
                    }
                }
            }
        }
    }
    for ((node, _), (start, kind, detail)) in open {
        span(&node, (start, end), kind, kind.to_string(), detail);
    }
    FaultView {
        spans,
        marks,
        heal_ms,
    }
}

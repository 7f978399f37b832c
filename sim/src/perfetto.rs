//! The Perfetto export: a run as Chrome trace-event JSON (`{"traceEvents": [...]}`, which
//! ui.perfetto.dev and chrome://tracing open): one process per run, one thread per node, an
//! event per event of the run that has a trace line, fault spans, and message flows from
//! sender to receiver. Read off the run's typed events, never off the trace text.

use crate::checkers::Verdict;
use crate::events::render::render;
use crate::events::{EventKind, FaultEvent};
use crate::outcome::Outcome;
use crate::timeline;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The process every event belongs to.
const PID: u64 = 1;
/// How long (µs) the small `send`/`recv` slices that anchor a message's flow last.
const MESSAGE_US: u64 = 100;
/// Fault spans go on threads of their own (overlapping spans on one node need several):
/// span track `k` of the node with thread id `t` has id `FAULT_TID * (k + 1) + t`.
const FAULT_TID: u64 = 1_000;

/// An event's category: what part of the run it tells of.
fn category(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Started { .. } | EventKind::StartFailed { .. } => "start",
        EventKind::LogRecovered { .. } | EventKind::MetadataRecovered { .. } => "recover",
        EventKind::MessageSent { .. }
        | EventKind::MessageDelivered { .. }
        | EventKind::MessageDropped { .. }
        | EventKind::MessageHeld { .. }
        | EventKind::ConnectionReset { .. } => "message",
        EventKind::Disk(_) => "disk",
        EventKind::Replica(_) => "replica",
        EventKind::Metadata { .. } => "metadata",
        EventKind::Raft(_) => "raft",
        EventKind::Group(_) => "group",
        EventKind::Client { .. } | EventKind::ErrorAnswered { .. } => "client",
        EventKind::Note(_) => "note",
        EventKind::Reached(_) => "reach",
        EventKind::Fault(FaultEvent::Planned(_) | FaultEvent::SwarmDrawn(_)) => "plan",
        EventKind::Fault(_) => "nemesis",
        EventKind::Quiescent | EventKind::LivenessProblem(_) => "runner",
    }
}

/// The run as trace events, timestamps in µs (`ts = time_ms * 1000`), sorted by time after
/// the metadata events. Each event that has a trace line is an instant event (`ph: "i"`) on
/// its node's thread, except deliveries: a delivery is a short slice (`ph: "X"`) on the
/// receiver, paired with a `send` slice on the sender at the message's send time and a flow
/// (`ph: "s"`/`"f"`) between them. Fault spans are `X` slices, clock jumps and drifts
/// instants on the node, anomalies global instants.
pub fn perfetto(outcome: &Outcome) -> Value {
    let log = &outcome.events;
    let lanes = timeline::lanes(outcome, None);
    let tids: BTreeMap<&str, u64> = (lanes.iter().enumerate())
        .map(|(i, name)| (name.as_str(), i as u64 + 1))
        .collect();
    let tid = |lane: &str| tids.get(lane).copied().unwrap_or(0);
    let name = format!("kafka-sim {} seed {}", outcome.scenario, outcome.seed);
    let mut meta = vec![
        json!({"ph": "M", "pid": PID, "tid": 0, "name": "process_name",
        "args": {"name": name}}),
    ];
    let mut thread = |t: u64, name: String, sort_index: u64| {
        meta.push(
            json!({"ph": "M", "pid": PID, "tid": t, "name": "thread_name",
            "args": {"name": name}}),
        );
        meta.push(
            json!({"ph": "M", "pid": PID, "tid": t, "name": "thread_sort_index",
            "args": {"sort_index": sort_index}}),
        );
    };
    for (name, t) in lanes.iter().zip(1..) {
        thread(t, name.clone(), t * 100);
    }

    let mut events: Vec<(u64, Value)> = Vec::new();
    let mut flows = 0u64;
    let name = |node| log.node_name(node);
    let mut line = String::new();
    for event in log.events() {
        line.clear();
        if !render(event, name, &outcome.history, &mut line) {
            continue;
        }
        let (ts, node) = (event.time_ms * 1000, log.actor_name(event.actor));
        let to = tid(timeline::lane_of(log, event.actor));
        match &event.kind {
            EventKind::MessageDelivered {
                from,
                kind,
                sent_ms,
                ..
            } => {
                flows += 1;
                let (sent, from) = (sent_ms * 1000, log.node_name(*from));
                events.push((
                    sent,
                    json!({"ph": "X", "name": format!("send {kind}"),
                    "cat": "message", "pid": PID, "tid": tid(from), "ts": sent, "dur": MESSAGE_US,
                    "args": {"to": node}}),
                ));
                events.push((
                    sent,
                    json!({"ph": "s", "name": kind, "cat": "message",
                    "id": flows, "pid": PID, "tid": tid(from), "ts": sent}),
                ));
                events.push((
                    ts,
                    json!({"ph": "X", "name": format!("recv {kind}"),
                    "cat": "message", "pid": PID, "tid": to, "ts": ts, "dur": MESSAGE_US,
                    "args": {"from": from, "line": line, "sent_ms": sent_ms}}),
                ));
                events.push((
                    ts,
                    json!({"ph": "f", "bp": "e", "name": kind, "cat": "message",
                    "id": flows, "pid": PID, "tid": to, "ts": ts}),
                ));
            }
            kind => events.push((
                ts,
                json!({"ph": "i", "s": "t", "name": line, "cat": category(kind),
                "pid": PID, "tid": to, "ts": ts, "args": {"node": node}}),
            )),
        }
    }

    let faults = timeline::fault_view(outcome, None);
    // Greedy packing: each span goes on the first track of its node that is free by then.
    let mut tracks: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut spans: Vec<&timeline::Span> = faults.spans.iter().collect();
    spans.sort_by_key(|s| (tid(&s.lane), s.start_ms, s.end_ms));
    for span in spans {
        let node = tid(&span.lane);
        let ends = tracks.entry(node).or_default();
        let k = match ends.iter().position(|end| *end <= span.start_ms) {
            Some(k) => k,
            None => {
                ends.push(0);
                let k = ends.len() - 1;
                let suffix = if k == 0 {
                    String::new()
                } else {
                    format!(" {}", k + 1)
                };
                thread(
                    FAULT_TID * (k as u64 + 1) + node,
                    format!("{} faults{suffix}", span.lane),
                    node * 100 + k as u64 + 1,
                );
                k
            }
        };
        ends[k] = span.end_ms;
        let ts = span.start_ms * 1000;
        events.push((
            ts,
            json!({"ph": "X", "name": span.label, "cat": span.kind, "pid": PID,
            "tid": FAULT_TID * (k as u64 + 1) + node, "ts": ts,
            "dur": (span.end_ms - span.start_ms) * 1000, "args": {"fault": span.detail}}),
        ));
    }
    for mark in &faults.marks {
        let ts = mark.time_ms * 1000;
        events.push((
            ts,
            json!({"ph": "i", "s": "t", "name": mark.label, "cat": "fault",
            "pid": PID, "tid": tid(&mark.lane), "ts": ts}),
        ));
    }
    for anomaly in &outcome.anomalies {
        let entries = &outcome.history.entries;
        let entry = entries.iter().find(|e| e.index == anomaly.index);
        let ts = entry.map_or(0, |e| e.time_ms * 1000);
        let verdict = if anomaly.verdict == Verdict::Violation {
            "violation"
        } else {
            "allowed"
        };
        events.push((ts, json!({"ph": "i", "s": "g", "name": format!("{verdict}: {}", anomaly.kind),
            "cat": "anomaly", "pid": PID, "tid": 0, "ts": ts,
            "args": {"detail": anomaly.detail, "why": anomaly.why, "history_index": anomaly.index}})));
    }
    events.sort_by_key(|(ts, _)| *ts);
    meta.extend(events.into_iter().map(|(_, e)| e));
    json!({
        "traceEvents": meta,
        "displayTimeUnit": "ms",
        "otherData": {"scenario": outcome.scenario, "seed": outcome.seed,
            "result": outcome.class.as_str(), "replay": outcome.replay_command(&outcome.scenario)},
    })
}

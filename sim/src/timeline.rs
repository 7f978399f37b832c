//! The run viewer: one self-contained HTML page (space-time diagram, fault spans, per-partition
//! offsets, anomalies) for an outcome, and the reading of the trace it is drawn from (lanes,
//! messages, fault spans), which the Perfetto export shares. The page's CSS and JS live in
//! `timeline.html`; everything here is deterministic (BTreeMap, no clock).

use crate::checkers::Verdict;
use crate::faults::Fault;
use crate::history::{HistoryEntry, OpType, Operation};
use crate::outcome::Outcome;
use crate::scenario::Scenario;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Send times are not in the trace yet (it has only `recv` lines, at the receiver's time):
/// a message's arrow starts this long before its receipt (madsim's latency is 1-10 ms).
pub const ASSUMED_LATENCY_MS: u64 = 2;
/// The diagram draws at most this many messages (the first ones), with a note.
pub const MAX_MESSAGES: usize = 20_000;
/// At most this many trace lines go into the page for the hover readout.
const MAX_READOUT_LINES: usize = 60_000;
const LANE_H: u64 = 40;
const TEMPLATE: &str = include_str!("timeline.html");

/// One trace line: `time node event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    pub time_ms: u64,
    pub node: &'a str,
    pub event: &'a str,
}

/// Reads a line written by `Trace::record`.
pub fn parse(line: &str) -> Option<Line<'_>> {
    let (time, rest) = line.trim_start().split_once(' ')?;
    let rest = rest.trim_start();
    let (node, event) = rest.split_once(' ').unwrap_or((rest, ""));
    let (time_ms, event) = (time.parse().ok()?, event.trim_start());
    Some(Line {
        time_ms,
        node,
        event,
    })
}

/// A message in the trace: delivered (`recv KIND <- FROM`, on the receiver's line) or
/// dropped (`drop KIND -> TO (reason)`, on the sender's line, with the reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub time_ms: u64,
    pub from: &'a str,
    pub to: &'a str,
    pub kind: &'a str,
    pub dropped: Option<&'a str>,
}

pub fn message<'a>(line: &Line<'a>) -> Option<Message<'a>> {
    let time_ms = line.time_ms;
    if let Some(rest) = line.event.strip_prefix("recv ") {
        let ((kind, from), to) = (rest.split_once(" <- ")?, line.node);
        return Some(Message {
            time_ms,
            from,
            to,
            kind,
            dropped: None,
        });
    }
    let (kind, rest) = line.event.strip_prefix("drop ")?.split_once(" -> ")?;
    let ((to, reason), from) = (rest.split_once(" (")?, line.node);
    let dropped = Some(reason.trim_end_matches(')'));
    Some(Message {
        time_ms,
        from,
        to,
        kind,
        dropped,
    })
}

/// The lane a trace node is drawn on: the runner's few lines go on the nemesis lane.
pub fn lane_of(node: &str) -> &str {
    if node == "runner" {
        "nemesis"
    } else {
        node
    }
}

fn lane_key(name: &str) -> (u8, u64, String) {
    let number = |prefix: &str| name.strip_prefix(prefix)?.parse::<u64>().ok();
    let (group, n) = match (number("b"), number("producer-"), number("consumer-")) {
        _ if name == "nemesis" => (4, 0),
        (Some(n), _, _) => (0, n),
        (_, Some(n), _) => (1, n),
        (_, _, Some(n)) => (2, n),
        _ => (3, 0),
    };
    (group, n, name.to_string())
}

/// The lanes, in drawing order: brokers, producers, consumers, any other node, nemesis.
pub fn lanes(outcome: &Outcome, scenario: Option<&Scenario>) -> Vec<String> {
    let mut names = BTreeMap::new();
    let mut add = |n: &str| names.insert(lane_key(lane_of(n)), ());
    add("nemesis");
    if let Some(s) = scenario {
        let clients = s.client_names();
        s.broker_names()
            .iter()
            .chain(&clients)
            .for_each(|n| _ = add(n));
    }
    for line in outcome.trace.iter().filter_map(|l| parse(l)) {
        add(line.node);
        if let Some(m) = message(&line) {
            add(m.from);
            add(m.to);
        }
    }
    let planned = outcome.fault_plan.iter().flat_map(|e| e.fault.nodes());
    planned.for_each(|n| _ = add(n));
    names.into_keys().map(|(_, _, n)| n).collect()
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
    let trace = outcome.trace.last().and_then(|l| parse(l));
    let history = outcome.history.entries.last().map_or(0, |e| e.time_ms);
    let last = trace.map_or(0, |l| l.time_ms).max(history);
    outcome.stats.simulated_ms.max(last).max(1)
}

/// Fault spans: node faults (crash, power and disk loss: down until `restart`; pause: until
/// `resume`; all end at the heal) from the nemesis's trace lines, as the nemesis applied them
/// (a crash of a node already down is a no-op), or from the plan when the trace was not kept;
/// link faults from the plan (at_ms + duration, cut at the heal); clock jumps and drifts as
/// marks. `heal_fallback` is used when the trace has no `heal` line.
pub fn fault_view(outcome: &Outcome, heal_fallback: Option<u64>) -> FaultView {
    let lines: Vec<Line> = outcome.trace.iter().filter_map(|l| parse(l)).collect();
    let nemesis: Vec<&Line> = lines.iter().filter(|l| l.node == "nemesis").collect();
    let heal_line = nemesis.iter().find(|l| l.event == "heal");
    let heal_ms = heal_line.map(|l| l.time_ms).or(heal_fallback);
    let end = end_ms(outcome);
    let cut = |t: u64| heal_ms.map_or(t, |h| t.min(h)).min(end);
    let mut view = FaultView {
        heal_ms,
        ..FaultView::default()
    };
    let mut span = |lane: &str, (start_ms, end_ms): (u64, u64), kind: &str, label, detail: &str| {
        let (lane, kind, detail) = (lane.to_string(), kind.to_string(), detail.to_string());
        if end_ms > start_ms {
            view.spans.push(Span {
                lane,
                start_ms,
                end_ms,
                kind,
                label,
                detail,
            });
        }
    };
    // (node, is a pause) -> (start, kind, the line)
    let mut open: BTreeMap<(String, bool), (u64, &str, &str)> = BTreeMap::new();
    for l in nemesis {
        let mut words = l.event.split(' ');
        let (verb, node) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let keys: Vec<(String, bool)> = match verb {
            "restart" | "resume" => vec![(node.to_string(), verb == "resume")],
            "heal" => open.keys().cloned().collect(),
            _ => Vec::new(),
        };
        for key in keys {
            if let Some((start, kind, detail)) = open.remove(&key) {
                span(&key.0, (start, l.time_ms), kind, kind.to_string(), detail);
            }
        }
        let down = open.contains_key(&(node.to_string(), false));
        let paused = open.contains_key(&(node.to_string(), true));
        match verb {
            "crash" | "power-loss" | "disk-loss" if !down => {
                open.insert((node.to_string(), false), (l.time_ms, verb, l.event));
            }
            "pause" if !down && !paused => {
                open.insert((node.to_string(), true), (l.time_ms, verb, l.event));
            }
            _ => {}
        }
    }
    for ((node, _), (start, kind, detail)) in open {
        span(&node, (start, end), kind, kind.to_string(), detail);
    }
    let untraced = outcome.trace.is_empty();
    for e in &outcome.fault_plan {
        let (at, detail) = (e.at_ms, e.fault.to_string());
        // The plan as scenarios write it: `kind`, `duration_ms` or `restart_after_ms`.
        let plan = serde_json::to_value(&e.fault).unwrap_or_default();
        let kind = plan["kind"].as_str().unwrap_or("fault");
        let duration = plan["duration_ms"]
            .as_u64()
            .or(plan["restart_after_ms"].as_u64());
        let one = |n: &String, label: String| vec![(n.clone(), label)];
        let all = |nodes: &[String], label: String| -> Vec<(String, String)> {
            nodes.iter().map(|n| (n.clone(), label.clone())).collect()
        };
        let side = |i: usize| char::from(b'A' + (i % 26) as u8);
        let hit = match &e.fault {
            Fault::Crash { node, .. }
            | Fault::PowerLoss { node, .. }
            | Fault::DiskLoss { node, .. }
            | Fault::Pause { node, .. }
                if untraced =>
            {
                one(node, kind.to_string())
            }
            Fault::Partition { groups, .. } => (groups.iter().enumerate())
                .flat_map(|(i, g)| all(g, format!("partition {}", side(i))))
                .collect(),
            Fault::PartitionOneWay { from, to, .. } => [
                all(from, "one-way out".into()),
                all(to, "one-way in".into()),
            ]
            .concat(),
            Fault::Loss { from, rate, .. } => all(from, format!("loss {:.0}%", rate * 100.0)),
            Fault::Delay { from, delay_ms, .. } => all(from, format!("delay +{delay_ms}ms")),
            Fault::Clog { node, .. } => one(node, "clog".into()),
            Fault::ClockJump { node, by_ms } => one(node, format!("clock {by_ms:+}ms")),
            Fault::ClockDrift { node, ppm } => one(node, format!("drift {ppm:+}ppm")),
            _ => Vec::new(),
        };
        for (lane, label) in hit {
            match duration {
                Some(d) => span(&lane, (at, cut(at + d)), kind, label, &detail),
                None => view.marks.push(Mark {
                    lane,
                    time_ms: at,
                    label,
                }),
            }
        }
    }
    view
}

fn ok_entries(outcome: &Outcome) -> impl Iterator<Item = &HistoryEntry> {
    outcome
        .history
        .entries
        .iter()
        .filter(|e| e.op_type == OpType::Ok)
}

/// Series hook: the partition's log end offset as the producers saw it, (time, offset + 1)
/// at each acknowledged send (the history's `ok` sends, which the trace's `ok vN tp@O` lines
/// repeat). A truncating power loss shows as a drop.
pub fn series_log_end(outcome: &Outcome, topic: &str, partition: u32) -> Vec<(u64, u64)> {
    let at = |e: &HistoryEntry| match &e.op {
        Operation::Send(s) if s.topic == topic && s.partition == Some(partition) => {
            s.offset.map(|o| (e.time_ms, o + 1))
        }
        _ => None,
    };
    ok_entries(outcome).filter_map(at).collect()
}

/// Series hook: each consumer's read position, (time, next offset): an `assign` sets it, a
/// `poll` that returned records of the partition moves it past the last one.
pub fn series_positions(
    outcome: &Outcome,
    topic: &str,
    p: u32,
) -> BTreeMap<String, Vec<(u64, u64)>> {
    let mut series: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for e in ok_entries(outcome) {
        let position = match &e.op {
            Operation::Assign(a) if a.topic == topic && a.partition == p => Some(a.offset),
            Operation::Poll(poll) => {
                let mut mine = poll
                    .records
                    .iter()
                    .filter(|r| r.topic == topic && r.partition == p);
                mine.next_back().map(|r| r.offset + 1)
            }
            _ => None,
        };
        if let Some(position) = position {
            let points = series.entry(e.process.clone()).or_default();
            points.push((e.time_ms, position));
        }
    }
    series
}

/// The controller's partition changes for one partition, from its trace lines
/// ("metadata 7: tasks-0 leader b1 epoch 1 isr [b1, b2, b3]"): (time, leader, ISR).
fn partition_changes<'a>(
    outcome: &'a Outcome,
    topic: &str,
    partition: u32,
) -> impl Iterator<Item = (u64, &'a str, Vec<String>)> + 'a {
    let prefix = format!("{topic}-{partition} leader ");
    // Every controller of a quorum notes each record as it learns it is committed: the
    // first note of each metadata index is when the cluster could act on it.
    let mut seen = std::collections::BTreeSet::new();
    outcome.trace.iter().filter_map(move |l| {
        let line = parse(l)?;
        if !line.node.starts_with(crate::world::CONTROLLER_NAME) {
            return None;
        }
        let (index, change) = line.event.split_once(": ")?;
        if !seen.insert(index.to_string()) {
            return None;
        }
        let rest = change.strip_prefix(prefix.as_str())?;
        let (leader, rest) = rest.split_once(' ')?;
        let isr = rest.split_once("isr [")?.1.trim_end_matches(']');
        let isr = isr.split(", ").filter(|b| !b.is_empty()).map(String::from);
        Some((line.time_ms, leader, isr.collect()))
    })
}

/// Series: the partition's leader over time, as the controller elected it ("none" while
/// it has none).
pub fn series_leader(outcome: &Outcome, topic: &str, partition: u32) -> Vec<(u64, String)> {
    let mut series: Vec<(u64, String)> = Vec::new();
    for (time_ms, leader, _) in partition_changes(outcome, topic, partition) {
        if series.last().is_none_or(|(_, last)| last != leader) {
            series.push((time_ms, leader.to_string()));
        }
    }
    series
}

/// Series: the high watermark of the partition as consumers' fetches reported it.
pub fn series_high_watermark(outcome: &Outcome, topic: &str, partition: u32) -> Vec<(u64, u64)> {
    let at = |e: &HistoryEntry| match &e.op {
        Operation::Poll(poll) => poll
            .high_watermarks
            .iter()
            .find(|h| h.topic == topic && h.partition == partition)
            .map(|h| (e.time_ms, h.high_watermark)),
        _ => None,
    };
    ok_entries(outcome).filter_map(at).collect()
}

/// Series: the in-sync replicas over time, as the controller committed them.
pub fn series_isr(outcome: &Outcome, topic: &str, partition: u32) -> Vec<(u64, Vec<String>)> {
    partition_changes(outcome, topic, partition)
        .map(|(time_ms, _, isr)| (time_ms, isr))
        .collect()
}

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Which tick a notable trace line gets on its lane (the frequent send/ok/poll/recv lines
/// get none: the hover readout shows them).
fn tick_class(line: &Line) -> Option<&'static str> {
    let e = line.event;
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| e.starts_with(p));
    match () {
        _ if starts(&["poll failed", "info ", "fail "]) => Some("t-err"),
        _ if starts(&[
            "send v", "ok v", "poll ", "recv ", "drop ", "plan @", "swarm:",
        ]) =>
        {
            None
        }
        _ if lane_of(line.node) == "nemesis" => Some("t-nem"),
        _ if starts(&["start ", "recover "]) => Some("t-life"),
        _ if starts(&["assign "]) => Some("t-assign"),
        _ => Some("t-note"),
    }
}

/// Replaces `{{NAME}}` placeholders in one pass (inserted text is never rescanned).
fn fill(template: &str, values: &BTreeMap<&str, String>) -> String {
    let mut parts = template.split("{{");
    let mut out = parts.next().unwrap_or("").to_string();
    for part in parts {
        let found = part
            .split_once("}}")
            .and_then(|(k, rest)| Some((values.get(k)?, rest)));
        let (value, rest) = found.map_or(("{{", part), |(v, rest)| (v.as_str(), rest));
        out.push_str(value);
        out.push_str(rest);
    }
    out
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Violation => "violation",
        Verdict::Allowed => "allowed",
    }
}

/// The time and process of the history entry where each anomaly shows.
fn anomaly_at(outcome: &Outcome) -> Vec<(u64, String)> {
    let entries = &outcome.history.entries;
    let entry = |i: u64| entries.get(i as usize).filter(|e| e.index == i);
    let at = |i: u64| entry(i).or_else(|| entries.iter().find(|e| e.index == i));
    let time = |e: Option<&HistoryEntry>| e.map(|e| (e.time_ms, e.process.clone()));
    let times = outcome.anomalies.iter().map(|a| time(at(a.index)));
    times.map(Option::unwrap_or_default).collect()
}

/// What the page's script draws, times in simulated ms and nodes as lane numbers: `lanes`,
/// fault `spans` `[start, end, lane, kind, label, detail]` and `marks` `[time, lane, label]`,
/// the `heal`, delivered `messages` `[receipt, from, to, family]` (the first `MAX_MESSAGES`
/// of `messagesTotal`), `drops` `[time, from, to, text]`, trace `lines` `[time, lane, text,
/// tick class or null]`, `anomalies` `[time, verdict, kind, process]`, and per partition
/// the series hooks' output.
pub fn page_data(outcome: &Outcome, scenario: &Scenario) -> Value {
    let lanes = lanes(outcome, Some(scenario));
    let lane = |node: &str| lanes.iter().position(|l| l == lane_of(node));
    let faults = fault_view(outcome, Some(scenario.fault_phase_ms));
    let lines: Vec<Line> = outcome.trace.iter().filter_map(|l| parse(l)).collect();
    let (mut messages, mut drops, mut total) = (Vec::new(), Vec::new(), 0);
    for m in lines.iter().filter_map(message) {
        let (Some(from), Some(to)) = (lane(m.from), lane(m.to)) else {
            continue;
        };
        let family = match m.kind {
            k if k.starts_with("Produce") => "produce",
            k if k.starts_with("Fetch") => "fetch",
            _ => "meta",
        };
        match m.dropped {
            Some(why) if drops.len() < MAX_MESSAGES => {
                let text = format!("{} -> {} ({why})", m.kind, m.to);
                drops.push(json!([m.time_ms, from, to, text]));
            }
            Some(_) => {}
            None => {
                total += 1;
                if messages.len() < MAX_MESSAGES {
                    messages.push(json!([m.time_ms, from, to, family]));
                }
            }
        }
    }
    let text = |l: &Line| match lane_of(l.node) == l.node {
        true => l.event.to_string(),
        false => format!("{}: {}", l.node, l.event),
    };
    let readout = lines.iter().take(MAX_READOUT_LINES);
    let readout =
        readout.filter_map(|l| Some(json!([l.time_ms, lane(l.node)?, text(l), tick_class(l)])));
    let spans = faults.spans.iter().filter_map(|s| {
        let lane = lane(&s.lane)?;
        Some(json!([
            s.start_ms, s.end_ms, lane, s.kind, s.label, s.detail
        ]))
    });
    let marks = faults.marks.iter();
    let marks = marks.filter_map(|m| Some(json!([m.time_ms, lane(&m.lane)?, m.label])));
    let at = anomaly_at(outcome);
    let anomalies = outcome.anomalies.iter().zip(at);
    let anomalies = anomalies.map(|(a, (t, p))| json!([t, verdict(a.verdict), a.kind, p]));
    let topic = &scenario.workload.topic;
    let topic_config = scenario.topics.iter().find(|t| &t.name == topic);
    let partitions = (0..topic_config.map_or(0, |t| t.partitions)).map(|p| {
        json!({
            "name": format!("{topic}-{p}"),
            "leaders": series_leader(outcome, topic, p),
            "isr": series_isr(outcome, topic, p),
            "logEnd": series_log_end(outcome, topic, p),
            "highWatermark": series_high_watermark(outcome, topic, p),
            "positions": series_positions(outcome, topic, p),
        })
    });
    json!({
        "end": end_ms(outcome),
        "laneH": LANE_H,
        "latency": ASSUMED_LATENCY_MS,
        "lanes": lanes,
        "heal": faults.heal_ms,
        "spans": spans.collect::<Vec<_>>(),
        "marks": marks.collect::<Vec<_>>(),
        "messages": messages,
        "messagesTotal": total,
        "drops": drops,
        "lines": readout.collect::<Vec<_>>(),
        "anomalies": anomalies.collect::<Vec<_>>(),
        "partitions": partitions.collect::<Vec<_>>(),
    })
}

/// Scenario, seed, result, swarm draw, stats, replay command and the fault plan.
fn header(o: &Outcome, s: &Scenario, heal_ms: Option<u64>) -> String {
    let class = o.class.as_str();
    let badge = format!(
        r#"<span class="badge c-{}">{class}</span>"#,
        class.replace(' ', "-")
    );
    let (violations, allowed) = (o.violations().count(), o.allowed().count());
    let result = format!(
        "{badge} (exit code {}); {violations} violations, {allowed} allowed anomalies",
        o.class.exit_code()
    );
    let swarm = o.swarm.as_ref().map(|d| d.to_string());
    let st = &o.stats;
    let (sent, dropped) = (st.messages_sent, st.messages_dropped);
    let run = format!(
        "simulated {} ms, {sent} messages ({dropped} dropped)",
        end_ms(o)
    );
    let (acked, entries, lines) = (st.sends_acknowledged, st.history_entries, st.trace_lines);
    let run = format!(
        "{run}, {acked} sends acknowledged, {entries} history entries, {lines} trace lines"
    );
    let mut rows = vec![
        ("seed", o.seed.to_string()),
        ("result", result),
        (
            "swarm draw",
            esc(&swarm.unwrap_or("none (scripted faults only)".into())),
        ),
        ("run", run),
        (
            "replay",
            format!("<code>{}</code>", esc(&o.replay_command(&s.name))),
        ),
    ];
    rows.extend(o.liveness_problems.iter().map(|p| ("liveness", esc(p))));
    rows.extend(o.crash.iter().map(|c| ("crash", esc(c))));
    let (name, description) = (esc(&s.name), esc(&s.description));
    let mut out = format!(r#"<h1>{name}</h1><p class="desc">{description}</p><table class="kv">"#);
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    let (events, heal) = (
        o.fault_plan.len(),
        heal_ms.map_or("?".into(), |h| h.to_string()),
    );
    let summary = format!("fault plan: {events} events, heal at {heal} ms");
    let _ = write!(
        out,
        r#"</table><details open><summary>{summary}</summary><ol class="plan">"#
    );
    for e in &o.fault_plan {
        let _ = write!(
            out,
            "<li>@{} ms {}</li>",
            e.at_ms,
            esc(&e.fault.to_string())
        );
    }
    out + "</ol></details>"
}

/// The anomaly table's rows (a click on one zooms the diagram to its time).
fn rows(outcome: &Outcome) -> String {
    let mut out = String::new();
    let at = anomaly_at(outcome);
    for (i, (a, (t, process))) in outcome.anomalies.iter().zip(at).enumerate() {
        let v = verdict(a.verdict);
        let cells = [
            (i + 1).to_string(),
            t.to_string(),
            format!(r#"<span class="badge b-{v}">{v}</span>"#),
            a.kind.to_string(),
            esc(&process),
            a.index.to_string(),
            esc(&a.detail),
            esc(&a.why),
        ];
        let _ = write!(out, r#"<tr class="v-{v}" data-t="{t}">"#);
        cells.iter().for_each(|c| _ = write!(out, "<td>{c}</td>"));
        out.push_str("</tr>");
    }
    match out.is_empty() {
        true => r#"<tr><td colspan="8">No anomalies.</td></tr>"#.into(),
        false => out,
    }
}

/// The page: header, space-time diagram, per-partition offsets, anomaly table. The diagram
/// and charts are drawn by the page's script from `page_data`; messages and node events
/// need the outcome's trace (`RunOptions::keep_trace`).
pub fn html(outcome: &Outcome, scenario: &Scenario) -> String {
    let data = page_data(outcome, scenario);
    let lanes = data["lanes"].as_array().into_iter().flatten();
    let lanes =
        lanes.filter_map(|l| Some(format!(r#"<div class="lab">{}</div>"#, esc(l.as_str()?))));
    let title = format!("{} seed {}", scenario.name, outcome.seed);
    let values = [
        ("TITLE", esc(&title)),
        ("LANE_H", LANE_H.to_string()),
        ("HEADER", header(outcome, scenario, data["heal"].as_u64())),
        ("LABELS", lanes.collect()),
        ("ROWS", rows(outcome)),
        // Inside <script>, `<` is the only dangerous character (`</script>`, `<!--`).
        ("DATA", data.to_string().replace('<', "\\u003c")),
    ];
    fill(TEMPLATE, &values.into_iter().collect())
}

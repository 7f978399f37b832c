//! The run viewer's page: one self-contained HTML file (run summary and latency plot,
//! space-time diagram, fault spans, per-partition offsets, anomalies) for an outcome, drawn
//! by its script from `page_data` (the summary and plot by `figures`, as static HTML).
//! What it shows is read off the run's typed events and history (`view`, `series`), never
//! off the trace text; the page's CSS and JS live in `timeline.html`. Everything here is
//! deterministic (BTreeMap, no clock).

use crate::checkers::Verdict;
use crate::events::render::render;
use crate::events::{Actor, Event, EventKind, FaultEvent};
use crate::faults::strike::plan_as_struck;
use crate::history::{History, HistoryEntry, OpType, Operation};
use crate::outcome::Outcome;
use crate::scenario::Scenario;
use crate::summary::RunSummary;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

mod figures;
mod series;
mod view;

pub use series::*;
pub use view::*;

/// The diagram draws at most this many messages (the first ones), with a note.
pub const MAX_MESSAGES: usize = 20_000;
/// At most this many event lines go into the page for the hover readout.
const MAX_READOUT_LINES: usize = 60_000;
const LANE_H: u64 = 40;
const TEMPLATE: &str = include_str!("timeline.html");

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

/// Which tick a notable event gets on its lane: failed sends and polls stand out; the
/// frequent sends, polls and messages, and the plan announced at the start, get none (the
/// hover readout shows them).
fn tick_class(event: &Event, history: &History) -> Option<&'static str> {
    let client = |index: u64| {
        let entry = history.entries.get(index as usize)?;
        Some((&entry.op, entry.op_type))
    };
    match (&event.kind, event.actor) {
        (EventKind::Client { history_index }, _) => match client(*history_index) {
            Some((Operation::Send(_), OpType::Fail | OpType::Info))
            | Some((Operation::Poll(_), OpType::Fail)) => Some("t-err"),
            Some((Operation::Send(_) | Operation::Poll(_), _)) => None,
            Some((Operation::Assign(_), _)) => Some("t-assign"),
            _ => Some("t-note"),
        },
        (
            EventKind::MessageDelivered { .. }
            | EventKind::MessageDropped { .. }
            | EventKind::Fault(FaultEvent::Planned(_) | FaultEvent::SwarmDrawn(_)),
            _,
        ) => None,
        (_, Actor::Nemesis | Actor::Runner) => Some("t-nem"),
        (
            EventKind::Started { .. }
            | EventKind::LogRecovered { .. }
            | EventKind::MetadataRecovered { .. },
            _,
        ) => Some("t-life"),
        _ => Some("t-note"),
    }
}

/// Which colour a message's arrow gets.
fn family(kind: &str) -> &'static str {
    match kind {
        k if k.starts_with("Produce") => "produce",
        k if k.starts_with("Fetch") => "fetch",
        _ => "meta",
    }
}

/// The hover readout: each event that has a trace line, with that line's text (the
/// runner's, on the nemesis lane, named), and its tick.
fn readout(outcome: &Outcome, lane: impl Fn(&str) -> Option<usize>) -> Vec<Value> {
    let (log, history) = (&outcome.events, &outcome.history);
    let name = |node| log.node_name(node);
    let mut lines = Vec::new();
    for event in log.events() {
        if lines.len() == MAX_READOUT_LINES {
            break;
        }
        let mut text = match event.actor {
            Actor::Runner => format!("{}: ", log.actor_name(event.actor)),
            _ => String::new(),
        };
        if !render(event, name, history, &mut text) {
            continue;
        }
        if let Some(lane) = lane(lane_of(log, event.actor)) {
            let tick = tick_class(event, history);
            lines.push(json!([event.time_ms, lane, text, tick]));
        }
    }
    lines
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
/// the `heal`, delivered `messages` `[sent, receipt, from, to, family]` (the first
/// `MAX_MESSAGES` of `messagesTotal`), `drops` `[time, from, to, text]`, event `lines`
/// `[time, lane, text, tick class or null]`, `anomalies` `[time, verdict, kind, process]`,
/// and per partition the series hooks' output.
pub fn page_data(outcome: &Outcome, scenario: &Scenario) -> Value {
    let lanes = lanes(outcome, Some(scenario));
    let lane = |name: &str| lanes.iter().position(|l| l == name);
    let faults = fault_view(outcome, Some(scenario.fault_phase_ms));
    let (mut messages, mut drops, mut total) = (Vec::new(), Vec::new(), 0);
    for m in view::messages(&outcome.events) {
        let (Some(from), Some(to)) = (lane(m.from), lane(m.to)) else {
            continue;
        };
        match m.dropped {
            Some(why) if drops.len() < MAX_MESSAGES => {
                let text = format!("{} -> {} ({})", m.kind, m.to, why.as_str());
                drops.push(json!([m.time_ms, from, to, text]));
            }
            Some(_) => {}
            None => {
                total += 1;
                if messages.len() < MAX_MESSAGES {
                    messages.push(json!([m.sent_ms, m.time_ms, from, to, family(m.kind)]));
                }
            }
        }
    }
    let lines = readout(outcome, lane);
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
        "lanes": lanes,
        "heal": faults.heal_ms,
        "spans": spans.collect::<Vec<_>>(),
        "marks": marks.collect::<Vec<_>>(),
        "messages": messages,
        "messagesTotal": total,
        "drops": drops,
        "lines": lines,
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
    let plan = plan_as_struck(&o.fault_plan, &o.events);
    for (e, fault) in o.fault_plan.iter().zip(plan) {
        let _ = write!(out, "<li>@{} ms {}</li>", e.at_ms, esc(&fault));
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

/// The page: header, run summary and latency plot, space-time diagram, per-partition
/// offsets, anomaly table. The diagram
/// and charts are drawn by the page's script from `page_data`; messages and most node
/// events are kept only when the trace is (`RunOptions::keep_trace`).
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
        (
            "SUMMARY",
            figures::summary_section(
                &RunSummary::of_run(outcome, scenario),
                end_ms(outcome),
                data["heal"].as_u64(),
            ),
        ),
        ("LABELS", lanes.collect()),
        ("ROWS", rows(outcome)),
        // Inside <script>, `<` is the only dangerous character (`</script>`, `<!--`).
        ("DATA", data.to_string().replace('<', "\\u003c")),
    ];
    fill(TEMPLATE, &values.into_iter().collect())
}

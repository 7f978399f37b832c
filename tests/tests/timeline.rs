//! The run viewers, read off the typed events: the HTML timeline page (self-contained,
//! escaped, every lane and anomaly on it, each message drawn from its send to its receipt),
//! the Perfetto trace-event export (a thread per node, valid sorted events) and `explain`.

use kafka_model::ids::NodeId;
use kafka_sim::events::{Actor, EventKind};
use kafka_sim::explain::explain;
use kafka_sim::outcome::Outcome;
use kafka_sim::perfetto::perfetto;
use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::Scenario;
use kafka_sim::scenario_builder::ScenarioBuilder;
use kafka_sim::timeline;
use std::collections::{BTreeMap, BTreeSet};

/// A run with its trace kept; `name` is a built-in scenario or a TOML file.
fn traced(name: &str, seed: u64) -> (Scenario, Outcome) {
    let scenario = registry::resolve(name).unwrap();
    let options = RunOptions {
        keep_trace: true,
        ..RunOptions::default()
    };
    let outcome = run(&scenario, seed, options);
    (scenario, outcome)
}

fn power_loss_run() -> (Scenario, Outcome) {
    let (scenario, outcome) = traced("single-replica-power-loss", 0);
    assert!(
        !outcome.anomalies.is_empty(),
        "seed 0 of single-replica-power-loss shows anomalies"
    );
    (scenario, outcome)
}

#[test]
fn the_page_shows_every_lane_anomaly_and_the_replay_command_and_is_self_contained() {
    let (scenario, outcome) = power_loss_run();
    let page = timeline::html(&outcome, &scenario);
    let lanes = [
        "b1",
        "b2",
        "b3",
        "producer-1",
        "consumer-1",
        "controller",
        "nemesis",
    ];
    assert_eq!(timeline::lanes(&outcome, Some(&scenario)), lanes);
    for lane in lanes {
        assert!(
            page.contains(&format!(r#"<div class="lab">{lane}</div>"#)),
            "lane {lane}"
        );
    }
    for anomaly in &outcome.anomalies {
        assert!(page.contains(anomaly.kind.as_str()), "{}", anomaly.kind);
    }
    assert!(page.contains(&outcome.replay_command(&scenario.name)));
    assert!(page.contains("power-loss"));
    let lower = page.to_lowercase();
    assert!(!lower.contains("<script src"), "no external scripts");
    assert!(!lower.contains("http"), "no network references");
    assert!(!lower.contains("@import") && !lower.contains("url("));
    assert_eq!(lower.matches("<script>").count(), 1);
    assert_eq!(lower.matches("</script>").count(), 1);
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    let opened = page.matches("<svg").count();
    assert!(opened >= 4, "diagram, axis, strip, overlay, charts");
    assert_eq!(opened, page.matches("</svg>").count(), "balanced <svg>");
    // What the script draws: every delivered message, a chart per partition with its leader.
    let data = timeline::page_data(&outcome, &scenario);
    assert_eq!(data["lanes"], serde_json::json!(lanes));
    let messages = data["messages"].as_array().unwrap().len() as u64;
    assert_eq!(messages, outcome.stats.messages_delivered);
    assert_eq!(data["messagesTotal"], messages);
    let partitions = data["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 3);
    assert_eq!(
        partitions[0]["leaders"][0][1], "b1",
        "the controller first elects the preferred leader"
    );
    assert_eq!(partitions[2]["name"], "tasks-2");
    assert!(!partitions[0]["positions"]["consumer-1"]
        .as_array()
        .unwrap()
        .is_empty());
    let anomalies = data["anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), outcome.anomalies.len());
    assert!(anomalies.iter().all(|a| a[0].as_u64().unwrap() > 0));
    // The same run gives the same page.
    assert_eq!(page, timeline::html(&outcome, &scenario));
}

#[test]
fn the_page_shows_the_run_summary_and_a_dot_per_acknowledged_send() {
    let (scenario, outcome) = traced("acks1-failover", 1);
    let page = timeline::html(&outcome, &scenario);
    let summary = kafka_sim::summary::RunSummary::of_run(&outcome, &scenario);
    let figures = page
        .split_once(r#"<pre id="figures">"#)
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .expect("a figures block")
        .0;
    // The terminal's lines, escaped (`ISR < min.insync` has a `<`).
    assert_eq!(figures, timeline::esc(&summary.lines().join("\n")));
    assert!(figures.contains("producer latency"), "{figures}");
    let plot = page
        .split_once(r#"<svg id="latency""#)
        .and_then(|(_, rest)| rest.split_once("</svg>"))
        .expect("a latency plot")
        .0;
    let acknowledged = outcome.stats.sends_acknowledged;
    assert!(acknowledged > 0);
    assert!(plot.contains(&format!(r#"data-points="{acknowledged}""#)));
    assert_eq!(plot.matches("<circle").count() as u64, acknowledged);
    let max = summary.producer_latency_ms.unwrap().max;
    assert!(
        plot.contains(&format!(">{max} ms</text>")),
        "the y axis goes to the slowest send"
    );
}

#[test]
fn fault_spans_follow_the_nemesis() {
    let (_, outcome) = power_loss_run();
    let view = timeline::fault_view(&outcome, None);
    assert_eq!(view.heal_ms, Some(10_000));
    let down: Vec<(&str, u64, u64)> = view
        .spans
        .iter()
        .filter(|s| s.kind == "power-loss")
        .map(|s| (s.lane.as_str(), s.start_ms, s.end_ms))
        .collect();
    // b3's second power loss strikes while it is down: a no-op, as the nemesis does it.
    assert!(down.contains(&("b1", 1_500, 2_500)));
    assert!(down.contains(&("b3", 3_129, 6_585)));
    assert!(down.contains(&("b3", 9_705, 10_000)), "cut at the heal");
    assert!(!down.iter().any(|d| d.1 == 4_428));
    let series = timeline::series_log_end(&outcome, "tasks", 0);
    assert!(!series.is_empty());
    assert!(
        series.windows(2).any(|w| w[1].1 < w[0].1),
        "the truncation shows as a drop in the log end"
    );
}

#[test]
fn text_from_the_scenario_is_escaped() {
    let (mut scenario, outcome) = traced("smoke", 1);
    scenario.description = "<script>alert('x')</script> & \"quotes\"".into();
    let page = timeline::html(&outcome, &scenario);
    assert!(!page.contains("<script>alert"));
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;")
    );
    assert_eq!(page.to_lowercase().matches("<script").count(), 1);
    assert_eq!(timeline::esc("a<b>&'\""), "a&lt;b&gt;&amp;&#39;&quot;");
    // Event text goes into the script's data: it cannot close the script.
    let mut outcome = outcome;
    let note = EventKind::Note("note </script><script>alert(1)</script>".into());
    outcome.events.push(99_999, Actor::Node(NodeId(1)), note);
    let page = timeline::html(&outcome, &scenario);
    assert_eq!(page.to_lowercase().matches("<script").count(), 1);
    assert_eq!(page.to_lowercase().matches("</script").count(), 1);
    assert!(page.contains(r"note \u003c/script>\u003cscript>alert(1)\u003c/script>"));
}

#[test]
fn perfetto_has_a_thread_per_node_and_valid_sorted_events() {
    let (scenario, outcome) = power_loss_run();
    let value = perfetto(&outcome);
    let events = value["traceEvents"].as_array().unwrap();
    let threads: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    for node in timeline::lanes(&outcome, Some(&scenario)) {
        assert!(threads.contains(node.as_str()), "thread for {node}");
    }
    assert!(threads.contains("b1 faults"));
    let mut last = 0;
    let mut phases = BTreeSet::new();
    for event in events.iter().filter(|e| e["ph"] != "M") {
        let ph = event["ph"].as_str().expect("ph is a string");
        let ts = event["ts"].as_u64().expect("ts is a number");
        assert!(event["pid"].is_u64() && event["tid"].is_u64(), "{event}");
        assert!(event["name"].is_string(), "{event}");
        assert!(ts >= last, "sorted by ts");
        last = ts;
        if ph == "X" {
            assert!(event["dur"].is_u64(), "{event}");
        }
        phases.insert(ph.to_string());
    }
    for ph in ["i", "X", "s", "f"] {
        assert!(phases.contains(ph), "some {ph} events");
    }
    // Each flow has its start and its end.
    let ids = |ph: &str| -> Vec<u64> {
        let mut ids: Vec<u64> = events
            .iter()
            .filter(|e| e["ph"] == ph)
            .map(|e| e["id"].as_u64().unwrap())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids("s"), ids("f"));
    // One event per trace line at least (a delivery is four), and it serializes.
    assert!(events.len() > outcome.trace.len());
    assert_eq!(value, perfetto(&outcome));
    assert!(serde_json::to_string(&value).is_ok());
}

/// A scenario whose producer's links to its only broker are slowed by 400 ms from 1 s to 3 s.
fn delayed_producer() -> Scenario {
    ScenarioBuilder::new("delayed-producer")
        .brokers(1)
        .topic("tasks", 1)
        .records(200, 50)
        .at_ms(1_000)
        .delay(&["producer-1"], &["b1"], 400)
        .for_ms(2_000)
        .heal_at_ms(5_000)
        .build()
        .unwrap()
}

#[test]
fn a_message_held_by_a_delay_fault_is_drawn_across_its_delay() {
    let scenario = delayed_producer();
    let outcome = run(
        &scenario,
        1,
        RunOptions {
            keep_trace: true,
            ..RunOptions::default()
        },
    );
    let data = timeline::page_data(&outcome, &scenario);
    let lanes: Vec<&str> = (data["lanes"].as_array().unwrap().iter())
        .map(|l| l.as_str().unwrap())
        .collect();
    let lane = |name: &str| lanes.iter().position(|l| *l == name).unwrap() as u64;
    let (producer, broker) = (lane("producer-1"), lane("b1"));
    let window = 1_000..3_000;
    let (mut held, mut checked) = (0, 0);
    for m in data["messages"].as_array().unwrap() {
        let [sent, receipt, from, to] = [0, 1, 2, 3].map(|i| m[i].as_u64().unwrap());
        assert!(receipt >= sent, "{m}");
        let gap = receipt - sent;
        if window.contains(&sent) && (from, to) == (producer, broker) {
            held += u64::from(gap >= 400);
        } else if !window.contains(&sent) {
            checked += 1;
            assert!(
                gap < 400,
                "a message sent outside the delay took {gap} ms: {m}"
            );
        }
    }
    assert!(
        held > 0,
        "some producer-1 -> b1 message drawn across its 400 ms delay"
    );
    assert!(checked > 0, "messages outside the fault window");
    let spans = data["spans"].as_array().unwrap();
    let delay = serde_json::json!([1_000, 3_000, producer, "delay", "delay +400ms"]);
    assert!(
        spans
            .iter()
            .any(|s| s.as_array().unwrap()[..5] == delay.as_array().unwrap()[..]),
        "the delay's span on producer-1: {spans:?}"
    );
    // Perfetto's flows start at the real send: some arrow spans the delay there too.
    let value = perfetto(&outcome);
    let events = value["traceEvents"].as_array().unwrap();
    let flow_ts = |ph: &str| -> BTreeMap<u64, u64> {
        (events.iter().filter(|e| e["ph"] == ph))
            .map(|e| (e["id"].as_u64().unwrap(), e["ts"].as_u64().unwrap()))
            .collect()
    };
    let (starts, ends) = (flow_ts("s"), flow_ts("f"));
    assert!(starts.iter().any(|(id, start)| ends[id] - start >= 400_000));
    assert!(starts.iter().all(|(id, start)| ends[id] >= *start));
}

#[test]
fn explain_tells_the_append_ack_read_power_loss_and_anomaly_of_a_record() {
    let (scenario, outcome) = traced("single-replica-power-loss", 1);
    let story = explain(&scenario, &outcome, 3).unwrap();
    // In the order they happened.
    let needles = [
        "producer-1  send v3",
        "b1          append tasks-0@1..1: v3",
        "producer-1  ok v3 tasks-0@1",
        "consumer-1  read v3 at tasks-0@1",
        "nemesis     power-loss b1",
        "b1          start incarnation 2",
        "b1          recover tasks-0:",
        "lost-write (Allowed)",
    ];
    let mut from = 0;
    for needle in needles {
        let Some(at) = story[from..].find(needle) else {
            panic!("`{needle}` missing after byte {from} of:\n{story}");
        };
        from += at + needle.len();
    }
    assert!(story.contains("replicas b1 (preferred leader first)"));
    assert!(story.contains("controller  metadata 7: tasks-0 leader b1 epoch 1 isr [b1]"));
    // Other records' sends are not part of this one's story.
    assert!(!story.contains("send v4"), "{story}");
    let unknown = explain(&scenario, &outcome, 999_999).unwrap_err();
    assert!(unknown.contains("no record with value 999999"), "{unknown}");
}

/// Writes the page for a browser check (scripts/check-html.sh): the path comes from
/// KAFKA_SIM_HTML_OUT (and the Perfetto JSON goes next to it, with a `.json` suffix). The run
/// is `single-replica-power-loss` seed 0 unless KAFKA_SIM_SCENARIO / KAFKA_SIM_SEED say
/// otherwise.
#[test]
#[ignore]
fn write_html_for_browser() {
    let path = std::env::var("KAFKA_SIM_HTML_OUT").expect("set KAFKA_SIM_HTML_OUT");
    let name = std::env::var("KAFKA_SIM_SCENARIO");
    let seed = std::env::var("KAFKA_SIM_SEED").map(|s| s.parse().expect("a seed"));
    let (scenario, outcome) = match (name, seed) {
        (Err(_), Err(_)) => power_loss_run(),
        (name, seed) => traced(
            name.as_deref().unwrap_or("single-replica-power-loss"),
            seed.unwrap_or(0),
        ),
    };
    std::fs::write(&path, timeline::html(&outcome, &scenario)).unwrap();
    let json = serde_json::to_string(&perfetto(&outcome)).unwrap();
    std::fs::write(format!("{path}.json"), json).unwrap();
}

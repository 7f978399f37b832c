//! `kafka-sim check`: on the history a run wrote, the history checkers give the run's own
//! verdicts (an anomaly the run excused by a loss in its events stays a violation, marked
//! excusable: a history does not show the loss); a hand-edited history that drops an
//! acknowledged record from every read is reported as a lost write; bad histories are
//! refused with a line naming where.

use kafka_sim::check::{self, check_history, reader, settings_of, PromiseSettings, PromiseSource};
use kafka_sim::checkers::{Anomaly, AnomalyKind, Verdict};
use kafka_sim::cli::history_meta;
use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions};
use serde_json::Value;

fn written_history(name: &str, seed: u64) -> (kafka_sim::outcome::Outcome, Vec<u8>) {
    let scenario = registry::find(name).unwrap();
    let outcome = run(&scenario, seed, RunOptions::default());
    let mut bytes = Vec::new();
    outcome
        .history
        .write_jsonl(&history_meta(&scenario, &outcome), &mut bytes)
        .unwrap();
    (outcome, bytes)
}

fn check_bytes(bytes: &[u8], flags: PromiseSettings) -> check::CheckReport {
    let loaded = reader::read(bytes, "h.jsonl").unwrap();
    let settings = loaded
        .scenario
        .as_ref()
        .map(settings_of)
        .unwrap_or_default()
        .overridden_by(flags);
    check_history(
        &loaded.history,
        settings.resolve().unwrap(),
        PromiseSource::Given,
        None,
    )
}

fn key(a: &Anomaly) -> (AnomalyKind, u64, Vec<u64>, String) {
    (a.kind, a.index, a.values.clone(), a.detail.clone())
}

#[test]
fn check_on_a_runs_history_gives_the_runs_history_checker_verdicts() {
    let cases = [
        ("smoke", 0),
        ("acks1-failover", 2),
        ("retries-without-idempotence", 1),
        ("commit-before-process", 1),
        ("group-rebalance", 1),
        ("single-replica-power-loss", 1),
        ("power-loss-async-flush", 3),
    ];
    let (mut compared, mut excusable) = (0, 0);
    for (name, seed) in cases {
        let (outcome, bytes) = written_history(name, seed);
        let report = check_bytes(&bytes, PromiseSettings::default());
        let from_run: Vec<&Anomaly> = outcome
            .anomalies
            .iter()
            .filter(|a| check::JUDGED.contains(&a.kind))
            .collect();
        assert_eq!(
            from_run.iter().map(|a| key(a)).collect::<Vec<_>>(),
            report.anomalies.iter().map(key).collect::<Vec<_>>(),
            "{name} seed {seed}: the same anomalies"
        );
        for (ran, checked) in from_run.iter().zip(&report.anomalies) {
            compared += 1;
            if ran.excusable {
                // The run's events excused it (or not); the history alone cannot.
                excusable += 1;
                assert_eq!(
                    checked.verdict,
                    Verdict::Violation,
                    "{name}: {}",
                    ran.detail
                );
                assert!(checked.excusable);
            } else {
                assert_eq!(
                    (checked.verdict, &checked.why),
                    (ran.verdict, &ran.why),
                    "{name} seed {seed}: {}",
                    ran.detail
                );
            }
        }
    }
    assert!(
        compared > 100 && excusable > 0,
        "{compared} compared, {excusable} excusable"
    );
}

#[test]
fn other_promises_give_other_verdicts() {
    // The same acks=1 history judged as if the producer had asked for acks=all and
    // idempotence: its allowed reorderings and duplicates become violations.
    let (outcome, bytes) = written_history("acks1-failover", 2);
    assert_eq!(outcome.violations().count(), 0);
    let as_written = check_bytes(&bytes, PromiseSettings::default());
    assert_eq!(as_written.exit_code(), 0);
    let strict = check_bytes(
        &bytes,
        PromiseSettings {
            acks: Some("all".into()),
            enable_idempotence: Some(true),
            ..Default::default()
        },
    );
    assert_eq!(
        strict.exit_code(),
        1,
        "{}",
        check::text(&strict, "h", false)
    );
}

/// The history without its meta line, with the record at the middle acknowledged offset
/// of partition 0 taken out of every poll (as if the cluster had lost it).
fn drop_a_record(bytes: &[u8]) -> (Vec<u8>, u64) {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut ops: Vec<Value> = text
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let acked: Vec<u64> = ops
        .iter()
        .filter(|op| op["f"] == "send" && op["type"] == "ok" && op["value"]["partition"] == 0)
        .map(|op| op["value"]["value"].as_u64().unwrap())
        .collect();
    let victim = acked[acked.len() / 2];
    for op in ops.iter_mut().filter(|op| op["f"] == "poll") {
        if let Some(records) = op["value"]["records"].as_array_mut() {
            records.retain(|r| r["value"] != victim);
        }
    }
    let edited: String = ops.iter().map(|op| format!("{op}\n")).collect();
    (edited.into_bytes(), victim)
}

#[test]
fn a_hand_edited_history_with_a_lost_write_is_reported() {
    let (outcome, bytes) = written_history("smoke", 0);
    assert!(outcome.anomalies.is_empty());
    // Without the meta line nothing says it came from a simulation: Kafka's defaults.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let foreign: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let clean = check_bytes(foreign.as_bytes(), PromiseSettings::default());
    assert_eq!((clean.exit_code(), clean.anomalies.len()), (0, 0));

    let (edited, victim) = drop_a_record(&bytes);
    let report = check_bytes(&edited, PromiseSettings::default());
    let lost: Vec<&Anomaly> = report
        .anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::LostWrite)
        .collect();
    assert_eq!(lost.len(), 1, "{}", check::text(&report, "h", true));
    assert_eq!(lost[0].values, vec![victim]);
    assert_eq!(lost[0].verdict, Verdict::Violation);
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.summary.lost_writes_total(), 1);
    let text = check::text(&report, "edited.jsonl", false);
    assert!(text.contains("VIOLATION (excusable) lost-write"), "{text}");
    assert!(text.contains("not judged"), "{text}");
    // No setting excuses it without the event that lost it: unclean election on, the
    // write still fails (marked excusable).
    let unclean = check_bytes(
        &edited,
        PromiseSettings {
            unclean_leader_election_enable: Some(true),
            ..Default::default()
        },
    );
    assert_eq!(unclean.exit_code(), 1);
}

#[test]
fn bad_histories_are_refused_naming_the_line() {
    let op = |index: u64, value: u64| {
        format!(
            r#"{{"index":{index},"time_ms":1,"process":"producer-1","type":"invoke","f":"send","value":{{"topic":"t","key":null,"value":{value},"acks":"all"}}}}"#
        )
    };
    let cases = [
        (
            format!("{}\nnot json\n", op(0, 1)),
            "h.jsonl: line 2: not JSON",
        ),
        (
            format!("{}\n{}\n", op(3, 1), op(2, 2)),
            "h.jsonl: line 2: index 2 after 3",
        ),
        (
            format!("{}\n{}\n", op(0, 1), op(1, 1)),
            "h.jsonl: line 2: value 1 is sent twice",
        ),
        (
            format!("{}\n{{\"type\":\"meta\"}}\n", op(0, 1)),
            "h.jsonl: line 2: a meta line must be the first line",
        ),
        (String::new(), "h.jsonl: no operations"),
        (
            r#"{"index":0,"time_ms":1,"process":"p","type":"ok","f":"fly","value":{}}"#.into(),
            "h.jsonl: line 1: unknown variant `fly`",
        ),
    ];
    for (text, expected) in cases {
        let error = reader::read(text.as_bytes(), "h.jsonl").unwrap_err();
        assert!(error.starts_with(expected), "{error} (wanted {expected})");
        assert!(!error.contains('\n'), "one line: {error}");
    }
    assert!(reader::read(op(0, 1).as_bytes(), "h.jsonl").is_ok());
}

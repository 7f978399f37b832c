//! The CLI contract (DESIGN.md section 8): exit codes, one clear line for bad input, and a
//! replay command for every failure.

use std::path::PathBuf;
use std::process::{Command, Output};

fn kafka_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args(args)
        .output()
        .expect("running kafka-sim")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A file of the repository's examples/ folder, as an absolute path.
fn example(name: &str) -> String {
    format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn scenario_file(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Exit 2 with exactly one line on stderr, which must contain every `needle`.
fn assert_bad_input(output: &Output, needles: &[&str]) {
    assert_eq!(output.status.code(), Some(2), "{}", stderr(output));
    let text = stderr(output);
    assert_eq!(text.trim_end().lines().count(), 1, "one line, got: {text}");
    for needle in needles {
        assert!(text.contains(needle), "`{needle}` missing from: {text}");
    }
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn list_names_every_builtin() {
    let output = kafka_sim(&["list"]);
    assert_eq!(output.status.code(), Some(0));
    for name in [
        "smoke",
        "crash-restart",
        "single-replica-power-loss",
        "standard",
    ] {
        assert!(stdout(&output).contains(name), "{name}");
    }
}

#[test]
fn a_passing_run_exits_0() {
    let output = kafka_sim(&["run", "smoke", "--seed", "7"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("result: pass"));
}

#[test]
fn a_missing_scenario_file_is_bad_input() {
    let output = kafka_sim(&["run", "no/such/scenario.toml", "--seed", "1"]);
    assert_bad_input(&output, &["no/such/scenario.toml", "cannot read"]);
}

#[test]
fn an_unknown_scenario_name_is_bad_input() {
    let output = kafka_sim(&["run", "no-such-scenario", "--seed", "1"]);
    assert_bad_input(&output, &["no-such-scenario", "kafka-sim list"]);
}

#[test]
fn malformed_toml_is_bad_input_naming_file_and_line() {
    let path = scenario_file("malformed.toml", "name = \"x\"\nbrokers = [oops\n");
    let output = kafka_sim(&["run", path.to_str().unwrap()]);
    assert_bad_input(&output, &["malformed.toml", "line 2"]);
}

#[test]
fn an_invalid_field_is_bad_input_naming_the_field() {
    let path = scenario_file(
        "invalid.toml",
        "brokers = 2\n[[topics]]\nname = \"tasks\"\npartitions = 0\n",
    );
    let output = kafka_sim(&["run", path.to_str().unwrap()]);
    assert_bad_input(&output, &["invalid.toml", "topics[0].partitions"]);
}

#[test]
fn garbage_bytes_are_bad_input() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("garbage.toml");
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let output = kafka_sim(&["run", path.to_str().unwrap()]);
    assert_bad_input(&output, &["garbage.toml"]);
}

#[test]
fn bad_seed_ranges_are_bad_input() {
    assert_bad_input(
        &kafka_sim(&["sweep", "smoke", "--seeds", "10..5"]),
        &["empty"],
    );
    assert_bad_input(&kafka_sim(&["sweep", "smoke", "--seeds", "ten"]), &["A..B"]);
    assert_eq!(
        kafka_sim(&["run", "smoke", "--seed", "-3"]).status.code(),
        Some(2)
    );
}

#[test]
fn an_unwritable_history_path_is_bad_input() {
    let output = kafka_sim(&["run", "smoke", "--history", "/no/such/dir/h.jsonl"]);
    assert_bad_input(&output, &["/no/such/dir/h.jsonl"]);
}

#[test]
fn a_violation_exits_1_and_prints_the_replay_command() {
    // An idempotent producer against a broker that does not check sequences, on a lossy
    // network: duplicates are violations.
    let path = example("broker-without-sequence-checks.toml");
    let path = path.as_str();
    let output = kafka_sim(&["run", path, "--seed", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let replay = format!("cargo run --release -- run {path} --seed 1");
    assert!(
        stdout(&output).contains(&format!("REPRODUCE WITH: {replay}")),
        "{}",
        stdout(&output)
    );
    assert!(stderr(&output).contains(&replay));
}

#[test]
fn replay_checks_the_corpus_and_refuses_a_bad_case() {
    let seeds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    let output = kafka_sim(&["replay", seeds.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("0 differ"));
    let bad = scenario_file(
        "bad-case.toml",
        "note = \"x\"\nseed = 1\nscenario = \"smoke\"\n[expect]\noutcome = \"maybe\"\n",
    );
    assert_bad_input(
        &kafka_sim(&["replay", bad.to_str().unwrap()]),
        &["bad-case.toml"],
    );
    let wrong = scenario_file(
        "wrong-case.toml",
        "note = \"x\"\nseed = 1\nscenario = \"smoke\"\n[expect]\noutcome = \"safety-violation\"\n",
    );
    let output = kafka_sim(&["replay", wrong.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("DIFFERS"));
}

#[test]
fn sweep_json_and_shards() {
    let output = kafka_sim(&[
        "sweep", "smoke", "--seeds", "0..9", "--shard", "2/3", "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let seeds: Vec<u64> = report[0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, vec![1, 4, 7]);
    assert_bad_input(
        &kafka_sim(&["sweep", "smoke", "--shard", "4/3"]),
        &["--shard"],
    );
}

#[test]
fn shrink_prints_a_smaller_scenario_that_still_fails() {
    let path = PathBuf::from(example("broker-without-sequence-checks.toml"));
    let minimal = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shrunk.toml");
    let output = kafka_sim(&[
        "shrink",
        path.to_str().unwrap(),
        "--seed",
        "0",
        "--out",
        minimal.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("name = \"broker-without-sequence-checks-shrunk\""),
        "{}",
        stdout(&output)
    );
    let replay = kafka_sim(&["run", minimal.to_str().unwrap(), "--seed", "0"]);
    assert_eq!(replay.status.code(), Some(1), "{}", stdout(&replay));
    assert_bad_input(
        &kafka_sim(&["shrink", "smoke", "--seed", "1"]),
        &["nothing to shrink"],
    );
}

#[test]
fn explain_tells_a_records_life_and_refuses_an_unknown_one() {
    let output = kafka_sim(&[
        "explain",
        "single-replica-power-loss",
        "--seed",
        "1",
        "--record",
        "v3",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let story = stdout(&output);
    for needle in [
        "send v3",
        "append tasks-0@1..1: v3",
        "ok v3",
        "read v3",
        "power-loss b1",
        "lost-write",
    ] {
        assert!(story.contains(needle), "`{needle}` missing from:\n{story}");
    }
    assert_bad_input(
        &kafka_sim(&["explain", "smoke", "--record", "v999999"]),
        &["no record with value 999999"],
    );
    assert_bad_input(
        &kafka_sim(&["explain", "smoke", "--record", "x"]),
        &["--record"],
    );
}

#[test]
fn run_writes_history_trace_html_and_perfetto_files() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let [history, trace, html, perfetto] = [
        "run.history.jsonl",
        "run.trace.txt",
        "run.html",
        "run.perfetto.json",
    ]
    .map(|name| dir.join(name));
    let output = kafka_sim(&[
        "run",
        "single-replica-power-loss",
        "--seed",
        "2",
        "--history",
        history.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--perfetto",
        perfetto.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let history = std::fs::read_to_string(history).unwrap();
    let first: serde_json::Value = serde_json::from_str(history.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "meta");
    assert_eq!(first["seed"], 2);
    let second: serde_json::Value = serde_json::from_str(history.lines().nth(1).unwrap()).unwrap();
    for field in ["index", "time_ms", "process", "type", "f", "value"] {
        assert!(second.get(field).is_some(), "{field} missing in {second}");
    }
    assert!(std::fs::read_to_string(trace).unwrap().lines().count() > 100);
    let page = std::fs::read_to_string(html).unwrap();
    for needle in ["b1", "producer-1", "consumer-1", "lost-write", "<svg"] {
        assert!(page.contains(needle), "{needle}");
    }
    let events: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(perfetto).unwrap()).unwrap();
    assert!(!events["traceEvents"].as_array().unwrap().is_empty());
    assert_bad_input(
        &kafka_sim(&["run", "smoke", "--html", "/no/such/dir/x.html"]),
        &["/no/such/dir/x.html"],
    );
}

#[test]
fn bench_prints_its_definition_and_every_figure() {
    let output = kafka_sim(&["bench", "--seeds", "2"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    for needle in [
        "standard scenario:",
        "seeds/s:",
        "simulated s per wall s:",
        "simulated messages/s:",
        "bare madsim ping-pong:",
        "ratio harness/bare messages:",
        "peak memory:",
        "scaling: 6 brokers, topic tasks x6",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
}

/// The replicated strong setting (RF 3, min.insync.replicas=2, acks=all, idempotence)
/// under crashes, with `expect` as its `[expect]` table.
fn strong_under_crashes(file: &str, expect: &str) -> PathBuf {
    let text = format!(
        "name = \"strong-under-crashes\"\n\
         [[topics]]\nname = \"tasks\"\npartitions = 3\nreplication_factor = 3\n\
         [broker]\nmin_insync_replicas = 2\n\
         [faults.nemesis]\nkinds = [\"crash\"]\nmean_interval_ms = 2000\n\
         [expect]\n{expect}\n"
    );
    scenario_file(file, &text)
}

#[test]
fn a_sweep_exits_1_when_an_expected_allowed_anomaly_does_not_show() {
    // acks=all with two replicas in sync loses nothing to crashes: the expectation is wrong.
    let path = strong_under_crashes("expects-loss.toml", "allowed_within = { lost-write = 5 }");
    let output = kafka_sim(&["sweep", path.to_str().unwrap(), "--seeds", "0..5"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("lost-write allowed within 5 seeds")
            && stdout(&output).contains("UNMET: not in seeds 0..5"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_sweep_too_short_for_an_expectation_says_it_was_not_judged() {
    let path = strong_under_crashes(
        "expects-loss-later.toml",
        "allowed_within = { lost-write = 5 }",
    );
    let output = kafka_sim(&["sweep", path.to_str().unwrap(), "--seeds", "0..2", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let reports: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let judgement = &reports[0]["expectations"][0];
    assert_eq!(judgement["status"], "not-judged", "{judgement}");
    assert_eq!(judgement["needs_seeds"], 5);
    assert_eq!(judgement["ran_seeds"], 2);
}

#[test]
fn a_sweep_exits_1_when_a_kind_expected_never_shows_up() {
    // acks=0 on a lossy network loses writes (allowed), which this file says never happens.
    let path = scenario_file(
        "never-loses.toml",
        "name = \"acks0-never-loses\"\n\
         [producer]\nacks = \"0\"\nidempotence = false\n\
         [faults.nemesis]\nkinds = [\"loss\"]\nmean_interval_ms = 1000\nswarm = false\n\
         [expect]\noutcome = \"pass\"\nnever = [\"lost-write\"]\n",
    );
    let output = kafka_sim(&["sweep", path.to_str().unwrap(), "--seeds", "0..3"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("every seed passes"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("never lost-write") && l.contains("UNMET: in seeds")),
        "{text}"
    );
}

#[test]
fn an_unknown_anomaly_kind_in_expect_is_bad_input_naming_the_field() {
    let path = strong_under_crashes("misspelt-kind.toml", "never = [\"lost-writes\"]");
    let output = kafka_sim(&["sweep", path.to_str().unwrap(), "--seeds", "0..2"]);
    assert_bad_input(
        &output,
        &[
            "misspelt-kind.toml",
            "expect.never",
            "`lost-writes`",
            "lost-write,",
        ],
    );
    let path = strong_under_crashes("misspelt-within.toml", "allowed_within = { lostwrite = 3 }");
    let output = kafka_sim(&["run", path.to_str().unwrap()]);
    assert_bad_input(&output, &["expect.allowed_within.lostwrite"]);
}

#[test]
fn a_historical_bug_found_as_expected_exits_0() {
    let output = kafka_sim(&["sweep", "pre-kip-101-truncate-to-hw", "--seeds", "0..50"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("safety violation"), "the bug shows: {text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("violation within 50 seeds") && l.contains("met (seed"))
            .count(),
        2,
        "{text}"
    );
}

#[test]
fn explicit_idempotence_with_acks_1_is_refused_naming_both_settings() {
    let path = scenario_file(
        "idempotent-acks1.toml",
        "[producer]\nacks = \"1\"\nidempotence = true\n",
    );
    let output = kafka_sim(&["run", path.to_str().unwrap()]);
    assert_bad_input(
        &output,
        &[
            "`producer.idempotence = true` conflicts with `producer.acks = \"1\"`",
            "ConfigException",
            "KIP-679",
        ],
    );
}

#[test]
fn consumer_and_group_settings_kafka_refuses_are_bad_input() {
    let cases = [
        (
            "max-poll-records-0.toml",
            "[consumer]\nmax_poll_records = 0\n",
            "`consumer.max_poll_records = 0`",
        ),
        (
            "heartbeat-at-session.toml",
            "[[groups]]\nsession_timeout_ms = 6000\nheartbeat_interval_ms = 6000\n",
            "`groups[0].heartbeat_interval_ms = 6000` conflicts with `groups[0].session_timeout_ms = 6000`",
        ),
        (
            "delivery-below-request.toml",
            "[producer]\ndelivery_timeout_ms = 2000\nrequest_timeout_ms = 3000\n",
            "`producer.delivery_timeout_ms = 2000` conflicts with `producer.linger_ms = 5` and `producer.request_timeout_ms = 3000`",
        ),
    ];
    for (name, text, needle) in cases {
        let path = scenario_file(name, text);
        let output = kafka_sim(&["run", path.to_str().unwrap()]);
        assert_bad_input(&output, &[name, needle, "refuses"]);
    }
}

/// The notes on stderr that name KIP-679.
fn kip_679_notes(output: &Output) -> Vec<String> {
    stderr(output)
        .lines()
        .filter(|line| line.contains("KIP-679"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_switched_off_default_is_told_once_per_run_and_per_sweep() {
    let path = scenario_file(
        "acks1-default-idempotence.toml",
        "fault_phase_ms = 1000\nliveness_ms = 20000\n[producer]\nacks = \"1\"\n\
         [workload]\nrecords = 20\n",
    );
    let file = path.to_str().unwrap();
    let run = kafka_sim(&["run", file, "--seed", "1"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let sweep = kafka_sim(&["sweep", file, "--seeds", "0..3", "--jobs", "1"]);
    assert_eq!(sweep.status.code(), Some(0), "{}", stderr(&sweep));
    for output in [run, sweep] {
        let notes = kip_679_notes(&output);
        assert_eq!(notes.len(), 1, "one note, got: {}", stderr(&output));
        assert!(
            notes[0].contains("`producer.idempotence = false`")
                && notes[0].contains("`producer.acks = \"1\"`"),
            "{}",
            notes[0]
        );
    }
    let explicit = scenario_file(
        "acks1-explicit-no-idempotence.toml",
        "fault_phase_ms = 1000\nliveness_ms = 20000\n[producer]\nacks = \"1\"\nidempotence = false\n\
         [workload]\nrecords = 20\n",
    );
    let quiet = kafka_sim(&["run", explicit.to_str().unwrap(), "--seed", "1"]);
    assert_eq!(quiet.status.code(), Some(0), "{}", stderr(&quiet));
    assert!(kip_679_notes(&quiet).is_empty(), "{}", stderr(&quiet));
}

#[test]
fn show_prints_a_builtin_as_minimal_toml_that_runs_the_same() {
    let output = kafka_sim(&["show", "acks1-failover"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("name = \"acks1-failover\"\n"), "{text}");
    assert!(text.contains("acks = \"1\""), "{text}");
    // Defaults are left out: the full form names every broker setting.
    assert!(!text.contains("producer_batches_remembered"), "{text}");
    let path = scenario_file("shown-acks1-failover.toml", &text);
    let from_file = kafka_sim(&["run", path.to_str().unwrap(), "--seed", "2"]);
    let builtin = kafka_sim(&["run", "acks1-failover", "--seed", "2"]);
    assert_eq!(from_file.status.code(), builtin.status.code());
    let verdicts = |output: &Output| -> Vec<String> {
        stdout(output)
            .lines()
            .filter(|l| matches!(l.split_whitespace().nth(1), Some("allowed" | "VIOLATION")))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(verdicts(&from_file), verdicts(&builtin));
    assert!(!verdicts(&builtin).is_empty(), "seed 2 loses a write");
    let cell = kafka_sim(&["show", "matrix/strong/crashes"]);
    assert_eq!(cell.status.code(), Some(0), "{}", stderr(&cell));
    assert!(stdout(&cell).contains("voters = 3"), "{}", stdout(&cell));
    assert_bad_input(
        &kafka_sim(&["show", "no-such-scenario"]),
        &["no-such-scenario"],
    );
}

#[test]
fn shrink_writes_only_what_differs_from_the_defaults() {
    let path = example("broker-without-sequence-checks.toml");
    let output = kafka_sim(&["shrink", &path, "--seed", "0"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(
        text.matches("offsets_topic_partitions").count(),
        0,
        "a default: {text}"
    );
    assert!(text.contains("check_producer_sequences = false"), "{text}");
}

#[test]
fn bad_input_from_the_issue_exits_2_in_one_line() {
    let cases = [
        ("records-1e11.toml", "[workload]\nrecords = 100000000000\n", "workload.records"),
        ("records-float.toml", "[workload]\nrecords = 1e11\n", "workload.records"),
        ("two-topics.toml", "[[topics]]\nname = \"t\"\npartitions = 1\n[[topics]]\nname = \"t\"\npartitions = 1\n[workload]\ntopic = \"t\"\n", "topics[1].name"),
        (
            "jump-min.toml",
            "[[faults.events]]\nat_ms = 1\nkind = \"clock-jump\"\nnode = \"b1\"\nby_ms = -9223372036854775808\n",
            "faults.events[0].by_ms",
        ),
        (
            "drift-huge.toml",
            "[[faults.events]]\nat_ms = 1\nkind = \"clock-drift\"\nnode = \"b1\"\nppm = 100000000000\n",
            "faults.events[0].ppm",
        ),
        (
            "one-group.toml",
            "[[faults.events]]\nat_ms = 1\nkind = \"partition\"\ngroups = [[\"b1\"]]\nduration_ms = 5\n",
            "faults.events[0].groups",
        ),
        ("liveness-long.toml", "liveness_ms = 1000000000000\n", "`liveness_ms`"),
    ];
    for (name, text, field) in cases {
        let path = scenario_file(name, text);
        assert_bad_input(&kafka_sim(&["run", path.to_str().unwrap()]), &[name, field]);
    }
}

#[test]
fn bad_sweep_options_exit_2_in_one_line() {
    assert_bad_input(
        &kafka_sim(&["sweep", "smoke", "--shard", "1/0"]),
        &["--shard", "N, the number of shards, must be at least 1"],
    );
    assert_bad_input(
        &kafka_sim(&["sweep", "smoke", "--seeds", "0..2", "--shard", "3/3"]),
        &["--shard 3/3", "no seed of 0..2"],
    );
    assert_bad_input(
        &kafka_sim(&["sweep", "smoke", "--jobs", "0"]),
        &["--jobs", "at least 1"],
    );
    assert_bad_input(&kafka_sim(&["run"]), &["<SCENARIO>", "--help"]);
}

#[test]
fn save_failures_refuses_a_missing_dir_unless_asked_and_names_what_it_wrote() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("saved-cases");
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.to_str().unwrap();
    let example = example("broker-without-sequence-checks.toml");
    let args = [
        "sweep",
        &example,
        "--seeds",
        "0..1",
        "--save-failures",
        dir_arg,
    ];
    assert_bad_input(&kafka_sim(&args), &[dir_arg, "--create-dirs"]);
    assert!(!dir.exists());
    let output = kafka_sim(&[&args[..], &["--create-dirs"]].concat());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let case = dir.join("broker-without-sequence-checks-0.toml");
    let text = stderr(&output);
    assert!(text.contains(&format!("created {dir_arg}")), "{text}");
    assert!(
        text.contains(&format!("wrote {}", case.display())),
        "{text}"
    );
    // The case keeps its placeholder note, which the corpus check refuses.
    assert_bad_input(
        &kafka_sim(&["replay", case.to_str().unwrap()]),
        &["field `note`", "says nothing yet"],
    );
    let edited = std::fs::read_to_string(&case).unwrap().replace(
        kafka_sim::seeds::PLACEHOLDER_NOTE,
        "Duplicates on a lossy network.",
    );
    std::fs::write(&case, edited).unwrap();
    let replay = kafka_sim(&["replay", case.to_str().unwrap()]);
    assert_eq!(replay.status.code(), Some(0), "{}", stdout(&replay));
}

#[test]
fn run_names_every_file_it_wrote_on_stderr() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let [history, trace, html, perfetto] =
        ["n.jsonl", "n.txt", "n.html", "n.json"].map(|n| dir.join(n));
    let output = kafka_sim(&[
        "run",
        "smoke",
        "--history",
        history.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--perfetto",
        perfetto.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stderr(&output);
    for path in [history, trace, html, perfetto] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("wrote {} (", path.display()))),
            "{} not named: {text}",
            path.display()
        );
    }
}

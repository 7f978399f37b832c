//! The results commands as a user calls them: `run` prints its summary (and `--json` the
//! same with every anomaly), `check` reads the history `run --history` wrote, and bad input
//! to either is one line and exit 2.

use std::path::PathBuf;
use std::process::{Command, Output};

fn kafka_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args(args)
        .output()
        .expect("running kafka-sim")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[test]
fn run_prints_a_short_summary_and_json_prints_it_in_full() {
    let text = kafka_sim(&["run", "acks1-failover", "--seed", "2"]);
    assert_eq!(text.status.code(), Some(0));
    let out = stdout(&text);
    let block: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("anomalies:"))
        .take_while(|l| !l.starts_with("result:"))
        .collect();
    assert!(block.len() <= 15 && block.len() > 3, "{out}");
    assert!(out.contains("lost-write") && out.contains("acknowledged writes lost"));

    let json = kafka_sim(&["run", "acks1-failover", "--seed", "2", "--json"]);
    assert_eq!(json.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let anomalies = value["anomalies"].as_array().unwrap();
    assert_eq!(
        value["summary"]["anomalies"].as_u64(),
        Some(anomalies.len() as u64)
    );
    let lost: u64 = value["summary"]["lost_writes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert!(lost > 0, "{value}");
    assert!(value["replay_command"]
        .as_str()
        .unwrap()
        .contains("--seed 2"));
}

#[test]
fn check_reads_the_history_run_wrote_and_refuses_bad_input() {
    let history = tmp("results-cli-history.jsonl");
    let ran = kafka_sim(&[
        "run",
        "acks1-failover",
        "--seed",
        "2",
        "--history",
        history.to_str().unwrap(),
    ]);
    assert_eq!(ran.status.code(), Some(0));
    let checked = kafka_sim(&["check", history.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));
    let out = stdout(&checked);
    assert!(
        out.contains("from the meta line's scenario `acks1-failover`"),
        "{out}"
    );
    assert!(out.contains("not judged"), "{out}");
    assert!(out.contains("result: pass"), "{out}");
    // Stricter promises than the run had: a violation, exit 1.
    let strict = kafka_sim(&[
        "check",
        history.to_str().unwrap(),
        "--acks",
        "all",
        "--idempotence",
        "true",
    ]);
    assert_eq!(strict.status.code(), Some(1), "{}", stdout(&strict));

    let table = tmp("results-cli-promises.toml");
    std::fs::write(&table, "[promises]\nack = \"1\"\n").unwrap();
    let bad_inputs: [Vec<&str>; 4] = [
        vec!["check", "/nonexistent/h.jsonl"],
        vec!["check", history.to_str().unwrap(), "--acks", "2"],
        vec![
            "check",
            history.to_str().unwrap(),
            "--promises",
            table.to_str().unwrap(),
        ],
        vec![
            "check",
            history.to_str().unwrap(),
            "--acks",
            "1",
            "--idempotence",
            "true",
        ],
    ];
    for args in bad_inputs {
        let output = kafka_sim(&args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
    }
}

/// The number after `key:` in a manifest.
fn yaml_number(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{key}` number"))
}

/// The words of the line that runs `kafka-sim sweep` in a doc, from `sweep` on, without
/// quotes and line continuations.
fn sweep_words(text: &str) -> Vec<String> {
    let line = text
        .lines()
        .find(|l| l.contains("kafka-sim sweep") && !l.trim_start().starts_with('#'))
        .expect("a sweep command");
    let from = line.find("sweep").unwrap();
    line[from..]
        .split_whitespace()
        .take_while(|w| *w != "\\" && *w != ">")
        .map(|w| w.replace('"', ""))
        .collect()
}

#[test]
fn the_scaling_out_docs_run_n_shards_that_merge() {
    let docs = format!("{}/../docs/scaling-out", env!("CARGO_MANIFEST_DIR"));
    let job = std::fs::read_to_string(format!("{docs}/sweep-job.yaml")).unwrap();
    let actions = std::fs::read_to_string(format!("{docs}/github-actions-sweep.yml")).unwrap();
    let merge_job = std::fs::read_to_string(format!("{docs}/merge-job.yaml")).unwrap();
    assert!(merge_job.contains("kafka-sim merge /results/shard-*.json"));
    let n = yaml_number(&job, "completions:");
    assert_eq!(yaml_number(&job, "parallelism:"), n);
    let words = sweep_words(&job);
    assert!(words.contains(&format!("$K/{n}")), "{words:?}");
    let matrix = actions
        .lines()
        .find_map(|l| l.trim().strip_prefix("shard: ["))
        .expect("a shard matrix");
    let shards = matrix.trim_end_matches(']').split(',').count();
    assert!(
        actions.contains(&format!("--shard ${{{{ matrix.shard }}}}/{shards}")),
        "the matrix has {shards} shards"
    );
    assert!(actions.contains("kafka-sim merge shard-*.json"));

    // The Job's command itself, on a small range: N shards, then the merge, exit 0.
    let mut files = Vec::new();
    for k in 1..=n {
        let args: Vec<String> = words
            .iter()
            .map(|w| match w.as_str() {
                "0..20000" => "0..16".to_string(),
                "all" => "smoke".to_string(),
                w => w.replace("$K", &k.to_string()),
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = kafka_sim(&args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
        let path = tmp(&format!("results-cli-shard-{k}.json"));
        std::fs::write(&path, &output.stdout).unwrap();
        files.push(path.display().to_string());
    }
    let mut args = vec!["merge"];
    args.extend(files.iter().map(String::as_str));
    let merged = kafka_sim(&args);
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    assert!(stdout(&merged).contains("sweep smoke seeds 0..16: 16 runs"));
    // One shard short: refused.
    let short = kafka_sim(&args[..args.len() - 1]);
    assert_eq!(short.status.code(), Some(2));
}

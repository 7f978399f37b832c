//! `sweep --coverage` as a user calls it: the text lists each rare path reached with its
//! seeds and first replay, then those never reached; `--json` carries the same map.

use std::process::{Command, Output};

fn kafka_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args(args)
        .output()
        .expect("running kafka-sim")
}

#[test]
fn sweep_coverage_prints_the_map_and_json_carries_it() {
    let args = ["sweep", "single-replica-power-loss", "--seeds", "0..4"];
    let text = kafka_sim(&[&args[..], &["--coverage"]].concat());
    assert_eq!(text.status.code(), Some(0));
    let out = String::from_utf8_lossy(&text.stdout);
    let torn = out
        .lines()
        .find(|l| l.trim_start().starts_with("torn-tail-cut"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(torn.contains("seeds") && torn.contains("run single-replica-power-loss --seed"));
    assert!(out.contains("never reached"), "{out}");
    // The map only on request.
    let plain = kafka_sim(&args);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("rare paths"));

    let json = kafka_sim(&[&args[..], &["--json"]].concat());
    let reports: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let coverage = &reports[0]["summary"]["coverage"];
    let reached: Vec<&str> = coverage["reached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert!(reached.contains(&"torn-tail-cut"), "{coverage}");
    let never = coverage["never_reached"].as_array().unwrap();
    assert!(never.iter().any(|p| p == "unclean-election"), "{coverage}");
    let torn_seeds = coverage["reached"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "torn-tail-cut")
        .unwrap()["seeds"]
        .as_u64()
        .unwrap();
    let per_seed = reports[0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["reached"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "torn-tail-cut")
        })
        .count() as u64;
    assert_eq!(
        torn_seeds, per_seed,
        "the map counts the seeds' own results"
    );
}

#[test]
fn merge_coverage_prints_the_map_of_the_shards_together() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let mut files = Vec::new();
    for shard in ["1/2", "2/2"] {
        let args = [
            "sweep",
            "single-replica-power-loss",
            "--seeds",
            "0..4",
            "--shard",
            shard,
            "--json",
        ];
        let out = kafka_sim(&args);
        let path = dir.join(format!("coverage-shard-{}.json", &shard[..1]));
        std::fs::write(&path, &out.stdout).unwrap();
        files.push(path.display().to_string());
    }
    let merged = kafka_sim(&["merge", &files[0], &files[1], "--coverage"]);
    assert_eq!(merged.status.code(), Some(0));
    let merged = String::from_utf8_lossy(&merged.stdout);
    let whole = kafka_sim(&[
        "sweep",
        "single-replica-power-loss",
        "--seeds",
        "0..4",
        "--coverage",
    ]);
    let whole = String::from_utf8_lossy(&whole.stdout);
    let map = |text: &str| -> Vec<String> {
        text.lines()
            .skip_while(|l| !l.contains("rare paths:"))
            .map(str::to_string)
            .collect()
    };
    assert!(!map(&merged).is_empty(), "{merged}");
    assert_eq!(map(&merged), map(&whole));
}

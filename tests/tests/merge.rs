//! `kafka-sim merge`: the `sweep --json` reports of 3 shards merge into exactly the report
//! of the unsharded sweep (summary, distributions, expectations, class and every seed's
//! result); a missing, doubled or tampered shard is refused, and a changed result changes
//! the merged summary.

use kafka_sim::merge::merge;
use kafka_sim::registry;
use kafka_sim::sweep::{sweep, ScenarioSweep, Shard};
use serde_json::Value;

const RANGE: std::ops::Range<u64> = 0..24;

fn report(name: &str, shard: Shard) -> Value {
    let scenario = registry::find(name).unwrap();
    let results = sweep(&scenario, &shard.seeds(RANGE), |_| {});
    let finished = ScenarioSweep {
        arg: name.to_string(),
        range: RANGE,
        shard,
        wall_s: 1.0,
        expect: scenario.expect.clone(),
        results,
        coverage: false,
    };
    let mut json = finished.report(true).1.unwrap();
    json.as_object_mut().unwrap().remove("wall_s");
    json
}

fn merged(files: &[(String, String)]) -> Result<Vec<Value>, String> {
    Ok(merge(files)?
        .iter()
        .map(|s| {
            let mut json = s.report(true).1.unwrap();
            json.as_object_mut().unwrap().remove("wall_s");
            json
        })
        .collect())
}

fn file(name: &str, reports: &[Value]) -> (String, String) {
    (name.to_string(), serde_json::to_string(reports).unwrap())
}

#[test]
fn three_shards_merge_into_the_unsharded_summary() {
    let names = ["acks1-failover", "group-rebalance"];
    let whole: Vec<Value> = names.iter().map(|n| report(n, Shard::WHOLE)).collect();
    let shard = |k| Shard { index: k, count: 3 };
    // Each file holds one shard of both scenarios, as `sweep all --shard K/3 --json` does.
    let files: Vec<(String, String)> = (1..=3)
        .map(|k| {
            let reports: Vec<Value> = names.iter().map(|n| report(n, shard(k))).collect();
            file(&format!("shard-{k}.json"), &reports)
        })
        .collect();
    let merged_reports = merged(&files).unwrap();
    assert_eq!(merged_reports, whole);
    let lost = &whole[0]["summary"]["lost_writes"];
    assert!(lost["seeds"].as_u64().unwrap() > 0, "{lost}");
    assert!(lost["per_seed"]["max"].as_u64().unwrap() > 0, "{lost}");

    // Shards in another order, one file each: the same.
    let reversed: Vec<_> = files.iter().rev().cloned().collect();
    assert_eq!(merged(&reversed).unwrap(), whole);

    // A changed result changes the merged summary: the comparison can fail.
    let mut tampered: Vec<Value> = serde_json::from_str(&files[1].1).unwrap();
    tampered[0]["results"][0]["lost_writes"] = Value::from(9_999);
    let mut changed = files.clone();
    changed[1] = file("shard-2.json", &tampered);
    assert_ne!(merged(&changed).unwrap(), whole);
}

#[test]
fn a_missing_doubled_or_short_shard_is_refused() {
    let shard = |k| Shard { index: k, count: 3 };
    let files: Vec<(String, String)> = (1..=3)
        .map(|k| file(&format!("s{k}.json"), &[report("smoke", shard(k))]))
        .collect();
    let error = merged(&files[..2]).unwrap_err();
    assert!(error.contains("shards 3/3 missing"), "{error}");
    let doubled = [files[0].clone(), files[0].clone(), files[2].clone()];
    let error = merged(&doubled).unwrap_err();
    assert!(error.contains("shard given twice"), "{error}");
    let mut short: Vec<Value> = serde_json::from_str(&files[2].1).unwrap();
    short[0]["results"].as_array_mut().unwrap().pop();
    let error = merged(&[files[0].clone(), files[1].clone(), file("s3.json", &short)]).unwrap_err();
    assert!(
        error.starts_with("s3.json: scenario `smoke` shard 3/3: its results"),
        "{error}"
    );
    let error = merged(&[("x.json".into(), "{}".into())]).unwrap_err();
    assert!(
        error.starts_with("x.json: not the output of `sweep --json`"),
        "{error}"
    );
    let other_range = report("smoke", Shard::WHOLE);
    let mut other_range = other_range;
    other_range["seeds"] = Value::from("0..10");
    let error = merged(&[files[0].clone(), file("w.json", &[other_range])]).unwrap_err();
    assert!(
        error.contains("another file has seeds 0..24 in 3 shards"),
        "{error}"
    );
}

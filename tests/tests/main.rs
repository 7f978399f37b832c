//! The integration suites, one module per file of this folder, linked into one test binary
//! (`all`): each file as a binary of its own cost a link of the whole simulator, about a
//! minute of CI over 30 files, and ran its tests apart from the others, so a file with one
//! long test left the second core idle. `tests/Cargo.toml` turns off Cargo's discovery of
//! `tests/*.rs` (`autotests = false`) and names the binaries: this one and `memory`, which
//! measures its own process's resident memory and so keeps a process of its own.
//!
//! A new suite: write `tests/tests/NAME.rs` and add `mod NAME;` below (the last test here
//! fails until it is added). Run one suite with
//! `cargo test --release -p kafka-sim-tests --test all NAME::`.

mod aliases;
mod bad_input;
mod catalog;
mod check;
mod client_settings;
mod clocks;
mod connections;
mod coverage;
mod determinism;
mod durability;
mod eligible_leader_replicas;
mod eos_pipeline;
mod groups;
mod kraft;
mod matrix;
mod merge;
mod ordering;
mod replicated;
mod replication;
mod retention;
mod runner;
mod scenario_api;
mod seeds;
mod services;
mod show;
mod shrink;
mod spurious_errors;
mod storage;
mod summary;
mod sweep;
mod timeline;
mod transactions;
mod trigger_windows;
mod triggers;
mod txn_support;
mod txn_variants;
mod zombie;

/// Every `.rs` file of this folder runs: it is a module above, or a test binary of its own
/// in `tests/Cargo.toml`. With Cargo's discovery off, a file in neither would never be
/// compiled, its tests silently gone.
#[test]
fn every_suite_file_is_in_a_test_binary() {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let main = std::fs::read_to_string(manifest_dir.join("tests/main.rs")).unwrap();
    let modules: Vec<&str> = main
        .lines()
        .filter_map(|line| line.strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    let manifest: toml::Table = std::fs::read_to_string(manifest_dir.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let binaries: Vec<&str> = manifest["test"]
        .as_array()
        .expect("[[test]] tables in tests/Cargo.toml")
        .iter()
        .map(|test| test["path"].as_str().unwrap())
        .collect();
    assert!(binaries.contains(&"tests/main.rs"), "{binaries:?}");
    let mut files: Vec<String> = std::fs::read_dir(manifest_dir.join("tests"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".rs") && name != "main.rs")
        .collect();
    files.sort();
    assert!(files.len() > 25, "the suites were not found: {files:?}");
    for file in &files {
        let module = file.strip_suffix(".rs").unwrap();
        assert!(
            modules.contains(&module) || binaries.contains(&format!("tests/{file}").as_str()),
            "tests/tests/{file} is in no test binary: add `mod {module};` to tests/tests/main.rs"
        );
    }
}

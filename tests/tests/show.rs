//! `kafka-sim show`: every built-in scenario and matrix cell, written as minimal TOML, reads
//! back as the same scenario and runs the same run; and the comparison notices a file that
//! lost one of its lines.

use kafka_sim::registry::{self, matrix_cells};
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::{to_minimal_toml, Scenario};

fn every_matrix_cell() -> Vec<Scenario> {
    matrix_cells::configurations()
        .iter()
        .flat_map(|configuration| {
            matrix_cells::FaultClass::ALL
                .into_iter()
                .map(move |faults| matrix_cells::scenario(configuration, faults))
        })
        .collect()
}

/// The scenario `text` reads as, or the reason it does not.
fn read_back(scenario: &Scenario, text: &str) -> Scenario {
    Scenario::from_toml(text, &format!("show {}", scenario.name))
        .unwrap_or_else(|error| panic!("{error}\n{text}"))
}

#[test]
fn every_builtin_and_matrix_cell_reads_back_as_itself() {
    let scenarios: Vec<Scenario> = registry::all()
        .into_iter()
        .chain(every_matrix_cell())
        .collect();
    assert!(scenarios.len() > 60, "{}", scenarios.len());
    for scenario in &scenarios {
        let text = to_minimal_toml(scenario);
        assert_eq!(&read_back(scenario, &text), scenario, "{text}");
        // Minimal: no line may go without changing the scenario it reads as.
        for (i, line) in text.lines().enumerate() {
            let is_value = line.contains(" = ") && !line.starts_with('[');
            if !is_value || line.starts_with("name = ") {
                continue;
            }
            let without: String = text
                .lines()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, l)| format!("{l}\n"))
                .collect();
            if let Ok(other) = Scenario::from_toml(&without, "without a line") {
                assert_ne!(
                    &other, scenario,
                    "{}: line `{line}` says nothing:\n{text}",
                    scenario.name
                );
            }
        }
    }
}

#[test]
fn every_builtin_runs_the_same_run_from_its_minimal_toml() {
    for scenario in registry::all() {
        let back = read_back(&scenario, &to_minimal_toml(&scenario));
        let seed = 1;
        let original = run(&scenario, seed, RunOptions::default());
        let again = run(&back, seed, RunOptions::default());
        assert_eq!(
            (
                original.trace_hash,
                original.class,
                original.anomalies.len()
            ),
            (again.trace_hash, again.class, again.anomalies.len()),
            "{}: the run from its minimal TOML differs",
            scenario.name
        );
    }
}

#[test]
fn a_file_that_lost_a_line_is_a_different_run() {
    // The oracle of the tests above, shown failing: dropping the replication factor from
    // acks1-failover's file gives another scenario and another run.
    let scenario = registry::find("acks1-failover").unwrap();
    let text = to_minimal_toml(&scenario);
    assert!(text.contains("replication_factor = 3\n"), "{text}");
    let broken = text.replace("replication_factor = 3\n", "");
    let broken = broken.replace("min_insync_replicas = 2\n", "");
    let back = read_back(&scenario, &broken);
    assert_ne!(back, scenario);
    let original = run(&scenario, 1, RunOptions::default());
    let again = run(&back, 1, RunOptions::default());
    assert_ne!(original.trace_hash, again.trace_hash);
}

#[test]
fn the_full_form_is_longer_and_reads_back_the_same() {
    // `to_toml` writes every field, defaults included (what shrink wrote before); both
    // forms are the same scenario.
    for scenario in registry::all() {
        let full = scenario.to_toml();
        let minimal = to_minimal_toml(&scenario);
        assert!(minimal.lines().count() < full.lines().count(), "{minimal}");
        assert_eq!(read_back(&scenario, &full), read_back(&scenario, &minimal));
    }
}

//! The guarantee matrix (DESIGN.md section 6): a reduced matrix pinned as a snapshot (which
//! anomalies appear in which cell, with which verdict), and the promise of the strongest
//! configuration checked over more seeds.

use kafka_sim::checkers::Verdict;
use kafka_sim::matrix::{self, FaultClass};
use kafka_sim::matrix_report;
use kafka_sim::sweep::sweep;

#[test]
fn reduced_matrix_snapshot() {
    let matrix = matrix::run(3, || {});
    assert_eq!(matrix.cells.len(), 50);
    insta::assert_snapshot!("reduced_matrix", matrix_report::text(&matrix, None));
}

#[test]
fn the_strong_configuration_violates_nothing_and_loses_only_to_correlated_power_loss() {
    let strong = matrix::configurations()
        .into_iter()
        .find(|c| c.name == "strong")
        .unwrap();
    let seeds: Vec<u64> = (0..40).collect();
    for faults in FaultClass::ALL {
        let scenario = matrix::scenario(&strong, faults);
        let results = sweep(&scenario, &seeds, |_| {});
        for result in &results {
            assert!(
                result.anomalies.iter().all(|(_, v)| *v == Verdict::Allowed),
                "{} seed {}: {:?}",
                scenario.name,
                result.seed,
                result.anomalies
            );
            if faults != FaultClass::PowerLoss {
                assert!(
                    result.anomalies.is_empty(),
                    "{} seed {}: {:?}",
                    scenario.name,
                    result.seed,
                    result.anomalies
                );
            }
        }
        if faults == FaultClass::PowerLoss {
            assert!(
                results.iter().any(|r| !r.anomalies.is_empty()),
                "a correlated power loss with async flush loses writes (allowed)"
            );
        }
    }
}

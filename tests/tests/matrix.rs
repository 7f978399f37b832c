//! The guarantee matrix (DESIGN.md section 6): a reduced matrix pinned as a snapshot (which
//! anomalies appear in which cell, with which verdict), and the promise of the strongest
//! configuration checked over more seeds.

use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::matrix::{self, FaultClass};
use kafka_sim::matrix_report;
use kafka_sim::sweep::sweep;
use std::sync::Mutex;

#[test]
fn reduced_matrix_snapshot() {
    let matrix = matrix::run(3, || {});
    assert_eq!(matrix.cells.len(), 60);
    insta::assert_snapshot!("reduced_matrix", matrix_report::text(&matrix, None));
}

/// The strong row over 200 seeds a class: no violation anywhere; nothing at all under
/// network faults, crashes, pauses and clocks; and every allowed anomaly (in the
/// power-loss and all columns) names a power loss that cut its records from a replica:
/// its chain starts with that power loss.
#[test]
fn the_strong_configuration_violates_nothing_and_each_allowed_loss_names_its_power_loss() {
    let strong = matrix::configurations()
        .into_iter()
        .find(|c| c.name == "strong")
        .unwrap();
    let seeds: Vec<u64> = (0..200).collect();
    for faults in FaultClass::ALL {
        let scenario = matrix::scenario(&strong, faults);
        let unexplained = Mutex::new(Vec::new());
        let results = sweep(&scenario, &seeds, |outcome| {
            for anomaly in outcome.anomalies.iter() {
                let named = anomaly.verdict == Verdict::Allowed
                    && anomaly.why.contains("power loss")
                    && anomaly
                        .chain
                        .first()
                        .is_some_and(|link| link.what.starts_with("lost power"));
                if !named {
                    let mut list = unexplained.lock().unwrap();
                    list.push(format!("seed {}: {anomaly:?}", outcome.seed));
                }
            }
        });
        let unexplained = unexplained.into_inner().unwrap();
        assert!(
            unexplained.is_empty(),
            "{}: {} anomalies without a power-loss chain, first {}",
            scenario.name,
            unexplained.len(),
            unexplained[0]
        );
        let anomalous = results.iter().filter(|r| !r.anomalies.is_empty()).count();
        match faults {
            FaultClass::PowerLoss => assert!(
                anomalous > 0,
                "a correlated power loss with async flush loses writes (allowed)"
            ),
            FaultClass::All => {}
            _ => assert_eq!(anomalous, 0, "{}: {results:?}", scenario.name),
        }
    }
}

/// The transactional rows over 10 seeds a class: read_committed violates nothing and never
/// returns an aborted record, and a hanging transaction (power losses only) names the power
/// loss that cut its marker or its coordinator's state; read_uncommitted violates nothing
/// either, and shows aborted reads, allowed, under every class of faults.
#[test]
fn the_transactional_rows_keep_read_committed_from_aborted_reads_and_allow_them_uncommitted() {
    let seeds: Vec<u64> = (0..10).collect();
    for row in ["txn-read-committed", "txn-read-uncommitted"] {
        let configuration = matrix::configurations()
            .into_iter()
            .find(|c| c.name == row)
            .unwrap();
        for faults in FaultClass::ALL {
            let scenario = matrix::scenario(&configuration, faults);
            let wrong = Mutex::new(Vec::new());
            let aborted_reads = Mutex::new(0);
            sweep(&scenario, &seeds, |outcome| {
                for anomaly in outcome.anomalies.iter() {
                    let aborted_read = anomaly.kind == AnomalyKind::G1a;
                    if aborted_read {
                        *aborted_reads.lock().unwrap() += 1;
                    }
                    let unnamed_hang = anomaly.kind == AnomalyKind::HangingTransaction
                        && !anomaly
                            .chain
                            .first()
                            .is_some_and(|link| link.what.starts_with("lost power"));
                    let committed_read_aborted = row == "txn-read-committed" && aborted_read;
                    if anomaly.verdict == Verdict::Violation
                        || unnamed_hang
                        || committed_read_aborted
                    {
                        let mut list = wrong.lock().unwrap();
                        list.push(format!("seed {}: {anomaly:?}", outcome.seed));
                    }
                }
            });
            let wrong = wrong.into_inner().unwrap();
            assert!(wrong.is_empty(), "{}: {wrong:?}", scenario.name);
            let aborted_reads = aborted_reads.into_inner().unwrap();
            if row == "txn-read-uncommitted" {
                assert!(aborted_reads > 0, "{}: no aborted read", scenario.name);
            }
        }
    }
}

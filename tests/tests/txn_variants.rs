//! The transactional checkers fail on purpose: examples/txn-failover.toml on a broker whose
//! last stable offset ignores open transactions, and on a coordinator that writes no abort
//! markers, is caught on every seed of a small range that passes with Kafka's defaults; the
//! catalog's pre-KIP-890 hanging transaction is found within its bounded sweep, and the
//! same scenario and seeds with KIP-890's verification show nothing.

use crate::txn_support::{example, passing_run};
use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::Scenario;
use kafka_sim::sweep::{sweep, SeedResult};

const SEEDS: std::ops::Range<u64> = 0..4;

fn txn_failover() -> Scenario {
    example("txn-failover.toml")
}

/// Every seed of [`SEEDS`] shows each of `kinds` as a violation on `broken`.
fn caught_on_every_seed(broken: &Scenario, kinds: &[AnomalyKind]) {
    for seed in SEEDS {
        let outcome = run(broken, seed, RunOptions::default());
        for kind in kinds {
            assert!(
                outcome
                    .anomalies
                    .iter()
                    .any(|a| a.kind == *kind && a.verdict == Verdict::Violation),
                "seed {seed}: no {kind} violation: {:?}",
                outcome.anomalies
            );
        }
    }
}

fn passes_on_every_seed(scenario: &Scenario) {
    for seed in SEEDS {
        passing_run(scenario, seed);
    }
}

#[test]
fn an_lso_that_ignores_open_transactions_is_an_aborted_read() {
    let kafka = txn_failover();
    passes_on_every_seed(&kafka);
    let mut broken = kafka;
    broken.broker.last_stable_offset_waits_for_open_transactions = false;
    // read_committed reads an open transaction below the high watermark, and every 4th
    // transaction then aborts.
    caught_on_every_seed(&broken, &[AnomalyKind::G1a]);
}

#[test]
fn a_coordinator_without_abort_markers_commits_the_aborted_records() {
    let mut broken = txn_failover();
    broken.broker.txn.write_abort_markers = false;
    // The aborted records stay an open transaction that the producer's next one on the
    // partition continues: its commit marker commits them, and read_committed reads them.
    // The producer's last aborted transaction on a partition is never ended: its last
    // stable offset hangs, and the read_committed consumer waits there past the bound.
    caught_on_every_seed(
        &broken,
        &[AnomalyKind::G1a, AnomalyKind::HangingTransaction],
    );
}

fn kinds_by_seed(results: &[SeedResult]) -> Vec<(u64, Vec<(AnomalyKind, Verdict)>)> {
    results
        .iter()
        .filter(|r| !r.anomalies.is_empty())
        .map(|r| (r.seed, r.anomalies.clone()))
        .collect()
}

#[test]
fn before_kip_890_a_late_produce_hangs_into_the_next_transaction_and_verification_stops_it() {
    let historical = registry::find("pre-kip-890-hanging-txn").expect("a catalog scenario");
    assert!(!historical.broker.verify_transactional_produce);
    let seeds: Vec<u64> = (0..20).collect();
    let found = sweep(&historical, &seeds, |_| {});
    assert!(
        found.iter().any(|r| r
            .anomalies
            .contains(&(AnomalyKind::G1a, Verdict::Violation))),
        "no seed of 0..20 shows the aborted records committed: {:?}",
        kinds_by_seed(&found)
    );
    let mut today = historical;
    today.broker.verify_transactional_produce = true;
    let anomalous = kinds_by_seed(&sweep(&today, &seeds, |_| {}));
    assert!(anomalous.is_empty(), "with KIP-890: {anomalous:?}");
}

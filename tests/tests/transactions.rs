//! Transactions end to end: a transactional producer under broker and coordinator faults
//! (`examples/txn-failover.toml`), read by a read_committed consumer that sees only whole
//! committed transactions, and by a read_uncommitted one whose aborted reads are reported
//! as allowed; a consumer reading records of aborted transactions as committed is caught.

use crate::txn_support::{example, passing_run};
use kafka_model::txn::IsolationLevel;
use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::history::{History, Mop, OpType, Operation};
use kafka_sim::outcome::OutcomeClass;
use kafka_sim::runner::{promises, run, RunOptions};
use kafka_sim::scenario::Scenario;

fn txn_failover() -> Scenario {
    example("txn-failover.toml")
}

/// Committed and aborted transactions, and the values of the aborted ones.
fn outcomes(history: &History) -> (usize, usize, Vec<u64>) {
    let (mut committed, mut aborted, mut aborted_values) = (0, 0, Vec::new());
    for entry in &history.entries {
        let Operation::Txn(txn) = &entry.op else {
            continue;
        };
        match entry.op_type {
            OpType::Ok => committed += 1,
            OpType::Fail => {
                aborted += 1;
                aborted_values.extend(txn.mops.iter().filter_map(|m| match m {
                    Mop::Send(send) => Some(send.value),
                    Mop::Poll { .. } => None,
                }));
            }
            _ => {}
        }
    }
    (committed, aborted, aborted_values)
}

fn read_values(history: &History) -> Vec<u64> {
    history
        .entries
        .iter()
        .filter_map(|e| match (&e.op, e.op_type) {
            (Operation::Poll(poll), OpType::Ok) => Some(poll.records.iter().map(|r| r.value)),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn read_committed_sees_every_committed_transaction_and_nothing_aborted_under_failover() {
    let scenario = txn_failover();
    let (mut committed, mut aborted) = (0, 0);
    for seed in 0..24 {
        let outcome = passing_run(&scenario, seed);
        let (c, a, aborted_values) = outcomes(&outcome.history);
        committed += c;
        aborted += a;
        let read = read_values(&outcome.history);
        assert!(
            aborted_values.iter().all(|v| !read.contains(v)),
            "seed {seed}: a read_committed consumer read an aborted record"
        );
    }
    // Every 4th transaction aborts on purpose: both kinds of end are exercised.
    assert!(
        committed > 24 * 60 && aborted > 24 * 20,
        "{committed} committed, {aborted} aborted"
    );
}

#[test]
fn read_uncommitted_reads_aborted_transactions_and_that_is_allowed() {
    let mut scenario = txn_failover();
    scenario.consumer.isolation_level = IsolationLevel::ReadUncommitted;
    let outcome = run(&scenario, 3, RunOptions::default());
    assert_eq!(outcome.class, OutcomeClass::Pass, "{:?}", outcome.anomalies);
    let aborted_reads: Vec<_> = outcome
        .anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::G1a)
        .collect();
    assert!(
        !aborted_reads.is_empty(),
        "the aborted records are in the log and read"
    );
    assert!(aborted_reads.iter().all(|a| a.verdict == Verdict::Allowed));
}

#[test]
fn an_aborted_read_by_a_read_committed_poll_is_a_violation() {
    // The same run's history, with its polls relabelled read_committed: what a broker
    // whose last stable offset ignored aborted transactions would hand such a consumer.
    let mut scenario = txn_failover();
    scenario.consumer.isolation_level = IsolationLevel::ReadUncommitted;
    let mut outcome = run(&scenario, 3, RunOptions::default());
    for entry in &mut outcome.history.entries {
        if let Operation::Poll(poll) = &mut entry.op {
            poll.isolation = IsolationLevel::ReadCommitted;
        }
    }
    let found = kafka_sim::checkers::check_all(&outcome.history, &promises(&scenario));
    assert!(found
        .iter()
        .any(|a| a.kind == AnomalyKind::G1a && a.verdict == Verdict::Violation));
}

/// What `text` is refused with, as one line naming the file and `field`.
fn refused(text: &str, field: &str, reason: &str) {
    let error = match Scenario::from_toml(text, "bad.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(error) => error.to_string(),
    };
    assert!(!error.contains('\n'), "one line: {error}");
    assert!(error.starts_with("bad.toml: "), "names the file: {error}");
    assert!(
        error.contains(&format!("`{field}`")),
        "names `{field}`: {error}"
    );
    assert!(error.contains(reason), "says `{reason}`: {error}");
}

#[test]
fn transaction_settings_are_checked() {
    let txn = "[producer]\ntransactional_id = \"tx\"\n";
    refused(
        &format!("{txn}[transactions]\nrecords_per_transaction = 0\n"),
        "transactions.records_per_transaction",
        "at least 1",
    );
    refused(
        &format!("{txn}[transactions]\nstate_partitions = 51\n"),
        "transactions.state_partitions",
        "1..=50",
    );
    refused(
        "[transactions]\nabort_every = 2\n",
        "transactions",
        "only transactional producers",
    );
    refused(
        "[producer]\ntransactional_id = \"t x\"\n",
        "producer.transactional_id",
        "not a usable transactional id",
    );
    refused(
        &format!("{txn}transaction_timeout_ms = 900001\n"),
        "producer.transaction_timeout_ms",
        "transaction_max_timeout_ms",
    );
    refused(
        &format!("{txn}acks = \"1\"\n"),
        "producer.transactional_id = \"tx\"",
        "without also enabling idempotence",
    );
    refused(
        "[consumer]\nisolation_level = \"serializable\"\n",
        "consumer.isolation_level",
        "unknown variant",
    );
    let scenario = Scenario::from_toml(
        &format!("{txn}[transactions]\nabort_every = 3\n"),
        "ok.toml",
    )
    .expect("a transactional scenario loads");
    assert_eq!(
        scenario.producer_config(2).transactional_id.as_deref(),
        Some("tx-2")
    );
    let back = Scenario::from_toml(&scenario.to_minimal_toml(), "ok.toml").unwrap();
    assert_eq!(back, scenario, "the minimal TOML keeps the transactions");
}

/// The built-in `txn-failover` (which `sweep all` runs) is the scenario its example file
/// describes, so that what the README shows from the file is what the sweep runs.
#[test]
fn the_built_in_txn_failover_is_its_example_file() {
    let built_in = kafka_sim::registry::find("txn-failover").expect("a built-in");
    assert_eq!(built_in, txn_failover());
    assert!(kafka_sim::registry::names().contains(&"txn-failover".to_string()));
}

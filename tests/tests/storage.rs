//! Storage faults and what Kafka promises under them. One corrupted or misdirected write on
//! one replica of three loses nothing acknowledged with acks=all: the broker that finds the
//! bad batch by its CRC halts rather than serve it, and its recovery cuts the log there; a
//! failed fsync never loses an acknowledged write with flush.messages=1, since the broker
//! halts before answering. A broker that skips the check it needs is caught.

use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::faults::{Fault, TimedFault};
use kafka_sim::outcome::Outcome;
use kafka_sim::registry;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::scenario::Scenario;
use kafka_sim_tests::{acknowledged_values, explain, read_values};

const SEEDS: u64 = 30;

fn strike(scenario: &mut Scenario, at_ms: u64, fault: Fault) {
    scenario.faults.events.push(TimedFault {
        at_ms,
        on: None,
        fault,
    });
}

/// acks-all-failover (RF 3, min.insync.replicas=2, crashes, pauses, partitions) with one
/// storage fault on the leader of tasks-0 at 3 s.
fn one_damaged_replica(fault: impl Fn(String) -> Fault) -> Scenario {
    let mut scenario = registry::find("acks-all-failover").unwrap();
    strike(&mut scenario, 3_000, fault("leader of tasks-0".into()));
    scenario
}

fn corrupt(node: String) -> Fault {
    Fault::DiskCorrupt {
        node,
        restart_after_ms: 1_000,
    }
}

fn misdirect(node: String) -> Fault {
    Fault::MisdirectedWrite {
        node,
        restart_after_ms: 1_000,
    }
}

fn run_traced(scenario: &Scenario, seed: u64) -> Outcome {
    let options = RunOptions {
        keep_trace: true,
        ..RunOptions::default()
    };
    run(scenario, seed, options)
}

fn lines_with(outcome: &Outcome, what: &str) -> usize {
    outcome.trace.iter().filter(|l| l.contains(what)).count()
}

/// Acknowledged values no consumer read.
fn missing(outcome: &Outcome) -> Vec<u64> {
    let read = read_values(outcome);
    acknowledged_values(outcome)
        .into_iter()
        .filter(|v| !read.contains(v))
        .collect()
}

/// Runs `scenario` over `0..seeds` and checks Kafka's promise: every seed passes, and an
/// acknowledged value no consumer read is only ever one the damaged replica's recovery cut
/// before it led as the last replica of its ISR (Kafka loses those too, the case KIP-966's
/// eligible leader replicas address): an allowed lost-write whose why says so. Returns
/// (seeds the fault struck in, seeds a broker halted, seeds that lost acknowledged values).
fn assert_nothing_acknowledged_lost(scenario: &Scenario, seeds: u64) -> (u64, u64, u64) {
    let (mut struck, mut halted, mut lossy) = (0, 0, 0);
    for seed in 0..seeds {
        let outcome = run_traced(scenario, seed);
        assert_eq!(outcome.class.exit_code(), 0, "{}", explain(&outcome));
        let missing = missing(&outcome);
        let led_without = |v: &u64| {
            outcome.anomalies.iter().any(|a| {
                a.kind == AnomalyKind::LostWrite
                    && a.verdict == Verdict::Allowed
                    && a.values.contains(v)
                    && a.why.contains("a damaged write on")
                    && a.why.contains("then led")
            })
        };
        assert!(
            missing.iter().all(led_without),
            "acknowledged, never read, unexplained: {missing:?}\n{}",
            explain(&outcome)
        );
        struck += u64::from(lines_with(&outcome, " disk: ") > 0);
        halted += u64::from(lines_with(&outcome, "halted: ") > 0);
        lossy += u64::from(!missing.is_empty());
    }
    (struck, halted, lossy)
}

#[test]
fn one_corrupt_replica_of_three_loses_nothing_acknowledged() {
    let (struck, halted, lossy) =
        assert_nothing_acknowledged_lost(&one_damaged_replica(corrupt), 100);
    assert!(
        struck >= 70,
        "the corruption struck in {struck} of 100 seeds"
    );
    assert!(
        halted > 0,
        "a broker found a corrupt batch and halted in {halted} seeds"
    );
    assert!(
        lossy <= 5,
        "the damaged replica led as the last of its ISR in {lossy} seeds"
    );
}

#[test]
fn one_misdirected_write_of_three_replicas_loses_nothing_acknowledged() {
    let (struck, _, _) = assert_nothing_acknowledged_lost(&one_damaged_replica(misdirect), SEEDS);
    assert!(
        struck >= SEEDS * 2 / 3,
        "the misdirection struck in {struck} seeds"
    );
}

/// Seeds of `0..seeds` in which the harness fails the run (a safety or liveness violation).
fn caught(scenario: &Scenario, seeds: u64) -> u64 {
    (0..seeds)
        .filter(|&seed| run(scenario, seed, RunOptions::default()).class.exit_code() != 0)
        .count() as u64
}

#[test]
fn a_broker_that_serves_a_batch_failing_its_crc_is_caught() {
    let mut scenario = one_damaged_replica(corrupt);
    scenario.broker.check_crc_on_read = false;
    // Only a flipped byte of a record's value changes what a reader sees (a flipped key,
    // timestamp or offsets-topic byte goes unnoticed by the checkers): a few seeds in 100.
    let caught = caught(&scenario, 100);
    assert!(
        caught >= 2,
        "corrupt records served to followers and consumers: caught in {caught} of 100 seeds"
    );
    // With the check the same fault passes every seed (above): the check is what matters.
}

/// single-replica-power-loss-fsync (flush.messages=1, power losses) with a failed fsync on
/// the leader of tasks-0 at 3 s and a crash of it at 8 s (so that its disk is read again).
fn failed_fsync() -> Scenario {
    let mut scenario = registry::find("single-replica-power-loss-fsync").unwrap();
    let leader = || "leader of tasks-0".to_string();
    strike(
        &mut scenario,
        3_000,
        Fault::FsyncFail {
            node: leader(),
            restart_after_ms: 500,
        },
    );
    strike(
        &mut scenario,
        8_000,
        Fault::Crash {
            node: leader(),
            restart_after_ms: 500,
        },
    );
    scenario
}

#[test]
fn a_failed_fsync_never_loses_an_acknowledged_write_with_flush_every_message() {
    let (struck, halted, lossy) = assert_nothing_acknowledged_lost(&failed_fsync(), SEEDS);
    assert!(
        struck >= SEEDS * 2 / 3,
        "the fsync failed in {struck} seeds"
    );
    assert_eq!(halted, struck, "every failed fsync halts its broker");
    assert_eq!(
        lossy, 0,
        "with flush.messages=1 nothing acknowledged was unsynced"
    );
}

#[test]
fn a_broker_that_carries_on_after_a_failed_fsync_is_caught() {
    let mut scenario = failed_fsync();
    scenario.broker.halt_on_fsync_error = false;
    let caught = caught(&scenario, SEEDS);
    assert!(
        caught >= SEEDS / 3,
        "what the failed fsync dropped was acknowledged: caught in {caught} of {SEEDS} seeds"
    );
}

#[test]
fn storage_faults_are_opt_in_and_drawn_only_when_listed() {
    use kafka_sim::faults::FaultKind;
    for kind in FaultKind::STORAGE {
        assert!(!FaultKind::ALL.contains(&kind), "{kind:?}");
    }
    let mut scenario = registry::find("acks-all-failover").unwrap();
    let nemesis = scenario.faults.nemesis.as_mut().unwrap();
    nemesis.kinds.push(FaultKind::DiskCorrupt);
    nemesis.swarm = false;
    let outcome = run(&scenario, 1, RunOptions::default());
    assert!(
        outcome
            .fault_plan
            .iter()
            .any(|f| f.fault.kind() == FaultKind::DiskCorrupt),
        "{:?}",
        outcome.fault_plan
    );
}

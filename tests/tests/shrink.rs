//! Shrinking: a failing seed shrinks to a smaller scenario that fails the same way, whose
//! TOML replays it; a passing seed has nothing to shrink; the same failure always shrinks
//! to the same scenario.

use kafka_sim::outcome::OutcomeClass;
use kafka_sim::registry;
use kafka_sim::runner::{fault_plan, run, RunOptions};
use kafka_sim::scenario::Scenario;
use kafka_sim::shrink::{shrink, FailureSignature, ShrinkError, ShrinkReport};
use kafka_sim_tests::explain;

/// An idempotent producer against a broker without KIP-98 sequence checks: retried
/// batches land twice or out of order, and that is a violation.
fn broken_broker() -> Scenario {
    let mut scenario = registry::find("retries-without-idempotence").unwrap();
    scenario.producer.idempotence = Some(true);
    scenario.broker.check_producer_sequences = false;
    scenario
}

/// The first seed in 0..20 on which the broken broker shows a safety violation.
fn failing_seed(scenario: &Scenario) -> u64 {
    (0..20)
        .find(|&seed| run(scenario, seed, RunOptions::default()).class.exit_code() == 1)
        .expect("no seed of 0..20 gives the broken broker a safety violation")
}

fn shrink_logged(scenario: &Scenario, seed: u64) -> ShrinkReport {
    shrink(scenario, seed, |line| eprintln!("shrink: {line}")).unwrap()
}

#[test]
fn a_safety_violation_shrinks_to_a_smaller_scenario_that_replays_from_toml() {
    let scenario = broken_broker();
    let seed = failing_seed(&scenario);
    let original = run(&scenario, seed, RunOptions::default());
    let signature = FailureSignature::of(&original);
    assert_eq!(signature.class, OutcomeClass::SafetyViolation);
    assert!(!signature.violations.is_empty(), "{}", explain(&original));

    let report = shrink_logged(&scenario, seed);
    eprintln!(
        "seed {seed}: {} -> {} fault events, {} -> {} records, fault phase {} -> {} ms, {} runs",
        report.original_fault_events,
        report.minimal_fault_events,
        scenario.workload.records,
        report.minimal.workload.records,
        scenario.fault_phase_ms,
        report.minimal.fault_phase_ms,
        report.runs
    );
    let minimal = &report.minimal;
    assert_eq!(report.seed, seed);
    assert_eq!(report.original, scenario);
    assert_eq!(
        report.original_fault_events,
        fault_plan(&scenario, seed).1.len()
    );
    assert_eq!(report.minimal_fault_events, minimal.faults.events.len());
    assert!(
        minimal.faults.nemesis.is_none(),
        "the plan must be explicit"
    );
    if report.original_fault_events > 1 {
        assert!(
            report.minimal_fault_events < report.original_fault_events,
            "{} -> {} fault events",
            report.original_fault_events,
            report.minimal_fault_events
        );
    } else {
        assert_eq!(report.minimal_fault_events, report.original_fault_events);
    }
    assert!(
        report.runs <= kafka_sim::shrink::MAX_RUNS,
        "{} runs",
        report.runs
    );
    assert_eq!(minimal.name, "retries-without-idempotence-shrunk");
    assert!(
        minimal.description.contains("retries-without-idempotence")
            && minimal.description.contains(&format!("seed {seed}")),
        "{}",
        minimal.description
    );
    minimal.validate("minimal").unwrap();
    assert!(
        signature.matches(&report.outcome),
        "{}",
        explain(&report.outcome)
    );

    // Re-run: the same failure.
    let again = run(minimal, seed, RunOptions::default());
    assert!(signature.matches(&again), "{}", explain(&again));
    assert_eq!(again.trace_hash, report.outcome.trace_hash);

    // Its TOML is the whole story: parsed back, the same scenario, the same failure.
    let toml = minimal.to_toml();
    let parsed = Scenario::from_toml(&toml, "shrunk.toml").unwrap();
    assert_eq!(&parsed, minimal, "{toml}");
    let replayed = run(&parsed, seed, RunOptions::default());
    assert!(signature.matches(&replayed), "{}", explain(&replayed));
}

#[test]
fn a_passing_seed_has_nothing_to_shrink() {
    let scenario = registry::find("smoke").unwrap();
    let error = shrink(&scenario, 1, |_| {}).unwrap_err();
    assert_eq!(
        error,
        ShrinkError::NothingToShrink {
            scenario: "smoke".into(),
            seed: 1
        }
    );
    assert!(error.to_string().contains("passes"), "{error}");
}

#[test]
fn the_same_failure_shrinks_to_the_same_scenario() {
    let scenario = broken_broker();
    let seed = failing_seed(&scenario);
    let mut first_lines = Vec::new();
    let first = shrink(&scenario, seed, |line| first_lines.push(line.to_string())).unwrap();
    let mut second_lines = Vec::new();
    let second = shrink(&scenario, seed, |line| second_lines.push(line.to_string())).unwrap();
    assert_eq!(first.minimal, second.minimal);
    assert_eq!(first.runs, second.runs);
    assert_eq!(first_lines, second_lines);
    assert_eq!(first.outcome.trace_hash, second.outcome.trace_hash);
}

/// A nemesis that lists power losses makes the checkers allow what power losses cause,
/// even on a seed that drew none; the explicit plan (no nemesis) promises more and fails
/// differently, so the shrink keeps the nemesis and still shrinks the rest.
/// The shrinker rests on this: the nemesis's draw, written out as scripted events, is the
/// very same run.
#[test]
fn an_explicit_plan_is_the_same_run_as_its_nemesis() {
    for name in ["standard", "single-replica-power-loss", "crash-restart"] {
        let scenario = kafka_sim::registry::find(name).unwrap();
        for seed in 0..10 {
            let options = RunOptions {
                keep_trace: true,
                ..RunOptions::default()
            };
            let drawn = run(&scenario, seed, options);
            let mut explicit = scenario.clone();
            explicit.faults.events = kafka_sim::runner::fault_plan(&scenario, seed).1;
            explicit.faults.nemesis = None;
            let scripted = run(&explicit, seed, options);
            // Only the line that prints the swarm's draw differs.
            let without_swarm = |trace: &[String]| -> Vec<String> {
                trace
                    .iter()
                    .filter(|l| !l.contains(" swarm: "))
                    .cloned()
                    .collect()
            };
            assert_eq!(
                without_swarm(&drawn.trace),
                without_swarm(&scripted.trace),
                "{name} seed {seed}"
            );
            // Chains point at events by number, and the drawn run has one event more (the
            // swarm's draw) before any of them.
            let unnumbered = |anomalies: &[kafka_sim::checkers::Anomaly]| {
                let mut anomalies = anomalies.to_vec();
                for link in anomalies.iter_mut().flat_map(|a| a.chain.iter_mut()) {
                    link.seq = 0;
                }
                anomalies
            };
            assert_eq!(
                unnumbered(&drawn.anomalies),
                unnumbered(&scripted.anomalies),
                "{name} seed {seed}"
            );
        }
    }
}

/// `shrink --anomaly lost-write` on acks1-failover: a seed that passes (its lost writes are
/// allowed with acks=1) still has a story to shrink, down to at most 3 faults that lose a
/// write when replayed from the minimal TOML alone.
#[test]
fn shrinking_to_an_allowed_lost_write_gives_at_most_three_faults_that_still_lose_one() {
    use kafka_sim::checkers::AnomalyKind::LostWrite;
    use kafka_sim::shrink::shrink_to;
    let scenario = registry::find("acks1-failover").unwrap();
    let shows = |s: &Scenario, seed| kafka_sim_tests::shows(s, seed, LostWrite);
    let seed = (0..20)
        .find(|&seed| shows(&scenario, seed))
        .expect("acks1-failover loses a write within 20 seeds (its expectation)");
    assert_eq!(
        run(&scenario, seed, RunOptions::default()).class,
        OutcomeClass::Pass,
        "the loss is allowed"
    );
    assert!(matches!(
        shrink(&scenario, seed, |_| {}),
        Err(ShrinkError::NothingToShrink { .. })
    ));

    let report = shrink_to(&scenario, seed, Some(LostWrite), |l| {
        eprintln!("shrink: {l}")
    })
    .unwrap();
    eprintln!(
        "seed {seed}: {} -> {} fault events in {} runs",
        report.original_fault_events, report.minimal_fault_events, report.runs
    );
    assert!(
        report.minimal_fault_events <= 3,
        "{}",
        report.minimal.to_toml()
    );
    assert!(report.minimal_fault_events < report.original_fault_events);
    let replayed = Scenario::from_toml(&report.minimal.to_toml(), "min.toml").unwrap();
    assert!(shows(&replayed, seed), "{}", report.minimal.to_toml());
}

#[test]
fn shrinking_to_an_anomaly_the_seed_does_not_show_is_refused() {
    use kafka_sim::checkers::AnomalyKind::LostWrite;
    use kafka_sim::shrink::shrink_to;
    let smoke = registry::find("smoke").unwrap();
    let outcome = run(&smoke, 0, RunOptions::default());
    assert!(!FailureSignature::showing(LostWrite, &outcome).matches(&outcome));
    let error = shrink_to(&smoke, 0, Some(LostWrite), |_| {}).unwrap_err();
    assert!(
        matches!(error, ShrinkError::AnomalyNotShown { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("shows no lost-write"), "{error}");
}

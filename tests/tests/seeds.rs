//! The replay corpus: every case in seeds/ still shows exactly what it recorded; a case
//! whose expectation no longer holds is reported, not passed over.

use kafka_sim::checkers::AnomalyKind;
use kafka_sim::runner::{run, RunOptions};
use kafka_sim::seeds::{ExpectedClass, SeedCase};
use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../seeds")
}

#[test]
fn every_recorded_case_holds() {
    let cases = SeedCase::load_dir(&corpus()).expect("seeds/ loads");
    assert!(cases.len() >= 5, "the corpus lost cases: {}", cases.len());
    for case in cases {
        assert!(
            !case.note.trim().is_empty(),
            "{}: a case needs a note",
            case.path.display()
        );
        let outcome = run(&case.scenario, case.seed, RunOptions::default());
        if let Some(difference) = case.expect.difference(&outcome) {
            panic!(
                "{}: {difference}\nREPRODUCE WITH: cargo run --release -- replay {}",
                case.path.display(),
                case.path.display()
            );
        }
    }
}

#[test]
fn a_wrong_expectation_is_reported() {
    let mut case = SeedCase::load(&corpus().join("single-replica-power-loss-1.toml")).unwrap();
    let outcome = run(&case.scenario, case.seed, RunOptions::default());
    assert_eq!(case.expect.difference(&outcome), None);
    case.expect.allowed.remove(&AnomalyKind::LostWrite);
    assert!(case
        .expect
        .difference(&outcome)
        .unwrap()
        .contains("LostWrite"));
    case.expect.allowed.insert(AnomalyKind::LostWrite);
    case.expect.outcome = ExpectedClass::SafetyViolation;
    assert!(case.expect.difference(&outcome).is_some());
}

#[test]
fn a_rendered_case_loads_back_and_holds() {
    let case = SeedCase::load(&corpus().join("broker-without-sequence-checks-0.toml")).unwrap();
    let outcome = run(&case.scenario, case.seed, RunOptions::default());
    let text = SeedCase::render(&case.scenario, &outcome, "round trip");
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rendered-case.toml");
    std::fs::write(&path, text).unwrap();
    let back = SeedCase::load(&path).unwrap();
    assert_eq!(back.scenario, case.scenario);
    assert_eq!(back.expect, case.expect);
    let again = run(&back.scenario, back.seed, RunOptions::default());
    assert_eq!(again.trace_hash, outcome.trace_hash);
}

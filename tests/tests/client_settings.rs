//! Kafka's client settings as the harness applies them (KIP-679): a producer whose default
//! idempotence is switched off by `acks=1` runs and is judged without it, and the settings
//! Kafka's clients refuse are refused before any run.

use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::outcome::OutcomeClass;
use kafka_sim::registry;
use kafka_sim::runner;
use kafka_sim::scenario::{Scenario, ScenarioError};
use kafka_sim::sweep::sweep;

/// The built-in acks1-failover's shape, with idempotence left at Kafka's default.
fn acks1_failover_with_default_idempotence() -> Scenario {
    let mut scenario = registry::find("acks1-failover").unwrap();
    scenario.producer.idempotence = None;
    scenario.name = "acks1-failover-default-idempotence".into();
    scenario
}

#[test]
fn acks_1_with_idempotence_unset_runs_without_it_and_shows_allowed_anomalies_only() {
    let scenario = acks1_failover_with_default_idempotence();
    scenario.validate("test").unwrap();
    assert!(!scenario.producer.idempotence_enabled());
    assert!(!runner::promises(&scenario).idempotence);
    let seeds: Vec<u64> = (0..12).collect();
    let results = sweep(&scenario, &seeds, |_| {});
    for result in &results {
        assert_eq!(
            result.class,
            OutcomeClass::Pass,
            "seed {}: {:?}",
            result.seed,
            result.anomalies
        );
        assert!(
            result.anomalies.iter().all(|(_, v)| *v == Verdict::Allowed),
            "seed {}: {:?}",
            result.seed,
            result.anomalies
        );
    }
    // Not vacuous: without idempotence, retries reorder or duplicate, or a failover loses
    // an acks=1 write, on some seed.
    let kinds = [
        AnomalyKind::NonmonotonicSend,
        AnomalyKind::Duplicate,
        AnomalyKind::LostWrite,
    ];
    assert!(
        results
            .iter()
            .flat_map(|r| &r.anomalies)
            .any(|(kind, _)| kinds.contains(kind)),
        "no seed showed an anomaly acks=1 without idempotence allows"
    );
}

/// The same run as with an explicit `idempotence = false`: the resolved value is what
/// the model's producer runs with.
#[test]
fn a_switched_off_default_runs_exactly_as_an_explicit_false() {
    let unset = acks1_failover_with_default_idempotence();
    let mut explicit = unset.clone();
    explicit.producer.idempotence = Some(false);
    for seed in [3, 4] {
        let a = runner::run(&unset, seed, Default::default());
        let b = runner::run(&explicit, seed, Default::default());
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
    }
}

fn refusal(toml: &str) -> String {
    match Scenario::from_toml(toml, "x.toml") {
        Err(ScenarioError::Refused { file, reason }) => {
            assert_eq!(file, "x.toml");
            reason
        }
        other => panic!("expected a refusal for {toml:?}, got {other:?}"),
    }
}

#[test]
fn explicit_idempotence_with_each_conflict_is_refused() {
    for (setting, named) in [
        ("acks = \"1\"", "`producer.acks = \"1\"`"),
        ("acks = \"0\"", "`producer.acks = \"0\"`"),
        ("retries = 0", "`producer.retries = 0`"),
        (
            "max_in_flight_requests_per_connection = 6",
            "`producer.max_in_flight_requests_per_connection = 6`",
        ),
    ] {
        let reason = refusal(&format!("[producer]\nidempotence = true\n{setting}\n"));
        assert!(
            reason.starts_with(&format!(
                "`producer.idempotence = true` conflicts with {named}"
            )),
            "{reason}"
        );
        // Unset, the same setting only switches idempotence off.
        let scenario = Scenario::from_toml(&format!("[producer]\n{setting}\n"), "x.toml")
            .unwrap_or_else(|e| panic!("{setting}: {e}"));
        assert!(!scenario.producer.idempotence_enabled(), "{setting}");
        let notes = scenario.default_overrides();
        assert_eq!(notes.len(), 1, "{setting}: {notes:?}");
        assert!(notes[0].contains(named), "{}", notes[0]);
    }
}

#[test]
fn the_default_scenario_keeps_idempotence_and_tells_nothing() {
    let scenario = Scenario::from_toml("", "x.toml").unwrap();
    assert_eq!(scenario.producer.idempotence, None);
    assert!(scenario.producer.idempotence_enabled());
    assert!(runner::promises(&scenario).idempotence);
    assert!(scenario.default_overrides().is_empty());
    // Unset stays unset through a shrunk or saved scenario's TOML.
    let again = Scenario::from_toml(&scenario.to_toml(), "again.toml").unwrap();
    assert_eq!(again.producer.idempotence, None);
}

#[test]
fn consumer_and_group_settings_kafka_refuses_are_refused() {
    let reason = refusal("[consumer]\nmax_poll_records = 0\n");
    assert!(
        reason.starts_with("`consumer.max_poll_records = 0`"),
        "{reason}"
    );
    for heartbeat_ms in [6_000, 9_000] {
        let reason = refusal(&format!(
            "[[groups]]\nsession_timeout_ms = 6000\nheartbeat_interval_ms = {heartbeat_ms}\n"
        ));
        assert!(
            reason.contains(&format!(
                "`groups[0].heartbeat_interval_ms = {heartbeat_ms}` conflicts with \
                 `groups[0].session_timeout_ms = 6000`"
            )),
            "{reason}"
        );
    }
    let reason = refusal("[[groups]]\nrebalance_timeout_ms = 0\n");
    assert!(
        reason.starts_with("`groups[0].rebalance_timeout_ms = 0`"),
        "{reason}"
    );
    let reason = refusal("[producer]\nmax_in_flight_requests_per_connection = 0\n");
    assert!(
        reason.starts_with("`producer.max_in_flight_requests_per_connection = 0`"),
        "{reason}"
    );
}

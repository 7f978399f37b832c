//! The registry of built-in scenarios: every family's list (today's built-ins, consumer
//! groups, retention, the historical bug catalog, the guarantee matrix's cells, the bench's
//! scenarios), the lists
//! `sweep all`, `sweep catalog` and `list` use, and the lookup by name. It builds scenarios
//! from scenario types, faults and configuration only; the CLI, sweeps, the matrix runner
//! and benchmarks read it, never the other way round.

pub mod bench_scenarios;
pub mod builtins;
pub mod catalog;
pub mod groups;
pub mod matrix_cells;
mod parts;
pub mod retention;
pub mod transactions;

use crate::scenario::{Scenario, ScenarioError};
use std::path::Path;

pub use builtins::standard;

/// The scenarios of today's protocol, where a violation is a bug (`sweep all`); the
/// catalog's historical protocols are swept with `sweep catalog`.
pub fn current() -> Vec<Scenario> {
    builtins::scenarios()
        .into_iter()
        .chain(groups::scenarios())
        .chain(retention::scenarios())
        .chain(transactions::scenarios())
        .collect()
}

/// The historical bug catalog (`sweep catalog`): protocols whose violations are the point.
pub fn historical() -> Vec<Scenario> {
    catalog::scenarios()
}

/// Every built-in scenario: today's protocol ([`current`]), then the catalog.
pub fn all() -> Vec<Scenario> {
    current().into_iter().chain(historical()).collect()
}

/// The built-in scenarios' names, in `list` order (the matrix's cells are not listed).
pub fn names() -> Vec<String> {
    all().into_iter().map(|s| s.name).collect()
}

/// A built-in scenario, or a guarantee matrix cell (`matrix/<configuration>/<faults>`).
pub fn find(name: &str) -> Option<Scenario> {
    all()
        .into_iter()
        .chain(bench_scenarios::scenarios())
        .find(|s| s.name == name)
        .or_else(|| matrix_cells::find(name))
}

/// A built-in name or a TOML file path.
pub fn resolve(arg: &str) -> Result<Scenario, ScenarioError> {
    if let Some(scenario) = find(arg) {
        return Ok(scenario);
    }
    let path = Path::new(arg);
    if path.exists() || arg.ends_with(".toml") {
        return Scenario::from_file(path);
    }
    Err(ScenarioError::Unknown(arg.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_valid_and_uniquely_named() {
        let scenarios = all();
        for scenario in &scenarios {
            scenario.validate(&scenario.name).unwrap();
        }
        let mut names = names();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), scenarios.len());
    }

    /// `sweep all` fails when a built-in of today's protocol stops showing what it shows,
    /// and `sweep catalog` when a historical protocol stops showing its bug.
    #[test]
    fn every_builtin_states_what_its_sweep_must_show() {
        use crate::scenario::SweepOutcome;
        for scenario in current() {
            assert_eq!(
                scenario.expect.outcome,
                Some(SweepOutcome::Pass),
                "{}: today's protocol must pass",
                scenario.name
            );
        }
        for scenario in historical() {
            // A historical protocol: a replication protocol before a fix, or the
            // transactional produce before KIP-890's verification.
            let modern = scenario.broker.replication_protocol
                == kafka_model::config::ReplicationProtocol::Modern
                && scenario.broker.verify_transactional_produce;
            assert_eq!(
                scenario.expect.expects_violations(),
                !modern,
                "{}: a historical protocol expects its violations",
                scenario.name
            );
            assert!(!scenario.expect.is_empty(), "{}", scenario.name);
        }
    }
}

//! What a scenario must show over a seed sweep (its `[expect]` table): anomaly kinds that
//! must appear within the first N seeds, kinds that must never appear, and whether every
//! seed must pass. The sweep judges them ([`crate::sweep_judge`]); a single run ignores
//! them.

use super::ScenarioError;
use crate::checkers::AnomalyKind;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A scenario's expectations of a sweep. Empty (the default) expects nothing beyond what
/// the seeds' classes say.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepExpectations {
    /// `pass`: every seed must pass (a seed that does not fails the sweep as it always
    /// did; stated, the report says so in one line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<SweepOutcome>,
    /// Kinds that must show as allowed in at least one of the sweep's first N seeds.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub allowed_within: BTreeMap<AnomalyKind, u64>,
    /// Kinds that must show as violations in at least one of the sweep's first N seeds:
    /// the scenario exists to find them (a historical bug). Stating any makes the seeds'
    /// safety violations expected: they do not fail the sweep, an unmet one does.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub violations_within: BTreeMap<AnomalyKind, u64>,
    /// Kinds that must never show in any seed, allowed or not.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub never: BTreeSet<AnomalyKind>,
}

/// The class every seed of a sweep must end in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SweepOutcome {
    Pass,
}

impl SweepExpectations {
    /// Every seed must pass.
    pub fn passing() -> Self {
        SweepExpectations {
            outcome: Some(SweepOutcome::Pass),
            ..SweepExpectations::default()
        }
    }

    /// And `kind` must show as allowed within the first `seeds` seeds.
    pub fn shows_allowed(mut self, kind: AnomalyKind, seeds: u64) -> Self {
        self.allowed_within.insert(kind, seeds);
        self
    }

    /// And `kind` must show as a violation within the first `seeds` seeds.
    pub fn shows_violation(mut self, kind: AnomalyKind, seeds: u64) -> Self {
        self.violations_within.insert(kind, seeds);
        self
    }

    /// And none of `kinds` may show in any seed.
    pub fn never_shows(mut self, kinds: &[AnomalyKind]) -> Self {
        self.never.extend(kinds.iter().copied());
        self
    }

    pub fn is_empty(&self) -> bool {
        *self == SweepExpectations::default()
    }

    /// Whether the scenario's safety violations are its point (it states violations that
    /// must show), so that they do not fail a sweep.
    pub fn expects_violations(&self) -> bool {
        !self.violations_within.is_empty()
    }

    /// Every setting that cannot be judged, or contradicts another, as an error naming
    /// its field.
    pub(super) fn validate(&self, file: &str) -> Result<(), ScenarioError> {
        let invalid = |field: String, reason: String| {
            Err(ScenarioError::Invalid {
                file: file.to_string(),
                field,
                reason,
            })
        };
        let within = [
            ("allowed_within", &self.allowed_within),
            ("violations_within", &self.violations_within),
        ];
        for (table, kinds) in within {
            for (kind, seeds) in kinds {
                if *seeds == 0 {
                    return invalid(
                        format!("expect.{table}.{kind}"),
                        "must be at least 1 seed".into(),
                    );
                }
                if self.never.contains(kind) {
                    return invalid(
                        "expect.never".into(),
                        format!("`{kind}` is also expected to show (expect.{table})"),
                    );
                }
            }
        }
        if self.outcome == Some(SweepOutcome::Pass) && self.expects_violations() {
            return invalid(
                "expect.outcome".into(),
                "a scenario that expects violations (expect.violations_within) cannot \
                 expect every seed to pass"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Checks the anomaly kinds an `[expect]` table names before it is parsed, so that a
/// misspelt kind is an error naming its field, not a parse error naming a column.
pub(super) fn check_kind_names(given: &toml::Value, file: &str) -> Result<(), ScenarioError> {
    let Some(expect) = given.get("expect").and_then(toml::Value::as_table) else {
        return Ok(());
    };
    let unknown = |field: String, name: &str| {
        let known: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.as_str()).collect();
        Err(ScenarioError::Invalid {
            file: file.to_string(),
            field,
            reason: format!(
                "unknown anomaly kind `{name}` (known: {})",
                known.join(", ")
            ),
        })
    };
    let is_kind = |name: &str| AnomalyKind::ALL.iter().any(|k| k.as_str() == name);
    for table in ["allowed_within", "violations_within"] {
        if let Some(kinds) = expect.get(table).and_then(toml::Value::as_table) {
            if let Some(name) = kinds.keys().find(|name| !is_kind(name)) {
                return unknown(format!("expect.{table}.{name}"), name);
            }
        }
    }
    if let Some(kinds) = expect.get("never").and_then(toml::Value::as_array) {
        let names = kinds.iter().filter_map(toml::Value::as_str);
        if let Some(name) = names.into_iter().find(|name| !is_kind(name)) {
            return unknown("expect.never".into(), name);
        }
    }
    Ok(())
}

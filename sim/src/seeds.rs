//! The replay corpus: one TOML file per recorded case in `seeds/`, naming a scenario (built-in
//! name, file, or inline table), a seed, the outcome expected, and a note saying what the case
//! shows. `kafka-sim replay` and the test suite check that every case still holds.

use crate::checkers::{AnomalyKind, Verdict};
use crate::outcome::{Outcome, OutcomeClass};
use crate::registry;
use crate::scenario::{malformed, read_text, Scenario, ScenarioError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The note `sweep --save-failures` writes into a new case. A case still carrying it says
/// nothing yet, and the corpus refuses it until someone writes what the case shows.
pub const PLACEHOLDER_NOTE: &str = "Replace this note with what the case shows.";

/// Makes `dir` ready to take saved cases: it must be a directory; a missing one is created
/// only when `create` (`--create-dirs`) asks, so that a mistyped path is not silently made.
pub fn prepare_save_dir(dir: &Path, create: bool) -> Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
    if dir.exists() {
        return Err(format!(
            "--save-failures {}: not a directory",
            dir.display()
        ));
    }
    if !create {
        return Err(format!(
            "--save-failures {}: no such directory (add --create-dirs to create it)",
            dir.display()
        ));
    }
    std::fs::create_dir_all(dir)
        .map_err(|error| format!("--save-failures {}: cannot create: {error}", dir.display()))?;
    eprintln!("created {}", dir.display());
    Ok(())
}

/// What a case expects of its run: the class, and exactly which anomaly kinds show, by
/// verdict. Exact, so that a change of behaviour in either direction is noticed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub outcome: ExpectedClass,
    #[serde(default)]
    pub allowed: BTreeSet<AnomalyKind>,
    #[serde(default)]
    pub violations: BTreeSet<AnomalyKind>,
}

/// `OutcomeClass`, as seed files spell it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectedClass {
    #[default]
    Pass,
    SafetyViolation,
    LivenessViolation,
    Crash,
}

impl From<OutcomeClass> for ExpectedClass {
    fn from(class: OutcomeClass) -> Self {
        match class {
            OutcomeClass::Pass => ExpectedClass::Pass,
            OutcomeClass::SafetyViolation => ExpectedClass::SafetyViolation,
            OutcomeClass::LivenessViolation => ExpectedClass::LivenessViolation,
            OutcomeClass::Crash => ExpectedClass::Crash,
        }
    }
}

impl Expectation {
    /// What `outcome` shows, as an expectation.
    pub fn observed(outcome: &Outcome) -> Self {
        let kinds = |verdict: Verdict| -> BTreeSet<AnomalyKind> {
            outcome
                .anomalies
                .iter()
                .filter(|a| a.verdict == verdict)
                .map(|a| a.kind)
                .collect()
        };
        Expectation {
            outcome: outcome.class.into(),
            allowed: kinds(Verdict::Allowed),
            violations: kinds(Verdict::Violation),
        }
    }

    /// `None` if `outcome` meets the expectation, else one line saying how it differs.
    pub fn difference(&self, outcome: &Outcome) -> Option<String> {
        let observed = Expectation::observed(outcome);
        (observed != *self).then(|| {
            format!(
                "expected {:?} allowed={:?} violations={:?}, got {:?} allowed={:?} violations={:?}",
                self.outcome,
                self.allowed,
                self.violations,
                observed.outcome,
                observed.allowed,
                observed.violations
            )
        })
    }
}

/// One case of the corpus.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedCase {
    pub path: PathBuf,
    pub note: String,
    pub seed: u64,
    /// As written: a built-in name, a file path, or `None` for an inline table.
    pub scenario_name: Option<String>,
    pub scenario: Scenario,
    pub expect: Expectation,
}

/// The file as written; `scenario` is a name or a table, resolved afterwards so that an
/// inline table gets the same defaults and checks as a scenario file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    note: String,
    seed: u64,
    scenario: toml::Value,
    expect: Expectation,
}

impl SeedCase {
    pub fn load(path: &Path) -> Result<SeedCase, ScenarioError> {
        let (file, text) = read_text(path)?;
        let raw: SeedFile = toml::from_str(&text).map_err(|e| malformed(&file, &text, &e))?;
        if raw.note.trim().is_empty() || raw.note.contains(PLACEHOLDER_NOTE) {
            return Err(ScenarioError::Invalid {
                file,
                field: "note".into(),
                reason: "says nothing yet: write what the case shows (the note \
                         `sweep --save-failures` wrote is a placeholder)"
                    .into(),
            });
        }
        let (scenario_name, scenario) = match raw.scenario {
            toml::Value::String(name) => {
                // A relative scenario file is relative to the seed file.
                let beside = path.parent().map(|dir| dir.join(&name));
                let resolved =
                    match beside.filter(|p| registry::find(&name).is_none() && p.exists()) {
                        Some(beside) => Scenario::from_file(&beside)?,
                        None => registry::resolve(&name)?,
                    };
                (Some(name), resolved)
            }
            toml::Value::Table(table) => {
                let inline = toml::to_string(&table).map_err(|e| ScenarioError::Malformed {
                    file: file.clone(),
                    reason: e.to_string(),
                })?;
                (
                    None,
                    Scenario::from_toml(&inline, &format!("{file} [scenario]"))?,
                )
            }
            other => {
                return Err(ScenarioError::Invalid {
                    file,
                    field: "scenario".into(),
                    reason: format!("a scenario name or a table, not a {}", other.type_str()),
                })
            }
        };
        Ok(SeedCase {
            path: path.to_path_buf(),
            note: raw.note,
            seed: raw.seed,
            scenario_name,
            scenario,
            expect: raw.expect,
        })
    }

    /// Every `*.toml` case under `dir`, in path order.
    pub fn load_dir(dir: &Path) -> Result<Vec<SeedCase>, ScenarioError> {
        let entries = std::fs::read_dir(dir).map_err(|e| ScenarioError::Unreadable {
            file: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        paths.iter().map(|p| SeedCase::load(p)).collect()
    }

    /// The text of a case for `outcome`, to save in `seeds/`. A built-in scenario is named;
    /// any other is written inline so that the case stands alone.
    pub fn render(scenario: &Scenario, outcome: &Outcome, note: &str) -> String {
        let expect = Expectation::observed(outcome);
        let mut text = format!("note = {}\nseed = {}\n", toml_string(note), outcome.seed);
        let builtin = registry::find(&scenario.name).filter(|b| b == scenario);
        if builtin.is_some() {
            text.push_str(&format!("scenario = {}\n", toml_string(&scenario.name)));
        }
        text.push_str("\n[expect]\n");
        text.push_str(&toml::to_string(&expect).expect("an expectation serializes"));
        if builtin.is_none() {
            let inline = toml::to_string(scenario).expect("a scenario serializes");
            let mut table: toml::Table = toml::from_str(&inline).expect("just written");
            let mut wrapper = toml::Table::new();
            wrapper.insert(
                "scenario".into(),
                toml::Value::Table(std::mem::take(&mut table)),
            );
            text.push('\n');
            text.push_str(&toml::to_string(&wrapper).expect("a table serializes"));
        }
        text
    }
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

//! Judging a scenario's [`SweepExpectations`] against a sweep's results: each expectation
//! met, unmet (with the seeds looked at), or not judged (the sweep ran too few seeds), and
//! the class the whole sweep of the scenario ends in, for the exit code.

use crate::checkers::{AnomalyKind, Verdict};
use crate::outcome::OutcomeClass;
use crate::scenario::{SweepExpectations, SweepOutcome};
use crate::sweep::SeedResult;
use serde::Serialize;

/// One expectation as stated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "expect", rename_all = "kebab-case")]
pub enum Stated {
    /// Every seed passes.
    Outcome { outcome: SweepOutcome },
    /// `kind` shows with `verdict` in one of the first `within` seeds.
    Within {
        kind: AnomalyKind,
        verdict: Verdict,
        within: u64,
    },
    /// `kind` shows in no seed.
    Never { kind: AnomalyKind },
}

/// How the sweep answered one expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    /// `seed` is where it showed (`Within`); `None` when it held in every seed.
    Met {
        #[serde(skip_serializing_if = "Option::is_none")]
        seed: Option<u64>,
    },
    /// `seeds` are the seeds looked at (`Within`) or the seeds that broke it.
    Unmet { seeds: Vec<u64> },
    /// A `within` expectation needs a sweep of at least `needs_seeds` seeds.
    NotJudged { needs_seeds: u64, ran_seeds: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Judgement {
    #[serde(flatten)]
    pub stated: Stated,
    #[serde(flatten)]
    pub status: Status,
}

/// Judges every expectation of `expect` against `results` (in seed order).
pub fn judge(expect: &SweepExpectations, results: &[SeedResult]) -> Vec<Judgement> {
    let mut judgements = Vec::new();
    if let Some(outcome) = expect.outcome {
        let failing: Vec<u64> = results
            .iter()
            .filter(|r| r.class != OutcomeClass::Pass)
            .map(|r| r.seed)
            .collect();
        judgements.push(Judgement {
            stated: Stated::Outcome { outcome },
            status: if failing.is_empty() {
                Status::Met { seed: None }
            } else {
                Status::Unmet { seeds: failing }
            },
        });
    }
    let within = [
        (Verdict::Allowed, &expect.allowed_within),
        (Verdict::Violation, &expect.violations_within),
    ];
    for (verdict, kinds) in within {
        for (&kind, &seeds) in kinds {
            judgements.push(Judgement {
                stated: Stated::Within {
                    kind,
                    verdict,
                    within: seeds,
                },
                status: judge_within(kind, verdict, seeds, results),
            });
        }
    }
    for &kind in &expect.never {
        let showing: Vec<u64> = results
            .iter()
            .filter(|r| r.anomalies.iter().any(|(k, _)| *k == kind))
            .map(|r| r.seed)
            .collect();
        judgements.push(Judgement {
            stated: Stated::Never { kind },
            status: if showing.is_empty() {
                Status::Met { seed: None }
            } else {
                Status::Unmet { seeds: showing }
            },
        });
    }
    judgements
}

/// Only the sweep's first `within` seeds count: a kind that shows later did not show
/// within the bound stated, and a sweep shorter than the bound cannot tell.
fn judge_within(
    kind: AnomalyKind,
    verdict: Verdict,
    within: u64,
    results: &[SeedResult],
) -> Status {
    let ran_seeds = results.len() as u64;
    if ran_seeds < within {
        return Status::NotJudged {
            needs_seeds: within,
            ran_seeds,
        };
    }
    let looked_at = &results[..within as usize];
    match looked_at
        .iter()
        .find(|r| r.anomalies.contains(&(kind, verdict)))
    {
        Some(found) => Status::Met {
            seed: Some(found.seed),
        },
        None => Status::Unmet {
            seeds: looked_at.iter().map(|r| r.seed).collect(),
        },
    }
}

/// The class a scenario's sweep ends in: its seeds' worst class, where a safety violation
/// the scenario expects counts as a pass, and any unmet expectation as a safety violation.
pub fn sweep_class(
    expect: &SweepExpectations,
    results: &[SeedResult],
    judgements: &[Judgement],
) -> OutcomeClass {
    let seeds = results.iter().map(|r| match r.class {
        OutcomeClass::SafetyViolation if expect.expects_violations() => OutcomeClass::Pass,
        class => class,
    });
    let unmet = judgements
        .iter()
        .any(|j| matches!(j.status, Status::Unmet { .. }))
        .then_some(OutcomeClass::SafetyViolation);
    seeds
        .chain(unmet)
        .max_by_key(|class| severity(*class))
        .unwrap_or(OutcomeClass::Pass)
}

/// The order of classes for a sweep's exit code: a crash outranks a safety violation,
/// which outranks a liveness violation.
pub fn severity(class: OutcomeClass) -> u8 {
    match class {
        OutcomeClass::Pass => 0,
        OutcomeClass::LivenessViolation => 1,
        OutcomeClass::SafetyViolation => 2,
        OutcomeClass::Crash => 3,
    }
}

impl Judgement {
    /// One line of the text report, without the replay command.
    pub fn line(&self) -> String {
        let stated = match self.stated {
            Stated::Outcome { .. } => "every seed passes".to_string(),
            Stated::Within {
                kind,
                verdict,
                within,
            } => format!("{kind} {} within {within} seeds", verdict_word(verdict)),
            Stated::Never { kind } => format!("never {kind}"),
        };
        let status = match &self.status {
            Status::Met { seed: Some(seed) } => format!("met (seed {seed})"),
            Status::Met { seed: None } => "met".to_string(),
            Status::Unmet { seeds } => match self.stated {
                Stated::Within { .. } => format!("UNMET: not in seeds {}", describe(seeds)),
                _ => format!("UNMET: in seeds {}", describe(seeds)),
            },
            Status::NotJudged {
                needs_seeds,
                ran_seeds,
            } => format!(
                "not judged: needs a sweep of {needs_seeds} seeds, this one ran {ran_seeds}"
            ),
        };
        format!("{stated:<52} {status}")
    }
}

fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Allowed => "allowed",
        Verdict::Violation => "violation",
    }
}

/// Seeds as a range when they are one (`0..30`), a stepped range for a shard's, else a
/// list, cut short after a few.
fn describe(seeds: &[u64]) -> String {
    let (Some(&first), Some(&last)) = (seeds.first(), seeds.last()) else {
        return "none".into();
    };
    let step = seeds.get(1).map_or(1, |second| second - first);
    let stepped = seeds.windows(2).all(|w| w[1] - w[0] == step);
    match (seeds.len(), stepped, step) {
        (1, _, _) => first.to_string(),
        (_, true, 1) => format!("{first}..{}", last + 1),
        (n, true, step) if n > 3 => format!("{first}..{} step {step}", last + 1),
        (n, _, _) => {
            let shown: Vec<String> = seeds.iter().take(8).map(u64::to_string).collect();
            let more = if n > 8 {
                format!(" and {} more", n - 8)
            } else {
                String::new()
            };
            format!("{}{more}", shown.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(seed: u64, class: OutcomeClass, anomalies: &[(AnomalyKind, Verdict)]) -> SeedResult {
        SeedResult {
            seed,
            class,
            anomalies: anomalies.to_vec(),
            simulated_ms: 0,
            counts: Vec::new(),
            lost_writes: 0,
            producer_latency_p99_ms: None,
            reached: Vec::new(),
        }
    }

    fn lost_write_within(seeds: u64) -> SweepExpectations {
        SweepExpectations {
            allowed_within: [(AnomalyKind::LostWrite, seeds)].into(),
            ..SweepExpectations::default()
        }
    }

    #[test]
    fn within_counts_only_the_first_seeds_and_needs_as_many() {
        let lost = [(AnomalyKind::LostWrite, Verdict::Allowed)];
        let results: Vec<SeedResult> = (0..6)
            .map(|seed| {
                let anomalies: &[_] = if seed == 4 { &lost } else { &[] };
                result(seed, OutcomeClass::Pass, anomalies)
            })
            .collect();
        let status = |within| {
            judge(&lost_write_within(within), &results)[0]
                .status
                .clone()
        };
        assert_eq!(status(5), Status::Met { seed: Some(4) });
        assert_eq!(
            status(3),
            Status::Unmet {
                seeds: vec![0, 1, 2]
            }
        );
        assert_eq!(
            status(7),
            Status::NotJudged {
                needs_seeds: 7,
                ran_seeds: 6
            }
        );
        let unmet = judge(&lost_write_within(3), &results);
        assert_eq!(
            sweep_class(&lost_write_within(3), &results, &unmet),
            OutcomeClass::SafetyViolation
        );
        let not_judged = judge(&lost_write_within(7), &results);
        assert_eq!(
            sweep_class(&lost_write_within(7), &results, &not_judged),
            OutcomeClass::Pass
        );
    }

    #[test]
    fn expected_violations_pass_and_never_catches_an_allowed_kind() {
        let violation = [(AnomalyKind::LogMatching, Verdict::Violation)];
        let results = vec![
            result(0, OutcomeClass::Pass, &[]),
            result(1, OutcomeClass::SafetyViolation, &violation),
            result(2, OutcomeClass::LivenessViolation, &[]),
        ];
        let expect = SweepExpectations {
            violations_within: [(AnomalyKind::LogMatching, 2)].into(),
            ..SweepExpectations::default()
        };
        let judgements = judge(&expect, &results);
        assert_eq!(judgements[0].status, Status::Met { seed: Some(1) });
        assert_eq!(
            sweep_class(&expect, &results[..2], &judgements),
            OutcomeClass::Pass
        );
        assert_eq!(
            sweep_class(&expect, &results, &judgements),
            OutcomeClass::LivenessViolation,
            "only safety violations are what a catalog scenario expects"
        );
        let never = SweepExpectations {
            never: [AnomalyKind::Duplicate].into(),
            ..SweepExpectations::default()
        };
        let duplicate = [result(
            3,
            OutcomeClass::Pass,
            &[(AnomalyKind::Duplicate, Verdict::Allowed)],
        )];
        let judgements = judge(&never, &duplicate);
        assert_eq!(judgements[0].status, Status::Unmet { seeds: vec![3] });
        assert_eq!(
            sweep_class(&never, &duplicate, &judgements),
            OutcomeClass::SafetyViolation
        );
    }

    #[test]
    fn seeds_are_described_compactly() {
        assert_eq!(describe(&[0, 1, 2, 3]), "0..4");
        assert_eq!(describe(&[7]), "7");
        assert_eq!(describe(&[1, 4, 7, 10]), "1..11 step 3");
        assert_eq!(describe(&[2, 9]), "2, 9");
    }
}

//! Seeded runs of the cluster simulator: the correct protocol keeps every invariant and
//! recovers after the heal, for quorums of 1, 3 and 5 with observers; each broken variant
//! is caught by the invariants within a bounded sweep of seeds.

use super::cluster::{Cluster, Report, SimConfig};
use super::*;
use proptest::prelude::*;

/// After the heal, a leader that everyone follows and that committed in its epoch comes
/// within this long: a fetch timeout to notice the old leader is gone, a couple of
/// randomized election rounds, and a few fetches. (Seen: under 3 s in 900 harsh runs.)
const STABLE_BOUND_MS: Millis = 10_000;

fn run(cfg: SimConfig, seed: u64) -> Report {
    Cluster::new(cfg, seed).run()
}

/// The faults of the default config, or twice as many of each kind.
fn faults(voters: u32, observers: u32, harsh: bool) -> SimConfig {
    let mut cfg = SimConfig::new(voters, observers, RaftVariant::Correct);
    if harsh {
        cfg.crash_percent = 30;
        cfg.partition_percent = 40;
        cfg.drop_percent = 10;
        cfg.duplicate_percent = 10;
    }
    cfg
}

/// Why a correct run failed, with what it needs to be replayed and understood.
fn failure(cfg: &SimConfig, seed: u64, report: &Report) -> Option<String> {
    let stable = report
        .stable_after_heal_ms
        .is_some_and(|ms| ms <= STABLE_BOUND_MS);
    if report.violations.is_empty() && stable && report.converged && report.committed > Offset(0) {
        return None;
    }
    let violations: Vec<String> = report
        .violations
        .iter()
        .take(5)
        .map(|v| v.to_string())
        .collect();
    Some(format!(
        "seed {seed} ({cfg:?}): violations {violations:#?}, stable after heal {:?} ms \
         (bound {STABLE_BOUND_MS}), converged {}, committed {}\nlast trace lines:\n{}",
        report.stable_after_heal_ms,
        report.converged,
        report.committed,
        report.trace_tail.join("\n")
    ))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_correct_protocol_keeps_every_invariant_and_recovers_after_the_heal(
        seed in any::<u64>(),
        voters in prop::sample::select(vec![1u32, 3, 5]),
        observers in 0u32..=2,
        harsh in any::<bool>(),
    ) {
        let cfg = faults(voters, observers, harsh);
        let report = run(cfg.clone(), seed);
        if let Some(why) = failure(&cfg, seed, &report) {
            prop_assert!(false, "{}", why);
        }
    }
}

#[test]
fn a_fixed_sweep_of_the_correct_protocol_finds_nothing() {
    let (mut elections, mut torn_tails) = (0, 0);
    for voters in [1, 3, 5] {
        for seed in 0..40 {
            let cfg = faults(voters, 2, seed % 2 == 1);
            let report = run(cfg.clone(), seed);
            assert_eq!(failure(&cfg, seed, &report), None);
            elections += report.elections;
            torn_tails += report.torn_tails;
        }
    }
    // The faults bite: leaders change, and crashes tear writes that recovery must cut.
    assert!(elections > 240, "{elections} elections in 120 runs");
    assert!(torn_tails > 0, "no crash tore a write");
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let cfg = faults(5, 2, true);
    let (a, b) = (run(cfg.clone(), 7), run(cfg, 7));
    assert_eq!(a.trace_tail, b.trace_tail);
    assert_eq!((a.committed, a.elections), (b.committed, b.elections));
}

/// The first seed below `seeds` whose run breaks an invariant, and which invariants.
fn first_caught(cfg: SimConfig, seeds: u64) -> Option<(u64, Vec<&'static str>)> {
    (0..seeds).find_map(|seed| {
        let report = run(cfg.clone(), seed);
        let mut names: Vec<&'static str> =
            report.violations.iter().map(|v| v.invariant()).collect();
        names.sort_unstable();
        names.dedup();
        (!names.is_empty()).then_some((seed, names))
    })
}

#[test]
fn commit_without_majority_is_caught_within_a_sweep() {
    for voters in [3, 5] {
        let cfg = SimConfig::new(voters, 1, RaftVariant::CommitWithoutMajority);
        let caught = first_caught(cfg, 20);
        let (_, names) = caught.expect("caught within 20 seeds");
        assert!(names.contains(&"MajorityReachedHighWatermark"), "{names:?}");
    }
}

#[test]
fn count_vote_twice_is_caught_within_a_sweep_of_five_voters() {
    // A duplicated grant lets a candidate win with two real votes of five; a second
    // candidate can then win the same epoch with the other three, or the fake leader's
    // log lacks committed entries.
    let cfg = SimConfig::new(5, 1, RaftVariant::CountVoteTwice);
    let caught = first_caught(cfg, 200);
    let (_, names) = caught.expect("caught within 200 seeds");
    let expected = [
        "SingleLeader",
        "ConsistentCommittedData",
        "NoTruncationBelowHighWatermark",
    ];
    assert!(names.iter().any(|n| expected.contains(n)), "{names:?}");
}

#[test]
fn count_vote_twice_is_harmless_with_three_voters() {
    // With three voters the candidate's own vote and any real grant are already a
    // majority, so counting a grant twice never elects a minority leader.
    let cfg = SimConfig::new(3, 1, RaftVariant::CountVoteTwice);
    assert_eq!(first_caught(cfg, 30), None);
}

/// The default faults plus replaced disks of up to a minority of the voters.
fn with_disk_loss(voters: u32, variant: RaftVariant) -> SimConfig {
    let mut cfg = SimConfig::new(voters, 1, variant);
    cfg.disk_loss_percent = 10;
    cfg
}

#[test]
fn replaced_disks_keep_every_invariant_with_directory_ids() {
    let mut disk_losses = 0;
    for voters in [3, 5] {
        for seed in 0..30 {
            let cfg = with_disk_loss(voters, RaftVariant::Correct);
            let report = run(cfg.clone(), seed);
            assert_eq!(failure(&cfg, seed, &report), None);
            disk_losses += report.disk_losses;
        }
    }
    assert!(disk_losses > 60, "{disk_losses} disk losses in 60 runs");
}

#[test]
fn ignoring_directory_ids_is_caught_within_a_sweep() {
    // A replaced disk that votes again can elect a second leader of an epoch it voted in,
    // or a leader without entries it helped commit.
    let expected = [
        "SingleLeader",
        "ConsistentCommittedData",
        "MajorityReachedHighWatermark",
        "NoTruncationBelowHighWatermark",
    ];
    for voters in [3, 5] {
        let caught = first_caught(with_disk_loss(voters, RaftVariant::IgnoreDirectoryId), 60);
        let (_, names) = caught.expect("caught within 60 seeds");
        assert!(names.iter().any(|n| expected.contains(n)), "{names:?}");
    }
}

#[test]
fn long_polling_observers_keep_every_invariant_and_catch_up() {
    for voters in [1, 3, 5] {
        for seed in 0..20 {
            let mut cfg = faults(voters, 2, seed % 2 == 1);
            cfg.observer_fetch_max_wait_ms = 500;
            let report = run(cfg.clone(), seed);
            assert_eq!(failure(&cfg, seed, &report), None);
        }
    }
}

//! stale-commit: fenced commits are refused. A commit ok from generation G whose invoke
//! came after some member of the same group had received its assignment for a generation
//! G' > G was accepted from a fenced member (a zombie that missed the rebalance).
//!
//! Source: DESIGN.md section 5 ("fenced commits refused") and Kafka's classic group
//! protocol: `ClassicGroup.validateOffsetCommit` refuses a commit whose generation is not
//! the group's (ILLEGAL_GENERATION) or whose member left (UNKNOWN_MEMBER_ID), so that a
//! member removed by a rebalance cannot overwrite the offsets of its partitions' new
//! owners. The model's `accept_stale_generation_commits` switch turns this fencing off.
//!
//! Why the timing proves it: a member gets its generation-G' assignment only after the
//! coordinator has written G' to `__consumer_offsets` (the SyncGroup answer waits for the
//! write), so from that moment the group's generation is at least G' on this coordinator
//! and on any that reloads the group. A commit sent later (invoke after that assignment
//! ok, in history order, which is global simulated time) reaches a coordinator whose
//! generation is not G, and must be refused. Commits sent earlier are concurrent with the
//! rebalance and may rightly succeed. Oks are paired with invokes as early as any valid
//! pairing allows (`group_view::commit_oks`), so a commit is never accused on a guess.
//!
//! Soundness: if the generation record vanishes (unclean election, or a power loss meeting
//! async flush), a new coordinator reloads an older generation and rightly accepts its
//! members: allowed with that excuse.

use super::group_view::{commit_oks, CommitOk};
use super::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::history::{History, OpType, Operation};
use std::collections::BTreeMap;

/// The newest generation a group had handed out, as of a point in the history.
#[derive(Clone, Copy, Debug)]
struct Newest<'a> {
    /// History index of the assignment that first made it the newest.
    index: u64,
    generation: u32,
    member: &'a str,
}

/// Per group: each time the newest assigned generation grew, in history order.
fn newest_generations(history: &History) -> BTreeMap<&str, Vec<Newest<'_>>> {
    let mut newest: BTreeMap<&str, Vec<Newest<'_>>> = BTreeMap::new();
    for entry in &history.entries {
        let (OpType::Ok, Operation::Assignment(a)) = (entry.op_type, &entry.op) else {
            continue;
        };
        let steps = newest.entry(a.group.as_str()).or_default();
        if steps.last().is_none_or(|n| a.generation > n.generation) {
            steps.push(Newest {
                index: entry.index,
                generation: a.generation,
                member: &a.member,
            });
        }
    }
    newest
}

/// The newest generation assigned strictly before history index `at`.
fn newest_before<'a>(steps: &[Newest<'a>], at: u64) -> Option<Newest<'a>> {
    let after = steps.partition_point(|n| n.index < at);
    after.checked_sub(1).map(|i| steps[i])
}

/// Who sent a commit: (group, member, generation).
type Committer<'h> = (&'h str, &'h str, u32);

/// A stale commit ok, with the newer generation it was sent after.
type Stale<'h> = (CommitOk<'h>, Newest<'h>);

pub fn check(history: &History, promises: &Promises) -> Vec<Anomaly> {
    let newest = newest_generations(history);
    // One anomaly per zombie member and generation: a zombie often commits many times.
    let mut stale: BTreeMap<Committer<'_>, Vec<Stale<'_>>> = BTreeMap::new();
    for ok in commit_oks(history) {
        let Some(invoke) = ok.invoke else {
            continue; // no invoke to date it by: no evidence
        };
        let c = ok.commit;
        let Some(later) = newest
            .get(c.group.as_str())
            .and_then(|steps| newest_before(steps, invoke))
        else {
            continue;
        };
        if later.generation > c.generation {
            let key = (c.group.as_str(), c.member.as_str(), c.generation);
            stale.entry(key).or_default().push((ok, later));
        }
    }

    let (verdict, why) = classify(promises);
    let mut anomalies = Vec::new();
    for ((group, member, generation), oks) in stale {
        let (first, later) = &oks[0];
        let offsets: Vec<String> = first
            .commit
            .offsets
            .iter()
            .map(|o| format!("{}/{}@{}", o.topic, o.partition, o.offset))
            .collect();
        let anomaly = Anomaly::new(
            AnomalyKind::StaleCommit,
            (verdict, why),
            format!(
                "group {group}: {} commit(s) of member {member} ({}) from generation \
                 {generation} accepted after {} got generation {}; the first (invoke #{}, \
                 ok #{}) committed {}",
                oks.len(),
                first.process,
                later.member,
                later.generation,
                first.invoke.expect("only dated commits are stale"),
                first.ok,
                offsets.join(", ")
            ),
            Vec::new(),
            first.ok,
        );
        // Only a coordinator that lost the newer generation could take the older one's
        // commit.
        anomalies.push(anomaly.unless_loss_explains().involving_group(group));
    }
    anomalies.sort_by_key(|anomaly| anomaly.index);
    anomalies
}

fn classify(promises: &Promises) -> (Verdict, &'static str) {
    promises.unless_loss_excused(
        "Kafka's coordinator refuses commits from an older generation (ILLEGAL_GENERATION)",
    )
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;

    const M1_GEN1: (&str, &str, u32) = ("g1", "m1", 1);
    const M2_GEN2: (&str, &str, u32) = ("g1", "m2", 2);

    /// m1 owns partition 0 in generation 1, pauses past its session timeout, and m2 gets
    /// the partition in generation 2.
    fn rebalanced_away_from_m1() -> History {
        let mut h = History::default();
        assignment(&mut h, "g1-m1", "g1", "m1", 1, &[0]);
        commit(&mut h, "g1-m1", M1_GEN1, &[(0, 3)]);
        assignment(&mut h, "g1-m2", "g1", "m2", 2, &[0]);
        commit(&mut h, "g1-m2", M2_GEN2, &[(0, 6)]);
        h
    }

    #[test]
    fn commits_of_the_current_generation_and_refused_zombies_pass() {
        let mut h = rebalanced_away_from_m1();
        commit_invoke(&mut h, "g1-m1", M1_GEN1, &[(0, 5)]);
        commit_fail(&mut h, "g1-m1", M1_GEN1, &[(0, 5)], "ILLEGAL_GENERATION");
        assert_eq!(check(&h, &Promises::default()), vec![]);
    }

    #[test]
    fn a_commit_sent_before_the_rebalance_may_succeed_after_it() {
        let mut h = History::default();
        assignment(&mut h, "g1-m1", "g1", "m1", 1, &[0]);
        commit_invoke(&mut h, "g1-m1", M1_GEN1, &[(0, 3)]);
        commit_invoke(&mut h, "g1-m1", M1_GEN1, &[(0, 3)]); // an identical second try
        assignment(&mut h, "g1-m2", "g1", "m2", 2, &[0]);
        // Either ok may answer either invoke: both could predate generation 2.
        commit_ok(&mut h, "g1-m1", M1_GEN1, &[(0, 3)]);
        commit_ok(&mut h, "g1-m1", M1_GEN1, &[(0, 3)]);
        assert_eq!(check(&h, &Promises::default()), vec![]);
    }

    #[test]
    fn a_commit_refused_then_resent_after_the_rebalance_is_dated_by_the_resend() {
        let mut h = History::default();
        assignment(&mut h, "g1-m1", "g1", "m1", 1, &[0]);
        commit_invoke(&mut h, "g1-m1", M1_GEN1, &[(0, 3)]);
        commit_fail(
            &mut h,
            "g1-m1",
            M1_GEN1,
            &[(0, 3)],
            "COORDINATOR_LOAD_IN_PROGRESS",
        );
        assignment(&mut h, "g1-m2", "g1", "m2", 2, &[0]);
        commit(&mut h, "g1-m1", M1_GEN1, &[(0, 3)]); // resent, accepted by a broken coordinator
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].index, 5);
    }

    #[test]
    fn a_restarted_process_is_a_new_member_and_its_commits_are_its_own() {
        let mut h = History::default();
        assignment(&mut h, "g1-m1", "g1", "m1", 1, &[0]);
        commit_invoke(&mut h, "g1-m1", M1_GEN1, &[(0, 3)]); // dies with this in flight
        assignment(&mut h, "g1-m1", "g1", "m1b", 2, &[0]); // restarted as m1b
        commit(&mut h, "g1-m1", ("g1", "m1b", 2), &[(0, 3)]);
        assert_eq!(check(&h, &Promises::default()), vec![]);
    }

    #[test]
    fn a_zombie_commit_accepted_after_the_next_generation_is_a_violation() {
        // What a coordinator with `accept_stale_generation_commits` lets through.
        let mut h = rebalanced_away_from_m1();
        commit(&mut h, "g1-m1", M1_GEN1, &[(0, 4)]); // 6, 7
        commit(&mut h, "g1-m1", M1_GEN1, &[(0, 5)]); // 8, 9
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::StaleCommit);
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert_eq!(found[0].index, 7);
        assert_eq!(
            found[0].detail,
            "group g1: 2 commit(s) of member m1 (g1-m1) from generation 1 accepted after m2 \
             got generation 2; the first (invoke #6, ok #7) committed t/0@4"
        );
        // Only a loss of the group's coordinator state could excuse it.
        assert!(found[0].excusable);
        assert_eq!(
            found[0].scope,
            vec![super::super::LossScope::Group { group: "g1".into() }]
        );
    }
}

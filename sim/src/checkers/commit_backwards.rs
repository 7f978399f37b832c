//! commit-backwards: a group's committed offset for a partition never goes backwards. When
//! a commit of offset o1 for (group, partition) has completed ok, a commit invoked after that
//! ok must not complete ok with an offset o2 < o1.
//!
//! Source: DESIGN.md section 5 ("committed offsets never go backwards") and Kafka's classic
//! group protocol: the committed offset is last processed + 1, only the partition's single
//! owner of the current generation may commit it (ILLEGAL_GENERATION fences the rest), and
//! a new owner starts from the committed offset, so every accepted commit is at or above
//! the one before. A lower one is a zombie's overwrite (the `accept_stale_generation_commits`
//! variant) or a lost offsets record, and makes the group re-read or re-process.
//!
//! Only commits ordered in real time are compared: two commits in flight together may be
//! applied in either order (Kafka's async commits), so the later one must have been
//! invoked after the earlier one's ok. Oks are paired with invokes as early as any valid
//! pairing allows (`group_view::commit_oks`), so no pair is ordered on a guess.
//!
//! Soundness: if the offsets record vanishes (unclean election, or a power loss meeting
//! async flush), the next owner rightly resumes from an older offset and commits lower:
//! allowed with that excuse. A reset after the log itself lost its tail (a position past
//! the log end) needs the same excuse.

use super::group_view::{commit_oks, CommitOk};
use super::view::{name, Partition};
use super::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::history::History;
use std::collections::BTreeMap;

/// One partition's offset in an acknowledged commit.
struct Committed<'h> {
    offset: u64,
    ok: CommitOk<'h>,
}

fn who(ok: &CommitOk<'_>) -> String {
    format!(
        "{} ({}, generation {})",
        ok.commit.member, ok.process, ok.commit.generation
    )
}

pub fn check(history: &History, promises: &Promises) -> Vec<Anomaly> {
    // (group, partition) -> its commit oks in ok order.
    let mut by_partition: BTreeMap<(&str, Partition<'_>), Vec<Committed<'_>>> = BTreeMap::new();
    for ok in commit_oks(history) {
        for o in &ok.commit.offsets {
            by_partition
                .entry((ok.commit.group.as_str(), (o.topic.as_str(), o.partition)))
                .or_default()
                .push(Committed {
                    offset: o.offset,
                    ok: ok.clone(),
                });
        }
    }

    let (verdict, why) = classify(promises);
    let mut anomalies = Vec::new();
    for ((group, partition), commits) in by_partition {
        // highest[i]: the position in `commits` of the highest offset among commits[..=i]
        // (the first to reach it), so each commit finds the highest one completed before
        // its invoke by a binary search on ok indices.
        let mut highest: Vec<usize> = Vec::with_capacity(commits.len());
        for (i, c) in commits.iter().enumerate() {
            let best = match highest.last() {
                Some(&h) if commits[h].offset >= c.offset => h,
                _ => i,
            };
            highest.push(best);
        }
        // One anomaly per (group, partition): a zombie may go backwards many times.
        let mut backwards: Vec<(&Committed<'_>, &Committed<'_>)> = Vec::new();
        for later in &commits {
            let Some(invoke) = later.ok.invoke else {
                continue;
            };
            let done_before = commits.partition_point(|c| c.ok.ok < invoke);
            let Some(&h) = done_before.checked_sub(1).map(|i| &highest[i]) else {
                continue;
            };
            if commits[h].offset > later.offset {
                backwards.push((&commits[h], later));
            }
        }
        let Some((earlier, later)) = backwards.first() else {
            continue;
        };
        let anomaly = Anomaly::new(
            AnomalyKind::CommitBackwards,
            (verdict, why),
            format!(
                "group {group} {}: {} commit(s) went backwards; the first: {} committed {} \
                 (invoke #{}, ok #{}) after {} had committed {} (ok #{})",
                name(&partition),
                backwards.len(),
                who(&later.ok),
                later.offset,
                later.ok.invoke.expect("only dated commits are compared"),
                later.ok.ok,
                who(&earlier.ok),
                earlier.offset,
                earlier.ok.ok
            ),
            Vec::new(),
            later.ok.ok,
        );
        // A coordinator that lost commits, or a member reset below records a leader lost.
        let between = (later.offset..earlier.offset).collect();
        anomalies.push(
            anomaly
                .unless_loss_explains()
                .involving_group(group)
                .involving(partition.0, partition.1, between),
        );
    }
    anomalies.sort_by_key(|anomaly| anomaly.index);
    anomalies
}

fn classify(promises: &Promises) -> (Verdict, &'static str) {
    promises.unless_loss_excused(
        "Kafka fences all but a partition's current owner, whose commits only move forward",
    )
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;

    const M1_GEN1: (&str, &str, u32) = ("g1", "m1", 1);
    const M2_GEN2: (&str, &str, u32) = ("g1", "m2", 2);

    #[test]
    fn forward_commits_and_concurrent_commits_pass() {
        let mut h = History::default();
        assignment(&mut h, "g1-m1", "g1", "m1", 1, &[0, 1]);
        commit(&mut h, "g1-m1", M1_GEN1, &[(0, 3), (1, 9)]);
        // Two async commits in flight together: applied in either order.
        commit_invoke(&mut h, "g1-m1", M1_GEN1, &[(0, 5)]);
        commit_invoke(&mut h, "g1-m1", M1_GEN1, &[(0, 4)]);
        commit_ok(&mut h, "g1-m1", M1_GEN1, &[(0, 5)]);
        commit_ok(&mut h, "g1-m1", M1_GEN1, &[(0, 4)]);
        // A refused lower commit is fine; so is another group's lower offset.
        commit_invoke(&mut h, "g1-m1", M1_GEN1, &[(0, 2)]);
        commit_fail(&mut h, "g1-m1", M1_GEN1, &[(0, 2)], "ILLEGAL_GENERATION");
        commit(&mut h, "g2-m1", ("g2", "n1", 1), &[(0, 1)]);
        assignment(&mut h, "g1-m2", "g1", "m2", 2, &[0, 1]);
        commit(&mut h, "g1-m2", M2_GEN2, &[(0, 5), (1, 9)]); // unchanged is not backwards
        assert_eq!(check(&h, &Promises::default()), vec![]);
    }

    #[test]
    fn a_zombies_lower_offset_after_the_new_owners_commit_is_a_violation() {
        // m1 pauses past its session timeout; m2 takes partition 0 and moves on; m1 wakes
        // and commits its old position, which a coordinator with
        // `accept_stale_generation_commits` accepts.
        let mut h = History::default();
        assignment(&mut h, "g1-m1", "g1", "m1", 1, &[0]);
        commit(&mut h, "g1-m1", M1_GEN1, &[(0, 3)]); // 1, 2
        assignment(&mut h, "g1-m2", "g1", "m2", 2, &[0]);
        commit(&mut h, "g1-m2", M2_GEN2, &[(0, 8)]); // 4, 5
        commit(&mut h, "g1-m1", M1_GEN1, &[(0, 4)]); // 6, 7
        commit(&mut h, "g1-m2", M2_GEN2, &[(0, 9)]); // 8, 9
        commit(&mut h, "g1-m1", M1_GEN1, &[(0, 5)]); // 10, 11
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::CommitBackwards);
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert_eq!(found[0].index, 7);
        assert_eq!(
            found[0].detail,
            "group g1 t/0: 2 commit(s) went backwards; the first: m1 (g1-m1, generation 1) \
             committed 4 (invoke #6, ok #7) after m2 (g1-m2, generation 2) had committed 8 \
             (ok #5)"
        );
        let unclean = Promises {
            unclean_election: true,
            ..Promises::default()
        };
        let found = check(&h, &unclean);
        assert!(found[0].verdict == Verdict::Violation && found[0].excusable);
    }
}

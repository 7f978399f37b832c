//! group-ownership: at most one owner per partition per generation. Two different members
//! of one group whose `assignment` answers for the same generation share a partition both
//! believe they own it, and both read and commit it.
//!
//! Source: DESIGN.md section 5 ("consumer groups: at most one owner per partition per
//! generation") and Kafka's classic group protocol (the JoinGroup/SyncGroup rebalance of the
//! wiki's "Kafka Client-side Assignment Proposal", Kafka 0.9; `ClassicGroup` in Kafka's group
//! coordinator): the group leader computes one
//! assignment per generation, the coordinator stores it in `__consumer_offsets` before any
//! member gets its SyncGroup answer, and every member's answer is its slice of that single
//! assignment. A member that learns a partition in generation G therefore shares it with
//! no one in G.
//!
//! Soundness: a generation's number identifies its assignment only while the group's
//! metadata record survives. If it vanishes (unclean election, or a power loss meeting
//! async flush of the offsets topic), the next coordinator reloads an older generation and
//! hands the same number out again with another assignment: allowed with that excuse.
//! One member answered twice in a generation (a repeated SyncGroup) is not two owners.

use super::view::name;
use super::{Anomaly, AnomalyKind, Promises, Verdict};
use crate::history::{History, OpType, Operation};
use std::collections::BTreeMap;

/// (group, generation) -> partition -> member -> history index of its first answer.
type Owners<'a> = BTreeMap<(&'a str, u32), BTreeMap<(&'a str, u32), BTreeMap<&'a str, u64>>>;

pub fn check(history: &History, promises: &Promises) -> Vec<Anomaly> {
    let mut owners: Owners<'_> = BTreeMap::new();
    for entry in &history.entries {
        let (OpType::Ok, Operation::Assignment(assignment)) = (entry.op_type, &entry.op) else {
            continue;
        };
        let generation = owners
            .entry((assignment.group.as_str(), assignment.generation))
            .or_default();
        for p in &assignment.partitions {
            generation
                .entry((p.topic.as_str(), p.partition))
                .or_default()
                .entry(assignment.member.as_str())
                .or_insert(entry.index);
        }
    }

    let (verdict, why) = classify(promises);
    let mut anomalies = Vec::new();
    // One anomaly per (group, generation): a broken assignment usually shares several
    // partitions at once, and one line naming them all reads better than one each.
    for ((group, generation), partitions) in owners {
        let shared: Vec<_> = partitions
            .iter()
            .filter(|(_, members)| members.len() > 1)
            .collect();
        if shared.is_empty() {
            continue;
        }
        let text: Vec<String> = shared
            .iter()
            .map(|(partition, members)| {
                let names: Vec<&str> = members.keys().copied().collect();
                format!("{} owned by {}", name(partition), names.join(", "))
            })
            .collect();
        // It shows when a partition's second owner gets its answer.
        let index = shared
            .iter()
            .filter_map(|(_, members)| {
                let mut at: Vec<u64> = members.values().copied().collect();
                at.sort_unstable();
                at.get(1).copied()
            })
            .min()
            .expect("a shared partition has two owners");
        let detail = format!(
            "group {group} generation {generation}: {} shared: {}",
            shared.len(),
            text.join("; ")
        );
        let anomaly = Anomaly::new(
            AnomalyKind::GroupOwnership,
            (verdict, why),
            detail,
            Vec::new(),
            index,
        );
        // Only a coordinator that lost the group's records could hand out a generation
        // twice.
        anomalies.push(anomaly.unless_loss_explains().involving_group(group));
    }
    anomalies.sort_by_key(|anomaly| anomaly.index);
    anomalies
}

fn classify(promises: &Promises) -> (Verdict, &'static str) {
    promises.unless_loss_excused(
        "Kafka's group protocol gives each partition to one member per generation",
    )
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;

    #[test]
    fn one_owner_per_partition_per_generation_passes() {
        let mut h = History::default();
        assignment(&mut h, "g1-m1", "g1", "m1", 1, &[0, 1]);
        assignment(&mut h, "g1-m2", "g1", "m2", 1, &[]); // idle
        assignment(&mut h, "g1-m1", "g1", "m1", 2, &[0]);
        assignment(&mut h, "g1-m2", "g1", "m2", 2, &[1]); // moved: a new generation
        assignment(&mut h, "g1-m2", "g1", "m2", 2, &[1]); // answered twice: one owner
        assignment(&mut h, "g2-m1", "g2", "n1", 2, &[0, 1]); // another group reads too
        assert_eq!(check(&h, &Promises::default()), vec![]);
    }

    #[test]
    fn two_members_owning_a_partition_in_one_generation_is_a_violation() {
        let mut h = History::default();
        assignment(&mut h, "g1-m1", "g1", "m1", 3, &[0, 1]);
        assignment(&mut h, "g1-m2", "g1", "m2", 3, &[1, 2]);
        assignment(&mut h, "g1-m3", "g1", "m3", 3, &[2]);
        let found = check(&h, &Promises::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::GroupOwnership);
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert_eq!(found[0].index, 1);
        assert_eq!(
            found[0].detail,
            "group g1 generation 3: 2 shared: t/1 owned by m1, m2; t/2 owned by m2, m3"
        );
    }

    #[test]
    fn shared_ownership_is_left_to_a_loss_of_the_group_metadata() {
        let mut h = History::default();
        assignment(&mut h, "g1-m1", "g1", "m1", 3, &[0]);
        assignment(&mut h, "g1-m2", "g1", "m2", 3, &[0]);
        let promises = Promises {
            unclean_election: true,
            ..Promises::default()
        };
        let found = check(&h, &promises);
        assert!(found[0].verdict == Verdict::Violation && found[0].excusable);
        assert_eq!(
            found[0].scope,
            vec![super::super::LossScope::Group { group: "g1".into() }]
        );
    }
}

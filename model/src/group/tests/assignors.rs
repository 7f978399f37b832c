//! The assignors: Kafka's documented examples, and properties over any member and
//! partition counts: every partition assigned exactly once per generation, idle members =
//! max(0, members - partitions), balance, and cooperative-sticky's minimal movement and
//! two-phase moves.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

fn m(i: usize) -> MemberId {
    MemberId(format!("m{i:02}"))
}

fn subscribed(topics: &[&str]) -> Subscription {
    Subscription {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        ..Subscription::default()
    }
}

fn members(count: usize, topics: &[&str]) -> BTreeMap<MemberId, Subscription> {
    (0..count).map(|i| (m(i), subscribed(topics))).collect()
}

fn topics(list: &[(&str, u32)]) -> BTreeMap<String, u32> {
    list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
}

fn tps(list: &[(&str, u32)]) -> Vec<TopicPartition> {
    list.iter().map(|(t, p)| tp(t, *p)).collect()
}

/// Every partition of `partitions` is in exactly one assignment (or, for cooperative,
/// withheld from exactly one), and nothing else is assigned.
fn assert_exactly_once(assignment: &GroupAssignment, partitions: &BTreeMap<String, u32>) {
    let mut seen: BTreeMap<TopicPartition, usize> = BTreeMap::new();
    for list in assignment.assignments.values() {
        for tp in list {
            *seen.entry(tp.clone()).or_default() += 1;
        }
    }
    for pending in &assignment.withheld {
        *seen.entry(pending.partition.clone()).or_default() += 1;
    }
    let all: BTreeSet<TopicPartition> = partitions
        .iter()
        .flat_map(|(t, n)| (0..*n).map(move |p| tp(t, p)))
        .collect();
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), all);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
}

#[test]
fn range_gives_consecutive_ranges_per_topic() {
    // Kafka's RangeAssignor javadoc: C0 and C1, topics t0 and t1 of 3 partitions each.
    let out = Assignor::Range.assign(&members(2, &["t0", "t1"]), &topics(&[("t0", 3), ("t1", 3)]));
    assert_eq!(
        out.assignments[&m(0)],
        tps(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)])
    );
    assert_eq!(out.assignments[&m(1)], tps(&[("t0", 2), ("t1", 2)]));
    assert!(out.withheld.is_empty());
}

#[test]
fn round_robin_deals_all_partitions_in_turn() {
    // Kafka's RoundRobinAssignor javadoc, first example.
    let out =
        Assignor::RoundRobin.assign(&members(2, &["t0", "t1"]), &topics(&[("t0", 3), ("t1", 3)]));
    assert_eq!(
        out.assignments[&m(0)],
        tps(&[("t0", 0), ("t0", 2), ("t1", 1)])
    );
    assert_eq!(
        out.assignments[&m(1)],
        tps(&[("t0", 1), ("t1", 0), ("t1", 2)])
    );
    // Second example: C0 subscribes t0; C1 t0, t1; C2 t0, t1, t2 (1, 2, 3 partitions).
    let mut subs = BTreeMap::new();
    subs.insert(m(0), subscribed(&["t0"]));
    subs.insert(m(1), subscribed(&["t0", "t1"]));
    subs.insert(m(2), subscribed(&["t0", "t1", "t2"]));
    let out = Assignor::RoundRobin.assign(&subs, &topics(&[("t0", 1), ("t1", 2), ("t2", 3)]));
    assert_eq!(out.assignments[&m(0)], tps(&[("t0", 0)]));
    assert_eq!(out.assignments[&m(1)], tps(&[("t1", 0)]));
    assert_eq!(
        out.assignments[&m(2)],
        tps(&[("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)])
    );
}

#[test]
fn unknown_topics_and_unsubscribed_topics_are_not_assigned() {
    for assignor in Assignor::ALL {
        let mut subs = members(2, &["t"]);
        subs.insert(m(2), subscribed(&["u", "missing"]));
        let out = assignor.assign(&subs, &topics(&[("t", 3), ("u", 1), ("v", 4)]));
        assert_exactly_once(&out, &topics(&[("t", 3), ("u", 1)]));
        assert_eq!(out.assignments[&m(2)], tps(&[("u", 0)]), "{assignor:?}");
        assert!(assignor
            .assign(&BTreeMap::new(), &topics(&[("t", 3)]))
            .assignments
            .is_empty());
    }
}

#[test]
fn cooperative_sticky_moves_a_partition_in_two_rounds() {
    let partitions = topics(&[("t", 4)]);
    // Round 0: two members own two partitions each; a third joins.
    let mut subs = members(3, &["t"]);
    subs.get_mut(&m(0)).unwrap().owned_partitions = tps(&[("t", 0), ("t", 1)]);
    subs.get_mut(&m(1)).unwrap().owned_partitions = tps(&[("t", 2), ("t", 3)]);
    for s in subs.values_mut() {
        s.generation = Some(Generation(1));
    }
    let first = Assignor::CooperativeSticky.assign(&subs, &partitions);
    assert_exactly_once(&first, &partitions);
    // One partition must move to the newcomer, and is withheld this round.
    assert_eq!(first.withheld.len(), 1);
    let moving = first.withheld[0].clone();
    assert_eq!(moving.to, m(2));
    assert!(
        first.assignments[&m(2)].is_empty(),
        "nothing it can have yet"
    );
    let revoked: Vec<TopicPartition> = [m(0), m(1)]
        .iter()
        .flat_map(|member| {
            cooperative_revocations(&subs[member].owned_partitions, &first.assignments[member])
        })
        .collect();
    assert_eq!(revoked, vec![moving.partition.clone()]);
    // Round 2: owners report what they kept; the revoked partition goes to the newcomer.
    for (member, sub) in subs.iter_mut() {
        sub.owned_partitions = first.assignments[member].clone();
        sub.generation = Some(Generation(2));
    }
    let second = Assignor::CooperativeSticky.assign(&subs, &partitions);
    assert!(second.withheld.is_empty());
    assert_eq!(second.assignments[&m(2)], vec![moving.partition]);
    for member in [m(0), m(1)] {
        assert_eq!(second.assignments[&member], first.assignments[&member]);
    }
}

#[test]
fn cooperative_sticky_settles_double_claims_by_generation() {
    let partitions = topics(&[("t", 2)]);
    let mut subs = members(2, &["t"]);
    // m0 missed a rebalance and still claims t-0 from generation 3; m1 owns it in 4.
    subs.get_mut(&m(0)).unwrap().owned_partitions = tps(&[("t", 0)]);
    subs.get_mut(&m(0)).unwrap().generation = Some(Generation(3));
    subs.get_mut(&m(1)).unwrap().owned_partitions = tps(&[("t", 0), ("t", 1)]);
    subs.get_mut(&m(1)).unwrap().generation = Some(Generation(4));
    let out = Assignor::CooperativeSticky.assign(&subs, &partitions);
    assert_exactly_once(&out, &partitions);
    // m1 keeps one (balance), the other must move to m0: held back while anyone claims it.
    assert_eq!(out.assignments[&m(1)].len(), 1);
    assert!(out.assignments[&m(0)].is_empty());
    assert_eq!(out.withheld.len(), 1);
}

/// A previous generation's ownership: partition `i` goes to member `owner[i]` (or nobody).
fn owned_by(
    owner: &[Option<usize>],
    members_count: usize,
    partitions: u32,
) -> Vec<Vec<TopicPartition>> {
    let mut owned = vec![Vec::new(); members_count];
    for (p, o) in owner.iter().enumerate().take(partitions as usize) {
        if let Some(o) = o.filter(|o| *o < members_count) {
            owned[o].push(tp("t", p as u32));
        }
    }
    owned
}

/// The fewest owned partitions any balanced assignment must move: members keeping the
/// most get the larger quotas.
fn lower_bound_moves(owned: &[Vec<TopicPartition>], partitions: u32) -> usize {
    let c = owned.len() as u32;
    let (floor, extra) = (partitions / c, partitions % c);
    let mut counts: Vec<u32> = owned.iter().map(|o| o.len() as u32).collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let quota = floor + u32::from((i as u32) < extra);
            n.saturating_sub(quota) as usize
        })
        .sum()
}

proptest! {
    #[test]
    fn every_partition_exactly_once_and_extra_members_idle(
        member_count in 0usize..12,
        partition_counts in proptest::collection::vec(0u32..9, 1..4),
    ) {
        let names = ["a", "b", "c"];
        let partitions: BTreeMap<String, u32> = names
            .iter()
            .zip(&partition_counts)
            .map(|(t, n)| (t.to_string(), *n))
            .collect();
        let topic_names: Vec<&str> = partitions.keys().map(String::as_str).collect();
        let subs = members(member_count, &topic_names);
        let total: u32 = partition_counts.iter().sum();
        for assignor in Assignor::ALL {
            let out = assignor.assign(&subs, &partitions);
            prop_assert_eq!(out.assignments.len(), member_count);
            if member_count > 0 {
                assert_exactly_once(&out, &partitions);
            }
            prop_assert!(out.withheld.is_empty(), "nobody owned anything");
            // Same input, same output.
            prop_assert_eq!(&assignor.assign(&subs, &partitions), &out);
            if assignor != Assignor::Range {
                // Balanced over all topics: idle members exactly the surplus.
                let sizes: Vec<usize> = out.assignments.values().map(Vec::len).collect();
                let (min, max) = (sizes.iter().min(), sizes.iter().max());
                if let (Some(min), Some(max)) = (min, max) {
                    prop_assert!(max - min <= 1, "{:?}: {:?}", assignor, sizes);
                }
                prop_assert_eq!(
                    out.idle_members().len(),
                    member_count.saturating_sub(total as usize)
                );
            } else if partition_counts.len() == 1 {
                prop_assert_eq!(
                    out.idle_members().len(),
                    member_count.saturating_sub(total as usize)
                );
            }
        }
    }

    #[test]
    fn cooperative_sticky_moves_as_few_owned_partitions_as_balance_needs(
        member_count in 1usize..8,
        partitions in 0u32..20,
        owner in proptest::collection::vec(proptest::option::of(0usize..8), 20),
    ) {
        let owned = owned_by(&owner, member_count, partitions);
        let mut subs = members(member_count, &["t"]);
        for (i, sub) in subs.values_mut().enumerate() {
            sub.owned_partitions = owned[i].clone();
            sub.generation = Some(Generation(1));
        }
        let partition_map = topics(&[("t", partitions)]);
        let out = Assignor::CooperativeSticky.assign(&subs, &partition_map);
        assert_exactly_once(&out, &partition_map);
        // Every withheld partition leaves its owner, and nothing else does.
        let revoked: usize = subs
            .iter()
            .map(|(member, sub)| {
                cooperative_revocations(&sub.owned_partitions, &out.assignments[member]).len()
            })
            .sum();
        prop_assert_eq!(revoked, out.withheld.len());
        prop_assert_eq!(revoked, lower_bound_moves(&owned, partitions));
        // After the owners revoke, the second round completes the moves and is balanced.
        for (member, sub) in subs.iter_mut() {
            sub.owned_partitions = out.assignments[member].clone();
            sub.generation = Some(Generation(2));
        }
        let second = Assignor::CooperativeSticky.assign(&subs, &partition_map);
        prop_assert!(second.withheld.is_empty());
        assert_exactly_once(&second, &partition_map);
        // The second round revokes nothing more: the rebalance converges in two rounds.
        for (member, sub) in &subs {
            prop_assert!(cooperative_revocations(&sub.owned_partitions, &second.assignments[member]).is_empty());
        }
        let sizes: Vec<usize> = second.assignments.values().map(Vec::len).collect();
        prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
        for (member, kept) in &out.assignments {
            for tp in kept {
                prop_assert!(second.assignments[member].contains(tp), "kept partitions stay");
            }
        }
    }

    #[test]
    fn mixed_subscriptions_assign_each_partition_once_to_a_subscriber(
        subscriptions in proptest::collection::vec(proptest::collection::btree_set(0usize..3, 0..4), 1..7),
        counts in proptest::collection::vec(0u32..6, 3),
        owner in proptest::collection::vec(proptest::option::of(0usize..7), 18),
    ) {
        let names = ["a", "b", "c"];
        let partitions: BTreeMap<String, u32> =
            names.iter().zip(&counts).map(|(t, n)| (t.to_string(), *n)).collect();
        let subs: BTreeMap<MemberId, Subscription> = subscriptions
            .iter()
            .enumerate()
            .map(|(i, set)| {
                let topics: Vec<&str> = set.iter().map(|t| names[*t]).collect();
                (m(i), subscribed(&topics))
            })
            .collect();
        let subscribed_partitions: BTreeMap<String, u32> = partitions
            .iter()
            .filter(|(t, _)| subs.values().any(|s| s.topics.contains(t)))
            .map(|(t, n)| (t.clone(), *n))
            .collect();
        for assignor in Assignor::ALL {
            let mut subs = subs.clone();
            if assignor == Assignor::CooperativeSticky {
                // Owners from any earlier generation, some no longer valid.
                for (i, o) in owner.iter().enumerate() {
                    if let Some(o) = o.filter(|o| *o < subs.len()) {
                        let partition = tp(names[i % 3], (i / 3) as u32);
                        subs.get_mut(&m(o)).unwrap().owned_partitions.push(partition);
                    }
                }
            }
            let out = assignor.assign(&subs, &partitions);
            assert_exactly_once(&out, &subscribed_partitions);
            for (member, list) in &out.assignments {
                for tp in list {
                    prop_assert!(subs[member].topics.contains(&tp.topic), "{:?}", assignor);
                }
            }
        }
    }
}

//! The cooperative-sticky assignor (Kafka's CooperativeStickyAssignor, KIP-429): a balanced
//! assignment that keeps every member's owned partitions where balance allows, and that
//! moves a partition in two rebalances: this round its owner is not given it (and revokes
//! it), the next round its new member is.
//!
//! The target is computed in three steps, each deterministic:
//! 1. claims: a member keeps the owned partitions it still subscribes to; of two members
//!    claiming one partition the one with the newer generation keeps it, and a tie leaves
//!    it to nobody (Kafka logs this as an error: it cannot happen in a healthy group);
//! 2. the partitions nobody keeps go, those with the fewest candidates first, to the
//!    candidate holding the fewest partitions (ties: lowest member id);
//! 3. while a member holds two more than some member that could take one of its
//!    partitions, one moves, a partition it was given in step 2 before one it owned.
//!
//! With equal subscriptions this ends balanced (sizes differ by at most one) and moves
//! only as many owned partitions as balance requires.

use super::assignor::{subscribers_by_topic, GroupAssignment, PendingMove, Subscription};
use super::ids::{Generation, MemberId};
use crate::ids::TopicPartition;
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn assign(
    members: &BTreeMap<MemberId, Subscription>,
    partitions_per_topic: &BTreeMap<String, u32>,
) -> GroupAssignment {
    let candidates = candidates(members, partitions_per_topic);
    let owners = settle_claims(members, &candidates);
    let mut target: BTreeMap<&MemberId, BTreeSet<&TopicPartition>> =
        members.keys().map(|m| (m, BTreeSet::new())).collect();
    for (tp, owner) in &owners {
        target
            .get_mut(owner)
            .expect("owners are members")
            .insert(*tp);
    }
    assign_unowned(&candidates, &owners, &mut target);
    balance(&candidates, &owners, &mut target);
    withhold_owned_elsewhere(members, target)
}

/// Every subscribed partition and the members that may read it, in id order.
fn candidates<'a>(
    members: &'a BTreeMap<MemberId, Subscription>,
    partitions_per_topic: &BTreeMap<String, u32>,
) -> BTreeMap<TopicPartition, Vec<&'a MemberId>> {
    let mut out = BTreeMap::new();
    for (topic, (partitions, subscribers)) in subscribers_by_topic(members, partitions_per_topic) {
        for partition in 0..partitions {
            out.insert(
                TopicPartition::new(topic.clone(), partition),
                subscribers.clone(),
            );
        }
    }
    out
}

/// Who keeps each owned partition: the single claimant of the newest generation.
fn settle_claims<'a>(
    members: &'a BTreeMap<MemberId, Subscription>,
    candidates: &'a BTreeMap<TopicPartition, Vec<&'a MemberId>>,
) -> BTreeMap<&'a TopicPartition, &'a MemberId> {
    let mut claims: BTreeMap<&TopicPartition, Vec<(Option<Generation>, &MemberId)>> =
        BTreeMap::new();
    for (member, subscription) in members {
        let owned: BTreeSet<&TopicPartition> = subscription.owned_partitions.iter().collect();
        for tp in owned {
            let Some((tp, eligible)) = candidates.get_key_value(tp) else {
                continue;
            };
            if eligible.contains(&member) {
                claims
                    .entry(tp)
                    .or_default()
                    .push((subscription.generation, member));
            }
        }
    }
    claims
        .into_iter()
        .filter_map(|(tp, claimants)| {
            let newest = claimants.iter().map(|(g, _)| *g).max()?;
            let mut winners = claimants.into_iter().filter(|(g, _)| *g == newest);
            let (_, winner) = winners.next()?;
            winners.next().is_none().then_some((tp, winner))
        })
        .collect()
}

/// Gives each partition nobody keeps to its least loaded candidate, scarcest first.
fn assign_unowned<'a>(
    candidates: &'a BTreeMap<TopicPartition, Vec<&'a MemberId>>,
    owners: &BTreeMap<&TopicPartition, &MemberId>,
    target: &mut BTreeMap<&'a MemberId, BTreeSet<&'a TopicPartition>>,
) {
    let mut unowned: Vec<(&TopicPartition, &Vec<&MemberId>)> = candidates
        .iter()
        .filter(|(tp, _)| !owners.contains_key(tp))
        .collect();
    unowned.sort_by_key(|(tp, eligible)| (eligible.len(), *tp));
    for (tp, eligible) in unowned {
        let least = eligible
            .iter()
            .min_by_key(|m| (target[**m].len(), **m))
            .expect("a partition has candidates");
        target
            .get_mut(*least)
            .expect("candidates are members")
            .insert(tp);
    }
}

/// Moves partitions from the most loaded members to candidates holding two fewer, until
/// no such move is left. Each move lowers the sum of squared sizes, so this ends.
fn balance<'a>(
    candidates: &'a BTreeMap<TopicPartition, Vec<&'a MemberId>>,
    owners: &BTreeMap<&TopicPartition, &MemberId>,
    target: &mut BTreeMap<&'a MemberId, BTreeSet<&'a TopicPartition>>,
) {
    while let Some((tp, from, to)) = next_move(candidates, owners, target) {
        target.get_mut(from).expect("member").remove(tp);
        target.get_mut(to).expect("member").insert(tp);
    }
}

type Move<'a> = (&'a TopicPartition, &'a MemberId, &'a MemberId);

fn next_move<'a>(
    candidates: &'a BTreeMap<TopicPartition, Vec<&'a MemberId>>,
    owners: &BTreeMap<&TopicPartition, &MemberId>,
    target: &BTreeMap<&'a MemberId, BTreeSet<&'a TopicPartition>>,
) -> Option<Move<'a>> {
    let mut by_load: Vec<(&&MemberId, &BTreeSet<&TopicPartition>)> = target.iter().collect();
    by_load.sort_by_key(|(m, held)| (std::cmp::Reverse(held.len()), **m));
    for (from, held) in by_load {
        // Partitions it was merely given before those it owned: moving those costs nothing.
        let (given, kept): (Vec<&TopicPartition>, Vec<&TopicPartition>) = held
            .iter()
            .copied()
            .partition(|tp| owners.get(tp) != Some(from));
        for tp in given.into_iter().chain(kept) {
            let (tp_key, eligible) = candidates
                .get_key_value(tp)
                .expect("targets are candidates");
            let to = eligible
                .iter()
                .filter(|m| target[**m].len() + 1 < held.len())
                .min_by_key(|m| (target[**m].len(), **m));
            if let Some(to) = to {
                return Some((tp_key, from, to));
            }
        }
    }
    None
}

/// The round's assignment: each member's target, less the partitions another member still
/// owns, which wait for their owner to revoke them. Any claim counts here, settled or not,
/// so that no partition ever has two owners in one generation.
fn withhold_owned_elsewhere(
    members: &BTreeMap<MemberId, Subscription>,
    target: BTreeMap<&MemberId, BTreeSet<&TopicPartition>>,
) -> GroupAssignment {
    let mut claimants: BTreeMap<&TopicPartition, Vec<&MemberId>> = BTreeMap::new();
    for (member, subscription) in members {
        for tp in &subscription.owned_partitions {
            claimants.entry(tp).or_default().push(member);
        }
    }
    let mut out = GroupAssignment::default();
    for (member, partitions) in target {
        let mut mine = Vec::new();
        for tp in partitions {
            match claimants
                .get(tp)
                .and_then(|c| c.iter().find(|c| **c != member))
            {
                Some(owner) => out.withheld.push(PendingMove {
                    partition: tp.clone(),
                    from: (*owner).clone(),
                    to: member.clone(),
                }),
                None => mine.push(tp.clone()),
            }
        }
        out.assignments.insert(member.clone(), mine);
    }
    out.withheld.sort();
    out
}

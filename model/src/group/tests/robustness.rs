//! Robustness: arbitrary requests never panic and the timers always make progress; random
//! membership churn (joins, crashes, pauses, leaves, failed writes) keeps one owner per
//! partition per generation and ends in a stable group once the churn stops.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

#[derive(Clone, Debug)]
enum Op {
    Request(u32, GroupRequest),
    Tick(u64),
    Complete(bool),
}

fn arb_request() -> impl Strategy<Value = GroupRequest> {
    let group = prop_oneof![Just(gid()), Just(GroupId::new("")), Just(GroupId::new("h"))];
    let member = prop_oneof![
        Just(None),
        (0u32..3, 0u64..6).prop_map(|(c, n)| Some(MemberId(format!("c{c}-1-{n}")))),
        Just(Some(MemberId::new("garbage"))),
    ];
    let generation = 0u32..4;
    let protocols = proptest::sample::subsequence(Assignor::ALL.to_vec(), 0..=3);
    let partitions = proptest::collection::vec((0u32..4).prop_map(|p| tp("t", p)), 0..4);
    prop_oneof![
        (
            group.clone(),
            member.clone(),
            protocols,
            partitions.clone(),
            0u64..3
        )
            .prop_map(|(group, member, protocols, owned, session)| {
                GroupRequest::JoinGroup {
                    group,
                    member,
                    client_id: "c".into(),
                    session_timeout_ms: [45_000, 10, 10_000][session as usize],
                    rebalance_timeout_ms: 60_000,
                    protocols,
                    subscription: Subscription {
                        topics: vec!["t".into()],
                        owned_partitions: owned,
                        generation: None,
                    },
                }
            }),
        (
            group.clone(),
            member.clone(),
            generation.clone(),
            partitions.clone()
        )
            .prop_map(
                |(group, member, generation, partitions)| GroupRequest::SyncGroup {
                    group,
                    generation: Generation(generation),
                    member: member.clone().unwrap_or_default(),
                    assignments: member
                        .into_iter()
                        .map(|m| (m, partitions.clone()))
                        .collect(),
                }
            ),
        (group.clone(), member.clone(), generation.clone()).prop_map(
            |(group, member, generation)| {
                GroupRequest::Heartbeat {
                    group,
                    generation: Generation(generation),
                    member: member.unwrap_or_default(),
                }
            }
        ),
        (group.clone(), member.clone()).prop_map(|(group, member)| GroupRequest::LeaveGroup {
            group,
            member: member.unwrap_or_default(),
        }),
        (
            group.clone(),
            member,
            proptest::option::of(generation),
            partitions.clone()
        )
            .prop_map(|(group, member, generation, partitions)| {
                GroupRequest::OffsetCommit {
                    group,
                    generation: generation.map(Generation),
                    member,
                    offsets: partitions.into_iter().map(|tp| (tp, Offset(3))).collect(),
                }
            }),
        (group, proptest::option::of(partitions), any::<bool>()).prop_map(
            |(group, partitions, require_stable)| GroupRequest::OffsetFetch {
                group,
                partitions,
                require_stable,
            }
        ),
    ]
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..3, arb_request()).prop_map(|(c, r)| Op::Request(c, r)),
        2 => (0u64..100_000).prop_map(Op::Tick),
        1 => any::<bool>().prop_map(Op::Complete),
    ]
}

#[derive(Clone, Debug)]
enum Churn {
    Join(u32),
    Stop(u32),
    Resume(u32),
    Leave(u32),
    Advance(u64),
    FailWrites,
}

fn arb_churn() -> impl Strategy<Value = Churn> {
    prop_oneof![
        2 => (0u32..6).prop_map(Churn::Join),
        1 => (0u32..6).prop_map(Churn::Stop),
        1 => (0u32..6).prop_map(Churn::Resume),
        1 => (0u32..6).prop_map(Churn::Leave),
        4 => (1u64..60).prop_map(Churn::Advance),
        1 => Just(Churn::FailWrites),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_requests_never_panic_and_timers_progress(
        ops in proptest::collection::vec(arb_op(), 0..60),
        require_member_id in any::<bool>(),
    ) {
        let mut coordinator = GroupCoordinator::new(
            GroupCoordinatorConfig { require_member_id, ..config() },
            1,
        );
        let mut now = 0;
        let mut writes: Vec<WriteId> = Vec::new();
        let mut log: Vec<OffsetsRecord> = Vec::new();
        for (i, op) in ops.into_iter().enumerate() {
            let outputs = match op {
                Op::Request(c, request) => {
                    let from = ClientRef { node: NodeId(100 + c), correlation_id: i as u64 };
                    let outputs = coordinator.handle(now, from, request);
                    let answered = outputs.iter().filter(|o| matches!(o, GroupOutput::Respond { to, .. } if *to == from)).count();
                    prop_assert!(answered <= 1, "at most one answer per request");
                    outputs
                }
                Op::Tick(ms) => {
                    now += ms;
                    coordinator.tick(now)
                }
                Op::Complete(ok) if !writes.is_empty() => {
                    let write = writes.remove(0);
                    coordinator.write_completed(now, write, if ok { Ok(()) } else { Err(GroupError::CoordinatorNotAvailable) })
                }
                Op::Complete(_) => Vec::new(),
            };
            for output in outputs {
                if let GroupOutput::Write { write, records } = output {
                    writes.push(write);
                    log.extend(records);
                }
            }
            // A deadline that has passed is always dealt with by one tick.
            if let Some(deadline) = coordinator.next_deadline() {
                if deadline <= now {
                    let outputs = coordinator.tick(now);
                    for output in outputs {
                        if let GroupOutput::Write { write, records } = output {
                            writes.push(write);
                            log.extend(records);
                        }
                    }
                    prop_assert!(coordinator.next_deadline().is_none_or(|d| d > now));
                }
            }
        }
        // Whatever happened, the log rebuilds a coordinator without panicking.
        let _ = GroupCoordinator::from_records(config(), 2, &log, now);
        let _ = coordinator.resign();
    }

    #[test]
    fn churn_keeps_one_owner_per_generation_and_heals_to_a_stable_group(
        assignor in proptest::sample::select(Assignor::ALL.to_vec()),
        partitions in 1u32..7,
        churn in proptest::collection::vec(arb_churn(), 0..40),
    ) {
        let mut w = World::new(config(), &[("t", partitions)]);
        for step in churn {
            match step {
                Churn::Join(n) if !w.clients.contains_key(&n) => w.add_client(n, &[assignor]),
                Churn::Join(_) => {}
                Churn::Stop(n) => {
                    if let Some(c) = w.clients.get_mut(&n) {
                        c.stopped = true;
                    }
                }
                Churn::Resume(n) => resume(&mut w, n),
                Churn::Leave(n) => {
                    if let Some(member) = w.clients.get(&n).filter(|c| !c.stopped).and_then(|c| c.member.clone()) {
                        w.send(n, GroupRequest::LeaveGroup { group: gid(), member });
                        w.clients.remove(&n);
                    }
                }
                Churn::Advance(s) => w.run_for(s * 1_000),
                Churn::FailWrites => {
                    w.auto_write = false;
                    w.run_for(1_000);
                    while !w.writes.is_empty() {
                        w.complete_write(Err(GroupError::CoordinatorNotAvailable));
                    }
                    w.auto_write = true;
                    w.deliver();
                }
            }
            w.deliver();
        }
        // Heal: every client runs again; within a few timeouts the group is stable.
        let all: Vec<u32> = w.clients.keys().copied().collect();
        for n in all {
            resume(&mut w, n);
        }
        w.run_for(700_000);
        if w.clients.is_empty() {
            prop_assert!(w.coordinator.group(&gid()).is_none_or(|g| g.state == GroupState::Empty));
        } else {
            w.assert_stable();
        }
        // At most one owner per partition per generation, over the whole run.
        let mut owners: BTreeMap<(Generation, TopicPartition), MemberId> = BTreeMap::new();
        let mut generations = BTreeSet::new();
        for event in &w.events {
            if let GroupEvent::Assigned { generation, member, partitions, .. } = event {
                generations.insert(*generation);
                for tp in partitions {
                    let previous = owners.insert((*generation, tp.clone()), member.clone());
                    prop_assert!(previous.is_none(), "{} owned twice in {}", tp, generation);
                }
            }
        }
    }
}

/// A stopped client runs again; if it was waiting for a join or sync answer it lost, it
/// asks again (its request timed out).
fn resume(w: &mut World, n: u32) {
    let Some(client) = w.clients.get_mut(&n) else {
        return;
    };
    if !client.stopped {
        return;
    }
    client.stopped = false;
    if client.rebalancing {
        w.join(n);
    }
}

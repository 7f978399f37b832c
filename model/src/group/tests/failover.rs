//! Failover: a coordinator rebuilt from the offsets topic has the same committed offsets
//! and groups, keeps fencing, and the members carry on; a resigning one refuses what it
//! held.

use super::*;

/// Two groups with members and commits, and a standalone group with commits only.
fn busy_world() -> World {
    let mut w = World::new(config(), &[("t", 4), ("u", 2)]);
    for n in 0..3 {
        w.add_client(n, &[Assignor::CooperativeSticky]);
    }
    w.run_for(10_000);
    w.assert_stable();
    let generation = w.summary().generation;
    for n in 0..3 {
        let owned = w.client(n).owned.clone();
        let offsets: Vec<(TopicPartition, u64)> = owned
            .iter()
            .map(|tp| (tp.clone(), 10 + u64::from(n)))
            .collect();
        w.commit(n, Some(generation), &offsets);
    }
    let other = GroupRequest::OffsetCommit {
        group: GroupId::new("standalone"),
        generation: None,
        member: None,
        offsets: vec![(tp("t", 0), Offset(77))],
    };
    w.call(9, other);
    w
}

fn take_over(w: &World, epoch: u32) -> GroupCoordinator {
    GroupCoordinator::from_records(config(), epoch, &w.log, w.now)
}

#[test]
fn from_records_rebuilds_the_same_offsets_and_groups() {
    let w = busy_world();
    let rebuilt = take_over(&w, 2);
    for group in [gid(), GroupId::new("standalone")] {
        assert_eq!(
            rebuilt.committed_offsets(&group),
            w.coordinator.committed_offsets(&group),
            "{group}"
        );
        assert_eq!(
            rebuilt.group(&group),
            w.coordinator.group(&group),
            "{group}"
        );
    }
    assert_eq!(
        rebuilt.committed(&GroupId::new("standalone"), &tp("t", 0)),
        Some(Offset(77))
    );
    assert_eq!(rebuilt.committed_offsets(&gid()).len(), 6);
    assert_eq!(
        rebuilt.group(&GroupId::new("standalone")).unwrap().state,
        GroupState::Empty
    );
    let loaded = rebuilt.loaded_events();
    assert!(loaded.contains(&GroupEvent::GroupLoaded {
        group: gid(),
        generation: w.summary().generation,
        assignments: w.summary().members,
    }));
    // Replaying the same log twice gives the same coordinator.
    let again = take_over(&w, 2);
    assert_eq!(again.group(&gid()), rebuilt.group(&gid()));
}

#[test]
fn members_carry_on_with_the_new_coordinator_and_stale_commits_stay_fenced() {
    let mut w = busy_world();
    let generation = w.summary().generation;
    w.coordinator = take_over(&w, 2);
    // Heartbeats with the current generation are fine; the group stays as it was.
    w.run_for(60_000);
    w.assert_stable();
    assert_eq!(w.summary().generation, generation);
    let from = w.commit(0, Some(Generation(generation.0 - 1)), &[(tp("t", 0), 1)]);
    assert!(matches!(
        &w.answers(from)[..],
        [GroupResponse::OffsetCommit { results, .. }] if results[0].1 == Err(GroupError::IllegalGeneration)
    ));
    // A member that stops is removed by the new coordinator's session timer too.
    w.clients.get_mut(&2).unwrap().stopped = true;
    w.run_for(60_000);
    w.assert_stable();
    assert_eq!(w.summary().members.len(), 2);
    // A newcomer gets an id the old coordinator never handed out.
    w.add_client(3, &[Assignor::CooperativeSticky]);
    w.run_for(10_000);
    w.assert_stable();
    assert!(w.member(3).0.starts_with("c3-2-"), "{}", w.member(3));
}

#[test]
fn a_generation_whose_assignment_was_never_written_is_unknown_to_the_next_coordinator() {
    let mut w = busy_world();
    let generation = w.summary().generation;
    w.auto_write = false;
    w.add_client(3, &[Assignor::CooperativeSticky]);
    w.run_for(4_000);
    assert_eq!(w.summary().generation, generation.next());
    assert_eq!(w.summary().state, GroupState::CompletingRebalance);
    // The old coordinator dies with the assignment unwritten.
    let mut rebuilt = take_over(&w, 2);
    assert_eq!(rebuilt.group(&gid()).unwrap().generation, generation);
    let member = w.member(0);
    let from = ClientRef {
        node: NodeId(100),
        correlation_id: 1_000,
    };
    let outputs = rebuilt.handle(
        w.now,
        from,
        GroupRequest::Heartbeat {
            group: gid(),
            generation: generation.next(),
            member,
        },
    );
    assert!(matches!(
        &outputs[..],
        [GroupOutput::Respond {
            response: GroupResponse::Heartbeat {
                result: Err(GroupError::IllegalGeneration),
                ..
            },
            ..
        }]
    ));
}

#[test]
fn resigning_refuses_every_held_answer_with_not_coordinator() {
    let mut w = busy_world();
    w.auto_write = false;
    let generation = w.summary().generation;
    let commit = w.commit(0, Some(generation), &[(tp("t", 0), 99)]);
    w.add_client(3, &[Assignor::CooperativeSticky]);
    w.deliver(); // client 3 rejoins with its id and waits in the join phase
    let coordinator = std::mem::replace(&mut w.coordinator, GroupCoordinator::new(config(), 9));
    let outputs = coordinator.resign();
    w.absorb(outputs);
    assert!(matches!(
        &w.answers(commit)[..],
        [GroupResponse::OffsetCommit { results, .. }] if results[0].1 == Err(GroupError::NotCoordinator)
    ));
    assert!(w.inbox.iter().any(|(to, r)| to.node == NodeId(103)
        && matches!(
            r,
            GroupResponse::JoinGroup {
                result: Err(GroupError::NotCoordinator),
                ..
            }
        )));
    assert!(GroupError::NotCoordinator.needs_coordinator_lookup());
}

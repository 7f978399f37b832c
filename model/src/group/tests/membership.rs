//! Membership: joining, syncing, heartbeats, leaving, session, rebalance and sync timeouts,
//! and the error answers for requests that do not fit the group.

use super::*;

const RANGE: &[Assignor] = &[Assignor::Range];

fn world(partitions: u32) -> World {
    World::new(config(), &[("t", partitions)])
}

fn removed(world: &World) -> Vec<(MemberId, RemovalReason)> {
    world
        .events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::MemberRemoved { member, reason, .. } => Some((member.clone(), *reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn members_starting_together_reach_one_stable_generation() {
    let mut w = world(6);
    for n in 0..3 {
        w.add_client(n, RANGE);
    }
    w.deliver();
    // KIP-394: each got an id, rejoined with it, and waits for the initial delay.
    assert_eq!(w.summary().state, GroupState::PreparingRebalance);
    assert_eq!(w.summary().members.len(), 3);
    w.run_for(2_000);
    assert_eq!(
        w.summary().state,
        GroupState::PreparingRebalance,
        "delay not over"
    );
    w.run_for(2_000);
    w.assert_stable();
    let summary = w.summary();
    assert_eq!(summary.generation, Generation(1));
    assert_eq!(summary.protocol, Some(Assignor::Range));
    assert_eq!(summary.leader, Some(w.member(0)), "the first to join leads");
    for n in 0..3 {
        assert_eq!(w.client(n).owned.len(), 2);
    }
    assert_eq!(w.assigned_in(Generation(1)), summary.members);
    let started: Vec<Generation> = w
        .events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::GenerationStarted { generation, .. } => Some(*generation),
            _ => None,
        })
        .collect();
    assert_eq!(
        started,
        vec![Generation(1)],
        "one generation, not one per member"
    );
    // Heartbeats keep it stable.
    w.run_for(120_000);
    w.assert_stable();
    assert_eq!(w.summary().generation, Generation(1));
}

#[test]
fn a_new_member_makes_the_group_rebalance_and_share() {
    let mut w = world(4);
    w.add_client(0, RANGE);
    w.run_for(5_000);
    w.assert_stable();
    assert_eq!(w.client(0).owned.len(), 4);
    w.add_client(1, RANGE);
    w.deliver();
    assert_eq!(w.summary().state, GroupState::PreparingRebalance);
    // Member 0 learns of it from its next heartbeat and rejoins.
    w.run_for(5_000);
    w.assert_stable();
    assert_eq!(w.summary().generation, Generation(2));
    assert_eq!(w.client(0).owned, vec![tp("t", 0), tp("t", 1)]);
    assert_eq!(w.client(1).owned, vec![tp("t", 2), tp("t", 3)]);
}

#[test]
fn a_silent_member_is_removed_after_its_session_timeout_and_the_rest_rebalance() {
    let mut w = world(4);
    for n in 0..2 {
        w.add_client(n, RANGE);
    }
    w.run_for(5_000);
    w.assert_stable();
    let gone = w.member(1);
    w.clients.get_mut(&1).unwrap().stopped = true;
    let stopped_at = w.now;
    // Its last heartbeat was at 3 s at the latest; 45 s later it is still in.
    w.run_until(stopped_at + 40_000);
    assert!(w.summary().members.contains_key(&gone));
    w.run_until(stopped_at + 50_000);
    assert_eq!(
        removed(&w),
        vec![(gone.clone(), RemovalReason::SessionTimeout)]
    );
    w.run_for(5_000);
    w.assert_stable();
    assert_eq!(w.summary().generation, Generation(2));
    assert_eq!(w.client(0).owned.len(), 4, "the survivor takes everything");
    assert!(!w.summary().members.contains_key(&gone));
}

#[test]
fn leaving_makes_the_group_rebalance_and_the_last_leaves_it_empty() {
    let mut w = world(3);
    for n in 0..2 {
        w.add_client(n, RANGE);
    }
    w.run_for(5_000);
    w.assert_stable();
    let leaver = w.member(0);
    let answer = w.call(
        0,
        GroupRequest::LeaveGroup {
            group: gid(),
            member: leaver.clone(),
        },
    );
    assert_eq!(
        answer,
        GroupResponse::LeaveGroup {
            group: gid(),
            result: Ok(())
        }
    );
    w.clients.remove(&0);
    assert_eq!(removed(&w), vec![(leaver.clone(), RemovalReason::Left)]);
    w.run_for(5_000);
    w.assert_stable();
    assert_eq!(w.client(1).owned.len(), 3);
    assert_eq!(
        w.summary().leader,
        Some(w.member(1)),
        "a new leader is named"
    );

    let last = w.member(1);
    w.call(
        1,
        GroupRequest::LeaveGroup {
            group: gid(),
            member: last,
        },
    );
    w.clients.remove(&1);
    let summary = w.summary();
    assert_eq!(summary.state, GroupState::Empty);
    assert_eq!(
        summary.generation,
        Generation(3),
        "emptying completes a generation"
    );
    assert!(w.events.contains(&GroupEvent::GroupEmpty {
        group: gid(),
        generation: Generation(3)
    }));
    assert!(matches!(
        w.log.last(),
        Some(OffsetsRecord::GroupMetadata(GroupMetadata { members, generation: Generation(3), .. }))
            if members.is_empty()
    ));
    assert_eq!(w.coordinator.next_deadline(), None, "nothing left to time");
}

#[test]
fn more_members_than_partitions_leaves_the_extra_ones_idle() {
    for assignor in Assignor::ALL {
        let mut w = world(3);
        for n in 0..5 {
            w.add_client(n, &[assignor]);
        }
        w.run_for(10_000);
        w.assert_stable();
        assert_eq!(w.summary().idle_members().len(), 2, "{assignor:?}");
    }
}

#[test]
fn a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_timeout() {
    let mut w = world(2);
    for n in 0..2 {
        w.add_client(n, RANGE);
    }
    w.run_for(5_000);
    w.assert_stable();
    // Member 1 keeps its session alive by heartbeats but never rejoins (a consumer stuck
    // in processing past max.poll.interval.ms keeps heartbeating from its own thread).
    let stuck = w.member(1);
    let generation = w.summary().generation;
    w.clients.get_mut(&1).unwrap().stopped = true;
    w.add_client(2, RANGE);
    w.deliver();
    let start = w.now;
    while w.now < start + 290_000 {
        w.run_for(3_000);
        w.send(
            1,
            GroupRequest::Heartbeat {
                group: gid(),
                generation,
                member: stuck.clone(),
            },
        );
    }
    assert!(
        w.summary().members.contains_key(&stuck),
        "{:?} {:?}",
        removed(&w),
        w.summary()
    );
    assert_eq!(w.summary().state, GroupState::PreparingRebalance);
    w.run_for(20_000);
    assert!(removed(&w).contains(&(stuck, RemovalReason::JoinTimeout)));
    w.assert_stable();
}

#[test]
fn a_leader_that_never_syncs_is_dropped_at_the_sync_deadline() {
    let mut w = world(2);
    w.add_client(0, RANGE);
    w.add_client(1, RANGE);
    w.deliver();
    w.now = 3_000;
    let outputs = w.coordinator.tick(w.now);
    w.absorb(outputs);
    // Take the join answers by hand: the follower syncs, the leader only heartbeats.
    let leader = w.summary().leader.unwrap();
    let answers: Vec<(ClientRef, GroupResponse)> = std::mem::take(&mut w.inbox);
    assert_eq!(answers.len(), 2);
    let generation = w.summary().generation;
    for (to, _) in &answers {
        let n = to.node.0 - 100;
        let member = w.member(n);
        if member != leader {
            let sync = w.send(
                n,
                GroupRequest::SyncGroup {
                    group: gid(),
                    generation,
                    member,
                    assignments: vec![],
                },
            );
            w.clients.get_mut(&n).unwrap().awaiting = Some(sync);
        }
    }
    assert_eq!(w.summary().state, GroupState::CompletingRebalance);
    let leader_n = if w.member(0) == leader { 0 } else { 1 };
    for _ in 0..100 {
        w.now += 3_000;
        let outputs = w.coordinator.tick(w.now);
        w.absorb(outputs);
        let answer = w.call(
            leader_n,
            GroupRequest::Heartbeat {
                group: gid(),
                generation,
                member: leader.clone(),
            },
        );
        if w.summary().state != GroupState::CompletingRebalance {
            break;
        }
        assert!(matches!(
            answer,
            GroupResponse::Heartbeat { result: Ok(()), .. }
        ));
    }
    assert_eq!(w.now, 303_000, "the sync phase lasts the rebalance timeout");
    assert!(removed(&w).contains(&(leader, RemovalReason::SyncTimeout)));
    // The follower's held sync is refused; it rejoins and leads the next generation.
    w.clients.get_mut(&leader_n).unwrap().stopped = true;
    w.run_for(5_000);
    w.assert_stable();
}

#[test]
fn a_lost_join_answer_is_answered_again_without_a_new_generation() {
    let mut w = world(2);
    w.add_client(0, RANGE);
    w.deliver();
    w.now = 3_000;
    let outputs = w.coordinator.tick(w.now);
    w.absorb(outputs);
    assert_eq!(w.summary().state, GroupState::CompletingRebalance);
    w.inbox.clear(); // the answer is lost
    let member = w.member(0);
    let from = w.send(
        0,
        join_request(
            &gid(),
            Some(member.clone()),
            "c0",
            RANGE.to_vec(),
            Subscription {
                topics: vec!["t".into()],
                ..Subscription::default()
            },
        ),
    );
    let answers = w.answers(from);
    assert!(matches!(
        &answers[..],
        [GroupResponse::JoinGroup {
            result: Ok(JoinedGeneration {
                generation: Generation(1),
                ..
            }),
            ..
        }]
    ));
    assert_eq!(w.summary().generation, Generation(1));
}

#[test]
fn an_unused_member_id_lapses_and_stops_holding_the_join() {
    let mut w = world(2);
    w.add_client(0, RANGE);
    w.deliver();
    // Client 1 gets an id (MEMBER_ID_REQUIRED) but never comes back with it.
    let answer = w.call(
        1,
        join_request(&gid(), None, "c1", RANGE.to_vec(), Subscription::default()),
    );
    assert!(matches!(
        answer,
        GroupResponse::JoinGroup {
            member: Some(_),
            result: Err(GroupError::MemberIdRequired),
            ..
        }
    ));
    w.run_for(40_000);
    assert_eq!(
        w.summary().state,
        GroupState::PreparingRebalance,
        "held by the pending id"
    );
    w.run_for(10_000);
    w.assert_stable();
    assert_eq!(w.summary().members.len(), 1);
}

#[test]
fn without_kip_394_a_new_member_joins_at_once() {
    let mut w = World::new(
        GroupCoordinatorConfig {
            require_member_id: false,
            group_initial_rebalance_delay_ms: 0,
            ..config()
        },
        &[("t", 2)],
    );
    w.add_client(0, RANGE);
    w.deliver();
    w.assert_stable();
    assert_eq!(w.summary().generation, Generation(1));
}

#[test]
fn the_protocol_is_one_every_member_supports() {
    let mut w = world(2);
    w.add_client(0, &[Assignor::CooperativeSticky, Assignor::Range]);
    w.add_client(1, &[Assignor::RoundRobin, Assignor::Range]);
    w.run_for(5_000);
    w.assert_stable();
    assert_eq!(w.summary().protocol, Some(Assignor::Range));
    // A member supporting none of the group's protocols is refused.
    let answer = w.call(
        2,
        join_request(
            &gid(),
            None,
            "c2",
            vec![Assignor::CooperativeSticky],
            Subscription::default(),
        ),
    );
    assert!(matches!(
        answer,
        GroupResponse::JoinGroup {
            result: Err(GroupError::InconsistentGroupProtocol),
            ..
        }
    ));
}

#[test]
fn a_failed_assignment_write_sends_the_group_back_to_rebalancing() {
    let mut w = world(2);
    w.add_client(0, RANGE);
    w.run_for(3_000);
    w.auto_write = false;
    w.deliver();
    w.run_for(1_000);
    assert_eq!(w.summary().state, GroupState::CompletingRebalance);
    assert_eq!(w.writes.len(), 1);
    w.complete_write(Err(GroupError::CoordinatorNotAvailable));
    assert_eq!(w.summary().state, GroupState::PreparingRebalance);
    assert!(w.assigned_in(Generation(1)).is_empty());
    assert!(w.responses.iter().any(|(_, r)| matches!(
        r,
        GroupResponse::SyncGroup {
            result: Err(GroupError::CoordinatorNotAvailable),
            ..
        }
    )));
    w.auto_write = true;
    w.deliver();
    w.run_for(5_000);
    w.assert_stable();
    assert_eq!(w.summary().generation, Generation(2));
}

#[test]
fn requests_that_do_not_fit_get_error_answers() {
    let mut w = world(2);
    w.add_client(0, RANGE);
    w.run_for(5_000);
    w.assert_stable();
    let member = w.member(0);
    let heartbeat = |group: &str, generation, member: &MemberId| GroupRequest::Heartbeat {
        group: GroupId::new(group),
        generation: Generation(generation),
        member: member.clone(),
    };
    let error_of = |r: GroupResponse| match r {
        GroupResponse::Heartbeat { result, .. } => result.err(),
        GroupResponse::SyncGroup { result, .. } => result.err(),
        GroupResponse::JoinGroup { result, .. } => result.err(),
        GroupResponse::LeaveGroup { result, .. } => result.err(),
        other => panic!("unexpected {other:?}"),
    };
    let stranger = MemberId::new("nobody");
    let cases: Vec<(GroupRequest, GroupError)> = vec![
        (heartbeat("other", 1, &member), GroupError::UnknownMemberId),
        (heartbeat("g", 1, &stranger), GroupError::UnknownMemberId),
        (heartbeat("g", 7, &member), GroupError::IllegalGeneration),
        (heartbeat("", 1, &member), GroupError::InvalidGroupId),
        (
            GroupRequest::SyncGroup {
                group: gid(),
                generation: Generation(0),
                member: member.clone(),
                assignments: vec![],
            },
            GroupError::IllegalGeneration,
        ),
        (
            GroupRequest::SyncGroup {
                group: GroupId::new("other"),
                generation: Generation(1),
                member: member.clone(),
                assignments: vec![],
            },
            GroupError::UnknownMemberId,
        ),
        (
            GroupRequest::LeaveGroup {
                group: gid(),
                member: stranger.clone(),
            },
            GroupError::UnknownMemberId,
        ),
        (
            GroupRequest::JoinGroup {
                group: gid(),
                member: None,
                client_id: "c".into(),
                session_timeout_ms: 1_000,
                rebalance_timeout_ms: 300_000,
                protocols: RANGE.to_vec(),
                subscription: Subscription::default(),
            },
            GroupError::InvalidSessionTimeout,
        ),
        (
            join_request(&gid(), None, "c", vec![], Subscription::default()),
            GroupError::InconsistentGroupProtocol,
        ),
        (
            join_request(
                &gid(),
                Some(stranger.clone()),
                "c",
                RANGE.to_vec(),
                Subscription::default(),
            ),
            GroupError::UnknownMemberId,
        ),
        (
            join_request(
                &GroupId::new("new"),
                Some(stranger),
                "c",
                RANGE.to_vec(),
                Subscription::default(),
            ),
            GroupError::UnknownMemberId,
        ),
    ];
    for (request, expected) in cases {
        let kind = request.kind();
        let answer = w.call(9, request);
        assert_eq!(error_of(answer), Some(expected), "{kind}");
    }
    w.assert_stable();
    // A stable member's sync is answered with its assignment at once.
    let answer = w.call(
        0,
        GroupRequest::SyncGroup {
            group: gid(),
            generation: Generation(1),
            member,
            assignments: vec![],
        },
    );
    assert!(
        matches!(answer, GroupResponse::SyncGroup { result: Ok(SyncedGeneration { assignment, .. }), .. } if assignment.len() == 2)
    );
}

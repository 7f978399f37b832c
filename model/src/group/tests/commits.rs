//! Offset commits: accepted from the current generation once durable, fenced from older
//! ones (and accepted by the broken variant), standalone commits, fetches.

use super::*;

fn stable_pair(config: GroupCoordinatorConfig) -> World {
    let mut w = World::new(config, &[("t", 4)]);
    w.add_client(0, &[Assignor::Range]);
    w.add_client(1, &[Assignor::Range]);
    w.run_for(5_000);
    w.assert_stable();
    w
}

fn commit_results(answers: &[GroupResponse]) -> Vec<Result<(), GroupError>> {
    match answers {
        [GroupResponse::OffsetCommit { results, .. }] => results.iter().map(|(_, r)| *r).collect(),
        other => panic!("one commit answer expected: {other:?}"),
    }
}

fn fenced(w: &World) -> Vec<GroupError> {
    w.events
        .iter()
        .filter_map(|e| match e {
            GroupEvent::Fenced { error, .. } => Some(*error),
            _ => None,
        })
        .collect()
}

#[test]
fn a_commit_is_answered_and_visible_only_once_durable() {
    let mut w = stable_pair(config());
    w.auto_write = false;
    let generation = w.summary().generation;
    let from = w.commit(0, Some(generation), &[(tp("t", 0), 10), (tp("t", 1), 20)]);
    assert!(w.answers(from).is_empty(), "held for the write");
    assert_eq!(w.coordinator.committed(&gid(), &tp("t", 0)), None);
    assert!(matches!(
        &w.writes[0].1[..],
        [
            OffsetsRecord::OffsetCommit {
                offset: Offset(10),
                ..
            },
            OffsetsRecord::OffsetCommit {
                offset: Offset(20),
                ..
            }
        ]
    ));
    w.complete_write(Ok(()));
    assert_eq!(commit_results(&w.answers(from)), vec![Ok(()), Ok(())]);
    assert_eq!(
        w.coordinator.committed(&gid(), &tp("t", 0)),
        Some(Offset(10))
    );
    assert_eq!(
        w.coordinator.committed(&gid(), &tp("t", 1)),
        Some(Offset(20))
    );
    assert!(w.events.iter().any(|e| matches!(
        e,
        GroupEvent::Committed { generation: Some(g), group_generation, .. } if *g == generation && *group_generation == generation
    )));
}

#[test]
fn a_failed_write_refuses_the_commit_and_changes_nothing() {
    let mut w = stable_pair(config());
    w.auto_write = false;
    let generation = w.summary().generation;
    let from = w.commit(0, Some(generation), &[(tp("t", 0), 10)]);
    w.complete_write(Err(GroupError::NotCoordinator));
    assert_eq!(
        commit_results(&w.answers(from)),
        vec![Err(GroupError::NotCoordinator)]
    );
    assert_eq!(w.coordinator.committed(&gid(), &tp("t", 0)), None);
    // An unknown or repeated completion is ignored.
    assert!(w
        .coordinator
        .write_completed(w.now, WriteId(999), Ok(()))
        .is_empty());
}

#[test]
fn commits_from_a_stale_generation_or_a_removed_member_are_fenced() {
    let mut w = stable_pair(config());
    let old = w.summary().generation;
    // A third member joins: generation 2. Member 0 still commits with generation 1.
    w.add_client(2, &[Assignor::Range]);
    w.run_for(6_000);
    w.assert_stable();
    assert_eq!(w.summary().generation, old.next());
    let from = w.commit(0, Some(old), &[(tp("t", 0), 5)]);
    assert_eq!(
        commit_results(&w.answers(from)),
        vec![Err(GroupError::IllegalGeneration)]
    );
    // Member 1 pauses past its session timeout and is removed; its commit after waking
    // names a member the group no longer has.
    w.clients.get_mut(&1).unwrap().stopped = true;
    w.run_for(60_000);
    w.assert_stable();
    let zombie_generation = Some(old.next());
    let from = w.commit(1, zombie_generation, &[(tp("t", 2), 7)]);
    assert_eq!(
        commit_results(&w.answers(from)),
        vec![Err(GroupError::UnknownMemberId)]
    );
    assert_eq!(
        fenced(&w),
        vec![GroupError::IllegalGeneration, GroupError::UnknownMemberId]
    );
    assert_eq!(w.coordinator.committed(&gid(), &tp("t", 0)), None);
    assert_eq!(w.coordinator.committed(&gid(), &tp("t", 2)), None);
    // The current generation commits fine.
    let current = w.summary().generation;
    let from = w.commit(0, Some(current), &[(tp("t", 0), 6)]);
    assert_eq!(commit_results(&w.answers(from)), vec![Ok(())]);
}

#[test]
fn the_broken_variant_accepts_stale_and_zombie_commits() {
    let mut w = stable_pair(GroupCoordinatorConfig {
        accept_stale_generation_commits: true,
        ..config()
    });
    let old = w.summary().generation;
    w.clients.get_mut(&1).unwrap().stopped = true;
    w.run_for(60_000);
    w.assert_stable();
    let current = w.summary().generation;
    assert!(current > old);
    // The survivor owns t-2 now and commits it; the zombie then overwrites it.
    let from = w.commit(0, Some(current), &[(tp("t", 2), 100)]);
    assert_eq!(commit_results(&w.answers(from)), vec![Ok(())]);
    let from = w.commit(1, Some(old), &[(tp("t", 2), 40)]);
    assert_eq!(commit_results(&w.answers(from)), vec![Ok(())]);
    assert_eq!(
        w.coordinator.committed(&gid(), &tp("t", 2)),
        Some(Offset(40))
    );
    assert!(fenced(&w).is_empty());
    // The event says what a checker needs: accepted from an older generation.
    assert!(w.events.iter().any(|e| matches!(
        e,
        GroupEvent::Committed { generation: Some(g), group_generation, .. } if *g == old && *group_generation == current
    )));
}

#[test]
fn standalone_commits_are_accepted_only_while_the_group_is_empty() {
    let mut w = World::new(config(), &[("t", 2)]);
    // A standalone consumer: not a member (so not "running" for assert_stable).
    w.clients.insert(
        5,
        Client {
            stopped: true,
            ..Client::default()
        },
    );
    let from = w.commit(5, None, &[(tp("t", 0), 3)]);
    assert_eq!(commit_results(&w.answers(from)), vec![Ok(())]);
    assert_eq!(w.summary().state, GroupState::Empty);
    assert_eq!(
        w.coordinator.committed(&gid(), &tp("t", 0)),
        Some(Offset(3))
    );
    // A commit naming a generation of a group that does not exist is refused.
    let other = GroupRequest::OffsetCommit {
        group: GroupId::new("none"),
        generation: Some(Generation(1)),
        member: Some(MemberId::new("m")),
        offsets: vec![(tp("t", 0), Offset(1))],
    };
    assert!(matches!(
        w.call(5, other),
        GroupResponse::OffsetCommit { results, .. } if results == vec![(tp("t", 0), Err(GroupError::IllegalGeneration))]
    ));
    w.add_client(0, &[Assignor::Range]);
    w.run_for(5_000);
    w.assert_stable();
    let from = w.commit(5, None, &[(tp("t", 0), 4)]);
    assert_eq!(
        commit_results(&w.answers(from)),
        vec![Err(GroupError::UnknownMemberId)]
    );
}

#[test]
fn a_lower_offset_is_stored_as_committed() {
    let mut w = stable_pair(config());
    let generation = w.summary().generation;
    w.commit(0, Some(generation), &[(tp("t", 0), 50)]);
    w.commit(0, Some(generation), &[(tp("t", 0), 20)]);
    assert_eq!(
        w.coordinator.committed(&gid(), &tp("t", 0)),
        Some(Offset(20))
    );
}

#[test]
fn commits_between_join_and_sync_are_refused_with_rebalance_in_progress() {
    let mut w = World::new(config(), &[("t", 2)]);
    w.add_client(0, &[Assignor::Range]);
    w.deliver();
    w.now = 3_000;
    let outputs = w.coordinator.tick(w.now);
    w.absorb(outputs);
    assert_eq!(w.summary().state, GroupState::CompletingRebalance);
    let from = w.commit(0, Some(Generation(1)), &[(tp("t", 0), 1)]);
    assert_eq!(
        commit_results(&w.answers(from)),
        vec![Err(GroupError::RebalanceInProgress)]
    );
    assert!(fenced(&w).is_empty(), "not a fencing");
}

#[test]
fn offset_fetch_reports_committed_offsets_and_unstable_ones() {
    let mut w = stable_pair(config());
    let generation = w.summary().generation;
    w.commit(0, Some(generation), &[(tp("t", 0), 10), (tp("t", 1), 11)]);
    w.auto_write = false;
    w.commit(0, Some(generation), &[(tp("t", 1), 12)]);
    let fetch = |partitions, require_stable| GroupRequest::OffsetFetch {
        group: gid(),
        partitions,
        require_stable,
    };
    let all = w.call(0, fetch(None, false));
    assert_eq!(
        all,
        GroupResponse::OffsetFetch {
            group: gid(),
            result: Ok(vec![
                (tp("t", 0), Ok(Some(Offset(10)))),
                (tp("t", 1), Ok(Some(Offset(11))))
            ])
        }
    );
    let some = w.call(0, fetch(Some(vec![tp("t", 1), tp("t", 3)]), true));
    assert_eq!(
        some,
        GroupResponse::OffsetFetch {
            group: gid(),
            result: Ok(vec![
                (tp("t", 1), Err(GroupError::UnstableOffsetCommit)),
                (tp("t", 3), Ok(None))
            ])
        }
    );
    w.complete_write(Ok(()));
    assert_eq!(
        w.coordinator.committed(&gid(), &tp("t", 1)),
        Some(Offset(12))
    );
    let unknown = GroupRequest::OffsetFetch {
        group: GroupId::new("nobody"),
        partitions: None,
        require_stable: false,
    };
    assert!(matches!(
        w.call(0, unknown),
        GroupResponse::OffsetFetch { result: Ok(v), .. } if v.is_empty()
    ));
}

//! Offsets committed in a transaction: invisible (and unstable) until the producer's
//! marker, the group's on commit, gone on abort, fenced by generation like any commit,
//! and rebuilt the same way from the log.

use super::*;
use crate::ids::{ProducerEpoch, ProducerId};
use crate::txn::TransactionalId;

const PID: ProducerId = ProducerId(7);

fn txn_commit(
    group: &GroupId,
    generation: Option<Generation>,
    member: Option<MemberId>,
    offsets: &[(TopicPartition, u64)],
) -> GroupRequest {
    GroupRequest::TxnOffsetCommit {
        group: group.clone(),
        transactional_id: TransactionalId::new("tx"),
        producer_id: PID,
        producer_epoch: ProducerEpoch(0),
        generation,
        member,
        offsets: offsets
            .iter()
            .map(|(tp, o)| (tp.clone(), Offset(*o)))
            .collect(),
    }
}

fn fetch(
    w: &mut World,
    group: &GroupId,
    require_stable: bool,
) -> Result<Option<Offset>, GroupError> {
    let request = GroupRequest::OffsetFetch {
        group: group.clone(),
        partitions: Some(vec![tp("t", 0)]),
        require_stable,
    };
    match w.call(9, request) {
        GroupResponse::OffsetFetch {
            result: Ok(results),
            ..
        } => results[0].1,
        other => panic!("not an offset fetch answer: {other:?}"),
    }
}

fn marker(w: &mut World, commit: bool) {
    w.txn_log.push(LoggedEntry::Marker(PID, commit));
    let outputs = w.coordinator.txn_completed(PID, commit);
    w.absorb(outputs);
}

fn standalone() -> GroupId {
    GroupId::new("standalone")
}

#[test]
fn a_transactions_offsets_count_only_once_its_commit_marker_lands() {
    let mut w = World::new(config(), &[("t", 2)]);
    let answer = w.call(
        9,
        txn_commit(&standalone(), None, None, &[(tp("t", 0), 40)]),
    );
    assert_eq!(
        answer,
        GroupResponse::TxnOffsetCommit {
            group: standalone(),
            results: vec![(tp("t", 0), Ok(()))]
        },
        "answered once written"
    );
    assert_eq!(
        fetch(&mut w, &standalone(), false),
        Ok(None),
        "invisible while open"
    );
    assert_eq!(
        fetch(&mut w, &standalone(), true),
        Err(GroupError::UnstableOffsetCommit)
    );
    marker(&mut w, true);
    assert_eq!(fetch(&mut w, &standalone(), true), Ok(Some(Offset(40))));
    assert!(w.events.iter().any(|e| matches!(e, GroupEvent::Committed { offsets, .. } if offsets == &vec![(tp("t", 0), Offset(40))])));
}

#[test]
fn an_aborted_transactions_offsets_are_dropped() {
    let mut w = World::new(config(), &[("t", 2)]);
    w.call(
        9,
        GroupRequest::OffsetCommit {
            group: standalone(),
            generation: None,
            member: None,
            offsets: vec![(tp("t", 0), Offset(10))],
        },
    );
    w.call(
        9,
        txn_commit(&standalone(), None, None, &[(tp("t", 0), 40)]),
    );
    marker(&mut w, false);
    assert_eq!(
        fetch(&mut w, &standalone(), true),
        Ok(Some(Offset(10))),
        "the plain commit stays, and is stable"
    );
    // A marker for a producer with nothing pending changes nothing.
    marker(&mut w, true);
    assert_eq!(fetch(&mut w, &standalone(), true), Ok(Some(Offset(10))));
}

#[test]
fn a_plain_commit_made_durable_after_the_transactional_one_wins() {
    let mut w = World::new(config(), &[("t", 2)]);
    w.call(
        9,
        txn_commit(&standalone(), None, None, &[(tp("t", 0), 40)]),
    );
    w.call(
        9,
        GroupRequest::OffsetCommit {
            group: standalone(),
            generation: None,
            member: None,
            offsets: vec![(tp("t", 0), Offset(50))],
        },
    );
    marker(&mut w, true);
    assert_eq!(fetch(&mut w, &standalone(), true), Ok(Some(Offset(50))));
}

#[test]
fn a_transactional_commit_from_a_stale_generation_is_fenced() {
    let mut w = World::new(config(), &[("t", 2)]);
    w.add_client(0, &[Assignor::Range]);
    w.run_for(10_000);
    w.assert_stable();
    let generation = w.summary().generation;
    let member = Some(w.member(0));
    let stale = Some(Generation(generation.0 - 1));
    let answer = w.call(
        0,
        txn_commit(&gid(), stale, member.clone(), &[(tp("t", 0), 5)]),
    );
    assert_eq!(
        answer,
        GroupResponse::TxnOffsetCommit {
            group: gid(),
            results: vec![(tp("t", 0), Err(GroupError::IllegalGeneration))]
        }
    );
    let answer = w.call(
        0,
        txn_commit(&gid(), Some(generation), member, &[(tp("t", 0), 5)]),
    );
    assert!(
        matches!(answer, GroupResponse::TxnOffsetCommit { ref results, .. } if results[0].1.is_ok())
    );
}

#[test]
fn a_pre_kip_447_transactional_commit_is_not_checked_against_the_membership() {
    let mut w = World::new(config(), &[("t", 2)]);
    w.add_client(0, &[Assignor::Range]);
    w.run_for(10_000);
    w.assert_stable();
    // No generation and no member (sendOffsetsToTransaction(offsets, groupId)): Kafka's
    // coordinator accepts it in a group with members (a plain commit so is refused), and
    // leaves fencing to the transactional id.
    let answer = w.call(0, txn_commit(&gid(), None, None, &[(tp("t", 0), 5)]));
    assert!(
        matches!(answer, GroupResponse::TxnOffsetCommit { ref results, .. } if results[0].1.is_ok()),
        "{answer:?}"
    );
}

#[test]
fn a_coordinator_loaded_from_the_log_sees_what_the_markers_decided() {
    let mut w = World::new(config(), &[("t", 2)]);
    w.call(
        9,
        txn_commit(&standalone(), None, None, &[(tp("t", 0), 40)]),
    );
    let open = GroupCoordinator::from_log(
        config(),
        2,
        w.txn_log.iter().map(LoggedEntry::as_entry),
        w.now,
    );
    assert_eq!(
        open.committed(&standalone(), &tp("t", 0)),
        None,
        "no marker yet"
    );
    for commit in [true, false] {
        let mut log = w.txn_log.clone();
        log.push(LoggedEntry::Marker(PID, commit));
        let mut loaded =
            GroupCoordinator::from_log(config(), 2, log.iter().map(LoggedEntry::as_entry), w.now);
        let expected = commit.then_some(Offset(40));
        assert_eq!(
            loaded.committed(&standalone(), &tp("t", 0)),
            expected,
            "commit {commit}"
        );
        // The marker was replayed: a late duplicate of it changes nothing.
        assert!(loaded.txn_completed(PID, true).is_empty());
        assert_eq!(loaded.committed(&standalone(), &tp("t", 0)), expected);
    }
    // A coordinator loaded while the transaction is open completes it when the marker comes.
    let mut open = open;
    open.txn_completed(PID, true);
    assert_eq!(open.committed(&standalone(), &tp("t", 0)), Some(Offset(40)));
}

#[test]
fn a_resigning_coordinator_refuses_a_transactional_commit_it_was_writing() {
    let mut w = World::new(config(), &[("t", 2)]);
    w.auto_write = false;
    let from = w.send(
        9,
        txn_commit(&standalone(), None, None, &[(tp("t", 0), 40)]),
    );
    assert!(w.answers(from).is_empty(), "waits for its write");
    let outputs =
        std::mem::replace(&mut w.coordinator, GroupCoordinator::new(config(), 2)).resign();
    w.absorb(outputs);
    assert_eq!(
        w.answers(from),
        vec![GroupResponse::TxnOffsetCommit {
            group: standalone(),
            results: vec![(tp("t", 0), Err(GroupError::NotCoordinator))]
        }]
    );
}

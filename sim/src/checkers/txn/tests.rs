//! Tests of the transactional checkers together: their registration in `check_all`, and
//! what an unknown outcome may and may not cause.

use super::build::*;
use crate::checkers::{check_all, AnomalyKind, LossScope, Promises, Verdict};
use crate::history::{History, OpType};

#[test]
fn check_all_runs_the_transactional_checkers() {
    let mut h = History::default();
    txn(&mut h, ("p1", "tx-1", 0), OpType::Fail, vec![send(1, 0, 0)]);
    read(&mut h, "c1", &[(0, 0, 1)], RC);
    let found = check_all(&h, &Promises::default());
    let kinds: Vec<_> = found.iter().map(|a| (a.kind, a.verdict)).collect();
    assert_eq!(kinds, vec![(AnomalyKind::G1a, Verdict::Violation)]);
}

#[test]
fn unknown_transactions_cause_no_violation_by_themselves() {
    let mut h = History::default();
    // Two unknown transactions of one transactional id whose writes cross in two
    // partitions, read in part by read_committed and read_uncommitted consumers, and one
    // that never completed.
    txn(
        &mut h,
        ("p1", "tx-1", 0),
        OpType::Info,
        vec![send(1, 0, 0), send(2, 1, 1)],
    );
    txn(
        &mut h,
        ("p2", "tx-1", 1),
        OpType::Info,
        vec![send(3, 0, 1), send(4, 1, 0)],
    );
    begin(&mut h, ("p3", "tx-3", 0), &[send(5, 0, 2)]);
    read(&mut h, "c1", &[(0, 0, 1), (0, 2, 5)], RC);
    read(&mut h, "c2", &[(1, 0, 4), (1, 1, 2)], RU);
    let polls = vec![poll(&[(0, 1, 3)], RC), send(6, 2, 0)];
    txn(&mut h, ("p4", "tx-4", 0), OpType::Ok, polls);
    let found = check_all(&h, &Promises::default());
    // Crossing writes of two epochs of one id put the older epoch after the newer in one
    // partition, which only a leader that does not fence epochs allows: zombie-write
    // reports that by place, whatever the outcomes; nothing else may.
    let violations: Vec<_> = found
        .iter()
        .filter(|a| a.verdict == Verdict::Violation)
        .map(|a| (a.kind, a.values.clone()))
        .collect();
    assert_eq!(violations, vec![(AnomalyKind::ZombieWrite, vec![2, 4])]);
    // The same history with the first two committed breaks promises: the check can fail.
    let mut committed = h.clone();
    for entry in committed.entries.iter_mut().take(4) {
        if entry.op_type == OpType::Info {
            entry.op_type = OpType::Ok;
        }
    }
    let found = check_all(&committed, &Promises::default());
    assert!(
        found
            .iter()
            .any(|a| a.kind == AnomalyKind::G0 && a.verdict == Verdict::Violation),
        "{found:?}"
    );
}

#[test]
fn a_history_without_transactions_is_not_judged_here() {
    let mut h = History::default();
    plain_send(&mut h, "p1", 1, "all", 0, 0);
    read(&mut h, "c1", &[(0, 0, 1)], RC);
    read(&mut h, "c1", &[(0, 5, 9)], RC);
    assert_eq!(super::check_transactions(&h, &Promises::default()), vec![]);
}

#[test]
fn a_transactional_violation_names_its_ids_state_and_its_partitions_markers_for_the_excuse() {
    let mut h = History::default();
    txn(&mut h, ("p1", "tx-1", 0), OpType::Fail, vec![send(1, 0, 0)]);
    read(&mut h, "c1", &[(0, 0, 1)], RC);
    let found = check_all(&h, &Promises::default());
    let g1a = found.iter().find(|a| a.kind == AnomalyKind::G1a).unwrap();
    assert!(
        g1a.excusable,
        "only a lost marker or lost state explains it"
    );
    assert!(g1a.scope.contains(&LossScope::TxnState {
        transactional_id: "tx-1".into()
    }));
    assert!(g1a.scope.contains(&LossScope::TxnMarkers {
        topic: "t".into(),
        partition: 0
    }));
}

//! Hand-built pipeline histories: `orders` in, `shipments` out, group `g`.

use super::check;
use crate::checkers::{AnomalyKind, Verdict};
use crate::history::{
    AssignValue, CommittedOffset, History, Mop, OpType, Operation, PollValue, SendValue, TxnValue,
};
use kafka_model::effect::ObservedRecord;
use kafka_model::txn::IsolationLevel::{self, ReadCommitted as RC, ReadUncommitted as RU};

fn push(h: &mut History, process: &str, op_type: OpType, op: Operation) {
    let time = h.entries.len() as u64;
    h.push(time, process, op_type, op);
}

fn sent(topic: &str, value: u64, partition: Option<u32>, offset: Option<u64>) -> SendValue {
    SendValue {
        topic: topic.into(),
        key: None,
        value,
        acks: "all".into(),
        partition,
        offset,
        error: None,
    }
}

fn records(topic: &str, at: &[(u32, u64, u64)]) -> Vec<ObservedRecord> {
    at.iter()
        .map(|&(partition, offset, value)| ObservedRecord {
            topic: topic.into(),
            partition,
            offset,
            key: None,
            value,
        })
        .collect()
}

/// An acknowledged order of `value` at orders-0 `offset`.
fn order(h: &mut History, value: u64, offset: u64) {
    push(
        h,
        "producer-1",
        OpType::Invoke,
        Operation::Send(sent("orders", value, None, None)),
    );
    let ok = sent("orders", value, Some(0), Some(offset));
    push(h, "producer-1", OpType::Ok, Operation::Send(ok));
}

/// A pipeline transaction of `member`: it polled `inputs` (orders-0 offset, value), sent
/// `outputs` (one per input) and committed orders-0 up to `committed`.
fn pipeline(
    h: &mut History,
    member: &str,
    outcome: OpType,
    inputs: &[(u64, u64)],
    outputs: &[u64],
    committed: u64,
) {
    let polled: Vec<(u32, u64, u64)> = inputs.iter().map(|&(o, v)| (0, o, v)).collect();
    let mut mops = vec![Mop::Poll {
        records: records("orders", &polled),
        isolation: RC,
    }];
    mops.extend(
        outputs
            .iter()
            .map(|&v| Mop::Send(sent("shipments", v, None, None))),
    );
    let value = TxnValue {
        transactional_id: member.into(),
        producer_epoch: Some(0),
        mops,
        group: None,
        offsets: Vec::new(),
        error: None,
    };
    push(h, member, OpType::Invoke, Operation::Txn(value.clone()));
    if outcome == OpType::Invoke {
        return;
    }
    let done = TxnValue {
        group: Some("g".into()),
        offsets: vec![CommittedOffset {
            topic: "orders".into(),
            partition: 0,
            offset: committed,
        }],
        ..value
    };
    push(h, member, outcome, Operation::Txn(done));
}

fn assign(h: &mut History, member: &str, offset: u64) {
    let value = AssignValue {
        topic: "orders".into(),
        partition: 0,
        offset,
        reason: "committed offset".into(),
        from: None,
        auto_offset_reset: None,
    };
    push(h, member, OpType::Ok, Operation::Assign(value));
}

/// A downstream poll of shipments-0 returning (offset, value).
fn read(h: &mut History, isolation: IsolationLevel, at: &[(u64, u64)]) {
    let at: Vec<(u32, u64, u64)> = at.iter().map(|&(o, v)| (0, o, v)).collect();
    let poll = PollValue {
        records: records("shipments", &at),
        isolation,
        ..PollValue::default()
    };
    push(
        h,
        "consumer-1",
        OpType::Invoke,
        Operation::Poll(PollValue::default()),
    );
    push(h, "consumer-1", OpType::Ok, Operation::Poll(poll));
}

/// Orders 1 and 2; m1's first attempt at both aborts (its shipments 11 and 12 are in the
/// log at offsets 0 and 1), it rewinds and commits them as 21 and 22 (offsets 3 and 4).
fn aborted_then_committed() -> History {
    let mut h = History::default();
    order(&mut h, 1, 0);
    order(&mut h, 2, 1);
    assign(&mut h, "g-m1", 0);
    pipeline(
        &mut h,
        "g-m1",
        OpType::Fail,
        &[(0, 1), (1, 2)],
        &[11, 12],
        2,
    );
    assign(&mut h, "g-m1", 0);
    pipeline(&mut h, "g-m1", OpType::Ok, &[(0, 1), (1, 2)], &[21, 22], 2);
    h
}

#[test]
fn one_committed_effect_per_input_read_committed_is_no_anomaly() {
    let mut h = aborted_then_committed();
    read(&mut h, RC, &[(3, 21), (4, 22)]);
    assert_eq!(check(&h), Vec::new());
}

#[test]
fn read_uncommitted_sees_the_aborted_attempt_as_an_allowed_duplicate_effect() {
    let mut h = aborted_then_committed();
    read(&mut h, RU, &[(0, 11), (1, 12), (3, 21), (4, 22)]);
    let anomalies = check(&h);
    assert_eq!(anomalies.len(), 2, "{anomalies:#?}");
    assert!(anomalies
        .iter()
        .all(|a| a.kind == AnomalyKind::DuplicateEffect && a.verdict == Verdict::Allowed));
}

#[test]
fn the_same_reads_under_read_committed_are_a_violation() {
    let mut h = aborted_then_committed();
    read(&mut h, RC, &[(0, 11), (1, 12), (3, 21), (4, 22)]);
    let anomalies = check(&h);
    assert_eq!(anomalies.len(), 2, "{anomalies:#?}");
    assert!(anomalies
        .iter()
        .all(|a| a.kind == AnomalyKind::DuplicateEffect && a.verdict == Verdict::Violation));
}

#[test]
fn an_input_skipped_after_an_abort_is_a_lost_effect() {
    let mut h = History::default();
    order(&mut h, 1, 0);
    order(&mut h, 2, 1);
    assign(&mut h, "g-m1", 0);
    pipeline(&mut h, "g-m1", OpType::Fail, &[(0, 1)], &[11], 1);
    // No rewind: the member goes on from offset 1 and commits past order 1.
    pipeline(&mut h, "g-m1", OpType::Ok, &[(1, 2)], &[22], 2);
    let anomalies = check(&h);
    assert_eq!(anomalies.len(), 1, "{anomalies:#?}");
    assert_eq!(anomalies[0].kind, AnomalyKind::LostEffect);
    assert_eq!(anomalies[0].verdict, Verdict::Violation);
    assert_eq!(anomalies[0].values, vec![1]);
}

#[test]
fn an_input_of_a_transaction_whose_outcome_is_unknown_is_not_lost() {
    let mut h = History::default();
    order(&mut h, 1, 0);
    order(&mut h, 2, 1);
    assign(&mut h, "g-m1", 0);
    // m1 crashed mid-commit: its transaction never completed, and may have committed.
    pipeline(&mut h, "g-m1", OpType::Invoke, &[(0, 1)], &[11], 1);
    assign(&mut h, "g-m2", 1);
    pipeline(&mut h, "g-m2", OpType::Ok, &[(1, 2)], &[22], 2);
    assert_eq!(check(&h), Vec::new());
}

#[test]
fn an_input_below_where_the_group_started_is_not_required() {
    let mut h = History::default();
    order(&mut h, 1, 0);
    order(&mut h, 2, 1);
    assign(&mut h, "g-m1", 1);
    pipeline(&mut h, "g-m1", OpType::Ok, &[(1, 2)], &[22], 2);
    assert_eq!(check(&h), Vec::new());
}

#[test]
fn two_committed_transactions_of_one_input_are_a_duplicate_effect() {
    let mut h = History::default();
    order(&mut h, 1, 0);
    assign(&mut h, "g-m1", 0);
    pipeline(&mut h, "g-m1", OpType::Ok, &[(0, 1)], &[11], 1);
    // A zombie's offsets were not fenced: m2 processed order 1 again and committed.
    assign(&mut h, "g-m2", 0);
    pipeline(&mut h, "g-m2", OpType::Ok, &[(0, 1)], &[21], 1);
    let anomalies = check(&h);
    assert_eq!(anomalies.len(), 1, "{anomalies:#?}");
    assert_eq!(anomalies[0].kind, AnomalyKind::DuplicateEffect);
    assert_eq!(anomalies[0].verdict, Verdict::Violation);
}

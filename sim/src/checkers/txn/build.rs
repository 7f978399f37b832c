//! Hand-built transactional histories for the checkers' tests. Topic is always "t"; time
//! is the index (as in `view::build`).

use crate::history::{History, Mop, OpType, Operation, PollValue, SendValue, TxnValue};
use kafka_model::effect::ObservedRecord;
use kafka_model::txn::IsolationLevel;
pub use kafka_model::txn::IsolationLevel::{ReadCommitted as RC, ReadUncommitted as RU};

pub use super::super::view::build::{assign, send as plain_send};

/// Records of topic "t" given as (partition, offset, value).
fn observed(records: &[(u32, u64, u64)]) -> Vec<ObservedRecord> {
    records
        .iter()
        .map(|&(partition, offset, value)| ObservedRecord {
            topic: "t".into(),
            partition,
            offset,
            key: None,
            value,
        })
        .collect()
}

/// A send of `value` inside a transaction, written at (partition, offset).
pub fn send(value: u64, partition: u32, offset: u64) -> Mop {
    Mop::Send(SendValue {
        topic: "t".into(),
        key: None,
        value,
        acks: "all".into(),
        partition: Some(partition),
        offset: Some(offset),
        error: None,
    })
}

/// A poll inside a transaction returning (partition, offset, value).
pub fn poll(records: &[(u32, u64, u64)], isolation: IsolationLevel) -> Mop {
    Mop::Poll {
        records: observed(records),
        isolation,
    }
}

/// Who runs a transaction: (process, transactional id, epoch).
pub type By<'a> = (&'a str, &'a str, u16);

fn txn_op(by: By<'_>, mops: Vec<Mop>, error: Option<&str>) -> Operation {
    Operation::Txn(TxnValue {
        transactional_id: by.1.into(),
        producer_epoch: Some(by.2),
        mops,
        group: None,
        offsets: Vec::new(),
        error: error.map(Into::into),
    })
}

fn push(h: &mut History, process: &str, op_type: OpType, op: Operation) {
    let time = h.entries.len() as u64;
    h.push(time, process, op_type, op);
}

/// The invoke: the planned sends, without positions.
pub fn begin(h: &mut History, by: By<'_>, mops: &[Mop]) {
    let planned = mops
        .iter()
        .filter_map(|mop| match mop {
            Mop::Send(send) => Some(Mop::Send(SendValue {
                partition: None,
                offset: None,
                ..send.clone()
            })),
            Mop::Poll { .. } => None,
        })
        .collect();
    push(h, by.0, OpType::Invoke, txn_op(by, planned, None));
}

/// The completion of the transaction `begin` started.
pub fn end(h: &mut History, by: By<'_>, op_type: OpType, mops: Vec<Mop>) {
    let error = (op_type != OpType::Ok).then_some("aborted");
    push(h, by.0, op_type, txn_op(by, mops, error));
}

/// A transaction begun and ended at once with `op_type`.
pub fn txn(h: &mut History, by: By<'_>, op_type: OpType, mops: Vec<Mop>) {
    begin(h, by, &mops);
    end(h, by, op_type, mops);
}

/// A plain consumer's poll (invoke and ok) at `isolation`.
pub fn read(
    h: &mut History,
    consumer: &str,
    records: &[(u32, u64, u64)],
    isolation: IsolationLevel,
) {
    push(
        h,
        consumer,
        OpType::Invoke,
        Operation::Poll(PollValue::default()),
    );
    let ok = PollValue {
        records: observed(records),
        isolation,
        ..PollValue::default()
    };
    push(h, consumer, OpType::Ok, Operation::Poll(ok));
}

//! Transactional checkers: Jepsen's transactional Kafka checks (jepsen.tests.kafka, as
//! used in "Jepsen: Bufstream 0.1.0") over the `txn` operations of a history, each
//! classified by what the isolation level and the transactional id promise.
//!
//! Shared definitions. A transaction is committed when its completion is `ok`, aborted
//! when `fail`, unknown when `info` or never completed: an unknown transaction is never a
//! violation on its own, but its writes may be seen. Values are unique per run, so a read
//! value names its writer (a transaction, or a plain send). Reads are those of `ok` polls
//! and of every completed transaction's polls (a poll returns what it returns whether or
//! not its transaction then commits, as Jepsen reads them). What Kafka promises, from its
//! maintainers' answer to that analysis: read_committed consumers see only committed
//! transactions' records, each committed transaction's records in the order produced and
//! exactly once; transactions of one transactional id never interleave; those of
//! different transactional ids may (read_committed is not a database isolation level).

use super::{Anomaly, Promises};
use crate::history::History;

pub(crate) mod aborted_read;
pub(crate) mod cycles;
pub(crate) mod duplicate;
pub(crate) mod index;
pub(crate) mod int_poll_skip;
pub(crate) mod int_send_skip;
mod losses;
pub(crate) mod lost_write;
pub(crate) mod poll_skip;
pub(crate) mod precommitted_read;
pub(crate) mod torn;
pub(crate) mod zombie_write;

#[cfg(test)]
pub(crate) mod build;
#[cfg(test)]
mod tests;

use index::TxnIndex;

/// Runs every transactional checker; a history without `txn` operations or read_committed
/// polls gives none.
pub fn check_transactions(history: &History, promises: &Promises) -> Vec<Anomaly> {
    let index = TxnIndex::of(history);
    if index.txns.is_empty() {
        return Vec::new();
    }
    let mut anomalies = Vec::new();
    anomalies.extend(aborted_read::check(&index));
    anomalies.extend(precommitted_read::check(&index));
    anomalies.extend(int_poll_skip::check(&index, promises));
    anomalies.extend(int_send_skip::check(&index));
    anomalies.extend(poll_skip::check(&index, promises));
    anomalies.extend(torn::check(&index, promises));
    anomalies.extend(lost_write::check(&index, promises));
    anomalies.extend(duplicate::check(&index, promises));
    anomalies.extend(zombie_write::check(&index, promises));
    anomalies.extend(cycles::check(&index));
    losses::scope(&index, &mut anomalies);
    anomalies.sort_by_key(|anomaly| anomaly.index);
    anomalies
}

/// The topics transactions wrote to (planned or sent): their offsets have holes, so the
/// plain poll-skip checker leaves them to `poll_skip` here.
pub fn transactional_topics(history: &History) -> std::collections::BTreeSet<&str> {
    history
        .entries
        .iter()
        .filter_map(|entry| match &entry.op {
            crate::history::Operation::Txn(txn) => Some(txn.sends().map(|s| s.topic.as_str())),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The values transactions wrote (planned or sent): the plain duplicate checker leaves
/// them to this module's.
pub fn transactional_values(history: &History) -> std::collections::BTreeSet<u64> {
    history
        .entries
        .iter()
        .filter_map(|entry| match &entry.op {
            crate::history::Operation::Txn(txn) => Some(txn.sends().map(|s| s.value)),
            _ => None,
        })
        .flatten()
        .collect()
}

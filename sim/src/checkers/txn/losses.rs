//! What lost records could explain of a transactional anomaly: beyond the records it names
//! (a power loss that cut them and reused their offsets), the transaction state of the
//! transactional ids involved (a coordinator that forgot a prepared commit never writes its
//! markers) and the markers on the partitions involved (a cut commit marker leaves a
//! committed transaction open, hanging the last stable offset; a cut abort marker leaves
//! aborted records to the next commit). The excuse pass (`crate::excuse`) allows the
//! anomaly only where the run's loss ledger holds such a loss.

use super::index::{TxnIndex, Writer};
use crate::checkers::{Anomaly, LossScope, Verdict};
use std::collections::BTreeSet;

/// Marks each transactional violation as one such a loss would excuse, naming the
/// transactional ids and partitions it involves.
pub(super) fn scope(index: &TxnIndex<'_>, anomalies: &mut [Anomaly]) {
    for anomaly in anomalies.iter_mut() {
        let mut ids = BTreeSet::new();
        let mut partitions = BTreeSet::new();
        for txn in index.txns.iter().filter(|t| t.index == anomaly.index) {
            ids.insert(txn.transactional_id);
        }
        for value in &anomaly.values {
            if let Some(Writer::Txn(t)) = index.writer_of.get(value) {
                ids.insert(index.txns[*t].transactional_id);
            }
            let written = index.writes.iter().filter(|w| w.value == *value);
            let read = index.reads.iter().filter(|r| r.value == *value);
            partitions.extend(written.map(|w| w.partition));
            partitions.extend(read.map(|r| r.partition));
        }
        for id in ids {
            anomaly.scope.push(LossScope::TxnState {
                transactional_id: id.to_string(),
            });
        }
        for (topic, partition) in partitions {
            anomaly.scope.push(LossScope::TxnMarkers {
                topic: topic.to_string(),
                partition,
            });
        }
        anomaly.excusable = anomaly.verdict == Verdict::Violation;
    }
}

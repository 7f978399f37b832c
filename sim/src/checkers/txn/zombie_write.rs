//! zombie-write: a transaction of a fenced epoch committed after a newer epoch of the same
//! transactional id was initialized.
//!
//! Source: KIP-98's zombie fencing. InitProducerId bumps the transactional id's epoch and
//! aborts (or completes) the older epoch's open transaction; from then on the coordinator
//! and the partition leaders refuse the older epoch (PRODUCER_FENCED,
//! INVALID_PRODUCER_EPOCH). The history has no InitProducerId entry: a transaction's
//! epoch is known once initialized, so a transaction invoked with epoch e' shows that e'
//! was initialized before its invoke. A transaction with an older epoch e < e' that was
//! invoked strictly after it sent every request (its writes, its EndTxn) to a fenced
//! epoch: if it committed (`ok`, or `info` with a write a read_committed reader
//! returned), the fence failed. A commit answered late (invoked before the new epoch,
//! acknowledged after) is legitimate: the new epoch's InitProducerId waits for a
//! commit already prepared. The history has no producer id: an epoch near exhaustion
//! (where the coordinator moves to a new producer id with epoch 0) is not compared.

use super::super::{Anomaly, AnomalyKind, Verdict};
use super::index::{Outcome, Txn, TxnIndex};
use kafka_model::txn::IsolationLevel;

/// From this epoch on the coordinator may move the transactional id to a new producer id,
/// whose epochs start again at 0 (Kafka bumps the producer id before the epoch reaches
/// Short.MAX_VALUE).
const EPOCH_NEAR_EXHAUSTION: u16 = i16::MAX as u16 - 2;

/// Whether the transaction's writes took effect: committed, or unknown but read by a
/// read_committed reader.
fn took_effect(index: &TxnIndex<'_>, id: usize, txn: &Txn<'_>) -> bool {
    match txn.outcome {
        Outcome::Committed => true,
        Outcome::Aborted => false,
        Outcome::Unknown => index.reads.iter().any(|r| {
            r.isolation == IsolationLevel::ReadCommitted
                && index.txn_writer(r.value).map(|w| w.0) == Some(id)
        }),
    }
}

pub fn check(index: &TxnIndex<'_>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    for (id, zombie) in index.txns.iter().enumerate() {
        let (Some(epoch), Some(began)) = (zombie.epoch, zombie.invoke_ms) else {
            continue;
        };
        if !took_effect(index, id, zombie) {
            continue;
        }
        let fencer = index.txns.iter().find(|newer| {
            newer.transactional_id == zombie.transactional_id
                && newer
                    .epoch
                    .is_some_and(|e| epoch < e && e < EPOCH_NEAR_EXHAUSTION)
                && newer.invoke_ms.is_some_and(|fenced_at| fenced_at < began)
        });
        let Some(fencer) = fencer else {
            continue;
        };
        anomalies.push(Anomaly::new(
            AnomalyKind::ZombieWrite,
            (
                Verdict::Violation,
                "a new epoch fences the transactional id's older producers: they cannot commit",
            ),
            format!(
                "{} ({}) began at {began} ms and committed, after {} began at {} ms",
                zombie.name(),
                zombie.process,
                fencer.name(),
                fencer.invoke_ms.unwrap_or_default(),
            ),
            zombie.value.sends().map(|s| s.value).collect(),
            zombie.index,
        ));
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use super::*;
    use crate::history::{History, OpType};

    fn found(h: &History) -> Vec<Anomaly> {
        check(&TxnIndex::of(h))
    }

    /// p-new runs tx-1 epoch 1, then p-old (epoch 0) begins a transaction ending `outcome`.
    fn history(outcome: OpType, old_first: bool) -> History {
        let mut h = History::default();
        let old = ("p-old", "tx-1", 0);
        if old_first {
            begin(&mut h, old, &[send(1, 0, 0)]);
        }
        txn(
            &mut h,
            ("p-new", "tx-1", 1),
            OpType::Ok,
            vec![send(2, 0, 2)],
        );
        if !old_first {
            begin(&mut h, old, &[send(1, 0, 0)]);
        }
        end(&mut h, old, outcome, vec![send(1, 0, 0)]);
        h
    }

    #[test]
    fn a_fenced_epoch_committing_after_the_new_one_began_is_a_zombie_write() {
        let found = found(&history(OpType::Ok, false));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].kind, found[0].verdict),
            (AnomalyKind::ZombieWrite, Verdict::Violation)
        );
        assert_eq!((found[0].index, &found[0].values), (3, &vec![1]));
    }

    #[test]
    fn fenced_and_aborted_or_begun_before_the_new_epoch_is_fine() {
        assert_eq!(found(&history(OpType::Fail, false)), vec![]);
        assert_eq!(found(&history(OpType::Ok, true)), vec![]);
    }

    #[test]
    fn an_unknown_outcome_is_a_zombie_write_only_once_read_committed_returns_it() {
        assert_eq!(found(&history(OpType::Info, false)), vec![]);
        let mut h = history(OpType::Info, false);
        read(&mut h, "c1", &[(0, 0, 1)], RU);
        assert_eq!(found(&h), vec![]);
        read(&mut h, "c1", &[(0, 0, 1)], RC);
        assert_eq!(found(&h).len(), 1);
    }
}

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
//!
//! A zombie's transaction usually began before it was fenced: it resumes mid-transaction.
//! Its records then show the failed fence by their place: a partition leader never appends
//! an older epoch of a producer after a newer one (KIP-98's epoch check), so a record of
//! epoch e read at an offset after a record of the same transactional id's epoch e' > e
//! is a fenced epoch's write, whatever its transaction's outcome. Not judged where unclean
//! elections may happen: a leader that lost every record of the newer epoch takes the
//! older one honestly.

use super::super::view::Partition;
use super::super::{Anomaly, AnomalyKind, Promises, Verdict};
use super::index::{Outcome, Read, Txn, TxnIndex, Writer};
use kafka_model::txn::IsolationLevel;
use std::collections::BTreeMap;

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

pub fn check(index: &TxnIndex<'_>, promises: &Promises) -> Vec<Anomaly> {
    let mut anomalies = began_after_the_fence(index);
    if !promises.unclean_election {
        anomalies.extend(written_after_a_newer_epoch(index));
    }
    anomalies
}

/// Transactions begun after a newer epoch of their id began, that took effect.
fn began_after_the_fence(index: &TxnIndex<'_>) -> Vec<Anomaly> {
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

/// Per (partition, transactional id, epoch): the first offset a reader found a record of it.
type FirstRead<'a> = BTreeMap<(Partition<'a>, &'a str, u16), &'a Read<'a>>;

/// Transactions with a record read after a record of a newer epoch of their id, in one
/// partition.
fn written_after_a_newer_epoch(index: &TxnIndex<'_>) -> Vec<Anomaly> {
    let epoch_of = |read: &Read<'_>| match index.writer_of.get(&read.value) {
        Some(Writer::Txn(id)) => {
            let txn = &index.txns[*id];
            let epoch = txn.epoch.filter(|e| *e < EPOCH_NEAR_EXHAUSTION)?;
            Some((*id, txn.transactional_id, epoch))
        }
        Some(Writer::Plain) | None => None,
    };
    let mut first: FirstRead<'_> = BTreeMap::new();
    for read in &index.reads {
        if let Some((_, id, epoch)) = epoch_of(read) {
            let at = first.entry((read.partition, id, epoch)).or_insert(read);
            if read.offset < at.offset {
                *at = read;
            }
        }
    }
    // Per zombie transaction: its record read after a newer epoch's, and that one.
    let mut found: BTreeMap<usize, (&Read<'_>, &Read<'_>)> = BTreeMap::new();
    for read in &index.reads {
        let Some((zombie, id, epoch)) = epoch_of(read) else {
            continue;
        };
        let newer = first
            .range((read.partition, id, epoch + 1)..=(read.partition, id, u16::MAX))
            .map(|(_, r)| *r)
            .find(|r| r.offset < read.offset);
        if let Some(newer) = newer {
            found.entry(zombie).or_insert((read, newer));
        }
    }
    found
        .into_iter()
        .map(|(id, (read, newer))| {
            let zombie = &index.txns[id];
            let newer_txn = index.txn_writer(newer.value).expect("a transaction's").1;
            let (topic, partition) = read.partition;
            Anomaly::new(
                AnomalyKind::ZombieWrite,
                (
                    Verdict::Violation,
                    "a leader never appends a producer's older epoch after a newer one: the \
                     fenced epoch's writes are refused",
                ),
                format!(
                    "{} ({}) wrote v{} at {topic}/{partition} offset {}, after v{} of {} at \
                     offset {}",
                    zombie.name(),
                    zombie.process,
                    read.value,
                    read.offset,
                    newer.value,
                    newer_txn.name(),
                    newer.offset,
                ),
                vec![read.value, newer.value],
                read.index,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use super::*;
    use crate::history::{History, OpType};

    fn found(h: &History) -> Vec<Anomaly> {
        check(&TxnIndex::of(h), &Promises::default())
    }

    /// p-new runs tx-1 epoch 1, then p-old (epoch 0) begins a transaction ending `outcome`.
    fn history(outcome: OpType, old_first: bool) -> History {
        history_at(outcome, old_first, 0)
    }

    /// As `history`, p-old's record written at offset `old_offset`.
    fn history_at(outcome: OpType, old_first: bool, old_offset: u64) -> History {
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
        end(&mut h, old, outcome, vec![send(1, 0, old_offset)]);
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

    /// p-old (epoch 0) began before p-new (epoch 1) and ended `outcome`; a reader found
    /// the old epoch's v1 at offset `old_offset` of the partition where v2 is at 2.
    fn resumed(outcome: OpType, old_offset: u64) -> History {
        let mut h = history_at(outcome, true, old_offset);
        read(&mut h, "c1", &[(0, 2, 2), (0, old_offset, 1)], RU);
        h
    }

    #[test]
    fn an_older_epochs_record_after_a_newer_ones_is_a_zombie_write_whatever_its_outcome() {
        for outcome in [OpType::Ok, OpType::Fail, OpType::Info] {
            let found = found(&resumed(outcome, 5));
            assert_eq!(found.len(), 1, "{outcome:?}: {found:?}");
            assert_eq!(found[0].kind, AnomalyKind::ZombieWrite);
            assert_eq!(found[0].values, vec![1, 2]);
        }
        assert_eq!(found(&resumed(OpType::Ok, 1)), vec![], "written before");
    }

    #[test]
    fn where_unclean_elections_may_lose_the_newer_epoch_the_place_is_not_judged() {
        let promises = Promises {
            unclean_election: true,
            ..Promises::default()
        };
        let h = resumed(OpType::Fail, 5);
        assert_eq!(check(&TxnIndex::of(&h), &promises), vec![]);
    }
}

//! Precise excuses: an anomaly that only lost records could excuse (a checker marked it
//! `excusable`) is allowed only where the run's loss ledger holds a loss that explains it,
//! and then names that loss's chain of events; with no such loss it stays a violation.
//!
//! What explains what (DESIGN.md section 6, made exact):
//! - A power loss with async flush excuses a record a reader saw vanish or change only if
//!   it cut that record from a replica that then led the partition without it.
//! - An unclean election excuses only the records its out-of-sync leader lacked, on that
//!   partition, after they were written.
//! - Replicas that disagree (log-matching, strong-isr, leader-completeness) are excused by
//!   a power loss that cut the records involved from one of those replicas.
//! - The consumer and group anomalies are excused only where the records they involve (by
//!   value or offset), or their group's partition of the offsets topic, lie in such a loss.
//!
//! Every anomaly whose records lie in some loss gets that loss's chain, even one the
//! configuration allows on its own (an acks=1 write a new leader never had), so that a
//! reader sees what happened to them.

use crate::checkers::{Anomaly, AnomalyKind, LossScope, Promises, Verdict};
use crate::invariants::losses::{LossCause, LossLedger, LostRecords};
use kafka_model::group::{coordinator_partition, GroupId, OFFSETS_TOPIC};
use kafka_model::txn::{
    txn_coordinator_partition, TransactionalId, MARKER_VALUE_BIT, TRANSACTION_STATE_TOPIC,
};

/// How many partitions the coordinators' state topics have, to place a group's or a
/// transactional id's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatePartitions {
    pub offsets_topic: u32,
    pub txn_state_topic: u32,
}

impl StatePartitions {
    pub fn of(scenario: &crate::scenario::Scenario) -> Self {
        StatePartitions {
            offsets_topic: scenario.offsets_topic_partitions,
            txn_state_topic: scenario.transactions.state_partitions,
        }
    }
}

/// Judges every excusable anomaly against the ledger and gives chains where records were
/// lost. `state` places each group's and each transactional id's coordinator state.
pub fn apply(
    anomalies: &mut [Anomaly],
    ledger: &LossLedger,
    promises: &Promises,
    state: StatePartitions,
) {
    for anomaly in anomalies.iter_mut() {
        if anomaly.scope.is_empty() && anomaly.values.is_empty() {
            continue;
        }
        let explains = |loss: &&LostRecords| explains(loss, anomaly, state);
        let replica_level = replica_level(anomaly.kind);
        match excusing_loss(anomaly, ledger, promises, state) {
            Some(loss) => {
                if anomaly.excusable && anomaly.verdict == Verdict::Violation {
                    anomaly.verdict = Verdict::Allowed;
                    anomaly.why = reason(loss, replica_level);
                }
                anomaly.chain = loss.chain.clone();
            }
            None => {
                if let Some(loss) = ledger.losses.iter().find(explains) {
                    anomaly.chain = loss.chain.clone();
                }
            }
        }
    }
}

/// The first loss that excuses the anomaly, if any.
fn excusing_loss<'a>(
    anomaly: &Anomaly,
    ledger: &'a LossLedger,
    promises: &Promises,
    state: StatePartitions,
) -> Option<&'a LostRecords> {
    let struck = anomaly.scope.iter().find_map(|scope| match scope {
        LossScope::Replicas { brokers } => Some(brokers),
        _ => None,
    });
    let cuts = ledger
        .cuts
        .iter()
        .filter(|_| replica_level(anomaly.kind))
        .filter(|cut| struck.is_none_or(|brokers| brokers.contains(&cut.broker.0)));
    ledger
        .losses
        .iter()
        .chain(cuts)
        .filter(|loss| excuses(loss.cause, promises))
        .find(|loss| explains(loss, anomaly, state))
}

/// Whether a loss already in the ledger excuses a replica-level anomaly (for the
/// invariants, which check on past a breach only when it is explained).
pub fn explained_now(anomaly: &Anomaly, ledger: &LossLedger, promises: &Promises) -> bool {
    // Replica-level anomalies name records, never a coordinator's state: the state
    // topics' sizes are not needed.
    let state = StatePartitions {
        offsets_topic: 1,
        txn_state_topic: 1,
    };
    excusing_loss(anomaly, ledger, promises, state).is_some()
}

/// Whether the configuration allows records lost this way to vanish.
fn excuses(cause: LossCause, promises: &Promises) -> bool {
    match cause {
        // A failed fsync drops what a power loss would: only what was not yet fsynced.
        LossCause::PowerLoss | LossCause::FsyncFailure => promises.async_flush,
        // Kafka keeps acknowledged records through a damaged replica by replication only: a
        // damaged replica that leads without what its recovery cut (the last of its ISR, or
        // every replica damaged) loses them, as Kafka would. The chain shows how.
        LossCause::Corruption => true,
        LossCause::UncleanElection => promises.unclean_election,
        LossCause::LeaderLacked => false,
    }
}

/// Anomalies about replicas disagreeing, which a cut on any replica explains.
fn replica_level(kind: AnomalyKind) -> bool {
    matches!(
        kind,
        AnomalyKind::LogMatching | AnomalyKind::StrongIsr | AnomalyKind::LeaderCompleteness
    )
}

/// Whether `loss` happened before the anomaly showed and involves its records.
fn explains(loss: &LostRecords, anomaly: &Anomaly, state: StatePartitions) -> bool {
    // No order between the loss and the anomaly's index is asked: the evidence of an
    // offset reused after a loss (a read of the lost record) comes before the loss.
    // Values are unique in a run: a value lost anywhere is that record.
    if anomaly.values.iter().any(|v| loss.holds_value(*v)) {
        return true;
    }
    anomaly.scope.iter().any(|scope| match scope {
        LossScope::Records {
            topic,
            partition,
            offsets,
        } => {
            loss.tp.topic == *topic
                && loss.tp.partition == *partition
                && offsets.iter().any(|o| loss.holds_offset(*o))
        }
        LossScope::Replicas { .. } => false,
        LossScope::Group { group } => {
            let group = GroupId(group.clone());
            loss.tp.topic == OFFSETS_TOPIC
                && loss.tp.partition == coordinator_partition(&group, state.offsets_topic)
        }
        LossScope::TxnState { transactional_id } => {
            let id = TransactionalId::new(transactional_id.clone());
            loss.tp.topic == TRANSACTION_STATE_TOPIC
                && loss.tp.partition == txn_coordinator_partition(&id, state.txn_state_topic)
        }
        LossScope::TxnMarkers { topic, partition } => {
            loss.tp.topic == *topic
                && loss.tp.partition == *partition
                && loss.records.iter().any(|(_, v)| v & MARKER_VALUE_BIT != 0)
        }
    })
}

/// Why the anomaly is allowed, in one line.
fn reason(loss: &LostRecords, replica_level: bool) -> String {
    let (tp, b) = (&loss.tp, loss.broker);
    match loss.cause {
        LossCause::PowerLoss if replica_level => format!(
            "async flush: a power loss cut these records (un-fsynced) from {b}'s replica of {tp}"
        ),
        LossCause::PowerLoss => format!(
            "async flush: a power loss cut these records (un-fsynced) from {b}, which then led \
             {tp} without them"
        ),
        LossCause::FsyncFailure if replica_level => format!(
            "async flush: a failed fsync dropped these records (un-fsynced) from {b}'s replica \
             of {tp}"
        ),
        LossCause::FsyncFailure => format!(
            "async flush: a failed fsync dropped these records (un-fsynced) from {b}, which \
             then led {tp} without them"
        ),
        LossCause::Corruption if replica_level => format!(
            "a damaged write on {b}'s disk: its recovery cut {tp} at the batch that failed \
             its CRC, and it fetches these records again"
        ),
        LossCause::Corruption => format!(
            "a damaged write on {b}'s disk: its recovery cut {tp} at the batch that failed \
             its CRC, and it then led {tp} without these records"
        ),
        LossCause::UncleanElection => format!(
            "unclean leader election is on: {b}, out of sync, was elected leader of {tp} \
             without these records"
        ),
        LossCause::LeaderLacked => format!("{b} led {tp} without these records"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::ChainLink;
    use kafka_model::ids::{BrokerId, TopicPartition};

    fn loss(cause: LossCause, records: &[(u64, u64)]) -> LostRecords {
        LostRecords {
            tp: TopicPartition::new("tasks", 0),
            broker: BrokerId(2),
            records: records.to_vec(),
            cause,
            chain: vec![ChainLink {
                seq: 7,
                time_ms: 100,
                node: "b2".into(),
                what: "lost power".into(),
            }],
        }
    }

    fn lost_write(value: u64, offset: u64, index: u64) -> Anomaly {
        let judged = (Verdict::Violation, "acks=all");
        Anomaly::new(
            AnomalyKind::LostWrite,
            judged,
            "lost".into(),
            vec![value],
            index,
        )
        .unless_loss_explains()
        .involving("tasks", 0, vec![offset])
    }

    fn judge(anomaly: Anomaly, ledger: &LossLedger, promises: &Promises) -> Anomaly {
        let mut anomalies = [anomaly];
        let state = StatePartitions {
            offsets_topic: 3,
            txn_state_topic: 3,
        };
        apply(&mut anomalies, ledger, promises, state);
        anomalies[0].clone()
    }

    #[test]
    fn a_power_loss_excuses_only_the_records_it_cut_from_a_leader_and_only_with_async_flush() {
        let ledger = LossLedger {
            cuts: Vec::new(),
            losses: vec![loss(LossCause::PowerLoss, &[(4, 40), (5, 50)])],
        };
        let async_flush = Promises {
            async_flush: true,
            ..Promises::default()
        };
        let excused = judge(lost_write(40, 4, 12), &ledger, &async_flush);
        assert_eq!(excused.verdict, Verdict::Allowed);
        assert!(excused.why.contains("power loss"), "{}", excused.why);
        assert_eq!(excused.chain.len(), 1);
        // Another record of the same partition, lost by something else: a violation.
        let other = judge(lost_write(60, 6, 12), &ledger, &async_flush);
        assert_eq!(other.verdict, Verdict::Violation);
        assert!(other.chain.is_empty());
        // The same record with fsync on every append: the cut itself is a broken promise.
        let fsync = judge(lost_write(40, 4, 12), &ledger, &Promises::default());
        assert_eq!(fsync.verdict, Verdict::Violation);
        assert_eq!(fsync.chain.len(), 1, "the chain is still shown");
    }

    #[test]
    fn a_transactional_anomaly_is_excused_by_a_lost_marker_of_its_partition_or_its_ids_state() {
        let promises = Promises {
            async_flush: true,
            ..Promises::default()
        };
        let judged = (Verdict::Violation, "committed");
        let mut anomaly = Anomaly::new(AnomalyKind::LostWrite, judged, "".into(), vec![60], 12);
        anomaly.excusable = true;
        anomaly.scope = vec![
            LossScope::TxnState {
                transactional_id: "tx-1".into(),
            },
            LossScope::TxnMarkers {
                topic: "tasks".into(),
                partition: 0,
            },
        ];
        let verdict = |losses: Vec<LostRecords>| {
            let ledger = LossLedger {
                cuts: Vec::new(),
                losses,
            };
            judge(anomaly.clone(), &ledger, &promises).verdict
        };
        let data = loss(LossCause::PowerLoss, &[(4, 70)]);
        assert_eq!(verdict(vec![data]), Verdict::Violation, "only data was cut");
        let marker = loss(LossCause::PowerLoss, &[(4, MARKER_VALUE_BIT | 1)]);
        assert_eq!(verdict(vec![marker.clone()]), Verdict::Allowed);
        let mut elsewhere = marker;
        elsewhere.tp = TopicPartition::new("tasks", 1);
        assert_eq!(
            verdict(vec![elsewhere]),
            Verdict::Violation,
            "another partition"
        );
        let home = txn_coordinator_partition(&TransactionalId::new("tx-1"), 3);
        let mut state = loss(LossCause::PowerLoss, &[(0, 1 << 61)]);
        state.tp = TopicPartition::new(TRANSACTION_STATE_TOPIC, home);
        assert_eq!(verdict(vec![state.clone()]), Verdict::Allowed);
        state.tp.partition = (home + 1) % 3;
        assert_eq!(
            verdict(vec![state]),
            Verdict::Violation,
            "another id's state"
        );
    }

    #[test]
    fn a_cut_on_a_replica_that_never_led_excuses_only_replica_disagreement() {
        let ledger = LossLedger {
            cuts: vec![loss(LossCause::PowerLoss, &[(4, 40)])],
            losses: Vec::new(),
        };
        let promises = Promises {
            async_flush: true,
            ..Promises::default()
        };
        assert_eq!(
            judge(lost_write(40, 4, 12), &ledger, &promises).verdict,
            Verdict::Violation
        );
        let judged = (Verdict::Violation, "strong isr");
        let strong_isr = Anomaly::new(AnomalyKind::StrongIsr, judged, "".into(), vec![40], 12)
            .unless_loss_explains();
        assert_eq!(
            judge(strong_isr, &ledger, &promises).verdict,
            Verdict::Allowed
        );
    }

    #[test]
    fn an_unclean_election_excuses_what_its_leader_lacked_and_a_flag_alone_excuses_nothing() {
        let unclean = Promises {
            unclean_election: true,
            ..Promises::default()
        };
        let nothing = LossLedger::default();
        assert_eq!(
            judge(lost_write(40, 4, 12), &nothing, &unclean).verdict,
            Verdict::Violation
        );
        let ledger = LossLedger {
            cuts: Vec::new(),
            losses: vec![loss(LossCause::UncleanElection, &[(4, 40)])],
        };
        let excused = judge(lost_write(40, 4, 12), &ledger, &unclean);
        assert_eq!(excused.verdict, Verdict::Allowed);
        assert!(excused.why.contains("unclean"), "{}", excused.why);
        // A clean election's leader lacking a record excuses nothing, but names it.
        let lacked = LossLedger {
            cuts: Vec::new(),
            losses: vec![loss(LossCause::LeaderLacked, &[(4, 40)])],
        };
        let named = judge(lost_write(40, 4, 12), &lacked, &unclean);
        assert_eq!(named.verdict, Verdict::Violation);
        assert_eq!(named.chain.len(), 1);
    }

    #[test]
    fn a_group_anomaly_is_excused_by_a_loss_on_its_offsets_partition_only() {
        let group = "g1";
        let home = coordinator_partition(&GroupId(group.into()), 3);
        let mut lost = loss(LossCause::PowerLoss, &[(1, 1 << 62)]);
        lost.tp = TopicPartition::new(OFFSETS_TOPIC, home);
        let mut elsewhere = lost.clone();
        elsewhere.tp.partition = (home + 1) % 3;
        let promises = Promises {
            async_flush: true,
            ..Promises::default()
        };
        let stale = || {
            let judged = (Verdict::Violation, "generation");
            Anomaly::new(AnomalyKind::StaleCommit, judged, "".into(), Vec::new(), 12)
                .unless_loss_explains()
                .involving_group(group)
        };
        let at_home = LossLedger {
            cuts: Vec::new(),
            losses: vec![lost],
        };
        assert_eq!(
            judge(stale(), &at_home, &promises).verdict,
            Verdict::Allowed
        );
        let away = LossLedger {
            cuts: Vec::new(),
            losses: vec![elsewhere],
        };
        assert_eq!(judge(stale(), &away, &promises).verdict, Verdict::Violation);
    }
}

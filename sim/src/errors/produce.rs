//! Produce errors: out-of-order sequences and old producer epochs against the producers'
//! sequences in the leader's log; not enough replicas against the leader's ISR (or, for a
//! transactional batch, the leader's verification with the coordinator, which answers
//! not enough replicas or an old epoch of its own).

use super::expectations::{shown, Expectation, ReplicaAtAnswer, Unexplained};
use super::replica_view::RoleView;
use crate::history::ProduceRefusal;
use kafka_model::ids::{broker_list, ProducerId};

/// Whether `at` explains the produce error `expectation` refusing `refused`.
pub fn judge(
    expectation: Expectation,
    at: &ReplicaAtAnswer,
    refused: &ProduceRefusal,
    min_insync_replicas: usize,
    acks: &str,
) -> Result<(), Unexplained> {
    match expectation {
        Expectation::NotEnoughReplicas if acks != "all" => Err(Unexplained {
            looked_for: "an acks=all request".into(),
            found: format!("the producer sends with acks={acks}"),
        }),
        // KIP-890: a leader that cannot verify a transactional batch with the transaction
        // coordinator (none known, loading, busy ending the last transaction) answers
        // NOT_ENOUGH_REPLICAS, as Kafka's ReplicaManager maps those errors.
        Expectation::NotEnoughReplicas if refused.transactional => Ok(()),
        Expectation::NotEnoughReplicas | Expectation::NotEnoughReplicasAfterAppend => {
            isr_below(at, min_insync_replicas)
        }
        // KIP-890: the leader relays the coordinator's answer to its verification, which
        // fences against the epoch the coordinator holds (a successor's InitProducerId, a
        // timed-out transaction's abort, that no batch carried to this log yet), or a
        // deposed coordinator's older view.
        Expectation::InvalidProducerEpoch if refused.transactional => Ok(()),
        Expectation::OutOfOrderSequence => sequence_gap(at, refused),
        Expectation::InvalidProducerEpoch => newer_epoch(at, refused),
        _ => Ok(()),
    }
}

fn isr_below(at: &ReplicaAtAnswer, min_insync_replicas: usize) -> Result<(), Unexplained> {
    let (b, tp) = (at.broker, &at.tp);
    if at.isr_was_below_min.is_some() {
        return Ok(());
    }
    let found = match &at.role {
        RoleView::Leader { isr, .. } if isr.len() < min_insync_replicas => return Ok(()),
        RoleView::Leader { epoch, isr } => format!(
            "{b} led {tp} in epoch {} with ISR {} (last set: {})",
            epoch.0,
            broker_list(isr),
            shown(&at.isr_link)
        ),
        RoleView::Follower { epoch } => format!(
            "{b} followed {tp} in epoch {} ({})",
            epoch.0,
            shown(&at.role_link)
        ),
        RoleView::Unknown => format!("{b} had no role for {tp} since it started"),
    };
    Err(Unexplained {
        looked_for: format!(
            "{b}'s ISR of {tp} below min.insync.replicas={min_insync_replicas} when it answered"
        ),
        found,
    })
}

fn sequence_gap(at: &ReplicaAtAnswer, refused: &ProduceRefusal) -> Result<(), Unexplained> {
    let (b, tp) = (at.broker, &at.tp);
    let (Some(pid), Some(epoch), Some(base)) = (
        refused.producer_id,
        refused.producer_epoch,
        refused.base_sequence,
    ) else {
        return Err(Unexplained {
            looked_for: "an idempotent producer's batch".into(),
            found: "the batch carries no producer id".into(),
        });
    };
    let pid = ProducerId(pid);
    if at.lost_by_log_start.contains_key(&pid) {
        return Ok(());
    }
    let looked_for = format!(
        "a gap before sequence {base} of {pid} (epoch {epoch}) in {b}'s log of {tp}: a batch \
         that never reached {b}, one a truncation or power loss cut, a leader that took over \
         without it, or retention removing {pid}'s records"
    );
    let found = match at.last_records.get(&pid) {
        None if base != 0 => return Ok(()),
        None => format!("{b}'s log of {tp} holds no record of {pid}: sequence 0 starts it"),
        Some(last) if last.stamp.producer_epoch.0 < epoch && base != 0 => return Ok(()),
        Some(last) if last.stamp.producer_epoch.0 < epoch => format!(
            "{pid}'s records in {b}'s log of {tp} are of epoch {}: sequence 0 of epoch \
             {epoch} starts a new one",
            last.stamp.producer_epoch.0
        ),
        Some(last) if last.stamp.producer_epoch.0 > epoch => format!(
            "{b}'s log of {tp} holds {pid} in the newer epoch {} (offset {}): Kafka answers \
             INVALID_PRODUCER_EPOCH",
            last.stamp.producer_epoch.0, last.offset
        ),
        Some(last) if last.stamp.base_sequence.wrapping_add(1) != base => return Ok(()),
        Some(last) => format!(
            "{b}'s log of {tp} ends {pid}'s sequence at {} (offset {}), right before the \
             batch; its last cut: {}",
            last.stamp.base_sequence,
            last.offset,
            shown(&at.last_cut)
        ),
    };
    Err(Unexplained { looked_for, found })
}

fn newer_epoch(at: &ReplicaAtAnswer, refused: &ProduceRefusal) -> Result<(), Unexplained> {
    let (b, tp) = (at.broker, &at.tp);
    let (Some(pid), Some(epoch)) = (refused.producer_id, refused.producer_epoch) else {
        return Err(Unexplained {
            looked_for: "an idempotent producer's batch".into(),
            found: "the batch carries no producer id".into(),
        });
    };
    let pid = ProducerId(pid);
    let found = match at.last_records.get(&pid) {
        Some(last) if last.stamp.producer_epoch.0 > epoch => return Ok(()),
        Some(last) => format!(
            "{pid}'s last record in {b}'s log of {tp} is of epoch {} (offset {})",
            last.stamp.producer_epoch.0, last.offset
        ),
        None => format!("{b}'s log of {tp} holds no record of {pid}"),
    };
    Err(Unexplained {
        looked_for: format!(
            "a record of {pid} with an epoch newer than {epoch} in {b}'s log of {tp} (a bump \
             that reached it)"
        ),
        found,
    })
}

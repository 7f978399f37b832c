//! KIP-966's eligible leader replicas (ELR): which replicas out of the ISR may still be
//! elected cleanly, as Kafka's `PartitionChangeBuilder.maybePopulateTargetElr` decides it.
//!
//! The rule rests on the strict min ISR (the leader's high watermark does not advance while
//! its ISR is below `min.insync.replicas`): a replica that leaves an ISR that is then below
//! the minimum was in the ISR the last time the high watermark moved, so it holds every
//! committed record, and stays eligible; once the ISR is back at the minimum the ELR is
//! forgotten, since the high watermark moves again without it. A replica whose broker
//! restarted after an unclean shutdown may have lost unsynced records, committed ones
//! among them, and leaves the ELR for the last known ELR, which no clean election reads.

use crate::ids::BrokerId;
use crate::metadata::PartitionRegistration;

/// The ELR and last known ELR a change of `current` to `target_isr` gives, before any
/// election; `unclean_shutdown` names a broker that just re-registered after an unclean
/// shutdown. Both lists are in replica order (Kafka's come from a hash set; any order is
/// Kafka's).
pub fn targets(
    current: &PartitionRegistration,
    target_isr: &[BrokerId],
    unclean_shutdown: Option<BrokerId>,
    min_insync_replicas: usize,
) -> (Vec<BrokerId>, Vec<BrokerId>) {
    if target_isr.len() >= min_insync_replicas {
        return (Vec::new(), Vec::new());
    }
    let candidate = |b: &BrokerId| current.elr.contains(b) || current.isr.contains(b);
    let elr: Vec<BrokerId> = current
        .replicas
        .iter()
        .copied()
        .filter(|b| candidate(b) && !target_isr.contains(b) && Some(*b) != unclean_shutdown)
        .collect();
    let last_known_elr = current
        .replicas
        .iter()
        .copied()
        .filter(|b| candidate(b) || current.last_known_elr.contains(b))
        .filter(|b| !target_isr.contains(b) && !elr.contains(b))
        .collect();
    (elr, last_known_elr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::LeaderEpoch;

    fn ids(list: &[u32]) -> Vec<BrokerId> {
        list.iter().map(|b| BrokerId(*b)).collect()
    }

    fn partition(isr: &[u32], elr: &[u32]) -> PartitionRegistration {
        PartitionRegistration {
            replicas: ids(&[1, 2, 3]),
            isr: ids(isr),
            leader: isr.first().map(|b| BrokerId(*b)),
            leader_epoch: LeaderEpoch(1),
            partition_epoch: 1,
            elr: ids(elr),
            last_known_elr: Vec::new(),
        }
    }

    #[test]
    fn replicas_leaving_an_isr_below_the_minimum_stay_eligible() {
        let (elr, last_known) = targets(&partition(&[1, 2], &[]), &ids(&[1]), None, 2);
        assert_eq!(elr, ids(&[2]));
        assert!(last_known.is_empty());
        let (elr, _) = targets(&partition(&[1], &[2]), &[], None, 2);
        assert_eq!(elr, ids(&[1, 2]), "the last ISR member joins the ELR");
    }

    #[test]
    fn an_isr_at_the_minimum_forgets_the_elr() {
        let (elr, last_known) = targets(&partition(&[1, 2, 3], &[]), &ids(&[1, 2]), None, 2);
        assert!(elr.is_empty() && last_known.is_empty());
        let (elr, _) = targets(&partition(&[1], &[2]), &ids(&[1, 3]), None, 2);
        assert!(elr.is_empty(), "the high watermark moves again without 2");
    }

    #[test]
    fn an_unclean_shutdown_moves_a_replica_to_the_last_known_elr() {
        let (elr, last_known) = targets(&partition(&[1], &[2]), &[], Some(BrokerId(1)), 1);
        assert_eq!(elr, ids(&[2]));
        assert_eq!(last_known, ids(&[1]));
        let (elr, last_known) = targets(&partition(&[], &[2]), &[], Some(BrokerId(2)), 1);
        assert!(elr.is_empty());
        assert_eq!(last_known, ids(&[2]));
    }
}

//! Everything the harness tracks for one partition: the mirror of each replica, the
//! controller's latest PartitionChange, the committed prefix, and the small ledgers some
//! invariants keep (verified agreement per replica pair, leadership claims per epoch, each
//! broker's last epoch), plus which anomaly kinds were already reported for it.

use super::agreement::Agreement;
use super::committed::CommittedPrefix;
use super::losses::PartitionLosses;
use super::monotonic_epoch::BrokerEpochs;
use super::replica::Replica;
use super::retention::Retained;
use super::single_leader::Claims;
use crate::checkers::AnomalyKind;
use kafka_model::ids::{BrokerId, LeaderEpoch};
use std::collections::{BTreeMap, BTreeSet};

/// The controller's latest PartitionChange for the partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LatestChange {
    pub leader: Option<BrokerId>,
    pub isr: Vec<BrokerId>,
    pub leader_epoch: LeaderEpoch,
    pub partition_epoch: u32,
    /// KIP-966's eligible leader replicas (empty without ELR): with the ISR empty, a
    /// clean election may choose from them.
    pub elr: Vec<BrokerId>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Partition {
    pub replicas: BTreeMap<BrokerId, Replica>,
    pub controller: Option<LatestChange>,
    pub committed: CommittedPrefix,
    pub agreement: Agreement,
    pub claims: Claims,
    pub broker_epochs: BrokerEpochs,
    /// How far retention deleted records, as the replicas reported it.
    pub retained: Retained,
    /// What power losses cut from its replicas, and how its leaders were elected.
    pub losses: PartitionLosses,
    /// Kinds already reported: each is reported once per partition, at its first breach,
    /// and its checks are skipped afterwards.
    pub reported: BTreeSet<AnomalyKind>,
    /// Kinds reported once already as a breach a known loss explains (checks go on).
    pub explained: BTreeSet<AnomalyKind>,
}

impl Partition {
    /// The mirror of `broker`'s replica, empty if it was never heard of.
    pub fn replica_mut(&mut self, broker: BrokerId) -> &mut Replica {
        self.replicas.entry(broker).or_default()
    }

    /// Whether checks of `kind` still run (it has not been reported yet).
    pub fn open(&self, kind: AnomalyKind) -> bool {
        !self.reported.contains(&kind)
    }
}

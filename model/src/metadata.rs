//! The cluster metadata as a log of records (KRaft's `__cluster_metadata`), and the state
//! that replaying it gives. The state is a pure function of the log: any replica of the log,
//! a controller's or a broker's, replays to the same brokers, partitions, leaders, ISRs and
//! epochs.

use crate::ids::{BrokerId, LeaderEpoch, TopicPartition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One record of the metadata log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    /// A broker (re)starts: `incarnation` grows with each start.
    RegisterBroker {
        broker: BrokerId,
        incarnation: u32,
    },
    /// The broker missed its session timeout: it leads nothing and is in no ISR.
    FenceBroker {
        broker: BrokerId,
    },
    UnfenceBroker {
        broker: BrokerId,
    },
    /// A partition and its replica assignment (first replica is the preferred leader).
    CreatePartition {
        tp: TopicPartition,
        replicas: Vec<BrokerId>,
    },
    /// A new leader or ISR. Every leader change bumps `leader_epoch`; every change of
    /// either bumps `partition_epoch` (AlterPartition requests must name the current one).
    /// With KIP-966's eligible leader replicas it also carries the ELR and the last known
    /// ELR, as Kafka's PartitionChangeRecord does; without, both are empty and left out
    /// of the record's serialized form, so that such logs are byte for byte what they
    /// were before ELR existed.
    PartitionChange {
        tp: TopicPartition,
        leader: Option<BrokerId>,
        isr: Vec<BrokerId>,
        leader_epoch: LeaderEpoch,
        partition_epoch: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        elr: Vec<BrokerId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        last_known_elr: Vec<BrokerId>,
    },
}

/// A broker as the metadata knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub incarnation: u32,
    pub fenced: bool,
}

/// A partition as the metadata knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRegistration {
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
    pub leader: Option<BrokerId>,
    pub leader_epoch: LeaderEpoch,
    pub partition_epoch: u32,
    /// KIP-966's eligible leader replicas: replicas out of the ISR that still hold every
    /// committed record, because they left it while it was below `min.insync.replicas`
    /// (when the high watermark cannot advance). Empty without ELR.
    #[serde(default)]
    pub elr: Vec<BrokerId>,
    /// Replicas that were eligible once and no longer are (an unclean shutdown took them
    /// out): Kafka's LastKnownElr, kept for the operator; no clean election reads it.
    #[serde(default)]
    pub last_known_elr: Vec<BrokerId>,
}

/// The state the metadata log replays to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataImage {
    pub brokers: BTreeMap<BrokerId, BrokerRegistration>,
    pub partitions: BTreeMap<TopicPartition, PartitionRegistration>,
    /// How many records have been applied.
    pub applied: u64,
}

impl MetadataImage {
    /// Replays a whole log.
    pub fn replay<'a>(log: impl IntoIterator<Item = &'a MetadataRecord>) -> Self {
        let mut image = MetadataImage::default();
        for record in log {
            image.apply(record);
        }
        image
    }

    pub fn is_live(&self, broker: BrokerId) -> bool {
        self.brokers.get(&broker).is_some_and(|b| !b.fenced)
    }

    /// Applies one record. A record that contradicts the image is a bug in whoever wrote
    /// the log (the controller checks before it writes), hence the asserts.
    pub fn apply(&mut self, record: &MetadataRecord) {
        self.applied += 1;
        match record {
            MetadataRecord::RegisterBroker {
                broker,
                incarnation,
            } => {
                self.brokers.insert(
                    *broker,
                    BrokerRegistration {
                        incarnation: *incarnation,
                        fenced: true,
                    },
                );
            }
            MetadataRecord::FenceBroker { broker } => {
                self.brokers
                    .get_mut(broker)
                    .expect("fencing a registered broker")
                    .fenced = true;
            }
            MetadataRecord::UnfenceBroker { broker } => {
                self.brokers
                    .get_mut(broker)
                    .expect("unfencing a registered broker")
                    .fenced = false;
            }
            MetadataRecord::CreatePartition { tp, replicas } => {
                assert!(!self.partitions.contains_key(tp), "{tp} created twice");
                self.partitions.insert(
                    tp.clone(),
                    PartitionRegistration {
                        replicas: replicas.clone(),
                        isr: Vec::new(),
                        leader: None,
                        leader_epoch: LeaderEpoch(0),
                        partition_epoch: 0,
                        elr: Vec::new(),
                        last_known_elr: Vec::new(),
                    },
                );
            }
            MetadataRecord::PartitionChange {
                tp,
                leader,
                isr,
                leader_epoch,
                partition_epoch,
                elr,
                last_known_elr,
            } => {
                let partition = self
                    .partitions
                    .get_mut(tp)
                    .expect("changing a created partition");
                assert!(
                    *leader_epoch >= partition.leader_epoch,
                    "{tp}: leader epoch went backwards"
                );
                assert!(
                    *partition_epoch > partition.partition_epoch || partition.partition_epoch == 0
                );
                partition.leader = *leader;
                partition.isr = isr.clone();
                partition.leader_epoch = *leader_epoch;
                partition.partition_epoch = *partition_epoch;
                partition.elr = elr.clone();
                partition.last_known_elr = last_known_elr.clone();
            }
        }
    }
}

//! The error expectations: for each error code the checker judges, when Kafka may
//! legitimately return it, as a condition on what the answering broker's replica or group
//! held when it answered (followed from the event log), and where the rule comes from.
//! An error code not listed here is recorded in the history and not judged.

use super::replica_view::{LastRecord, RoleView};
use crate::checkers::ChainLink;
use kafka_model::ids::{BrokerId, ProducerId, TopicPartition};
use std::collections::BTreeMap;

/// An error code the checker judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Expectation {
    OutOfOrderSequence,
    InvalidProducerEpoch,
    NotEnoughReplicas,
    NotEnoughReplicasAfterAppend,
    FencedLeaderEpoch,
    UnknownLeaderEpoch,
    OffsetOutOfRange,
    UnknownMemberId,
    IllegalGeneration,
}

/// One row of the table: the code, when it may be returned, and its source.
pub struct Rule {
    pub expectation: Expectation,
    pub code: &'static str,
    pub only_when: &'static str,
    pub source: &'static str,
}

/// Every judged error code (README's "What is checked" lists the same).
pub const RULES: [Rule; 9] = [
    Rule {
        expectation: Expectation::OutOfOrderSequence,
        code: "OUT_OF_ORDER_SEQUENCE_NUMBER",
        only_when: "to an idempotent batch that does not continue its producer's sequence as \
                    the leader's log holds it (a batch before it never reached this leader, \
                    or was cut by a truncation or power loss, or the leader took over without \
                    it), or whose producer's records retention removed",
        source: "KIP-98; ProducerAppendInfo.checkSequence",
    },
    Rule {
        expectation: Expectation::InvalidProducerEpoch,
        code: "INVALID_PRODUCER_EPOCH",
        only_when: "to a batch whose producer epoch is older than one the leader's log holds \
                    for that producer id (another instance, or the producer itself after \
                    KIP-360, bumped it)",
        source: "KIP-98, KIP-360, KIP-588; ProducerAppendInfo.checkProducerEpoch",
    },
    Rule {
        expectation: Expectation::NotEnoughReplicas,
        code: "NOT_ENOUGH_REPLICAS",
        only_when: "to an acks=all batch while the leader's ISR (as its last BecameLeader or \
                    IsrChanged said) was smaller than min.insync.replicas",
        source: "Kafka protocol errors; Partition.appendRecordsToLeader",
    },
    Rule {
        expectation: Expectation::NotEnoughReplicasAfterAppend,
        code: "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        only_when: "while the leader's ISR was smaller than min.insync.replicas",
        source: "Kafka protocol errors; Partition.checkEnoughReplicasReachOffset",
    },
    Rule {
        expectation: Expectation::FencedLeaderEpoch,
        code: "FENCED_LEADER_EPOCH",
        only_when: "to a fetch naming an older leader epoch than the replica's",
        source: "KIP-320",
    },
    Rule {
        expectation: Expectation::UnknownLeaderEpoch,
        code: "UNKNOWN_LEADER_EPOCH",
        only_when: "to a fetch naming a newer leader epoch than the replica's",
        source: "KIP-320",
    },
    Rule {
        expectation: Expectation::OffsetOutOfRange,
        code: "OFFSET_OUT_OF_RANGE",
        only_when: "to a fetch below the replica's log start or above its log end",
        source: "Kafka protocol errors; UnifiedLog.read",
    },
    Rule {
        expectation: Expectation::UnknownMemberId,
        code: "UNKNOWN_MEMBER_ID",
        only_when: "to a member the coordinator does not hold: it never joined there, its \
                    session expired, it left, a rebalance went on without it, or the \
                    coordinator took the group over without it (or does not know the group)",
        source: "Kafka protocol errors; GroupCoordinator, KIP-394",
    },
    Rule {
        expectation: Expectation::IllegalGeneration,
        code: "ILLEGAL_GENERATION",
        only_when: "to a request naming another generation than the group's at that \
                    coordinator (a rebalance moved on), or to a group it does not know",
        source: "Kafka protocol errors; GroupCoordinator",
    },
];

impl Expectation {
    /// The judged code with this Kafka name, if it is one.
    pub fn of(code: &str) -> Option<Expectation> {
        RULES.iter().find(|r| r.code == code).map(|r| r.expectation)
    }

    pub fn rule(self) -> &'static Rule {
        RULES
            .iter()
            .find(|r| r.expectation == self)
            .expect("every expectation has a rule")
    }

    /// Whether the condition reads a group (else a partition replica).
    pub fn is_group(self) -> bool {
        matches!(
            self,
            Expectation::UnknownMemberId | Expectation::IllegalGeneration
        )
    }

    /// Whether the condition reads the producers' sequences in the leader's log.
    pub fn reads_sequences(self) -> bool {
        matches!(
            self,
            Expectation::OutOfOrderSequence | Expectation::InvalidProducerEpoch
        )
    }
}

/// The answering broker's replica when it answered.
#[derive(Clone, Debug)]
pub struct ReplicaAtAnswer {
    pub broker: BrokerId,
    pub tp: TopicPartition,
    pub log_start: u64,
    pub log_end: u64,
    pub role: RoleView,
    pub role_link: Option<ChainLink>,
    pub isr_link: Option<ChainLink>,
    pub log_start_link: Option<ChainLink>,
    pub last_cut: Option<ChainLink>,
    pub lost_by_log_start: BTreeMap<ProducerId, ChainLink>,
    /// Each producer's last record (read only for sequence errors).
    pub last_records: BTreeMap<ProducerId, LastRecord>,
    /// For an answer held in the purgatory: an ISR change since the request arrived
    /// that left the ISR below `min.insync.replicas`.
    pub isr_was_below_min: Option<ChainLink>,
}

/// What was looked for and not found, and what was found instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unexplained {
    pub looked_for: String,
    pub found: String,
}

/// "@1200ms b1 became leader of tasks-0 ..." or `none` when no event set it.
pub fn shown(link: &Option<ChainLink>) -> String {
    link.as_ref()
        .map_or_else(|| "no event".to_string(), ToString::to_string)
}

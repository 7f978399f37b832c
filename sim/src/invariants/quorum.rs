//! The controller quorum's invariants, as Kafka's RaftEventSimulationTest checks KRaft:
//! SingleLeader per epoch, MonotonicEpoch, MonotonicHighWatermark,
//! MajorityReachedHighWatermark and no truncation below the high watermark, over every
//! controller's Raft events, and every broker's as an observer ([`RaftInvariants`]); plus
//! MetadataLogMatching: every controller's committed metadata log and every broker's
//! applied one agree index by index (ConsistentCommittedData for the controllers; for a
//! broker, a prefix of the committed log). Every breach is a violation, under any
//! configuration.

use crate::checkers::{Anomaly, AnomalyKind, Verdict};
use kafka_model::ids::NodeId;
use kafka_model::metadata::MetadataRecord;
use kafka_model::quorum_controller::describe;
use kafka_model::raft::{RaftEvent, RaftInvariants, VoterKey};
use std::collections::BTreeSet;

const QUORUM_PROMISE: &str = "KRaft promises one leader per epoch, epochs and high \
    watermarks that never go back, and commits only what a majority holds";
const MATCHING_PROMISE: &str = "KRaft promises every node the same committed metadata log";

/// The quorum's mirror and what it found.
#[derive(Clone, Debug)]
pub struct QuorumInvariants {
    raft: RaftInvariants,
    /// The committed metadata log, as the first node to report each index said it.
    committed: Vec<MetadataRecord>,
    /// Raft violations already turned into anomalies (the checker keeps them all).
    raft_seen: usize,
    /// Invariants reported, each once per run: one bug gives one line.
    reported: BTreeSet<&'static str>,
    anomalies: Vec<Anomaly>,
}

impl QuorumInvariants {
    pub fn new(voters: &[NodeId]) -> Self {
        QuorumInvariants {
            // Every controller formats its disk on its first start with the directory id
            // the voter set records.
            raft: RaftInvariants::new(
                &voters
                    .iter()
                    .copied()
                    .map(VoterKey::initial)
                    .collect::<Vec<_>>(),
            ),
            committed: Vec::new(),
            raft_seen: 0,
            reported: BTreeSet::new(),
            anomalies: Vec::new(),
        }
    }

    /// A controller's quorum state changed.
    pub fn on_raft_event(&mut self, history_index: u64, event: &RaftEvent) {
        self.raft.observe(event);
        let new: Vec<_> = self.raft.violations()[self.raft_seen..].to_vec();
        self.raft_seen += new.len();
        for violation in new {
            self.report(
                AnomalyKind::ControllerQuorum,
                violation.invariant(),
                QUORUM_PROMISE,
                violation.to_string(),
                history_index,
            );
        }
    }

    /// `node` holds `record` at `index` of the committed metadata log (a controller that
    /// learned it committed, or a broker that applied it). Returns true if this is the
    /// first report of that index: the record is newly committed.
    pub fn on_metadata(
        &mut self,
        history_index: u64,
        node: &str,
        index: u64,
        record: &MetadataRecord,
    ) -> bool {
        match self.committed.get(index as usize) {
            Some(known) if known == record => false,
            Some(known) => {
                let detail = format!(
                    "{node} holds \"{}\" at metadata index {index}, where \"{}\" was committed",
                    describe(record),
                    describe(known)
                );
                self.mismatch(detail, history_index);
                false
            }
            None if index as usize == self.committed.len() => {
                self.committed.push(record.clone());
                true
            }
            None => {
                let detail = format!(
                    "{node} holds metadata index {index}, past the {} records any controller \
                     reported committed",
                    self.committed.len()
                );
                self.mismatch(detail, history_index);
                false
            }
        }
    }

    fn mismatch(&mut self, detail: String, history_index: u64) {
        self.report(
            AnomalyKind::MetadataLogMatching,
            "MetadataLogMatching",
            MATCHING_PROMISE,
            detail,
            history_index,
        );
    }

    fn report(
        &mut self,
        kind: AnomalyKind,
        invariant: &'static str,
        promise: &'static str,
        detail: String,
        index: u64,
    ) {
        if !self.reported.insert(invariant) {
            return;
        }
        let anomaly = Anomaly::new(
            kind,
            (Verdict::Violation, promise),
            detail,
            Vec::new(),
            index,
        );
        self.anomalies.push(anomaly);
    }

    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_model::ids::BrokerId;

    fn fence(broker: u32) -> MetadataRecord {
        MetadataRecord::FenceBroker {
            broker: BrokerId(broker),
        }
    }

    #[test]
    fn nodes_that_agree_on_every_index_pass_and_each_index_is_new_once() {
        let mut quorum = QuorumInvariants::new(&[NodeId(90), NodeId(91), NodeId(92)]);
        assert!(quorum.on_metadata(1, "controller-1", 0, &fence(1)));
        assert!(!quorum.on_metadata(2, "controller-2", 0, &fence(1)));
        assert!(!quorum.on_metadata(3, "b1", 0, &fence(1)));
        assert!(quorum.on_metadata(4, "controller-2", 1, &fence(2)));
        assert!(quorum.anomalies().is_empty());
    }

    #[test]
    fn a_node_holding_another_record_at_a_committed_index_breaks_metadata_log_matching() {
        let mut quorum = QuorumInvariants::new(&[NodeId(90), NodeId(91), NodeId(92)]);
        quorum.on_metadata(1, "controller-1", 0, &fence(1));
        assert!(!quorum.on_metadata(2, "b2", 0, &fence(3)));
        let found = quorum.anomalies();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::MetadataLogMatching);
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert!(found[0]
            .detail
            .contains("b2 holds \"fence b3\" at metadata index 0"));
    }

    #[test]
    fn a_node_past_the_committed_log_breaks_metadata_log_matching() {
        let mut quorum = QuorumInvariants::new(&[NodeId(90)]);
        assert!(!quorum.on_metadata(1, "b1", 3, &fence(1)));
        assert_eq!(quorum.anomalies()[0].kind, AnomalyKind::MetadataLogMatching);
    }

    #[test]
    fn two_leaders_in_one_epoch_break_the_quorum_invariants() {
        use kafka_model::ids::LeaderEpoch;
        let mut quorum = QuorumInvariants::new(&[NodeId(90), NodeId(91), NodeId(92)]);
        for node in [NodeId(90), NodeId(91)] {
            quorum.on_raft_event(
                1,
                &RaftEvent::BecameLeader {
                    node,
                    epoch: LeaderEpoch(1),
                },
            );
        }
        let found = quorum.anomalies();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::ControllerQuorum);
        assert!(
            found[0].detail.starts_with("SingleLeader"),
            "{}",
            found[0].detail
        );
    }
}

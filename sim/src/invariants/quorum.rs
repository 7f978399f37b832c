//! The controller quorum's invariants, as Kafka's RaftEventSimulationTest checks KRaft:
//! SingleLeader per epoch, MonotonicEpoch, MonotonicHighWatermark,
//! MajorityReachedHighWatermark and no truncation below the high watermark, over every
//! controller's Raft events ([`RaftInvariants`]); plus MetadataLogMatching: every
//! controller's committed metadata log and every broker's applied one agree index by index
//! (ConsistentCommittedData for the controllers; for a broker, a prefix of the committed
//! log). Every breach is a violation, under any configuration.

use crate::checkers::{Anomaly, AnomalyKind, Verdict};
use kafka_model::ids::NodeId;
use kafka_model::metadata::MetadataRecord;
use kafka_model::quorum_controller::describe;
use kafka_model::raft::{RaftEvent, RaftInvariants};
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
            raft: RaftInvariants::new(voters),
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
                self.report(
                    AnomalyKind::MetadataLogMatching,
                    "MetadataLogMatching",
                    MATCHING_PROMISE,
                    detail,
                    history_index,
                );
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
                self.report(
                    AnomalyKind::MetadataLogMatching,
                    "MetadataLogMatching",
                    MATCHING_PROMISE,
                    detail,
                    history_index,
                );
                false
            }
        }
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
        self.anomalies.push(Anomaly {
            kind,
            verdict: Verdict::Violation,
            why: promise.to_string(),
            detail,
            values: Vec::new(),
            index,
        });
    }

    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }
}

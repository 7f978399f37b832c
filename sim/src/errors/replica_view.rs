//! One broker's replica of one partition as the spurious-error checker follows it from the
//! broker's `ReplicaEvent`s: its role and ISR with the events that set them, its log's
//! bounds, and the idempotent producers' sequences its records carry, so that an error can
//! be judged against what the replica held when it answered, not against the broker's own
//! bookkeeping.

use crate::checkers::ChainLink;
use crate::events::EventAt;
use crate::invariants::losses::link;
use kafka_model::effect::{LogStartCause, ReplicaEvent, ReplicaRecord};
use kafka_model::ids::{BrokerId, LeaderEpoch, ProducerId};
use kafka_model::record::ProducerStamp;
use std::collections::{BTreeMap, VecDeque};

/// The role the replica's last role event gave it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RoleView {
    /// No role event in this life yet.
    #[default]
    Unknown,
    Leader {
        epoch: LeaderEpoch,
        isr: Vec<BrokerId>,
    },
    Follower {
        epoch: LeaderEpoch,
    },
}

impl RoleView {
    pub fn epoch(&self) -> Option<LeaderEpoch> {
        match self {
            RoleView::Unknown => None,
            RoleView::Leader { epoch, .. } | RoleView::Follower { epoch } => Some(*epoch),
        }
    }
}

/// A producer's last record in the log: its stamp (with this record's own sequence) and
/// offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastRecord {
    pub stamp: ProducerStamp,
    pub offset: u64,
}

/// The replica, as of now.
#[derive(Clone, Debug, Default)]
pub struct ReplicaView {
    pub log_start: u64,
    /// Per offset from `log_start`: the record's producer stamp, if any.
    stamps: Vec<Option<ProducerStamp>>,
    pub role: RoleView,
    /// The event that gave the current role (and, for a leader, its first ISR).
    pub role_link: Option<ChainLink>,
    /// The event that set the leader's current ISR.
    pub isr_link: Option<ChainLink>,
    /// The event that last set the log start (a recovery, retention, a reset).
    pub log_start_link: Option<ChainLink>,
    /// Producers whose records a raise of the log start removed, until they write here
    /// again: a broker may have forgotten them with their batches (Kafka evicts a
    /// producer whose last batch is below the log start).
    pub lost_by_log_start: BTreeMap<ProducerId, ChainLink>,
    /// The last event that cut records from the log (recovery, truncation, overwrite).
    pub last_cut: Option<ChainLink>,
    /// The leader's recent ISR sizes, with the event that set each: an answer held in
    /// the purgatory is decided when the high watermark passes it, before it leaves.
    isr_history: VecDeque<(u64, usize, ChainLink)>,
}

/// How many ISR changes a replica view remembers.
const ISR_HISTORY: usize = 32;

impl ReplicaView {
    pub fn log_end(&self) -> u64 {
        self.log_start + self.stamps.len() as u64
    }

    /// One producer's last record in the log.
    pub fn last_record_of(&self, pid: ProducerId) -> Option<LastRecord> {
        let at = self
            .stamps
            .iter()
            .rposition(|s| s.is_some_and(|s| s.producer_id == pid))?;
        Some(LastRecord {
            stamp: self.stamps[at].expect("found above"),
            offset: self.log_start + at as u64,
        })
    }

    /// Whether the leader's ISR was below `min` when it answered (now) or at any change
    /// since event `since_seq`.
    pub fn isr_below_since(&self, since_seq: u64, min: usize) -> Option<ChainLink> {
        self.isr_history
            .iter()
            .filter(|(seq, len, _)| *seq >= since_seq && *len < min)
            .map(|(_, _, link)| link.clone())
            .next_back()
    }

    /// Every producer's last record in the log.
    pub fn last_records(&self) -> BTreeMap<ProducerId, LastRecord> {
        let mut last = BTreeMap::new();
        for (offset, stamp) in (self.log_start..).zip(&self.stamps) {
            if let Some(stamp) = stamp {
                last.insert(
                    stamp.producer_id,
                    LastRecord {
                        stamp: *stamp,
                        offset,
                    },
                );
            }
        }
        last
    }

    /// A new life of the broker: the role is forgotten until its next role event.
    pub fn on_started(&mut self) {
        self.role = RoleView::Unknown;
        self.role_link = None;
        self.isr_link = None;
    }

    /// Follows one of the broker's events on this replica.
    pub fn apply(&mut self, broker: BrokerId, event: &ReplicaEvent, at: EventAt) {
        let b = broker.to_string();
        match event {
            ReplicaEvent::Recovered {
                tp,
                log_start,
                records,
            } => {
                self.log_start = log_start.0;
                self.stamps = stamps(records);
                self.role = RoleView::Unknown;
                let what = format!("recovered {tp} to log end {}", self.log_end());
                self.last_cut = Some(link(at, &b, what.clone()));
                self.log_start_link = Some(link(at, &b, what));
            }
            ReplicaEvent::Appended { tp, base, records } => {
                let base = base.0;
                if base < self.log_start || base > self.log_end() {
                    let what = format!("restarted its log of {tp} at {base}");
                    self.forget_all(link(at, &b, what.clone()));
                    self.log_start = base;
                    self.log_start_link = Some(link(at, &b, what));
                } else if base < self.log_end() {
                    self.stamps.truncate((base - self.log_start) as usize);
                    let what = format!("overwrote {tp} from offset {base}");
                    self.last_cut = Some(link(at, &b, what));
                }
                for record in records {
                    if let Some(stamp) = record.producer {
                        self.lost_by_log_start.remove(&stamp.producer_id);
                    }
                }
                self.stamps.extend(records.iter().map(|r| r.producer));
            }
            ReplicaEvent::Truncated { tp, log_end } => {
                if log_end.0 < self.log_end() {
                    let keep = log_end.0.saturating_sub(self.log_start);
                    self.stamps.truncate(keep as usize);
                    let what = format!("truncated {tp} to log end {}", log_end.0);
                    self.last_cut = Some(link(at, &b, what));
                }
            }
            ReplicaEvent::BecameLeader { tp, epoch, isr, .. } => {
                self.role = RoleView::Leader {
                    epoch: *epoch,
                    isr: isr.clone(),
                };
                let what = format!(
                    "became leader of {tp} in epoch {} with ISR {}",
                    epoch.0,
                    kafka_model::ids::broker_list(isr)
                );
                self.role_link = Some(link(at, &b, what.clone()));
                self.isr_link = Some(link(at, &b, what));
                self.remember_isr(at, isr.len());
            }
            ReplicaEvent::BecameFollower { tp, epoch, .. } => {
                self.role = RoleView::Follower { epoch: *epoch };
                let what = format!("became a follower of {tp} in epoch {}", epoch.0);
                self.role_link = Some(link(at, &b, what));
            }
            ReplicaEvent::IsrChanged { tp, isr, .. } => {
                if let RoleView::Leader { isr: current, .. } = &mut self.role {
                    current.clone_from(isr);
                    let what = format!("has ISR {} for {tp}", kafka_model::ids::broker_list(isr));
                    self.isr_link = Some(link(at, &b, what));
                    self.remember_isr(at, isr.len());
                }
            }
            ReplicaEvent::HighWatermark { .. } => {}
            ReplicaEvent::LogStartRaised {
                tp,
                log_start,
                cause,
            } => {
                let what = format!(
                    "raised the log start of {tp} to {} ({})",
                    log_start.0,
                    cause.as_str()
                );
                let raised = link(at, &b, what);
                if *cause == LogStartCause::Reset || log_start.0 >= self.log_end() {
                    self.forget_all(raised.clone());
                } else if log_start.0 > self.log_start {
                    let gone = (log_start.0 - self.log_start) as usize;
                    for stamp in self.stamps.drain(..gone).flatten() {
                        self.lost_by_log_start
                            .insert(stamp.producer_id, raised.clone());
                    }
                }
                self.log_start = self.log_start.max(log_start.0);
                if *cause == LogStartCause::Reset {
                    self.log_start = log_start.0;
                }
                self.log_start_link = Some(raised);
            }
        }
    }

    fn remember_isr(&mut self, at: EventAt, len: usize) {
        if self.isr_history.len() >= ISR_HISTORY {
            self.isr_history.pop_front();
        }
        let link = self.isr_link.clone().expect("set before");
        self.isr_history.push_back((at.seq, len, link));
    }

    /// Every record is gone (a reset of the log): its producers may be forgotten.
    fn forget_all(&mut self, why: ChainLink) {
        for stamp in self.stamps.drain(..).flatten() {
            self.lost_by_log_start
                .insert(stamp.producer_id, why.clone());
        }
        self.last_cut = Some(why);
    }
}

fn stamps(records: &[ReplicaRecord]) -> Vec<Option<ProducerStamp>> {
    records.iter().map(|r| r.producer).collect()
}

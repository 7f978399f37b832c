//! Hand-built runs for the invariants' tests: one partition, "t"/0, brokers by number,
//! records as (value, epoch). Events carry the index set by [`Run::at`] (0 until set).

use super::ClusterInvariants;
use crate::checkers::view::build::poll as poll_history;
use crate::checkers::{Anomaly, AnomalyKind, Promises};
use crate::events::EventAt;
use crate::history::History;
use kafka_model::effect::{LogStartCause, ReplicaEvent, ReplicaRecord};
use kafka_model::ids::{BrokerId, LeaderEpoch, Offset, TopicPartition};
use kafka_model::metadata::MetadataRecord;

fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

fn records(list: &[(u64, u32)]) -> Vec<ReplicaRecord> {
    list.iter()
        .map(|&(value, epoch)| ReplicaRecord {
            value,
            epoch: LeaderEpoch(epoch),
            producer: None,
        })
        .collect()
}

fn brokers(list: &[u32]) -> Vec<BrokerId> {
    list.iter().copied().map(BrokerId).collect()
}

pub(crate) fn unclean() -> Promises {
    Promises {
        unclean_election: true,
        ..Promises::default()
    }
}

/// The kinds found, in order.
pub(crate) fn kinds(found: &[Anomaly]) -> Vec<AnomalyKind> {
    found.iter().map(|anomaly| anomaly.kind).collect()
}

/// A run being scripted: the invariants and the consumers' history.
pub(crate) struct Run {
    invariants: ClusterInvariants,
    promises: Promises,
    history: History,
    index: u64,
    seq: u64,
}

impl Run {
    pub(crate) fn new(promises: Promises) -> Self {
        Run {
            invariants: ClusterInvariants::new(promises.clone()),
            promises,
            history: History::default(),
            index: 0,
            seq: 0,
        }
    }

    /// Later events happen at this history index.
    pub(crate) fn at(&mut self, index: u64) -> &mut Self {
        self.index = index;
        self
    }

    /// The next event's place in a log: every scripted event is one.
    fn next_at(&mut self) -> EventAt {
        self.seq += 1;
        EventAt {
            seq: self.seq,
            time_ms: self.index,
        }
    }

    fn event(&mut self, broker: u32, event: ReplicaEvent) -> &mut Self {
        let (index, at) = (self.index, self.next_at());
        self.invariants
            .on_replica_event(index, BrokerId(broker), &event, at);
        self
    }

    pub(crate) fn recover(&mut self, b: u32, log_start: u64, list: &[(u64, u32)]) -> &mut Self {
        let records = records(list);
        let log_start = Offset(log_start);
        self.event(
            b,
            ReplicaEvent::Recovered {
                tp: tp(),
                log_start,
                records,
            },
        )
    }

    pub(crate) fn append(&mut self, b: u32, base: u64, list: &[(u64, u32)]) -> &mut Self {
        let records = records(list);
        let base = Offset(base);
        self.event(
            b,
            ReplicaEvent::Appended {
                tp: tp(),
                base,
                records,
            },
        )
    }

    pub(crate) fn truncate(&mut self, b: u32, log_end: u64) -> &mut Self {
        let log_end = Offset(log_end);
        self.event(b, ReplicaEvent::Truncated { tp: tp(), log_end })
    }

    pub(crate) fn lead(&mut self, b: u32, epoch: u32, isr: &[u32], log_end: u64) -> &mut Self {
        let (epoch, isr, log_end) = (LeaderEpoch(epoch), brokers(isr), Offset(log_end));
        self.event(
            b,
            ReplicaEvent::BecameLeader {
                tp: tp(),
                epoch,
                isr,
                log_end,
            },
        )
    }

    pub(crate) fn follow(&mut self, b: u32, epoch: u32, leader: u32) -> &mut Self {
        let (epoch, leader) = (LeaderEpoch(epoch), Some(BrokerId(leader)));
        self.event(
            b,
            ReplicaEvent::BecameFollower {
                tp: tp(),
                epoch,
                leader,
            },
        )
    }

    /// Leader `b`'s ISR changed (the controller committed it).
    pub(crate) fn isr(&mut self, b: u32, epoch: u32, isr: &[u32]) -> &mut Self {
        let (epoch, isr) = (LeaderEpoch(epoch), brokers(isr));
        self.event(
            b,
            ReplicaEvent::IsrChanged {
                tp: tp(),
                epoch,
                isr,
            },
        )
    }

    pub(crate) fn hw(&mut self, b: u32, high_watermark: u64) -> &mut Self {
        let high_watermark = Offset(high_watermark);
        self.event(
            b,
            ReplicaEvent::HighWatermark {
                tp: tp(),
                high_watermark,
            },
        )
    }

    /// `b` raised its log start to `log_start` for `cause`.
    pub(crate) fn raise(&mut self, b: u32, log_start: u64, cause: LogStartCause) -> &mut Self {
        let log_start = Offset(log_start);
        self.event(
            b,
            ReplicaEvent::LogStartRaised {
                tp: tp(),
                log_start,
                cause,
            },
        )
    }

    /// `b`'s retention deleted everything below `log_start`.
    pub(crate) fn retain(&mut self, b: u32, log_start: u64) -> &mut Self {
        self.raise(b, log_start, LogStartCause::Retention)
    }

    /// The controller writes a PartitionChange.
    pub(crate) fn change(
        &mut self,
        leader: Option<u32>,
        isr: &[u32],
        leader_epoch: u32,
        partition_epoch: u32,
    ) -> &mut Self {
        let record = MetadataRecord::PartitionChange {
            tp: tp(),
            leader: leader.map(BrokerId),
            isr: brokers(isr),
            leader_epoch: LeaderEpoch(leader_epoch),
            partition_epoch,
            elr: Vec::new(),
            last_known_elr: Vec::new(),
        };
        let at = self.next_at();
        self.invariants.on_metadata(self.index, &record, at);
        self
    }

    /// A consumer polls (two history entries) `records` as (offset, value).
    pub(crate) fn poll(&mut self, consumer: &str, list: &[(u64, u64)]) -> &mut Self {
        let read: Vec<(u32, u64, u64)> = list.iter().map(|&(o, v)| (0, o, v)).collect();
        poll_history(&mut self.history, consumer, &read);
        self
    }

    /// The anomalies, judged by the excuse pass against what the run lost.
    pub(crate) fn finish(self) -> Vec<Anomaly> {
        let ledger = self.invariants.ledger().clone();
        let promises = self.promises.clone();
        let mut found = self.invariants.finish(&self.history);
        let state = crate::excuse::StatePartitions {
            offsets_topic: 1,
            txn_state_topic: 1,
        };
        crate::excuse::apply(&mut found, &ledger, &promises, state);
        found
    }
}

/// Three replicas, b1 leading epoch 1 with ISR [b1, b2, b3]; values 1 and 2 written,
/// copied by both followers, and committed (every high watermark at 2).
pub(crate) fn started(promises: Promises) -> Run {
    let mut run = Run::new(promises);
    run.change(Some(1), &[1, 2, 3], 1, 1)
        .lead(1, 1, &[1, 2, 3], 0)
        .follow(2, 1, 1)
        .follow(3, 1, 1);
    for b in [1, 2, 3] {
        run.append(b, 0, &[(1, 1), (2, 1)]);
    }
    run.hw(1, 2).hw(2, 2).hw(3, 2);
    run
}

/// A healthy run: [`started`], a consumer's read, an uncommitted value 3 only b1 has, a
/// leader change to b2 in epoch 2 (ISR [b2, b3]) that commits value 4, b1 back as a
/// follower truncating its divergent suffix (KIP-101) and rejoining the ISR, value 5
/// committed on all three, and a second read. Nothing in it breaks an invariant.
pub(crate) fn healthy(promises: Promises) -> Run {
    let mut run = started(promises);
    run.poll("consumer-1", &[(0, 1), (1, 2)]);
    run.append(1, 2, &[(3, 1)]);
    run.change(Some(2), &[2, 3], 2, 2)
        .lead(2, 2, &[2, 3], 2)
        .follow(3, 2, 2);
    run.append(2, 2, &[(4, 2)]).append(3, 2, &[(4, 2)]);
    run.hw(2, 3).hw(3, 3);
    run.follow(1, 2, 2)
        .truncate(1, 2)
        .append(1, 2, &[(4, 2)])
        .hw(1, 3);
    run.change(Some(2), &[1, 2, 3], 2, 3).isr(2, 2, &[1, 2, 3]);
    for b in [2, 3, 1] {
        run.append(b, 3, &[(5, 2)]);
    }
    run.hw(2, 4).hw(3, 4).hw(1, 4);
    run.poll("consumer-1", &[(2, 4), (3, 5)]);
    run
}

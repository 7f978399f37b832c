//! The spurious-error checker (`spurious-error`): every error a broker answered a client
//! with, as the history records it (with the broker that answered), is judged against the
//! error expectations (`expectations.rs`): the condition under which Kafka may return that
//! code, read off what the answering broker's replica or group held when it answered. The
//! checker follows the event log as it goes: the brokers' replica and group events build
//! its views (`replica_view.rs`, `group_view.rs`), each error answer
//! (`EventKind::ErrorAnswered`) takes a copy of the view it needs, and the client's history
//! entry of that answer is judged against it. An error no condition explains is a
//! violation naming what was looked for and what was found instead; the loss ledger's
//! causes (truncations, power-loss cuts, leaders without records) show up as the log they
//! left behind. It also keeps what liveness needs to name the errors a client kept getting
//! after the heal (`stuck.rs`).

use crate::checkers::{Anomaly, AnomalyKind, Verdict};
use crate::events::EventAt;
use crate::history::{HistoryEntry, Operation};
use answer::{AnsweredError, ErrorSubject};
use expectations::{Expectation, ReplicaAtAnswer};
use group_view::GroupView;
use kafka_model::effect::ReplicaEvent;
use kafka_model::group::{coordinator_partition, GroupEvent, GroupId, OFFSETS_TOPIC};
use kafka_model::ids::{BrokerId, NodeId, TopicPartition};
use kafka_model::record::ProducerStamp;
use replica_view::ReplicaView;
use std::collections::BTreeMap;

pub mod answer;
pub mod expectations;
mod fetch;
mod group;
mod group_view;
mod produce;
mod replica_view;
pub mod stuck;
#[cfg(test)]
mod tests;

pub use stuck::StuckClients;

/// The run's settings the conditions read.
#[derive(Clone, Debug, Default)]
pub struct ErrorSettings {
    pub min_insync_replicas: usize,
    /// `acks` as the history writes it.
    pub acks: String,
    pub offsets_topic_partitions: u32,
}

/// What the answering broker held when it answered, for one error.
#[derive(Clone, Debug)]
enum HeldAtAnswer {
    Replica(Box<ReplicaAtAnswer>),
    /// The group at the coordinator (`None`: it did not hold the group).
    Group(BrokerId, Option<GroupView>),
}

/// One judged error answered, waiting for the client's history entry.
#[derive(Clone, Debug)]
struct Answered {
    subject: ErrorSubject,
    error: String,
    expectation: Expectation,
    held: HeldAtAnswer,
}

/// The checker's state over one run.
#[derive(Clone, Debug, Default)]
pub struct ErrorChecker {
    settings: ErrorSettings,
    replicas: BTreeMap<(BrokerId, TopicPartition), ReplicaView>,
    groups: BTreeMap<(BrokerId, String), GroupView>,
    /// Per client and correlation id: the judged errors of that answer.
    answered: BTreeMap<(NodeId, u64), Vec<Answered>>,
    /// Per client and correlation id: each partition's replica as the produce request
    /// found it when it arrived (the leader decides sequences and the ISR check then, and
    /// an acks=all answer may leave much later), with the event count at arrival.
    arrivals: BTreeMap<(NodeId, u64), Vec<(ReplicaAtAnswer, u64)>>,
    anomalies: Vec<Anomaly>,
    pub stuck: StuckClients,
}

impl ErrorChecker {
    pub fn new(settings: ErrorSettings) -> Self {
        ErrorChecker {
            settings,
            ..ErrorChecker::default()
        }
    }

    /// The violations found so far.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }

    /// `broker` started a new life: its roles are unknown until its next role events, and
    /// its coordinators hold no group until they load them.
    pub fn on_started(&mut self, broker: BrokerId) {
        for ((b, _), view) in self.replicas.iter_mut() {
            if *b == broker {
                view.on_started();
            }
        }
        self.groups.retain(|(b, _), _| *b != broker);
    }

    pub fn on_replica_event(&mut self, broker: BrokerId, event: &ReplicaEvent, at: EventAt) {
        let tp = replica_event_partition(event);
        if tp.topic == OFFSETS_TOPIC
            && matches!(
                event,
                ReplicaEvent::BecameLeader { .. } | ReplicaEvent::BecameFollower { .. }
            )
        {
            // A new leadership of an offsets partition is a new coordinator (or none):
            // what the old one held of its groups is gone until it loads them.
            let partitions = self.settings.offsets_topic_partitions.max(1);
            self.groups.retain(|(b, group), _| {
                *b != broker
                    || coordinator_partition(&GroupId(group.clone()), partitions) != tp.partition
            });
        }
        self.replicas
            .entry((broker, tp.clone()))
            .or_default()
            .apply(broker, event, at);
    }

    pub fn on_group_event(&mut self, broker: BrokerId, event: &GroupEvent, at: EventAt) {
        let group = group_event_group(event).0.clone();
        self.groups
            .entry((broker, group))
            .or_default()
            .apply(broker, event, at);
    }

    /// `client`'s produce request `correlation_id` reached `broker` (after `seq` events):
    /// what each partition's replica holds now is what the leader decides it on.
    pub fn on_produce_arrived(
        &mut self,
        broker: BrokerId,
        client: NodeId,
        correlation_id: u64,
        batches: &[(TopicPartition, Option<ProducerStamp>)],
        seq: u64,
    ) {
        let held = batches
            .iter()
            .map(|(tp, stamp)| {
                let view = self.replicas.get(&(broker, tp.clone()));
                let mut at = replica_at_answer(broker, tp, view, false);
                if let (Some(view), Some(stamp)) = (view, stamp) {
                    at.last_records.extend(
                        view.last_record_of(stamp.producer_id)
                            .map(|l| (stamp.producer_id, l)),
                    );
                }
                (at, seq)
            })
            .collect();
        self.arrivals.insert((client, correlation_id), held);
    }

    /// `broker` answered `client`'s produce request `correlation_id` (with or without
    /// errors): what it found on arrival is no longer needed after `on_answered`.
    pub fn on_produce_answered(&mut self, client: NodeId, correlation_id: u64) {
        self.arrivals.remove(&(client, correlation_id));
    }

    /// `broker` answered `client`'s request `correlation_id` with `errors`: each judged
    /// one keeps what the broker held when it decided (a produce request's arrival for
    /// sequences and the ISR check, else right now).
    pub fn on_answered(
        &mut self,
        broker: BrokerId,
        client: NodeId,
        correlation_id: u64,
        errors: &[AnsweredError],
    ) {
        let mut judged = Vec::new();
        for answered in errors {
            let Some(expectation) = Expectation::of(&answered.error) else {
                continue;
            };
            let held = match &answered.subject {
                ErrorSubject::Group(group) => {
                    HeldAtAnswer::Group(broker, self.groups.get(&(broker, group.clone())).cloned())
                }
                ErrorSubject::Partition(tp) => {
                    let view = self.replicas.get(&(broker, tp.clone()));
                    let arrived = self
                        .arrivals
                        .get(&(client, correlation_id))
                        .and_then(|held| held.iter().find(|(at, _)| at.tp == *tp));
                    let decided_on_arrival = expectation.reads_sequences()
                        || expectation == Expectation::NotEnoughReplicas;
                    let mut at = match arrived {
                        Some((at, _)) if decided_on_arrival => at.clone(),
                        _ => replica_at_answer(broker, tp, view, expectation.reads_sequences()),
                    };
                    if let (Some((_, seq)), Some(view)) = (arrived, view) {
                        at.isr_was_below_min =
                            view.isr_below_since(*seq, self.settings.min_insync_replicas);
                    }
                    HeldAtAnswer::Replica(Box::new(at))
                }
            };
            judged.push(Answered {
                subject: answered.subject.clone(),
                error: answered.error.clone(),
                expectation,
                held,
            });
        }
        if !judged.is_empty() {
            self.answered
                .entry((client, correlation_id))
                .or_default()
                .extend(judged);
        }
    }

    /// The client `node` recorded `entry`: if it is a refusal, judge it against what its
    /// broker held when it answered.
    pub fn on_history_entry(&mut self, node: NodeId, entry: &HistoryEntry) {
        let Some(refusal) = entry.op.refusal() else {
            return;
        };
        self.stuck.on_refusal(entry, &refusal);
        let subject = match &entry.op {
            Operation::Produce(p) => {
                ErrorSubject::Partition(TopicPartition::new(p.topic.clone(), p.partition))
            }
            Operation::Fetch(f) => {
                ErrorSubject::Partition(TopicPartition::new(f.topic.clone(), f.partition))
            }
            Operation::Group(g) => ErrorSubject::Group(g.group.clone()),
            _ => return,
        };
        let key = (node, refusal.request);
        let Some(waiting) = self.answered.get_mut(&key) else {
            return;
        };
        let Some(at) = waiting
            .iter()
            .position(|a| a.subject == subject && a.error == refusal.error)
        else {
            return;
        };
        let answered = waiting.remove(at);
        if waiting.is_empty() {
            self.answered.remove(&key);
        }
        let settings = &self.settings;
        let verdict = match (&answered.held, &entry.op) {
            (HeldAtAnswer::Replica(at), Operation::Produce(p)) => produce::judge(
                answered.expectation,
                at,
                p,
                settings.min_insync_replicas,
                &settings.acks,
            ),
            (HeldAtAnswer::Replica(at), Operation::Fetch(f)) => {
                fetch::judge(answered.expectation, at, f)
            }
            (HeldAtAnswer::Group(broker, view), Operation::Group(g)) => {
                group::judge(answered.expectation, *broker, view.as_ref(), g)
            }
            _ => Ok(()),
        };
        let Err(unexplained) = verdict else {
            return;
        };
        let rule = answered.expectation.rule();
        let why = format!("{} only {} ({})", rule.code, rule.only_when, rule.source);
        let about = match &subject {
            ErrorSubject::Partition(tp) => tp.to_string(),
            ErrorSubject::Group(group) => format!("group {group}"),
        };
        let detail = format!(
            "{} was refused with {} by {} for {about} (request {}): looked for {}; found {}",
            entry.process,
            refusal.error,
            refusal.broker,
            refusal.request,
            unexplained.looked_for,
            unexplained.found
        );
        let values = match &entry.op {
            Operation::Produce(p) => p.values.clone(),
            _ => Vec::new(),
        };
        self.anomalies.push(Anomaly::new(
            AnomalyKind::SpuriousError,
            (Verdict::Violation, &why),
            detail,
            values,
            entry.index,
        ));
    }
}

fn replica_at_answer(
    broker: BrokerId,
    tp: &TopicPartition,
    view: Option<&ReplicaView>,
    reads_sequences: bool,
) -> ReplicaAtAnswer {
    let empty = ReplicaView::default();
    let view = view.unwrap_or(&empty);
    ReplicaAtAnswer {
        broker,
        tp: tp.clone(),
        log_start: view.log_start,
        log_end: view.log_end(),
        role: view.role.clone(),
        role_link: view.role_link.clone(),
        isr_link: view.isr_link.clone(),
        log_start_link: view.log_start_link.clone(),
        last_cut: view.last_cut.clone(),
        lost_by_log_start: view.lost_by_log_start.clone(),
        last_records: if reads_sequences {
            view.last_records()
        } else {
            BTreeMap::new()
        },
        isr_was_below_min: None,
    }
}

fn replica_event_partition(event: &ReplicaEvent) -> &TopicPartition {
    match event {
        ReplicaEvent::Recovered { tp, .. }
        | ReplicaEvent::Appended { tp, .. }
        | ReplicaEvent::Truncated { tp, .. }
        | ReplicaEvent::BecameLeader { tp, .. }
        | ReplicaEvent::BecameFollower { tp, .. }
        | ReplicaEvent::IsrChanged { tp, .. }
        | ReplicaEvent::HighWatermark { tp, .. }
        | ReplicaEvent::LogStartRaised { tp, .. } => tp,
    }
}

fn group_event_group(event: &GroupEvent) -> &GroupId {
    match event {
        GroupEvent::MemberJoined { group, .. }
        | GroupEvent::MemberRemoved { group, .. }
        | GroupEvent::RebalanceStarted { group, .. }
        | GroupEvent::GenerationStarted { group, .. }
        | GroupEvent::Assigned { group, .. }
        | GroupEvent::GroupEmpty { group, .. }
        | GroupEvent::GroupLoaded { group, .. }
        | GroupEvent::Committed { group, .. }
        | GroupEvent::Fenced { group, .. } => group,
    }
}

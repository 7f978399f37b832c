//! Tests of the group coordinator: a hand-stepped world of simulated consumers
//! ([`World`]) that follow the classic protocol as Kafka's ConsumerCoordinator does, and
//! unit tests by concern.

use super::*;
use crate::ids::{Millis, NodeId, Offset, TopicPartition};
use std::collections::BTreeMap;

mod assignors;
mod commits;
mod failover;
mod membership;
mod robustness;
mod transactions;

pub(super) fn tp(topic: &str, partition: u32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

pub(super) fn gid() -> GroupId {
    GroupId::new("g")
}

pub(super) fn config() -> GroupCoordinatorConfig {
    GroupCoordinatorConfig::default()
}

/// One simulated consumer: what it knows of its membership.
#[derive(Clone, Debug, Default)]
pub(super) struct Client {
    pub(super) member: Option<MemberId>,
    pub(super) generation: Option<Generation>,
    pub(super) protocols: Vec<Assignor>,
    pub(super) topics: Vec<String>,
    /// Partitions it reads (owned, for the cooperative protocol).
    pub(super) owned: Vec<TopicPartition>,
    /// Between JoinGroup sent and SyncGroup answered.
    pub(super) rebalancing: bool,
    /// The JoinGroup or SyncGroup it waits on: answers to older ones are ignored, as a
    /// client ignores answers to requests it gave up on.
    pub(super) awaiting: Option<ClientRef>,
    /// A stopped client sends nothing and ignores its answers (crashed or paused).
    pub(super) stopped: bool,
}

/// One entry of the offsets partition as the transaction tests keep it.
#[derive(Clone, Debug)]
pub(super) enum LoggedEntry {
    Record(OffsetsRecord, Option<crate::ids::ProducerId>),
    Marker(crate::ids::ProducerId, bool),
}

impl LoggedEntry {
    pub(super) fn as_entry(&self) -> OffsetsLogEntry<'_> {
        match self {
            LoggedEntry::Record(record, None) => OffsetsLogEntry::Record(record),
            LoggedEntry::Record(record, Some(producer_id)) => OffsetsLogEntry::TxnRecord {
                record,
                producer_id: *producer_id,
            },
            LoggedEntry::Marker(producer_id, commit) => OffsetsLogEntry::Marker {
                producer_id: *producer_id,
                commit: *commit,
            },
        }
    }
}

/// A coordinator, its clients, the offsets log and everything it said.
pub(super) struct World {
    pub(super) coordinator: GroupCoordinator,
    pub(super) now: Millis,
    pub(super) clients: BTreeMap<u32, Client>,
    pub(super) partitions: BTreeMap<String, u32>,
    /// Answers not yet delivered, in order.
    pub(super) inbox: Vec<(ClientRef, GroupResponse)>,
    /// Every response, for assertions.
    pub(super) responses: Vec<(ClientRef, GroupResponse)>,
    pub(super) events: Vec<GroupEvent>,
    /// The offsets topic partition: every record whose write completed.
    pub(super) log: Vec<OffsetsRecord>,
    /// The same partition with its transactions: each record with the producer of its
    /// transactional batch, and the markers the tests write.
    pub(super) txn_log: Vec<LoggedEntry>,
    /// Writes not yet completed (when `auto_write` is off).
    pub(super) writes: Vec<(WriteId, Vec<OffsetsRecord>)>,
    pub(super) auto_write: bool,
    next_correlation_id: u64,
}

impl World {
    pub(super) fn new(config: GroupCoordinatorConfig, partitions: &[(&str, u32)]) -> Self {
        World {
            coordinator: GroupCoordinator::new(config, 1),
            now: 0,
            clients: BTreeMap::new(),
            partitions: partitions
                .iter()
                .map(|(t, n)| (t.to_string(), *n))
                .collect(),
            inbox: Vec::new(),
            responses: Vec::new(),
            events: Vec::new(),
            log: Vec::new(),
            txn_log: Vec::new(),
            writes: Vec::new(),
            auto_write: true,
            next_correlation_id: 0,
        }
    }

    /// Adds a client (node `100 + n`) subscribing to every topic, and has it join.
    pub(super) fn add_client(&mut self, n: u32, protocols: &[Assignor]) {
        let topics = self.partitions.keys().cloned().collect();
        self.clients.insert(
            n,
            Client {
                protocols: protocols.to_vec(),
                topics,
                ..Client::default()
            },
        );
        self.join(n);
    }

    pub(super) fn client(&self, n: u32) -> &Client {
        &self.clients[&n]
    }

    pub(super) fn member(&self, n: u32) -> MemberId {
        self.clients[&n].member.clone().expect("client has joined")
    }

    pub(super) fn absorb(&mut self, outputs: Vec<GroupOutput>) {
        for output in outputs {
            match output {
                GroupOutput::Respond { to, response } => {
                    self.responses.push((to, response.clone()));
                    self.inbox.push((to, response));
                }
                GroupOutput::TxnWrite {
                    write,
                    records,
                    producer_id,
                    ..
                } if self.auto_write => {
                    let logged = records
                        .iter()
                        .map(|r| LoggedEntry::Record(r.clone(), Some(producer_id)));
                    self.txn_log.extend(logged);
                    let more = self.coordinator.write_completed(self.now, write, Ok(()));
                    self.absorb(more);
                }
                GroupOutput::TxnWrite { write, records, .. } => self.writes.push((write, records)),
                GroupOutput::Write { write, records } => {
                    if self.auto_write {
                        let logged = records.iter().map(|r| LoggedEntry::Record(r.clone(), None));
                        self.txn_log.extend(logged);
                        self.log.extend(records);
                        let more = self.coordinator.write_completed(self.now, write, Ok(()));
                        self.absorb(more);
                    } else {
                        self.writes.push((write, records));
                    }
                }
                GroupOutput::Event(event) => self.events.push(event),
            }
        }
    }

    /// Completes the oldest pending write with `result` (its records reach the log only
    /// if it succeeded).
    pub(super) fn complete_write(&mut self, result: Result<(), GroupError>) {
        let (write, records) = self.writes.remove(0);
        if result.is_ok() {
            self.log.extend(records);
        }
        let outputs = self.coordinator.write_completed(self.now, write, result);
        self.absorb(outputs);
    }

    /// Sends `request` from client `n`, returning its reference.
    pub(super) fn send(&mut self, n: u32, request: GroupRequest) -> ClientRef {
        self.next_correlation_id += 1;
        let from = ClientRef {
            node: NodeId(100 + n),
            correlation_id: self.next_correlation_id,
        };
        let outputs = self.coordinator.handle(self.now, from, request);
        self.absorb(outputs);
        from
    }

    /// The answers to one request, taken out of the inbox.
    pub(super) fn answers(&mut self, from: ClientRef) -> Vec<GroupResponse> {
        let (mine, rest) = std::mem::take(&mut self.inbox)
            .into_iter()
            .partition(|(to, _)| *to == from);
        self.inbox = rest;
        mine.into_iter().map(|(_, r)| r).collect()
    }

    /// Sends a request and returns its single immediate answer.
    pub(super) fn call(&mut self, n: u32, request: GroupRequest) -> GroupResponse {
        let from = self.send(n, request);
        let mut answers = self.answers(from);
        assert_eq!(answers.len(), 1, "one immediate answer: {answers:?}");
        answers.remove(0)
    }

    pub(super) fn join(&mut self, n: u32) {
        let client = self.clients.get_mut(&n).expect("known client");
        client.rebalancing = true;
        if client.protocols.first().map(|p| p.rebalance_protocol())
            == Some(RebalanceProtocol::Eager)
        {
            client.owned.clear(); // eager members revoke everything before they rejoin
        }
        let request = GroupRequest::JoinGroup {
            group: gid(),
            member: client.member.clone(),
            client_id: format!("c{n}"),
            session_timeout_ms: 45_000,
            rebalance_timeout_ms: 300_000,
            protocols: client.protocols.clone(),
            subscription: Subscription {
                topics: client.topics.clone(),
                owned_partitions: client.owned.clone(),
                generation: client.generation,
            },
        };
        let from = self.send(n, request);
        self.clients.get_mut(&n).expect("known client").awaiting = Some(from);
    }

    pub(super) fn heartbeat(&mut self, n: u32) {
        let client = &self.clients[&n];
        let (Some(member), Some(generation)) = (client.member.clone(), client.generation) else {
            return;
        };
        self.send(
            n,
            GroupRequest::Heartbeat {
                group: gid(),
                generation,
                member,
            },
        );
    }

    /// Delivers every pending answer to its client, which reacts as Kafka's consumer does;
    /// repeats until no answer is left.
    pub(super) fn deliver(&mut self) {
        let mut steps = 0;
        while !self.inbox.is_empty() {
            steps += 1;
            assert!(steps < 100_000, "clients and coordinator ping-pong forever");
            let (to, response) = self.inbox.remove(0);
            let n = to.node.0 - 100;
            if self.clients.get(&n).is_none_or(|c| c.stopped) {
                continue;
            }
            let rebalance_answer = matches!(
                response,
                GroupResponse::JoinGroup { .. } | GroupResponse::SyncGroup { .. }
            );
            if rebalance_answer && self.clients[&n].awaiting != Some(to) {
                continue;
            }
            self.react(n, response);
        }
    }

    fn react(&mut self, n: u32, response: GroupResponse) {
        match response {
            GroupResponse::JoinGroup { member, result, .. } => match result {
                Ok(joined) => {
                    let client = self.clients.get_mut(&n).expect("known");
                    client.member = member;
                    client.generation = Some(joined.generation);
                    let assignments = joined.leader_assignments(&self.partitions);
                    let request = GroupRequest::SyncGroup {
                        group: gid(),
                        generation: joined.generation,
                        member: self.member(n),
                        assignments,
                    };
                    let from = self.send(n, request);
                    self.clients.get_mut(&n).expect("known").awaiting = Some(from);
                }
                Err(GroupError::MemberIdRequired) => {
                    self.clients.get_mut(&n).expect("known").member = member;
                    self.join(n);
                }
                Err(error) => self.on_rebalance_error(n, error),
            },
            GroupResponse::SyncGroup { result, .. } => match result {
                Ok(synced) => {
                    let client = self.clients.get_mut(&n).expect("known");
                    client.rebalancing = false;
                    let revoked = cooperative_revocations(&client.owned, &synced.assignment);
                    client.owned = synced.assignment;
                    if synced.protocol.rebalance_protocol() == RebalanceProtocol::Cooperative
                        && !revoked.is_empty()
                    {
                        self.join(n);
                    }
                }
                Err(error) => self.on_rebalance_error(n, error),
            },
            GroupResponse::Heartbeat { result: Err(e), .. } => self.on_error(n, e),
            _ => {}
        }
    }

    /// A failed join or sync: whatever the error, the consumer joins again (after finding
    /// the coordinator, for NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE).
    fn on_rebalance_error(&mut self, n: u32, error: GroupError) {
        self.on_error(n, error);
        if !error.needs_rejoin() {
            self.join(n);
        }
    }

    fn on_error(&mut self, n: u32, error: GroupError) {
        let client = self.clients.get_mut(&n).expect("known");
        if matches!(
            error,
            GroupError::UnknownMemberId | GroupError::IllegalGeneration
        ) {
            // Kafka's consumer counts its partitions lost: another member may have them.
            client.owned.clear();
            client.generation = None;
            if error == GroupError::UnknownMemberId {
                client.member = None;
            }
        }
        if error.needs_rejoin() {
            self.join(n);
        }
    }

    /// Advances the clock a second at a time up to `until`, ticking the coordinator and
    /// having every running client that is not rebalancing heartbeat every 3 s, delivering
    /// answers as they come.
    pub(super) fn run_until(&mut self, until: Millis) {
        while self.now < until {
            self.now = (self.now + 1_000).min(until);
            let outputs = self.coordinator.tick(self.now);
            self.absorb(outputs);
            self.deliver();
            if self.now.is_multiple_of(3_000) {
                let running: Vec<u32> = self
                    .clients
                    .iter()
                    .filter(|(_, c)| !c.stopped && !c.rebalancing)
                    .map(|(n, _)| *n)
                    .collect();
                for n in running {
                    self.heartbeat(n);
                }
                self.deliver();
            }
        }
    }

    pub(super) fn run_for(&mut self, ms: Millis) {
        self.run_until(self.now + ms);
    }

    pub(super) fn summary(&self) -> GroupSummary {
        self.coordinator.group(&gid()).expect("group exists")
    }

    /// Asserts the group is Stable, every running client is a member with the assignment
    /// the coordinator holds for it, and every partition has exactly one owner.
    pub(super) fn assert_stable(&self) {
        let summary = self.summary();
        assert_eq!(summary.state, GroupState::Stable, "{summary:?}");
        let running: Vec<&Client> = self.clients.values().filter(|c| !c.stopped).collect();
        assert_eq!(summary.members.len(), running.len(), "{summary:?}");
        for client in running {
            let member = client.member.as_ref().expect("joined");
            assert_eq!(client.generation, Some(summary.generation));
            assert_eq!(summary.members.get(member), Some(&client.owned), "{member}");
        }
        let mut owners: BTreeMap<&TopicPartition, usize> = BTreeMap::new();
        for partitions in summary.members.values() {
            for tp in partitions {
                *owners.entry(tp).or_default() += 1;
            }
        }
        let total: u32 = self.partitions.values().sum();
        assert_eq!(owners.len(), total as usize, "every partition assigned");
        assert!(owners.values().all(|n| *n == 1), "one owner each");
        let idle = summary.idle_members().len();
        assert_eq!(idle, summary.members.len().saturating_sub(total as usize));
    }

    /// The `Assigned` events of one generation: member -> partitions.
    pub(super) fn assigned_in(
        &self,
        generation: Generation,
    ) -> BTreeMap<MemberId, Vec<TopicPartition>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                GroupEvent::Assigned {
                    generation: g,
                    member,
                    partitions,
                    ..
                } if *g == generation => Some((member.clone(), partitions.clone())),
                _ => None,
            })
            .collect()
    }

    pub(super) fn commit(
        &mut self,
        n: u32,
        generation: Option<Generation>,
        offsets: &[(TopicPartition, u64)],
    ) -> ClientRef {
        let member = self.clients[&n].member.clone();
        let request = GroupRequest::OffsetCommit {
            group: gid(),
            generation,
            member,
            offsets: offsets
                .iter()
                .map(|(tp, o)| (tp.clone(), Offset(*o)))
                .collect(),
        };
        self.send(n, request)
    }
}

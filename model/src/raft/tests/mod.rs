//! Tests of the raft module: unit tests by concern on a hand-stepped network ([`Manual`]),
//! and a seeded cluster simulator with faults that checks [`RaftInvariants`].

use super::*;
use crate::ids::{LeaderEpoch, Millis, NodeId, Offset};
use std::collections::{BTreeMap, VecDeque};

mod cluster;
mod directory;
mod disconnect;
mod election;
mod invariants_check;
mod long_poll;
mod recovery;
mod replication;
mod robustness;
mod sweep;

pub(super) type Out = Vec<RaftOutput<u64>>;
pub(super) type Msg = RaftMessage<u64>;

pub(super) fn n(id: u32) -> NodeId {
    NodeId(id)
}

pub(super) fn e(epoch: u32) -> LeaderEpoch {
    LeaderEpoch(epoch)
}

pub(super) fn o(offset: u64) -> Offset {
    Offset(offset)
}

pub(super) fn config(voters: &[u32]) -> RaftConfig {
    RaftConfig::new(voters.iter().copied().map(NodeId).collect())
}

/// One node's files as its page cache holds them (no crash loses anything here).
#[derive(Clone, Debug, Default)]
pub(super) struct Files(pub BTreeMap<String, Vec<u8>>);

impl Files {
    pub fn apply(&mut self, out: &Out) {
        for output in out {
            if let RaftOutput::Disk(op) = output {
                match op {
                    crate::effect::DiskOp::Append { path, bytes } => self
                        .0
                        .entry(path.clone())
                        .or_default()
                        .extend_from_slice(bytes),
                    crate::effect::DiskOp::Truncate { path, len } => self
                        .0
                        .entry(path.clone())
                        .or_default()
                        .truncate(*len as usize),
                    crate::effect::DiskOp::Delete { path } => {
                        self.0.remove(path);
                    }
                    crate::effect::DiskOp::Fsync { .. } => {}
                }
            }
        }
    }

    pub fn to_vec(&self) -> Vec<(String, Vec<u8>)> {
        self.0.clone().into_iter().collect()
    }
}

pub(super) fn sends(out: &Out) -> Vec<(NodeId, Msg)> {
    out.iter()
        .filter_map(|o| match o {
            RaftOutput::Send { to, msg } => Some((*to, msg.clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn events(out: &Out) -> Vec<RaftEvent> {
    out.iter()
        .filter_map(|o| match o {
            RaftOutput::Event(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}

/// Nodes on a lossless FIFO network that a test steps by hand; every event goes through
/// a [`RaftInvariants`] too.
pub(super) struct Manual {
    pub config: RaftConfig,
    pub nodes: BTreeMap<NodeId, RaftNode<u64>>,
    pub files: BTreeMap<NodeId, Files>,
    pub queue: VecDeque<(NodeId, NodeId, Msg)>,
    pub events: Vec<RaftEvent>,
    pub invariants: RaftInvariants,
    pub now: Millis,
    /// How many times each node started: a replaced disk is formatted with the next.
    pub incarnations: BTreeMap<NodeId, u32>,
}

impl Manual {
    /// Starts the voters of `config` and the `observers` at time 0, on empty disks.
    pub fn new(config: RaftConfig, observers: &[u32]) -> Manual {
        Manual::with_disks(config, observers, Vec::new())
    }

    /// Like [`Manual::new`], but the nodes named in `disks` start from those files.
    pub fn with_disks(config: RaftConfig, observers: &[u32], disks: Vec<(u32, Files)>) -> Manual {
        let mut manual = Manual {
            invariants: RaftInvariants::new(&config.voters),
            config: config.clone(),
            nodes: BTreeMap::new(),
            files: BTreeMap::new(),
            queue: VecDeque::new(),
            events: Vec::new(),
            now: 0,
            incarnations: BTreeMap::new(),
        };
        let ids: Vec<NodeId> = config
            .voter_ids()
            .chain(observers.iter().map(|o| n(*o)))
            .collect();
        let mut disks: BTreeMap<NodeId, Files> =
            disks.into_iter().map(|(id, f)| (n(id), f)).collect();
        for id in ids {
            manual
                .files
                .insert(id, disks.remove(&id).unwrap_or_default());
            manual.restart(id.0);
        }
        manual
    }

    /// Restarts node `id` from its files (a crash that lost nothing).
    pub fn restart(&mut self, id: u32) {
        let mut out = Vec::new();
        let files = self.files[&n(id)].to_vec();
        let incarnation = self.incarnations.entry(n(id)).or_insert(0);
        *incarnation += 1;
        let directory = DirectoryId::for_incarnation(*incarnation);
        let node = RaftNode::start(
            n(id),
            self.config.clone(),
            files,
            directory,
            self.now,
            &mut out,
        )
        .unwrap();
        self.nodes.insert(n(id), node);
        self.absorb(n(id), out);
    }

    /// Node `id`'s disk is replaced: it restarts with no files at all.
    pub fn lose_disk(&mut self, id: u32) {
        self.files.insert(n(id), Files::default());
        self.restart(id);
    }

    pub fn node(&self, id: u32) -> &RaftNode<u64> {
        &self.nodes[&n(id)]
    }

    /// Carries out a node's outputs: disk writes, sends queued, events checked.
    pub fn absorb(&mut self, from: NodeId, out: Out) {
        self.files.entry(from).or_default().apply(&out);
        for output in out {
            match output {
                RaftOutput::Send { to, msg } => self.queue.push_back((from, to, msg)),
                RaftOutput::Event(event) => {
                    self.invariants.observe(&event);
                    self.events.push(event);
                }
                RaftOutput::Disk(_) | RaftOutput::Note(_) | RaftOutput::Reached(_) => {}
            }
        }
    }

    pub fn tick(&mut self, id: u32, random: u64) {
        let mut out = Vec::new();
        let now = self.now;
        self.nodes
            .get_mut(&n(id))
            .unwrap()
            .tick(now, random, &mut out);
        self.absorb(n(id), out);
    }

    /// Moves the clock to node `id`'s next deadline (if later) and ticks it with `random`.
    pub fn expire(&mut self, id: u32, random: u64) {
        self.now = self.now.max(self.node(id).next_deadline());
        self.tick(id, random);
    }

    /// Delivers the next queued message, if its receiver is up.
    pub fn deliver_one(&mut self) -> Option<(NodeId, NodeId, Msg)> {
        let (from, to, msg) = self.queue.pop_front()?;
        if let Some(node) = self.nodes.get_mut(&to) {
            let mut out = Vec::new();
            node.handle(from, msg.clone(), self.now, &mut out);
            self.absorb(to, out);
        }
        Some((from, to, msg))
    }

    /// Delivers until the network is quiet, dropping what `keep` refuses.
    pub fn deliver_where(&mut self, keep: impl Fn(NodeId, NodeId, &Msg) -> bool) {
        for _ in 0..100_000 {
            let Some((from, to, msg)) = self.queue.front().cloned() else {
                return;
            };
            if keep(from, to, &msg) {
                self.deliver_one();
            } else {
                self.queue.pop_front();
            }
        }
        panic!("the network never went quiet");
    }

    pub fn deliver_all(&mut self) {
        self.deliver_where(|_, _, _| true);
    }

    /// Lets `ms` pass, ticks every node and delivers everything. Each node gets its own
    /// random number, varying with time, so that two voters' election timeouts differ
    /// and an observer asks another voter each time.
    pub fn advance(&mut self, ms: Millis) {
        self.now += ms;
        let ids: Vec<u32> = self.nodes.keys().map(|id| id.0).collect();
        for id in ids {
            let random = u64::from(id) * 311 + self.now / 100 * 7_919;
            self.tick(id, random);
        }
        self.deliver_all();
    }

    /// Node `id` stands at its election timeout and wins (the others are reachable).
    pub fn elect(&mut self, id: u32) {
        self.expire(id, 0);
        assert_eq!(self.node(id).role(), RaftRole::Candidate, "{id} stands");
        self.deliver_all();
        assert!(self.node(id).is_leader(), "{id} won");
    }

    pub fn propose(&mut self, leader: u32, value: u64) -> Offset {
        let mut out = Vec::new();
        let now = self.now;
        let offset = self
            .nodes
            .get_mut(&n(leader))
            .unwrap()
            .propose(value, now, &mut out)
            .unwrap();
        self.absorb(n(leader), out);
        offset
    }

    pub fn assert_no_violation(&self) {
        assert_eq!(self.invariants.violations(), &[] as &[RaftViolation]);
    }
}

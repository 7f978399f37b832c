//! A seeded, deterministic cluster simulator for the raft tests: a network with random
//! delays, losses, duplicates and partitions; crashes that lose unfsynced writes (tearing
//! the last one) and restart nodes from what their disks kept; replaced disks (a voter
//! restarts empty, on a new directory); a workload of proposals; then a heal phase. Every node event goes through [`RaftInvariants`].

use super::*;
use crate::effect::DiskOp;
use crate::raft::invariants::FinalLog;
use std::collections::BTreeSet;

/// splitmix64: a tiny, good-enough generator; the whole run derives from its seed.
#[derive(Clone, Debug)]
pub(super) struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (0 if `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What one simulated run throws at the quorum.
#[derive(Clone, Debug)]
pub(super) struct SimConfig {
    pub voters: u32,
    pub observers: u32,
    pub variant: RaftVariant,
    /// Faults happen before this time; then everything heals.
    pub fault_ms: Millis,
    /// How long the run goes on after the heal.
    pub heal_ms: Millis,
    pub drop_percent: u64,
    pub duplicate_percent: u64,
    pub max_delay_ms: Millis,
    /// Per nemesis step (every 100 to 600 ms), the chance of a crash and of a partition.
    pub crash_percent: u64,
    pub partition_percent: u64,
    /// Per nemesis step, the chance that a voter's disk is replaced; never more than a
    /// minority of the voters lose theirs in one run (the rest could never elect again).
    pub disk_loss_percent: u64,
    pub propose_interval_ms: Millis,
    /// How long observers' fetches may wait at the leader (0: they poll).
    pub observer_fetch_max_wait_ms: Millis,
}

impl SimConfig {
    pub fn new(voters: u32, observers: u32, variant: RaftVariant) -> SimConfig {
        SimConfig {
            voters,
            observers,
            variant,
            fault_ms: 15_000,
            heal_ms: 15_000,
            drop_percent: 5,
            duplicate_percent: 5,
            max_delay_ms: 40,
            crash_percent: 15,
            partition_percent: 20,
            disk_loss_percent: 0,
            propose_interval_ms: 40,
            observer_fetch_max_wait_ms: 0,
        }
    }
}

/// One file of a simulated disk: what the page cache holds, and what survives a power loss.
#[derive(Clone, Debug, Default)]
struct SimFile {
    cache: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Clone, Debug)]
enum Ev {
    Deliver { from: NodeId, to: NodeId, msg: Msg },
    Tick { node: NodeId, generation: u64 },
    Nemesis,
    Propose,
    Restart { node: NodeId },
    Heal,
}

/// What a run found.
#[derive(Clone, Debug)]
pub(super) struct Report {
    pub violations: Vec<RaftViolation>,
    /// How long after the heal every node followed one leader that had committed an entry
    /// of its epoch (`None`: never).
    pub stable_after_heal_ms: Option<Millis>,
    /// At the end, every node's high watermark reached the leader's log end.
    pub converged: bool,
    pub committed: Offset,
    pub elections: usize,
    /// Restarts that found a torn or unparsable file tail and cut it.
    pub torn_tails: usize,
    pub disk_losses: usize,
    pub trace_tail: Vec<String>,
}

/// The simulated cluster.
pub(super) struct Cluster {
    cfg: SimConfig,
    raft: RaftConfig,
    rng: SplitMix64,
    now: Millis,
    seq: u64,
    queue: BTreeMap<(Millis, u64), Ev>,
    ids: Vec<NodeId>,
    nodes: BTreeMap<NodeId, RaftNode<u64>>,
    disks: BTreeMap<NodeId, BTreeMap<String, SimFile>>,
    tick_generation: BTreeMap<NodeId, (u64, Millis)>,
    side: BTreeMap<NodeId, bool>,
    crash_in_next_step: BTreeSet<NodeId>,
    healed: bool,
    /// Each node's starts so far: an empty disk is formatted with the next one's directory.
    incarnations: BTreeMap<NodeId, u32>,
    /// Voters whose disk was replaced.
    replaced: BTreeSet<NodeId>,
    disk_losses: usize,
    invariants: RaftInvariants,
    next_value: u64,
    elections: usize,
    torn_tails: usize,
    stable_at: Option<Millis>,
    trace: VecDeque<String>,
}

impl Cluster {
    pub fn new(cfg: SimConfig, seed: u64) -> Cluster {
        let voters: Vec<NodeId> = (1..=cfg.voters).map(NodeId).collect();
        let observers = (1..=cfg.observers).map(|o| NodeId(100 + o));
        let mut raft = RaftConfig::new(voters.clone());
        raft.variant = cfg.variant;
        raft.fetch_max_wait_ms = cfg.observer_fetch_max_wait_ms;
        let ids: Vec<NodeId> = voters.iter().copied().chain(observers).collect();
        let mut cluster = Cluster {
            invariants: RaftInvariants::new(&raft.voters),
            rng: SplitMix64::new(seed),
            raft,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes: BTreeMap::new(),
            disks: ids.iter().map(|id| (*id, BTreeMap::new())).collect(),
            tick_generation: BTreeMap::new(),
            side: BTreeMap::new(),
            crash_in_next_step: BTreeSet::new(),
            healed: false,
            incarnations: BTreeMap::new(),
            replaced: BTreeSet::new(),
            disk_losses: 0,
            next_value: 0,
            elections: 0,
            torn_tails: 0,
            stable_at: None,
            trace: VecDeque::new(),
            ids,
            cfg,
        };
        for id in cluster.ids.clone() {
            cluster.start(id);
        }
        cluster.push(1, Ev::Nemesis);
        cluster.push(1, Ev::Propose);
        cluster.push(cluster.cfg.fault_ms, Ev::Heal);
        cluster
    }

    fn push(&mut self, at: Millis, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    fn note(&mut self, line: String) {
        if self.trace.len() == 200 {
            self.trace.pop_front();
        }
        self.trace.push_back(format!("{:>6} {line}", self.now));
    }

    fn start(&mut self, id: NodeId) {
        let files = self.disks[&id]
            .iter()
            .map(|(path, file)| (path.clone(), file.durable.clone()))
            .collect();
        let mut out = Vec::new();
        let incarnation = self.incarnations.entry(id).or_insert(0);
        *incarnation += 1;
        let directory = DirectoryId::for_incarnation(*incarnation);
        let node = RaftNode::start(id, self.raft.clone(), files, directory, self.now, &mut out)
            .expect("the simulated config is valid");
        self.nodes.insert(id, node);
        self.note(format!("{id} starts"));
        self.absorb(id, out);
    }

    /// Power loss: the node's state goes, and each file keeps what was fsynced plus,
    /// perhaps, a torn prefix of what was written after.
    fn crash(&mut self, id: NodeId) {
        self.nodes.remove(&id);
        self.tick_generation.remove(&id);
        let disk = self.disks.get_mut(&id).expect("every node has a disk");
        for file in disk.values_mut() {
            let durable_len = file.durable.len();
            if file.cache.len() > durable_len && file.cache.starts_with(&file.durable) {
                let torn = self.rng.below((file.cache.len() - durable_len + 1) as u64) as usize;
                file.durable
                    .extend_from_slice(&file.cache[durable_len..durable_len + torn]);
            }
            file.cache = file.durable.clone();
        }
        self.note(format!("{id} crashes"));
        let restart_at = self.now + 200 + self.rng.below(2_800);
        self.push(restart_at, Ev::Restart { node: id });
    }

    /// The disk is replaced: the node goes down and comes back with no files at all.
    fn lose_disk(&mut self, id: NodeId) {
        self.nodes.remove(&id);
        self.tick_generation.remove(&id);
        self.disks.insert(id, BTreeMap::new());
        self.replaced.insert(id);
        self.disk_losses += 1;
        self.note(format!("{id} loses its disk"));
        let restart_at = self.now + 200 + self.rng.below(2_800);
        self.push(restart_at, Ev::Restart { node: id });
    }

    /// Carries out a node's outputs in order; a crash planned for this step cuts them at a
    /// random point (disk writes done so far stay in the page cache, later sends never
    /// leave).
    fn absorb(&mut self, id: NodeId, out: Out) {
        let cut = if self.crash_in_next_step.remove(&id) {
            Some(self.rng.below(out.len() as u64 + 1) as usize)
        } else {
            None
        };
        for (index, output) in out.into_iter().enumerate() {
            if cut == Some(index) {
                self.crash(id);
                return;
            }
            match output {
                RaftOutput::Send { to, msg } => self.send(id, to, msg),
                RaftOutput::Disk(op) => self.apply_disk(id, op),
                RaftOutput::Event(event) => {
                    if matches!(event, RaftEvent::BecameLeader { .. }) {
                        self.elections += 1;
                    }
                    self.invariants.observe(&event);
                    self.note(format!("{event:?}"));
                }
                RaftOutput::Note(line) => {
                    if line.contains("torn or unparsable") {
                        self.torn_tails += 1;
                    }
                    self.note(line);
                }
                RaftOutput::Reached(path) => self.note(format!("reached {}", path.name())),
            }
        }
        if cut.is_some() {
            self.crash(id);
            return;
        }
        let Some(node) = self.nodes.get(&id) else {
            return;
        };
        let at = node.next_deadline().max(self.now + 1);
        let entry = self.tick_generation.entry(id).or_insert((0, Millis::MAX));
        if entry.1 != at {
            *entry = (entry.0 + 1, at);
            let generation = entry.0;
            self.push(
                at,
                Ev::Tick {
                    node: id,
                    generation,
                },
            );
        }
    }

    fn apply_disk(&mut self, id: NodeId, op: DiskOp) {
        let disk = self.disks.get_mut(&id).expect("every node has a disk");
        match op {
            DiskOp::Append { path, bytes } => disk.entry(path).or_default().cache.extend(bytes),
            DiskOp::Truncate { path, len } => {
                disk.entry(path).or_default().cache.truncate(len as usize)
            }
            DiskOp::Fsync { path } => {
                let file = disk.entry(path).or_default();
                file.durable = file.cache.clone();
            }
            DiskOp::Delete { path } => {
                disk.remove(&path);
            }
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: Msg) {
        let faulty = !self.healed;
        if faulty && self.rng.chance(self.cfg.drop_percent) {
            return;
        }
        let max_delay_ms = if faulty { self.cfg.max_delay_ms } else { 5 };
        let copies = if faulty && self.rng.chance(self.cfg.duplicate_percent) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = self.now + 1 + self.rng.below(max_delay_ms);
            let msg = msg.clone();
            self.push(at, Ev::Deliver { from, to, msg });
        }
    }

    fn nemesis(&mut self) {
        if self.healed {
            return;
        }
        if self.rng.chance(self.cfg.partition_percent) {
            for id in self.ids.clone() {
                let side = self.rng.chance(50);
                self.side.insert(id, side);
            }
            self.note(format!("partition {:?}", self.side));
        } else if self.rng.chance(30) {
            self.side.clear();
        }
        if self.rng.chance(self.cfg.crash_percent) {
            let up: Vec<NodeId> = self.nodes.keys().copied().collect();
            if !up.is_empty() {
                let id = up[self.rng.below(up.len() as u64) as usize];
                if self.rng.chance(50) {
                    self.crash(id);
                } else {
                    self.crash_in_next_step.insert(id);
                }
            }
        }
        // Drawn only when on, so that runs without disk loss keep their random sequence.
        if self.cfg.disk_loss_percent > 0 && self.rng.chance(self.cfg.disk_loss_percent) {
            let minority = (self.cfg.voters as usize).saturating_sub(1) / 2;
            let eligible: Vec<NodeId> = (1..=self.cfg.voters)
                .map(NodeId)
                .filter(|id| self.nodes.contains_key(id))
                .filter(|id| self.replaced.contains(id) || self.replaced.len() < minority)
                .collect();
            if !eligible.is_empty() {
                let id = eligible[self.rng.below(eligible.len() as u64) as usize];
                self.lose_disk(id);
            }
        }
        let next = self.now + 100 + self.rng.below(500);
        self.push(next, Ev::Nemesis);
    }

    /// Every node that believes it leads gets a new value (stale leaders too).
    fn propose(&mut self) {
        let leaders: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.is_leader())
            .map(|(id, _)| *id)
            .collect();
        for id in leaders {
            self.next_value += 1;
            let mut out = Vec::new();
            let (value, now) = (self.next_value, self.now);
            let node = self.nodes.get_mut(&id).expect("a leader is up");
            node.propose(value, now, &mut out)
                .expect("a leader appends");
            self.absorb(id, out);
        }
        // The workload stops three seconds before the end, so that the quorum can catch up.
        let next = self.now + self.cfg.propose_interval_ms;
        if next + 3_000 < self.cfg.fault_ms + self.cfg.heal_ms {
            self.push(next, Ev::Propose);
        }
    }

    fn heal(&mut self) {
        self.healed = true;
        self.side.clear();
        self.crash_in_next_step.clear();
        let down: Vec<NodeId> = self
            .ids
            .iter()
            .filter(|id| !self.nodes.contains_key(id))
            .copied()
            .collect();
        for id in down {
            self.start(id);
        }
        self.note("heal".to_string());
    }

    /// Every node follows one leader, which has committed an entry of its epoch.
    fn stable(&self) -> bool {
        let Some((leader, epoch)) = self.nodes.values().next().and_then(|n| n.leader()) else {
            return false;
        };
        let all_follow = self.ids.iter().all(|id| {
            self.nodes
                .get(id)
                .is_some_and(|n| n.leader() == Some((leader, epoch)))
        });
        let Some(leader) = self.nodes.get(&leader) else {
            return false;
        };
        let hw = leader.high_watermark();
        let committed_own = hw.0 > 0
            && leader
                .entries(Offset(hw.0 - 1), hw)
                .first()
                .is_some_and(|e| e.epoch == epoch);
        all_follow && committed_own
    }

    pub fn run(mut self) -> Report {
        let end = self.cfg.fault_ms + self.cfg.heal_ms;
        while let Some(((at, _), ev)) = self.queue.pop_first() {
            if at > end {
                break;
            }
            self.now = at;
            match ev {
                Ev::Deliver { from, to, msg } => {
                    let cut = self.side.get(&from) != self.side.get(&to);
                    if let (false, Some(node)) = (cut, self.nodes.get_mut(&to)) {
                        let mut out = Vec::new();
                        node.handle(from, msg, at, &mut out);
                        self.absorb(to, out);
                    }
                }
                Ev::Tick { node, generation } => {
                    if self.tick_generation.get(&node).map(|g| g.0) == Some(generation) {
                        let random = self.rng.next_u64();
                        let mut out = Vec::new();
                        if let Some(n) = self.nodes.get_mut(&node) {
                            n.tick(at, random, &mut out);
                            self.tick_generation.insert(node, (generation, Millis::MAX));
                            self.absorb(node, out);
                        }
                    }
                }
                Ev::Nemesis => self.nemesis(),
                Ev::Propose => self.propose(),
                Ev::Restart { node } => {
                    if !self.healed && !self.nodes.contains_key(&node) {
                        self.start(node);
                    }
                }
                Ev::Heal => self.heal(),
            }
            if self.healed && self.stable_at.is_none() && self.stable() {
                self.stable_at = Some(self.now);
            }
        }
        self.finish()
    }

    fn finish(mut self) -> Report {
        let logs: Vec<FinalLog<'_, u64>> = self
            .nodes
            .values()
            .map(|n| FinalLog {
                node: n.id(),
                high_watermark: n.high_watermark(),
                entries: n.entries(Offset(0), n.log_end()),
            })
            .collect();
        let mut invariants = self.invariants.clone();
        invariants.check_final(&logs);
        let leader = self
            .nodes
            .values()
            .filter(|n| n.is_leader())
            .max_by_key(|n| n.epoch());
        let converged = leader.is_some_and(|l| {
            self.nodes
                .values()
                .all(|n| n.high_watermark() == l.log_end() && n.log_end() == l.log_end())
        });
        let committed = leader.map_or(Offset(0), |l| l.high_watermark());
        self.invariants = invariants;
        Report {
            violations: self.invariants.violations().to_vec(),
            stable_after_heal_ms: self.stable_at.map(|t| t - self.cfg.fault_ms),
            converged,
            committed,
            elections: self.elections,
            torn_tails: self.torn_tails,
            disk_losses: self.disk_losses,
            trace_tail: self.trace.into_iter().collect(),
        }
    }
}

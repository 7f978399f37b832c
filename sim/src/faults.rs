//! The fault plan: timed fault events, scripted by a scenario or drawn by the swarm nemesis
//! (TigerBeetle's swarm testing: each seed first draws which fault kinds are on and how
//! often they strike, then the events themselves).

use serde::{Deserialize, Serialize};
use std::fmt;

pub mod alias;
pub mod belief;
mod nemesis_spec;
pub mod strike;
pub mod trigger;

pub use nemesis_spec::{
    disk_loss_problem, max_disk_losses, DiskLossTargets, NemesisSpec, SwarmDraw,
};

/// One fault. Nodes are named as in the trace: `b1`..`bN` for brokers, `producer-N`,
/// `consumer-N` for clients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// kill -9: the process dies, the page cache survives; restarted after the pause.
    Crash { node: String, restart_after_ms: u64 },
    /// The machine loses power: un-fsynced writes are gone, the last may be torn.
    PowerLoss { node: String, restart_after_ms: u64 },
    /// The disk is replaced: the process dies, every file is gone (fsynced or not), and it
    /// restarts on an empty disk. Modelled for the controllers of a quorum only.
    DiskLoss { node: String, restart_after_ms: u64 },
    /// SIGSTOP (or a long GC pause): the node does nothing, then resumes.
    Pause { node: String, duration_ms: u64 },
    /// The broker's next append to a log segment is written with one byte wrong (in the
    /// page cache and on the medium). A broker that finds it halts, and is restarted
    /// `restart_after_ms` later, as an operator would.
    DiskCorrupt { node: String, restart_after_ms: u64 },
    /// The broker's next append to a log segment lands elsewhere in its file, overwriting
    /// bytes there, and leaves zeros where it belonged. Found and restarted as a corruption.
    MisdirectedWrite { node: String, restart_after_ms: u64 },
    /// The broker's next fsync of a log segment reports an error, and the dirty bytes it
    /// should have written are dropped (a later fsync does not write them). A broker halts
    /// on it and is restarted `restart_after_ms` later.
    FsyncFail { node: String, restart_after_ms: u64 },
    /// Nodes in different groups cannot talk (both ways). Nodes in no group are unaffected.
    Partition {
        groups: Vec<Vec<String>>,
        duration_ms: u64,
    },
    /// Messages from `from` to `to` are dropped; the other way works.
    PartitionOneWay {
        from: Vec<String>,
        to: Vec<String>,
        duration_ms: u64,
    },
    /// Each message on the links between the two sets is lost with this probability.
    Loss {
        from: Vec<String>,
        to: Vec<String>,
        rate: f64,
        duration_ms: u64,
    },
    /// Messages on the links between the two sets wait `delay_ms` plus up to `jitter_ms`.
    Delay {
        from: Vec<String>,
        to: Vec<String>,
        delay_ms: u64,
        #[serde(default)]
        jitter_ms: u64,
        duration_ms: u64,
    },
    /// Everything to and from the node is held back until the clog ends.
    Clog { node: String, duration_ms: u64 },
    /// The connections between the two sets reset (a middlebox's RST, a NIC reset): each
    /// end fails what it had in flight and the next request opens a new one. Connections
    /// transport only.
    ConnectionReset { from: Vec<String>, to: Vec<String> },
    /// The node's clock jumps (negative: backwards).
    ClockJump { node: String, by_ms: i64 },
    /// The node's clock runs fast (positive) or slow by this many parts per million.
    ClockDrift { node: String, ppm: i64 },
}

impl Fault {
    /// How long the fault lasts, with the field that says so: `restart_after_ms` for the
    /// faults that take a node down, `duration_ms` for the rest. `None` for the clock
    /// changes, which last until the heal.
    pub fn duration_ms_mut(&mut self) -> Option<(&'static str, &mut u64)> {
        match self {
            Fault::Crash {
                restart_after_ms, ..
            }
            | Fault::PowerLoss {
                restart_after_ms, ..
            }
            | Fault::DiskLoss {
                restart_after_ms, ..
            }
            | Fault::DiskCorrupt {
                restart_after_ms, ..
            }
            | Fault::MisdirectedWrite {
                restart_after_ms, ..
            }
            | Fault::FsyncFail {
                restart_after_ms, ..
            } => Some(("restart_after_ms", restart_after_ms)),
            Fault::Pause { duration_ms, .. }
            | Fault::Partition { duration_ms, .. }
            | Fault::PartitionOneWay { duration_ms, .. }
            | Fault::Loss { duration_ms, .. }
            | Fault::Delay { duration_ms, .. }
            | Fault::Clog { duration_ms, .. } => Some(("duration_ms", duration_ms)),
            Fault::ClockJump { .. } | Fault::ClockDrift { .. } | Fault::ConnectionReset { .. } => {
                None
            }
        }
    }

    /// Every node the fault names.
    pub fn nodes(&self) -> Vec<&String> {
        match self {
            Fault::Crash { node, .. }
            | Fault::PowerLoss { node, .. }
            | Fault::DiskLoss { node, .. }
            | Fault::DiskCorrupt { node, .. }
            | Fault::MisdirectedWrite { node, .. }
            | Fault::FsyncFail { node, .. }
            | Fault::Pause { node, .. }
            | Fault::Clog { node, .. }
            | Fault::ClockJump { node, .. }
            | Fault::ClockDrift { node, .. } => vec![node],
            Fault::Partition { groups, .. } => groups.iter().flatten().collect(),
            Fault::PartitionOneWay { from, to, .. }
            | Fault::Loss { from, to, .. }
            | Fault::Delay { from, to, .. }
            | Fault::ConnectionReset { from, to } => from.iter().chain(to).collect(),
        }
    }

    /// The same fault with each node name replaced by `rename`'s answer; a name it answers
    /// `None` for leaves its list, and a fault whose one node leaves is `None`.
    pub fn map_nodes(&self, mut rename: impl FnMut(&str) -> Option<String>) -> Option<Fault> {
        let mut list =
            |names: &[String]| -> Vec<String> { names.iter().filter_map(|n| rename(n)).collect() };
        let mut fault = self.clone();
        match &mut fault {
            Fault::Crash { node, .. }
            | Fault::PowerLoss { node, .. }
            | Fault::DiskLoss { node, .. }
            | Fault::DiskCorrupt { node, .. }
            | Fault::MisdirectedWrite { node, .. }
            | Fault::FsyncFail { node, .. }
            | Fault::Pause { node, .. }
            | Fault::Clog { node, .. }
            | Fault::ClockJump { node, .. }
            | Fault::ClockDrift { node, .. } => *node = list(std::slice::from_ref(node)).pop()?,
            Fault::Partition { groups, .. } => {
                for group in groups.iter_mut() {
                    *group = list(group);
                }
            }
            Fault::PartitionOneWay { from, to, .. }
            | Fault::Loss { from, to, .. }
            | Fault::Delay { from, to, .. }
            | Fault::ConnectionReset { from, to } => {
                *from = list(from);
                *to = list(to);
            }
        }
        Some(fault)
    }

    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Crash { .. } => FaultKind::Crash,
            Fault::PowerLoss { .. } => FaultKind::PowerLoss,
            Fault::DiskLoss { .. } => FaultKind::DiskLoss,
            Fault::DiskCorrupt { .. } => FaultKind::DiskCorrupt,
            Fault::MisdirectedWrite { .. } => FaultKind::MisdirectedWrite,
            Fault::FsyncFail { .. } => FaultKind::FsyncFail,
            Fault::Pause { .. } => FaultKind::Pause,
            Fault::Partition { .. } => FaultKind::Partition,
            Fault::PartitionOneWay { .. } => FaultKind::PartitionOneWay,
            Fault::Loss { .. } => FaultKind::Loss,
            Fault::Delay { .. } => FaultKind::Delay,
            Fault::Clog { .. } => FaultKind::Clog,
            Fault::ClockJump { .. } => FaultKind::ClockJump,
            Fault::ClockDrift { .. } => FaultKind::ClockDrift,
            Fault::ConnectionReset { .. } => FaultKind::ConnectionReset,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| v.join(",");
        match self {
            Fault::Crash {
                node,
                restart_after_ms,
            } => write!(f, "crash {node} (restart +{restart_after_ms}ms)"),
            Fault::PowerLoss {
                node,
                restart_after_ms,
            } => write!(f, "power-loss {node} (restart +{restart_after_ms}ms)"),
            Fault::DiskLoss {
                node,
                restart_after_ms,
            } => write!(f, "disk-loss {node} (restart +{restart_after_ms}ms)"),
            Fault::DiskCorrupt {
                node,
                restart_after_ms,
            } => write!(f, "disk-corrupt {node} (restart +{restart_after_ms}ms)"),
            Fault::MisdirectedWrite {
                node,
                restart_after_ms,
            } => write!(
                f,
                "misdirected-write {node} (restart +{restart_after_ms}ms)"
            ),
            Fault::FsyncFail {
                node,
                restart_after_ms,
            } => write!(f, "fsync-fail {node} (restart +{restart_after_ms}ms)"),
            Fault::Pause { node, duration_ms } => write!(f, "pause {node} {duration_ms}ms"),
            Fault::Partition {
                groups,
                duration_ms,
            } => {
                let groups: Vec<String> = groups.iter().map(|g| format!("[{}]", list(g))).collect();
                write!(f, "partition {} {duration_ms}ms", groups.join(" | "))
            }
            Fault::PartitionOneWay {
                from,
                to,
                duration_ms,
            } => write!(
                f,
                "partition-one-way [{}] -> [{}] {duration_ms}ms",
                list(from),
                list(to)
            ),
            Fault::Loss {
                from,
                to,
                rate,
                duration_ms,
            } => write!(
                f,
                "loss [{}] <-> [{}] {rate} {duration_ms}ms",
                list(from),
                list(to)
            ),
            Fault::Delay {
                from,
                to,
                delay_ms,
                jitter_ms,
                duration_ms,
            } => write!(
                f,
                "delay [{}] <-> [{}] {delay_ms}+{jitter_ms}ms for {duration_ms}ms",
                list(from),
                list(to)
            ),
            Fault::Clog { node, duration_ms } => write!(f, "clog {node} {duration_ms}ms"),
            Fault::ClockJump { node, by_ms } => write!(f, "clock-jump {node} {by_ms:+}ms"),
            Fault::ClockDrift { node, ppm } => write!(f, "clock-drift {node} {ppm:+}ppm"),
            Fault::ConnectionReset { from, to } => {
                write!(f, "connection-reset [{}] <-> [{}]", list(from), list(to))
            }
        }
    }
}

/// A fault at a time (global simulated ms from the start of the run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimedFault {
    /// When the fault strikes; for a triggered fault, when its trigger is armed.
    pub at_ms: u64,
    /// Strike on an event instead of at `at_ms` (`on = { node = "leader of tasks-0",
    /// event = "append" }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<trigger::Trigger>,
    #[serde(flatten)]
    pub fault: Fault,
}

/// The fault kinds, for swarm selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    Crash,
    PowerLoss,
    Pause,
    Partition,
    PartitionOneWay,
    Loss,
    Delay,
    Clog,
    ClockJump,
    ClockDrift,
    /// Last, so that sorting a list of kinds keeps the others' order.
    DiskLoss,
    /// The storage faults, after all the others for the same reason.
    DiskCorrupt,
    MisdirectedWrite,
    FsyncFail,
    /// Connections only: after the others too.
    ConnectionReset,
}

impl FaultKind {
    /// The kind as scenarios spell it (`crash`, `power-loss`, `partition-one-way`...).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::PowerLoss => "power-loss",
            FaultKind::Pause => "pause",
            FaultKind::Partition => "partition",
            FaultKind::PartitionOneWay => "partition-one-way",
            FaultKind::Loss => "loss",
            FaultKind::Delay => "delay",
            FaultKind::Clog => "clog",
            FaultKind::ClockJump => "clock-jump",
            FaultKind::ClockDrift => "clock-drift",
            FaultKind::DiskLoss => "disk-loss",
            FaultKind::DiskCorrupt => "disk-corrupt",
            FaultKind::MisdirectedWrite => "misdirected-write",
            FaultKind::FsyncFail => "fsync-fail",
            FaultKind::ConnectionReset => "connection-reset",
        }
    }

    /// The storage faults: opt-in (not in `ALL`), for brokers only.
    pub const STORAGE: [FaultKind; 3] = [
        FaultKind::DiskCorrupt,
        FaultKind::MisdirectedWrite,
        FaultKind::FsyncFail,
    ];

    pub fn is_storage(self) -> bool {
        FaultKind::STORAGE.contains(&self)
    }

    /// Every kind that may strike any node. Disk loss, for the controllers of a quorum
    /// only, and the storage faults are not among them: scenarios that draw from `ALL` keep
    /// their fault plans.
    pub const ALL: [FaultKind; 10] = [
        FaultKind::Crash,
        FaultKind::PowerLoss,
        FaultKind::Pause,
        FaultKind::Partition,
        FaultKind::PartitionOneWay,
        FaultKind::Loss,
        FaultKind::Delay,
        FaultKind::Clog,
        FaultKind::ClockJump,
        FaultKind::ClockDrift,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_swarm_draw_is_repeatable_and_varies_by_seed() {
        let spec = NemesisSpec {
            kinds: FaultKind::ALL.to_vec(),
            mean_interval_ms: 2_000,
            swarm: true,
            triggered_percent: 0,
        };
        let brokers = vec!["b1".to_string(), "b2".to_string()];
        let clients = vec!["producer-1".to_string()];
        let none = DiskLossTargets::default();
        let a = spec.draw(1, 30_000, &brokers, &clients, &none);
        assert_eq!(a, spec.draw(1, 30_000, &brokers, &clients, &none));
        let draws: Vec<_> = (0..20)
            .map(|s| spec.draw(s, 30_000, &brokers, &clients, &none).0)
            .collect();
        assert!(
            draws.iter().any(|d| d != &draws[0]),
            "the swarm must vary across seeds"
        );
        assert!(a
            .1
            .iter()
            .all(|e| e.at_ms < 30_000 && a.0.kinds.contains(&e.fault.kind())));
    }

    #[test]
    fn kind_names_are_the_scenario_spelling() {
        for kind in FaultKind::ALL
            .into_iter()
            .chain([FaultKind::DiskLoss])
            .chain(FaultKind::STORAGE)
        {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
    }

    #[test]
    fn faults_read_from_toml() {
        let fault: TimedFault = toml::from_str(
            "at_ms = 5000\nkind = \"crash\"\nnode = \"b2\"\nrestart_after_ms = 1000",
        )
        .unwrap();
        assert_eq!(
            fault.fault,
            Fault::Crash {
                node: "b2".into(),
                restart_after_ms: 1000
            }
        );
        assert!(
            toml::from_str::<TimedFault>("at_ms = 1\nkind = \"explode\"\nnode = \"b2\"").is_err()
        );
    }

    #[test]
    fn disk_losses_strike_at_most_a_minority_of_the_controllers() {
        let spec = NemesisSpec {
            kinds: vec![FaultKind::Crash, FaultKind::DiskLoss],
            mean_interval_ms: 500,
            swarm: false,
            triggered_percent: 0,
        };
        let brokers = vec!["b1".to_string()];
        let controllers: Vec<String> = (1..=5).map(|c| format!("controller-{c}")).collect();
        let targets = DiskLossTargets {
            controllers: controllers.clone(),
            max_nodes: 2,
            scripted: BTreeSet::from(["controller-4".to_string()]),
        };
        let mut drawn = 0;
        for seed in 0..50 {
            let (_, events) = spec.draw(seed, 30_000, &brokers, &[], &targets);
            let mut struck: BTreeSet<&String> = BTreeSet::new();
            for event in &events {
                if let Fault::DiskLoss { node, .. } = &event.fault {
                    assert!(controllers.contains(node), "{node}");
                    struck.insert(node);
                    drawn += 1;
                }
            }
            struck.remove(&"controller-4".to_string());
            assert!(
                struck.len() <= 1,
                "seed {seed}: {struck:?} and the scripted one"
            );
        }
        assert!(drawn > 100, "{drawn} disk losses in 50 seeds");
        let none = DiskLossTargets::default();
        let (_, events) = spec.draw(0, 30_000, &brokers, &[], &none);
        assert!(events.iter().all(|e| e.fault.kind() == FaultKind::Crash));
    }
}

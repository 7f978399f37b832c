//! SimDisk: each node's disk, a [`MemDisk`] (the model's own, so that the simulator and the
//! model's tests agree on every semantics): a page cache over the bytes on the medium. A
//! process crash keeps the page cache (the OS still has it); a power loss keeps only what
//! was fsynced (a truncation included), plus perhaps a torn fragment of the unsynced tail;
//! a replaced disk keeps nothing; storage faults damage bytes or fail an fsync. madsim's own
//! fs cannot lose data, hence this plugin.

use kafka_model::disk::{Armed, DiskFault, MemDisk};
use kafka_model::effect::DiskOp;
use madsim::plugin::Simulator;
use madsim::rand::GlobalRng;
use madsim::task::NodeId;
use madsim::time::TimeHandle;
use madsim::Config;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Counters for benchmarks and traces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    pub bytes_written: u64,
    pub fsyncs: u64,
    pub bytes_lost_to_power_loss: u64,
}

/// The SimDisk plugin. Register it with `Runtime::add_simulator::<SimDisk>()`.
#[derive(Default)]
pub struct SimDisk {
    nodes: Mutex<BTreeMap<NodeId, MemDisk>>,
    stats: Mutex<DiskStats>,
}

impl Simulator for SimDisk {
    fn new(_rand: &GlobalRng, _time: &TimeHandle, _config: &Config) -> Self {
        SimDisk::default()
    }

    fn create_node(&self, id: NodeId) {
        self.nodes.lock().expect("disk lock").entry(id).or_default();
    }

    // A kill is a process crash: the page cache survives it. Power loss is `power_fail`.
    fn reset_node(&self, _id: NodeId) {}
}

impl SimDisk {
    fn with_disk<R>(&self, node: NodeId, f: impl FnOnce(&mut MemDisk) -> R) -> R {
        let mut nodes = self.nodes.lock().expect("disk lock");
        f(nodes.entry(node).or_default())
    }

    /// Carries out one of the node's disk operations; an armed storage fault may strike it.
    pub fn apply(&self, node: NodeId, op: &DiskOp) -> Option<DiskFault> {
        {
            let mut stats = self.stats.lock().expect("stats lock");
            match op {
                DiskOp::Append { bytes, .. } => stats.bytes_written += bytes.len() as u64,
                DiskOp::Fsync { .. } => stats.fsyncs += 1,
                DiskOp::Truncate { .. } | DiskOp::Delete { .. } => {}
            }
        }
        self.with_disk(node, |disk| disk.apply(op))
    }

    /// Every file of the node as a process sees it, in path order.
    pub fn read_all(&self, node: NodeId) -> Vec<(String, Vec<u8>)> {
        self.with_disk(node, |disk| disk.read_all())
    }

    /// One file of the node as a process sees it (empty if there is none).
    pub fn read(&self, node: NodeId, path: &str) -> Vec<u8> {
        self.with_disk(node, |disk| disk.read(path).map(<[u8]>::to_vec))
            .unwrap_or_default()
    }

    /// Bytes of the node's files that a power loss now would lose.
    pub fn unsynced_bytes(&self, node: NodeId) -> u64 {
        self.with_disk(node, |disk| disk.unsynced_bytes())
    }

    /// Power loss: see [`MemDisk::power_fail`].
    pub fn power_fail(&self, node: NodeId, tear: impl FnMut() -> u64) -> u64 {
        let lost = self.with_disk(node, |disk| disk.power_fail(tear));
        self.stats
            .lock()
            .expect("stats lock")
            .bytes_lost_to_power_loss += lost;
        lost
    }

    /// The disk is replaced: every file is gone, fsynced or not. Returns the bytes erased.
    pub fn wipe(&self, node: NodeId) -> u64 {
        self.with_disk(node, MemDisk::wipe)
    }

    /// Arms a storage fault on the node's disk (see [`Armed`]).
    pub fn arm(&self, node: NodeId, fault: Armed) {
        self.with_disk(node, |disk| disk.arm(fault));
    }

    /// Whether the node's bytes were damaged in place (a reader must check them).
    pub fn damaged(&self, node: NodeId) -> bool {
        self.with_disk(node, |disk| disk.damaged())
    }

    pub fn stats(&self) -> DiskStats {
        *self.stats.lock().expect("stats lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use madsim::runtime::Runtime;

    #[test]
    fn crash_keeps_page_cache_power_loss_keeps_only_fsynced() {
        let rt = Runtime::new();
        rt.add_simulator::<SimDisk>();
        let node = rt.create_node().build().id();
        rt.block_on(async move {
            let disk = madsim::plugin::simulator::<SimDisk>();
            let append = |bytes: &[u8]| DiskOp::Append {
                path: "a".into(),
                bytes: bytes.to_vec(),
            };
            disk.apply(node, &append(b"hello "));
            disk.apply(node, &DiskOp::Fsync { path: "a".into() });
            disk.apply(node, &append(b"world"));
            madsim::runtime::Handle::current().kill(node);
            assert_eq!(disk.read_all(node)[0].1, b"hello world");
            assert_eq!(disk.unsynced_bytes(node), 5);
            let lost = disk.power_fail(node, || 1);
            assert_eq!(lost, 5);
            assert_eq!(disk.read_all(node)[0].1, b"hello ");
            disk.apply(node, &append(b"abcdefgh"));
            disk.power_fail(node, || 4 * 3);
            assert_eq!(
                disk.read_all(node)[0].1,
                b"hello abc",
                "a torn fragment survives"
            );
            assert_eq!(disk.wipe(node), 9);
            assert!(disk.read_all(node).is_empty());
        });
    }
}

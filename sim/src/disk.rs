//! SimDisk: each node's files as a page cache over durable bytes. A process crash keeps the
//! page cache (the OS still has it); a power loss keeps only what was fsynced, plus perhaps
//! a torn fragment of the unsynced tail; a replaced disk keeps nothing. madsim's own fs
//! cannot lose data, hence this plugin.

use madsim::plugin::Simulator;
use madsim::rand::GlobalRng;
use madsim::task::NodeId;
use madsim::time::TimeHandle;
use madsim::Config;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Clone, Debug, Default)]
struct SimFile {
    /// What a process reads: the page cache.
    data: Vec<u8>,
    /// `data[..synced_len]` survives a power loss. Only appends and truncations happen,
    /// so the durable image is always a prefix of the cached one.
    synced_len: usize,
}

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
    nodes: Mutex<BTreeMap<NodeId, BTreeMap<String, SimFile>>>,
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
    fn with_files<R>(
        &self,
        node: NodeId,
        f: impl FnOnce(&mut BTreeMap<String, SimFile>) -> R,
    ) -> R {
        let mut nodes = self.nodes.lock().expect("disk lock");
        f(nodes.entry(node).or_default())
    }

    pub fn append(&self, node: NodeId, path: &str, bytes: &[u8]) {
        self.stats.lock().expect("stats lock").bytes_written += bytes.len() as u64;
        self.with_files(node, |files| {
            files
                .entry(path.to_string())
                .or_default()
                .data
                .extend_from_slice(bytes)
        });
    }

    pub fn fsync(&self, node: NodeId, path: &str) {
        self.stats.lock().expect("stats lock").fsyncs += 1;
        self.with_files(node, |files| {
            if let Some(file) = files.get_mut(path) {
                file.synced_len = file.data.len();
            }
        });
    }

    /// Truncation is a metadata change; it is taken as durable at once (conservative:
    /// it never resurrects cut bytes).
    pub fn truncate(&self, node: NodeId, path: &str, len: u64) {
        self.with_files(node, |files| {
            if let Some(file) = files.get_mut(path) {
                let len = (len as usize).min(file.data.len());
                file.data.truncate(len);
                file.synced_len = file.synced_len.min(len);
            }
        });
    }

    pub fn delete(&self, node: NodeId, path: &str) {
        self.with_files(node, |files| files.remove(path));
    }

    /// Every file of the node as a process sees it, in path order.
    pub fn read_all(&self, node: NodeId) -> Vec<(String, Vec<u8>)> {
        self.with_files(node, |files| {
            files
                .iter()
                .map(|(path, file)| (path.clone(), file.data.clone()))
                .collect()
        })
    }

    /// Bytes of the node's files that a power loss now would lose.
    pub fn unsynced_bytes(&self, node: NodeId) -> u64 {
        self.with_files(node, |files| {
            files
                .values()
                .map(|f| (f.data.len() - f.synced_len) as u64)
                .sum()
        })
    }

    /// Power loss: each file falls back to its fsynced prefix. `tear` (random) decides for
    /// each file whether a fragment of the unsynced tail reached the platter anyway, which
    /// is how a torn last write looks after reboot.
    pub fn power_fail(&self, node: NodeId, mut tear: impl FnMut() -> u64) -> u64 {
        let lost = self.with_files(node, |files| {
            let mut lost = 0u64;
            for file in files.values_mut() {
                let unsynced = file.data.len() - file.synced_len;
                if unsynced == 0 {
                    continue;
                }
                let draw = tear();
                let kept = if draw.is_multiple_of(4) {
                    (draw >> 2) as usize % unsynced
                } else {
                    0
                };
                lost += (unsynced - kept) as u64;
                file.data.truncate(file.synced_len + kept);
                file.synced_len = file.data.len();
            }
            lost
        });
        self.stats
            .lock()
            .expect("stats lock")
            .bytes_lost_to_power_loss += lost;
        lost
    }

    /// The disk is replaced: every file is gone, fsynced or not. Returns the bytes erased.
    pub fn wipe(&self, node: NodeId) -> u64 {
        self.with_files(node, |files| {
            let erased = files.values().map(|f| f.data.len() as u64).sum();
            files.clear();
            erased
        })
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
            disk.append(node, "a", b"hello ");
            disk.fsync(node, "a");
            disk.append(node, "a", b"world");
            madsim::runtime::Handle::current().kill(node);
            assert_eq!(disk.read_all(node)[0].1, b"hello world");
            assert_eq!(disk.unsynced_bytes(node), 5);
            let lost = disk.power_fail(node, || 1);
            assert_eq!(lost, 5);
            assert_eq!(disk.read_all(node)[0].1, b"hello ");
            disk.append(node, "a", b"abcdefgh");
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

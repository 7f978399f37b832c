//! One machine's disk as the log sees it: each file a page cache over the bytes on the
//! medium. The simulator's SimDisk keeps one per node and the model's own tests use it
//! directly, so that both agree by construction on what a crash, a power loss, a failed
//! fsync or a damaged sector leaves behind.

use crate::effect::DiskOp;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct File {
    /// What a process reads: the page cache.
    cached: Vec<u8>,
    /// What survives a power loss: the bytes on the medium as of the last fsync. Not always
    /// a prefix of `cached`: a truncation reaches the medium only with the next fsync, so a
    /// power loss before it may bring the cut bytes back.
    durable: Vec<u8>,
    /// `cached[..same_len] == durable[..same_len]`: what an fsync need not write again.
    same_len: usize,
}

impl File {
    /// Bytes of the cache that the medium does not hold (what a power loss may lose).
    fn unsynced(&self) -> usize {
        self.cached.len() - self.same_len
    }
}

/// A storage fault armed on a disk: it strikes the next operation on a log segment (a
/// `.log` file) that it fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Armed {
    /// The next append is written with the byte at `at` (mod its length) XORed with `xor`
    /// (non-zero), in the cache and on the medium alike: every read returns it.
    CorruptAppend { at: u64, xor: u8 },
    /// The next append lands elsewhere in its file, at `to` (mod the file's new length),
    /// and leaves its own place as zeros.
    MisdirectAppend { to: u64 },
    /// The next fsync fails.
    FailFsync,
}

/// Whether `path` is a partition log segment, the only files storage faults strike.
pub fn is_segment(path: &str) -> bool {
    path.ends_with(".log")
}

/// A fsync that failed: the dirty pages of `path` were dropped (Linux marks them clean after
/// reporting the error, so a later fsync would not write them): the file falls back to what
/// the medium holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsyncFailed {
    pub path: String,
    /// Bytes of the cache the failure dropped.
    pub bytes_dropped: u64,
}

/// Which byte of an append was written wrong, for the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corrupted {
    pub path: String,
    pub at: u64,
}

/// Where a misdirected append landed, for the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Misdirected {
    pub path: String,
    pub intended_at: u64,
    pub landed_at: u64,
    pub len: u64,
}

/// What applying one operation did beyond the ordinary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskFault {
    Corrupted(Corrupted),
    FsyncFailed(FsyncFailed),
    Misdirected(Misdirected),
}

/// One machine's files, in path order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemDisk {
    files: BTreeMap<String, File>,
    /// Storage faults waiting for the operation they strike, oldest first.
    armed: Vec<Armed>,
    /// Bytes were damaged in place since the files were last wiped: readers must check.
    damaged: bool,
}

impl MemDisk {
    /// Carries out `op`; an armed fault strikes the first operation it fits.
    pub fn apply(&mut self, op: &DiskOp) -> Option<DiskFault> {
        match op {
            DiskOp::Append { path, bytes } => self.append(path, bytes),
            DiskOp::Fsync { path } => self.fsync(path).err().map(DiskFault::FsyncFailed),
            DiskOp::Truncate { path, len } => self.truncate(path, *len),
            DiskOp::Delete { path } => {
                // Unlinking is taken as durable at once: the file is gone after a reboot too.
                self.files.remove(path);
                None
            }
        }
    }

    /// Takes the first armed fault that `fits`, if the operation is on a log segment.
    fn take_armed(&mut self, path: &str, fits: impl Fn(&Armed) -> bool) -> Option<Armed> {
        if !is_segment(path) {
            return None;
        }
        let index = self.armed.iter().position(fits)?;
        Some(self.armed.remove(index))
    }

    fn append(&mut self, path: &str, bytes: &[u8]) -> Option<DiskFault> {
        let armed = if bytes.is_empty() {
            None
        } else {
            self.take_armed(path, |a| !matches!(a, Armed::FailFsync))
        };
        let file = self.files.entry(path.to_string()).or_default();
        let to = match armed {
            None => {
                file.cached.extend_from_slice(bytes);
                return None;
            }
            Some(Armed::CorruptAppend { at, xor }) => {
                let at = file.cached.len() + (at as usize) % bytes.len();
                file.cached.extend_from_slice(bytes);
                file.cached[at] ^= xor;
                self.damaged = true;
                return Some(DiskFault::Corrupted(Corrupted {
                    path: path.to_string(),
                    at: at as u64,
                }));
            }
            Some(Armed::MisdirectAppend { to }) => to,
            Some(Armed::FailFsync) => unreachable!("not taken for an append"),
        };
        self.damaged = true;
        let intended_at = file.cached.len();
        file.cached.resize(intended_at + bytes.len(), 0);
        let landed_at = (to as usize) % file.cached.len();
        file.same_len = file.same_len.min(landed_at);
        let end = (landed_at + bytes.len()).min(file.cached.len());
        file.cached[landed_at..end].copy_from_slice(&bytes[..end - landed_at]);
        Some(DiskFault::Misdirected(Misdirected {
            path: path.to_string(),
            intended_at: intended_at as u64,
            landed_at: landed_at as u64,
            len: bytes.len() as u64,
        }))
    }

    fn fsync(&mut self, path: &str) -> Result<(), FsyncFailed> {
        if !self.files.contains_key(path) {
            return Ok(());
        }
        let failed = self.take_armed(path, |a| matches!(a, Armed::FailFsync));
        let file = self.files.get_mut(path).expect("checked above");
        if failed.is_some() {
            let bytes_dropped = file.unsynced() as u64;
            file.cached = file.durable.clone();
            file.same_len = file.cached.len();
            return Err(FsyncFailed {
                path: path.to_string(),
                bytes_dropped,
            });
        }
        file.durable.truncate(file.same_len);
        file.durable
            .extend_from_slice(&file.cached[file.same_len..]);
        file.same_len = file.cached.len();
        Ok(())
    }

    /// Cuts the cached file; the medium keeps its bytes until the next fsync.
    fn truncate(&mut self, path: &str, len: u64) -> Option<DiskFault> {
        if let Some(file) = self.files.get_mut(path) {
            file.cached.truncate(len as usize);
            file.same_len = file.same_len.min(file.cached.len());
        }
        None
    }

    /// Every file as a process reads it, in path order.
    pub fn read_all(&self) -> Vec<(String, Vec<u8>)> {
        self.files
            .iter()
            .map(|(path, file)| (path.clone(), file.cached.clone()))
            .collect()
    }

    /// One file as a process reads it.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(|f| f.cached.as_slice())
    }

    /// Bytes a power loss now would lose.
    pub fn unsynced_bytes(&self) -> u64 {
        self.files.values().map(|f| f.unsynced() as u64).sum()
    }

    /// Power loss: each file falls back to its bytes on the medium. `tear` (random) decides
    /// for each file with unsynced bytes whether a fragment of them reached the medium
    /// anyway (a torn last write). Returns the bytes lost. With only appends and fsyncs the
    /// medium holds a prefix of the cache and this is the classic torn tail.
    pub fn power_fail(&mut self, mut tear: impl FnMut() -> u64) -> u64 {
        let mut lost = 0u64;
        for file in self.files.values_mut() {
            let synced = file.same_len;
            let unsynced = file.cached.len() - synced;
            if unsynced == 0 {
                if file.durable.len() > file.cached.len() {
                    // An unsynced truncation: the cut bytes come back.
                    file.cached.clone_from(&file.durable);
                    file.same_len = file.cached.len();
                }
                continue;
            }
            let draw = tear();
            let kept = if draw.is_multiple_of(4) {
                (draw >> 2) as usize % unsynced
            } else {
                0
            };
            lost += (unsynced - kept) as u64;
            let mut after = file.durable.clone();
            let torn_end = synced + kept;
            if after.len() < torn_end {
                after.resize(torn_end, 0);
            }
            after[synced..torn_end].copy_from_slice(&file.cached[synced..torn_end]);
            file.cached = after;
            file.durable.clone_from(&file.cached);
            file.same_len = file.cached.len();
        }
        lost
    }

    /// The disk is replaced: every file is gone. Returns the bytes erased.
    pub fn wipe(&mut self) -> u64 {
        let erased = self.files.values().map(|f| f.cached.len() as u64).sum();
        *self = MemDisk::default();
        erased
    }

    /// Arms a storage fault: it strikes the next log segment operation it fits.
    pub fn arm(&mut self, fault: Armed) {
        if let Armed::CorruptAppend { xor, .. } = fault {
            assert_ne!(xor, 0, "a corruption changes the byte");
        }
        self.armed.push(fault);
    }

    /// Whether bytes were damaged in place (corrupted or overwritten by a misdirected
    /// write): only then must a reader look at the bytes rather than trust what it wrote.
    pub fn damaged(&self) -> bool {
        self.damaged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(path: &str, bytes: &[u8]) -> DiskOp {
        DiskOp::Append {
            path: path.into(),
            bytes: bytes.to_vec(),
        }
    }

    fn fsync(path: &str) -> DiskOp {
        DiskOp::Fsync { path: path.into() }
    }

    fn contents(disk: &MemDisk) -> Vec<u8> {
        disk.read("a.log").unwrap().to_vec()
    }

    #[test]
    fn power_loss_keeps_the_fsynced_bytes_and_maybe_a_torn_fragment() {
        let mut disk = MemDisk::default();
        disk.apply(&append("a.log", b"hello "));
        disk.apply(&fsync("a.log"));
        disk.apply(&append("a.log", b"world"));
        assert_eq!(disk.unsynced_bytes(), 5);
        assert_eq!(disk.power_fail(|| 1), 5);
        assert_eq!(contents(&disk), b"hello ");
        disk.apply(&append("a.log", b"abcdefgh"));
        disk.power_fail(|| 4 * 3);
        assert_eq!(contents(&disk), b"hello abc", "a torn fragment survives");
        assert_eq!(disk.wipe(), 9);
        assert!(disk.read_all().is_empty());
    }

    #[test]
    fn a_truncation_is_durable_only_once_fsynced() {
        let mut disk = MemDisk::default();
        disk.apply(&append("a.log", b"old tail"));
        disk.apply(&fsync("a.log"));
        disk.apply(&DiskOp::Truncate {
            path: "a.log".into(),
            len: 3,
        });
        assert_eq!(contents(&disk), b"old");
        disk.power_fail(|| 1);
        assert_eq!(contents(&disk), b"old tail", "the cut bytes come back");
        disk.apply(&DiskOp::Truncate {
            path: "a.log".into(),
            len: 3,
        });
        disk.apply(&append("a.log", b" new"));
        disk.power_fail(|| 1);
        assert_eq!(contents(&disk), b"old tail", "the rewrite was not fsynced");
        disk.apply(&DiskOp::Truncate {
            path: "a.log".into(),
            len: 3,
        });
        disk.apply(&fsync("a.log"));
        disk.power_fail(|| 1);
        assert_eq!(contents(&disk), b"old");
    }

    #[test]
    fn a_failed_fsync_drops_the_dirty_bytes_and_a_later_one_does_not_bring_them_back() {
        let mut disk = MemDisk::default();
        disk.apply(&append("a.log", b"safe "));
        disk.apply(&fsync("a.log"));
        disk.apply(&append("a.log", b"dirty"));
        disk.arm(Armed::FailFsync);
        assert_eq!(
            disk.apply(&fsync("a.log")),
            Some(DiskFault::FsyncFailed(FsyncFailed {
                path: "a.log".into(),
                bytes_dropped: 5
            }))
        );
        assert_eq!(contents(&disk), b"safe ");
        assert_eq!(disk.apply(&fsync("a.log")), None);
        assert_eq!(contents(&disk), b"safe ");
    }

    #[test]
    fn corruption_and_misdirection_damage_bytes_in_place() {
        let mut disk = MemDisk::default();
        disk.apply(&append("a.log", b"abcd"));
        disk.arm(Armed::CorruptAppend { at: 5, xor: 0x20 });
        assert_eq!(disk.apply(&append("raft/log", b"x")), None, "only segments");
        assert!(!disk.damaged());
        assert_eq!(
            disk.apply(&append("a.log", b"efg")),
            Some(DiskFault::Corrupted(Corrupted {
                path: "a.log".into(),
                at: 6
            }))
        );
        assert!(disk.damaged());
        disk.apply(&fsync("a.log"));
        disk.power_fail(|| 1);
        assert_eq!(contents(&disk), b"abcdefG", "on the medium too");
        disk.arm(Armed::MisdirectAppend { to: 1 });
        let fault = disk.apply(&append("a.log", b"xy"));
        assert!(matches!(
            fault,
            Some(DiskFault::Misdirected(Misdirected {
                intended_at: 7,
                landed_at: 1,
                ..
            }))
        ));
        assert_eq!(contents(&disk), b"axydefG\0\0");
        disk.apply(&append("a.log", b"z"));
        assert_eq!(
            contents(&disk),
            b"axydefG\0\0z",
            "only one append is misdirected"
        );
    }
}

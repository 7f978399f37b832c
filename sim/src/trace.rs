//! The compact trace: the event log rendered as text, one line per event (simulated time,
//! node, what happened), with no task ids or addresses, so that the same seed gives
//! byte-identical traces. Its hash is the determinism referee.

use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hasher};

/// Collects trace lines and their running hash. Keeping the lines is optional (a sweep
/// only needs the hash).
#[derive(Clone, Debug)]
pub struct Trace {
    keep_lines: bool,
    lines: Vec<String>,
    hasher: DefaultHasher,
    line_count: u64,
    scratch: String,
}

impl Trace {
    pub fn new(keep_lines: bool) -> Self {
        Trace {
            keep_lines,
            lines: Vec::new(),
            hasher: DefaultHasher::new(),
            line_count: 0,
            scratch: String::new(),
        }
    }

    /// Records one line. `event` is formatted into a reused buffer.
    pub fn record(&mut self, time_ms: u64, node: &str, event: std::fmt::Arguments<'_>) {
        self.record_with(time_ms, node, |out| {
            let _ = out.write_fmt(event);
            true
        });
    }

    /// Records the line `write_event` writes after the time and node, into a reused buffer;
    /// nothing if it returns false (an event that gets no line).
    pub fn record_with(
        &mut self,
        time_ms: u64,
        node: &str,
        write_event: impl FnOnce(&mut String) -> bool,
    ) {
        self.scratch.clear();
        let _ = write!(self.scratch, "{time_ms:>8} {node:<11} ");
        if !write_event(&mut self.scratch) {
            return;
        }
        self.hasher.write(self.scratch.as_bytes());
        self.hasher.write_u8(b'\n');
        self.line_count += 1;
        if self.keep_lines {
            self.lines.push(self.scratch.clone());
        }
    }

    pub fn hash(&self) -> u64 {
        self.hasher.finish()
    }

    pub fn line_count(&self) -> u64 {
        self.line_count
    }

    /// The lines, if they were kept.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    pub fn into_lines(self) -> Vec<String> {
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_covers_every_line_with_or_without_keeping_them() {
        let mut kept = Trace::new(true);
        let mut hashed = Trace::new(false);
        for trace in [&mut kept, &mut hashed] {
            trace.record(5, "b1", format_args!("crash"));
            trace.record(17, "producer-1", format_args!("ok v{}", 3));
        }
        assert_eq!(kept.hash(), hashed.hash());
        assert_eq!(kept.lines()[1], "      17 producer-1  ok v3");
        let mut other = Trace::new(false);
        other.record(5, "b1", format_args!("crash"));
        assert_ne!(other.hash(), hashed.hash());
    }
}

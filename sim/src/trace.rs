//! The compact trace: the event log rendered as text, one line per event (simulated time,
//! node, what happened), with no task ids or addresses, so that the same seed gives
//! byte-identical traces. Its hash is the determinism referee: it is taken over the same
//! bytes whether the lines are kept or not, fed to the hasher as they are written (the time
//! and node, then the event), and an event with no line costs no formatting at all.

use std::hash::{DefaultHasher, Hasher};

/// The width the time (right-aligned) and the node's name (left-aligned) are padded to.
const TIME_WIDTH: usize = 8;
const NODE_WIDTH: usize = 11;

/// Collects trace lines and their running hash. Keeping the lines is optional (a sweep
/// only needs the hash).
#[derive(Clone, Debug)]
pub struct Trace {
    keep_lines: bool,
    lines: Vec<String>,
    hasher: DefaultHasher,
    line_count: u64,
    /// The event's text, then the line's time and node: reused buffers.
    scratch: String,
    prefix: String,
}

impl Trace {
    pub fn new(keep_lines: bool) -> Self {
        Trace {
            keep_lines,
            lines: Vec::new(),
            hasher: DefaultHasher::new(),
            line_count: 0,
            scratch: String::new(),
            prefix: String::new(),
        }
    }

    /// Records one line. `event` is formatted into a reused buffer.
    pub fn record(&mut self, time_ms: u64, node: &str, event: std::fmt::Arguments<'_>) {
        self.record_with(time_ms, node, |out| {
            let _ = std::fmt::Write::write_fmt(out, event);
            true
        });
    }

    /// Records the line `write_event` writes after the time and node, into a reused buffer;
    /// nothing if it returns false (an event that gets no line). The hasher reads the time
    /// and node, then the event: SipHash over pieces is SipHash over their concatenation,
    /// so the hash is the same as over the whole line.
    pub fn record_with(
        &mut self,
        time_ms: u64,
        node: &str,
        write_event: impl FnOnce(&mut String) -> bool,
    ) {
        self.scratch.clear();
        if !write_event(&mut self.scratch) {
            return;
        }
        self.prefix.clear();
        write_prefix(&mut self.prefix, time_ms, node);
        self.hasher.write(self.prefix.as_bytes());
        self.hasher.write(self.scratch.as_bytes());
        self.hasher.write_u8(b'\n');
        self.line_count += 1;
        if self.keep_lines {
            let mut line = String::with_capacity(self.prefix.len() + self.scratch.len());
            line.push_str(&self.prefix);
            line.push_str(&self.scratch);
            self.lines.push(line);
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

/// Writes `format!("{time_ms:>8} {node:<11} ")` without the formatting machinery (one
/// call per trace line).
fn write_prefix(out: &mut String, time_ms: u64, node: &str) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = time_ms;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let digits = &digits[at..];
    out.extend(std::iter::repeat_n(
        ' ',
        TIME_WIDTH.saturating_sub(digits.len()),
    ));
    out.push_str(std::str::from_utf8(digits).unwrap_or_default());
    out.push(' ');
    out.push_str(node);
    out.extend(std::iter::repeat_n(
        ' ',
        NODE_WIDTH.saturating_sub(node.chars().count()),
    ));
    out.push(' ');
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

    #[test]
    fn lines_and_hash_match_the_formatted_whole_line() {
        let cases = [
            (0, "b1"),
            (17, "producer-1"),
            (12_345_678, "controller-10"),
            (1_234_567_890, "a-very-long-node-name"),
            (u64::MAX, ""),
        ];
        for (time_ms, node) in cases {
            let mut trace = Trace::new(true);
            trace.record(time_ms, node, format_args!("recv Fetch <- b{}", 2));
            let line = format!("{time_ms:>8} {node:<11} recv Fetch <- b2");
            assert_eq!(trace.lines(), std::slice::from_ref(&line));
            let mut whole = DefaultHasher::new();
            whole.write(line.as_bytes());
            whole.write_u8(b'\n');
            assert_eq!(trace.hash(), whole.finish(), "{line:?}");
        }
        let mut silent = Trace::new(true);
        silent.record_with(3, "b1", |_| false);
        assert_eq!(silent.line_count(), 0);
        assert_eq!(silent.hash(), DefaultHasher::new().finish());
    }
}

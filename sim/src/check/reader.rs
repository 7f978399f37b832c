//! Reads a history for `kafka-sim check`: JSON Lines in the documented shape, with or
//! without the `meta` line a simulation writes first. Every problem is one line naming the
//! file and the line.

use crate::history::{History, HistoryEntry, OpType, Operation};
use crate::scenario::Scenario;
use std::collections::BTreeSet;
use std::io::BufRead;

/// A history read from a file, and the scenario its meta line carried (a simulation's).
#[derive(Debug)]
pub struct LoadedHistory {
    pub history: History,
    pub scenario: Option<Scenario>,
}

/// Reads and validates `from` (`file` names it in errors): each line one operation (the
/// first may be a `{"type":"meta",...}` line), indexes strictly increasing, every send's
/// value invoked once.
pub fn read(from: impl BufRead, file: &str) -> Result<LoadedHistory, String> {
    let mut history = History::default();
    let mut scenario = None;
    let mut values = BTreeSet::new();
    for (n, line) in from.lines().enumerate() {
        let at = format!("{file}: line {}", n + 1);
        let line = line.map_err(|e| format!("{at}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let json: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("{at}: not JSON: {e}"))?;
        if json.get("type").and_then(|t| t.as_str()) == Some("meta") {
            if n > 0 {
                return Err(format!("{at}: a meta line must be the first line"));
            }
            // A simulation's configuration gives its promises; any other meta is kept
            // for the reader's eyes only.
            scenario = json
                .get("config")
                .and_then(|c| serde_json::from_value::<Scenario>(c.clone()).ok());
            continue;
        }
        let entry: HistoryEntry = serde_json::from_value(json).map_err(|e| format!("{at}: {e}"))?;
        if let Some(last) = history.entries.last() {
            if entry.index <= last.index {
                return Err(format!(
                    "{at}: index {} after {}: indexes must increase",
                    entry.index, last.index
                ));
            }
        }
        if let (OpType::Invoke, Operation::Send(send)) = (entry.op_type, &entry.op) {
            if !values.insert(send.value) {
                return Err(format!(
                    "{at}: value {} is sent twice: every send needs its own value",
                    send.value
                ));
            }
        }
        history.entries.push(entry);
    }
    if history.entries.is_empty() {
        return Err(format!("{file}: no operations"));
    }
    Ok(LoadedHistory { history, scenario })
}

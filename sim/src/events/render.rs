//! The trace text: one line per event worth reading (simulated ms, actor, what happened),
//! rendered from the typed event. Message sends, disk operations and replica, metadata
//! and Raft events get no line of their own: their receipts, and the model's notes, tell
//! the story in fewer lines.

use super::{Actor, Event, EventKind, FaultEvent};
use crate::history::{
    AssignValue, CommittedOffset, History, HistoryEntry, OpType, Operation, OFFSET_OUT_OF_RANGE,
};
use kafka_model::ids::NodeId;
use std::fmt::Write as _;

/// The name an actor has in traces: its node's name, `nemesis` or `runner`.
pub fn actor_name<'a>(actor: Actor, node_name: impl Fn(NodeId) -> &'a str) -> &'a str {
    match actor {
        Actor::Node(node) => node_name(node),
        Actor::Nemesis => "nemesis",
        Actor::Runner => "runner",
    }
}

/// Writes the event's trace text (without time and actor) into `out`; false for an event
/// that gets no line. `history` holds the client operations the log refers to.
pub fn render<'a>(
    event: &Event,
    node_name: impl Fn(NodeId) -> &'a str,
    history: &History,
    out: &mut String,
) -> bool {
    match &event.kind {
        EventKind::Started { incarnation } => {
            let _ = write!(out, "start incarnation {incarnation}");
        }
        EventKind::LogRecovered {
            tp,
            batches,
            log_end,
            bytes_cut,
            segments_deleted,
        } => {
            let _ = write!(
                out,
                "recover {tp}: {batches} batches, log end {log_end}, {bytes_cut} bytes cut, \
                 {segments_deleted} segments deleted"
            );
        }
        EventKind::MetadataRecovered { committed_records } => {
            let _ = write!(
                out,
                "recover metadata: {committed_records} committed records"
            );
        }
        EventKind::StartFailed { what, error } => {
            let _ = write!(out, "cannot {what}: {error}");
        }
        // Most lines are receipts: written without the formatting machinery.
        EventKind::MessageDelivered { from, kind, .. } => {
            out.push_str("recv ");
            out.push_str(kind);
            out.push_str(" <- ");
            out.push_str(node_name(*from));
        }
        EventKind::MessageDropped {
            to, kind, reason, ..
        } => {
            let _ = write!(
                out,
                "drop {kind} -> {} ({})",
                node_name(*to),
                reason.as_str()
            );
        }
        EventKind::MessageHeld { to, kind, .. } => {
            let _ = write!(out, "hold {kind} -> {} (link stalled)", node_name(*to));
        }
        EventKind::ConnectionReset { peer, why } => {
            let _ = write!(
                out,
                "connection to {} reset ({}): its requests in flight fail",
                node_name(*peer),
                why.as_str()
            );
        }
        EventKind::Group(group) => out.push_str(&group.describe()),
        EventKind::Client { history_index } => {
            return history
                .entries
                .get(*history_index as usize)
                .is_some_and(|entry| client(entry, out));
        }
        EventKind::Note(note) => out.push_str(note),
        EventKind::Fault(fault) => nemesis(fault, out),
        EventKind::Quiescent => {
            out.push_str("quiescent: every send completed, every consumer caught up")
        }
        EventKind::LivenessProblem(problem) => {
            let _ = write!(out, "liveness: {problem}");
        }
        EventKind::MessageSent { .. }
        | EventKind::Disk(_)
        | EventKind::Replica(_)
        | EventKind::Metadata { .. }
        | EventKind::Raft(_)
        | EventKind::ErrorAnswered { .. }
        | EventKind::Reached(_) => return false,
    }
    true
}

fn nemesis(fault: &FaultEvent, out: &mut String) {
    let _ = match fault {
        FaultEvent::SwarmDrawn(draw) => write!(out, "{draw}"),
        FaultEvent::Planned(event) => match &event.on {
            Some(trigger) => write!(
                out,
                "plan from @{}ms {trigger}: {}",
                event.at_ms, event.fault
            ),
            None => write!(out, "plan @{}ms {}", event.at_ms, event.fault),
        },
        FaultEvent::Injected(struck) => write!(out, "{struck}"),
        FaultEvent::Triggered { trigger } => write!(out, "trigger fired: {trigger}"),
        FaultEvent::Restarted { node } => write!(out, "restart {node}"),
        FaultEvent::Resumed { node } => write!(out, "resume {node}"),
        FaultEvent::DiskErased { node, bytes } => {
            write!(out, "{node} lost its disk ({bytes} bytes)")
        }
        FaultEvent::PowerCut { node, bytes } => write!(out, "{node} lost {bytes} unsynced bytes"),
        FaultEvent::DiskDamaged { node, what, .. } => write!(out, "{node} disk: {what}"),
        FaultEvent::Healed => write!(out, "heal"),
    };
}

/// A client operation's line; the invocations of polls and commits, and processing, get
/// none (their completions say it all).
fn client(entry: &HistoryEntry, out: &mut String) -> bool {
    let _ = match (&entry.op, entry.op_type) {
        (Operation::Send(send), OpType::Invoke) => write!(out, "send v{}", send.value),
        (Operation::Send(send), OpType::Ok) => {
            let _ = write!(out, "ok v{} {}", send.value, send.topic);
            match (send.partition, send.offset) {
                (Some(p), Some(o)) => write!(out, "-{p}@{o}"),
                (Some(p), None) => write!(out, "-{p}"),
                _ => Ok(()),
            }
        }
        (Operation::Send(send), OpType::Fail | OpType::Info) => {
            let verb = if entry.op_type == OpType::Fail {
                "fail"
            } else {
                "info"
            };
            let error = send.error.as_deref().unwrap_or("");
            write!(out, "{verb} v{}: {error}", send.value)
        }
        (Operation::Poll(poll), OpType::Ok) => match poll.records.first() {
            Some(first) => write!(
                out,
                "poll {} records, first {}-{}@{}",
                poll.records.len(),
                first.topic,
                first.partition,
                first.offset
            ),
            None => return false,
        },
        (Operation::Poll(poll), OpType::Fail) => {
            write!(out, "poll failed: {}", poll.error.as_deref().unwrap_or(""))
        }
        (Operation::Assign(assign), _) => assign_line(assign, out),
        (Operation::Assignment(a), _) => {
            let owned: Vec<String> = a
                .partitions
                .iter()
                .map(|p| format!("{}-{}", p.topic, p.partition))
                .collect();
            write!(
                out,
                "{} generation {}: {} owns [{}]",
                a.group,
                a.generation,
                a.member,
                owned.join(", ")
            )
        }
        (Operation::Commit(commit), OpType::Ok) => {
            write!(out, "commit ok {}", offsets_text(&commit.offsets))
        }
        (Operation::Commit(commit), OpType::Fail) => write!(
            out,
            "commit {} failed: {}",
            offsets_text(&commit.offsets),
            commit.error.as_deref().unwrap_or("")
        ),
        _ => return false,
    };
    true
}

fn assign_line(assign: &AssignValue, out: &mut String) -> std::fmt::Result {
    let tp = format!("{}-{}", assign.topic, assign.partition);
    match (&assign.from, &assign.auto_offset_reset) {
        (Some(from), Some(policy)) => write!(
            out,
            "assign {tp}@{} ({OFFSET_OUT_OF_RANGE} at {from}, auto.offset.reset={policy})",
            assign.offset
        ),
        _ => write!(out, "assign {tp}@{} ({})", assign.offset, assign.reason),
    }
}

/// "tasks-0@12, tasks-1@40".
fn offsets_text(offsets: &[CommittedOffset]) -> String {
    offsets
        .iter()
        .map(|o| format!("{}-{}@{}", o.topic, o.partition, o.offset))
        .collect::<Vec<_>>()
        .join(", ")
}

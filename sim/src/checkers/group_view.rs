//! Views of a history's consumer-group operations that the group checkers share: each
//! acknowledged commit paired with the invoke that sent it, and offset sets written as
//! ranges for anomaly details.
//!
//! The pairing follows Jepsen's rule that an `ok` completes an earlier `invoke` of the same
//! process (DESIGN.md section 8), made safe for commits: a member may have several commits in
//! flight, and a process name outlives a restart (a new member id), so an ok is paired by
//! (process, group, member, generation, offsets), never by process alone.

use crate::history::{CommitValue, History, OpType, Operation};
use std::collections::{BTreeMap, VecDeque};

/// An acknowledged commit: durable in the group's offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CommitOk<'a> {
    pub process: &'a str,
    pub commit: &'a CommitValue,
    /// History index of the invoke it completes; `None` if no unpaired invoke with the same
    /// process, group, member, generation and offsets precedes it (a malformed history).
    pub invoke: Option<u64>,
    /// History index of the ok.
    pub ok: u64,
}

/// What pairs an ok with its invoke: everything the member put in the request.
type CommitKey<'a> = (&'a str, &'a str, &'a str, u32, Vec<(&'a str, u32, u64)>);

fn key<'a>(process: &'a str, commit: &'a CommitValue) -> CommitKey<'a> {
    let offsets = commit
        .offsets
        .iter()
        .map(|o| (o.topic.as_str(), o.partition, o.offset))
        .collect();
    (
        process,
        commit.group.as_str(),
        commit.member.as_str(),
        commit.generation,
        offsets,
    )
}

/// Every commit ok in history order, each paired with an open invoke of the same request
/// before it: an ok takes the earliest open one, a fail (or info) the latest.
///
/// Which of several identical requests in flight a response answers is not recorded. A
/// fail may answer a later one than the first still open (a client that gives up on a
/// second request at once while the first is outstanding), so the pairing picks, among
/// the valid ones, the one that dates oks earliest: oks take the earliest open invokes,
/// fails use up the latest. For any moment X, this pairs as few oks as possible with
/// invokes after X, so the checkers that ask "was this commit sent after X?" never accuse
/// on a guess. A fail with a single open invoke is unambiguous, which catches the common
/// refused-then-resent pattern (invoke, fail, invoke again, ok: the ok is the resend's).
pub(crate) fn commit_oks(history: &History) -> Vec<CommitOk<'_>> {
    let mut open: BTreeMap<CommitKey<'_>, VecDeque<u64>> = BTreeMap::new();
    let mut oks = Vec::new();
    for entry in &history.entries {
        let Operation::Commit(commit) = &entry.op else {
            continue;
        };
        let key = key(&entry.process, commit);
        match entry.op_type {
            OpType::Invoke => open.entry(key).or_default().push_back(entry.index),
            OpType::Ok => oks.push(CommitOk {
                process: &entry.process,
                commit,
                invoke: open.get_mut(&key).and_then(VecDeque::pop_front),
                ok: entry.index,
            }),
            OpType::Fail | OpType::Info => {
                if let Some(open) = open.get_mut(&key) {
                    open.pop_back();
                }
            }
        }
    }
    oks
}

/// Sorted, distinct offsets as "3-5, 9, 12-14", at most `max_ranges` ranges then "...".
pub(crate) fn ranges(offsets: &[u64], max_ranges: usize) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut iter = offsets.iter().copied().peekable();
    while let Some(first) = iter.next() {
        if out.len() == max_ranges {
            out.push("...".into());
            break;
        }
        let mut last = first;
        while iter.peek() == Some(&(last + 1)) {
            last += 1;
            iter.next();
        }
        out.push(if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        });
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::view::build::*;
    use super::*;

    #[test]
    fn oks_take_the_earliest_open_invoke_of_the_same_request_and_fails_the_latest() {
        let mut h = History::default();
        let m1 = ("g1", "m1", 1);
        commit_invoke(&mut h, "g1-m1", m1, &[(0, 5)]); // 0
        commit_invoke(&mut h, "g1-m1", m1, &[(0, 5)]); // 1: same request again
        commit_invoke(&mut h, "g1-m1", m1, &[(0, 7)]); // 2
        commit_fail(&mut h, "g1-m1", m1, &[(0, 5)], "REQUEST_TIMED_OUT"); // 3
        commit_ok(&mut h, "g1-m1", m1, &[(0, 7)]); // 4
        commit_ok(&mut h, "g1-m1", m1, &[(0, 5)]); // 5: 0 or 1 open: gets 0
        commit_ok(&mut h, "g1-m1", ("g1", "m2", 1), &[(0, 5)]); // 6: other member
        commit_invoke(&mut h, "g1-m1", m1, &[(0, 8)]); // 7
        commit_fail(
            &mut h,
            "g1-m1",
            m1,
            &[(0, 8)],
            "COORDINATOR_LOAD_IN_PROGRESS",
        ); // 8
        commit_invoke(&mut h, "g1-m1", m1, &[(0, 8)]); // 9: resent
        commit_ok(&mut h, "g1-m1", m1, &[(0, 8)]); // 10: the resend's
        let pairs: Vec<_> = commit_oks(&h).iter().map(|c| (c.invoke, c.ok)).collect();
        assert_eq!(
            pairs,
            vec![(Some(2), 4), (Some(0), 5), (None, 6), (Some(9), 10)]
        );
    }

    #[test]
    fn ranges_join_consecutive_offsets_and_stop_at_the_cap() {
        assert_eq!(ranges(&[3, 4, 5, 9, 12, 13], 10), "3-5, 9, 12-13");
        assert_eq!(ranges(&[1, 3, 5, 7], 2), "1, 3, ...");
        assert_eq!(ranges(&[], 2), "");
    }
}

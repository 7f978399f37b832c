//! The invariant checker on hand-made event streams: each invariant is caught, with a
//! message that names it, and a correct stream passes.

use super::*;
use crate::raft::invariants::FinalLog;

fn hw(node: u32, epoch: u32, offset: u64) -> RaftEvent {
    RaftEvent::HighWatermark {
        node: n(node),
        epoch: e(epoch),
        offset: o(offset),
    }
}

fn appended(node: u32, base: u64, epochs: &[u32]) -> RaftEvent {
    RaftEvent::Appended {
        node: n(node),
        base: o(base),
        epochs: epochs.iter().map(|x| e(*x)).collect(),
    }
}

fn leader(node: u32, epoch: u32) -> RaftEvent {
    RaftEvent::BecameLeader {
        node: n(node),
        epoch: e(epoch),
    }
}

fn check(events: &[RaftEvent]) -> Vec<&'static str> {
    let mut invariants = RaftInvariants::new(&config(&[1, 2, 3]).voters);
    events.iter().for_each(|ev| invariants.observe(ev));
    invariants
        .violations()
        .iter()
        .map(|v| v.invariant())
        .collect()
}

#[test]
fn a_correct_stream_passes() {
    let events = [
        leader(1, 1),
        appended(1, 0, &[1, 1]),
        appended(2, 0, &[1, 1]),
        hw(1, 1, 2),
        hw(2, 1, 1),
        hw(2, 1, 2),
        appended(9, 0, &[1]),
        hw(9, 1, 1),
    ];
    assert_eq!(check(&events), Vec::<&str>::new());
}

#[test]
fn each_invariant_is_caught() {
    let cases: Vec<(&str, Vec<RaftEvent>)> = vec![
        ("SingleLeader", vec![leader(1, 3), leader(2, 3)]),
        (
            "MonotonicEpoch",
            vec![
                RaftEvent::EpochChanged {
                    node: n(2),
                    epoch: e(5),
                },
                RaftEvent::Recovered {
                    node: n(2),
                    directory: DirectoryId::INITIAL,
                    epoch: e(4),
                    epochs: vec![],
                },
            ],
        ),
        (
            "MonotonicHighWatermark",
            vec![appended(2, 0, &[1, 1]), hw(2, 1, 2), hw(2, 1, 1)],
        ),
        (
            "MajorityReachedHighWatermark",
            vec![
                leader(1, 1),
                appended(1, 0, &[1, 1]),
                appended(2, 0, &[1]),
                hw(1, 1, 2),
            ],
        ),
        (
            "ConsistentCommittedData",
            vec![
                appended(1, 0, &[1]),
                hw(1, 1, 1),
                appended(2, 0, &[2]),
                hw(2, 2, 1),
            ],
        ),
        (
            "NoTruncationBelowHighWatermark",
            vec![RaftEvent::TruncatedBelowHighWatermark {
                node: n(3),
                to: o(1),
                high_watermark: o(4),
            }],
        ),
        (
            "ObserverCommittedData",
            vec![appended(9, 0, &[1]), hw(9, 1, 1)],
        ),
        (
            "ObserverCommittedData",
            vec![
                appended(1, 0, &[1]),
                hw(1, 1, 1),
                appended(9, 0, &[2]),
                hw(9, 2, 1),
            ],
        ),
    ];
    for (name, events) in cases {
        assert_eq!(check(&events), vec![name], "{events:?}");
    }
}

#[test]
fn a_restart_resets_a_node_s_high_watermark_and_log() {
    let events = [
        appended(2, 0, &[1, 1]),
        hw(2, 1, 2),
        RaftEvent::Recovered {
            node: n(2),
            directory: DirectoryId::INITIAL,
            epoch: e(1),
            epochs: vec![e(1), e(1)],
        },
        hw(2, 1, 1),
    ];
    assert_eq!(check(&events), Vec::<&str>::new());
}

#[test]
fn the_final_check_compares_committed_entries() {
    let entry = |offset: u64, epoch: u32, value: u64| LogEntry {
        offset: o(offset),
        epoch: e(epoch),
        record: RaftRecord::Data(value),
    };
    let good = vec![entry(0, 1, 10), entry(1, 1, 11)];
    let bad = vec![entry(0, 1, 10), entry(1, 1, 99)];
    let mut invariants = RaftInvariants::new(&config(&[1, 2, 3]).voters);
    let logs = [
        FinalLog {
            node: n(1),
            high_watermark: o(2),
            entries: &good,
        },
        FinalLog {
            node: n(2),
            high_watermark: o(2),
            entries: &bad,
        },
        FinalLog {
            node: n(3),
            high_watermark: o(1),
            entries: &bad,
        },
        FinalLog {
            node: n(9),
            high_watermark: o(2),
            entries: &good,
        },
    ];
    invariants.check_final(&logs);
    let found = invariants.violations();
    assert_eq!(found.len(), 1, "{found:?}");
    let message = found[0].to_string();
    assert!(
        message.starts_with("ConsistentCommittedData: n2 holds"),
        "{message}"
    );
    assert!(message.contains("at committed offset 1"), "{message}");
}

fn recovered_on(node: u32, directory: u64, epoch: u32, epochs: &[u32]) -> RaftEvent {
    RaftEvent::Recovered {
        node: n(node),
        directory: DirectoryId(directory),
        epoch: e(epoch),
        epochs: epochs.iter().map(|x| e(*x)).collect(),
    }
}

#[test]
fn a_replaced_disk_is_a_new_replica_and_no_voter() {
    // Node 2's disk is replaced: back at epoch 0 is no MonotonicEpoch breach.
    let base = vec![
        recovered_on(2, 1, 0, &[]),
        leader(1, 3),
        appended(1, 0, &[3, 3]),
        appended(2, 0, &[3, 3]),
        hw(1, 3, 2),
        recovered_on(2, 2, 0, &[]),
    ];
    assert_eq!(check(&base), Vec::<&str>::new());
    // What the voter held when its disk went still counts: it can never vote again.
    let mut frozen = base.clone();
    frozen.extend([appended(1, 2, &[3]), hw(1, 3, 2)]);
    assert_eq!(check(&frozen), Vec::<&str>::new());
    // Its new replica's copy does not, and its high watermark is an observer's.
    let mut counted = base.clone();
    counted.extend([
        appended(1, 2, &[3]),
        appended(2, 0, &[3, 3, 3]),
        hw(1, 3, 3),
    ]);
    assert_eq!(check(&counted), vec!["MajorityReachedHighWatermark"]);
    let mut observer = base;
    observer.extend([appended(2, 0, &[3, 3, 3]), hw(2, 3, 3)]);
    assert_eq!(check(&observer), vec!["ObserverCommittedData"]);
}

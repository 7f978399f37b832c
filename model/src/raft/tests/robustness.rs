//! No input makes a node panic: arbitrary files at start, and arbitrary sequences of
//! messages (stale, forged, malformed, with extreme numbers), ticks and proposals. After
//! every step the node's disk recovers exactly its log and election state, and its high
//! watermark stays within its log.

use super::*;
use crate::raft::log::RaftLog;
use crate::raft::quorum_state::{QuorumState, QUORUM_STATE_PATH};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Message { from: u32, msg: Msg },
    Tick { advance_ms: Millis, random: u64 },
    Propose { value: u64 },
}

fn epoch() -> impl Strategy<Value = LeaderEpoch> {
    prop_oneof![8 => 0u32..6, 1 => Just(u32::MAX)].prop_map(LeaderEpoch)
}

fn offset() -> impl Strategy<Value = Offset> {
    prop_oneof![8 => 0u64..12, 1 => Just(u64::MAX)].prop_map(Offset)
}

fn node() -> impl Strategy<Value = NodeId> {
    (1u32..=4).prop_map(NodeId)
}

fn error() -> impl Strategy<Value = RaftError> {
    prop_oneof![
        Just(RaftError::FencedLeaderEpoch),
        Just(RaftError::UnknownLeaderEpoch),
        Just(RaftError::NotLeader),
        Just(RaftError::NotVoter),
    ]
}

fn entry() -> impl Strategy<Value = LogEntry<u64>> {
    (offset(), epoch(), any::<u64>()).prop_map(|(offset, epoch, value)| LogEntry {
        offset,
        epoch,
        record: RaftRecord::Data(value),
    })
}

/// Fetch results; `diverging` says whether forged divergences are among them (a forged
/// one can ask a correct node to cut below its high watermark, which debug builds assert
/// never happens).
fn fetch_result(diverging: bool) -> impl Strategy<Value = FetchResult<u64>> {
    let entries = (
        proptest::collection::vec(entry(), 0..4),
        proptest::option::of(offset()),
    )
        .prop_map(|(entries, high_watermark)| FetchResult::Entries {
            entries,
            high_watermark,
        });
    let divergence = (epoch(), offset())
        .prop_map(|(epoch, end_offset)| FetchResult::Diverging { epoch, end_offset });
    let weight = if diverging { 2 } else { 0 };
    prop_oneof![4 => entries, weight => divergence, 1 => error().prop_map(FetchResult::Error)]
}

fn message(diverging: bool) -> impl Strategy<Value = Msg> {
    prop_oneof![
        (epoch(), node(), epoch(), offset()).prop_map(
            |(candidate_epoch, candidate_id, last_epoch, last_epoch_end_offset)| {
                RaftMessage::VoteRequest {
                    candidate_epoch,
                    candidate_id,
                    candidate_directory: DirectoryId::INITIAL,
                    last_epoch,
                    last_epoch_end_offset,
                }
            }
        ),
        (
            epoch(),
            proptest::option::of(node()),
            any::<bool>(),
            proptest::option::of(error())
        )
            .prop_map(
                |(epoch, leader, vote_granted, error)| RaftMessage::VoteResponse {
                    epoch,
                    leader,
                    vote_granted,
                    error
                }
            ),
        (epoch(), node())
            .prop_map(|(epoch, leader_id)| RaftMessage::BeginQuorumEpoch { epoch, leader_id }),
        (
            epoch(),
            proptest::option::of(node()),
            proptest::option::of(error())
        )
            .prop_map(
                |(epoch, leader, error)| RaftMessage::BeginQuorumEpochResponse {
                    epoch,
                    leader,
                    error
                }
            ),
        (epoch(), offset(), epoch(), node(), 0u64..2_000, offset()).prop_map(
            |(epoch, fetch_offset, last_fetched_epoch, replica_id, max_wait_ms, high_watermark)| {
                RaftMessage::FetchRequest {
                    epoch,
                    fetch_offset,
                    last_fetched_epoch,
                    replica_id,
                    replica_directory: DirectoryId::INITIAL,
                    max_wait_ms,
                    high_watermark,
                }
            }
        ),
        (
            epoch(),
            proptest::option::of(node()),
            offset(),
            epoch(),
            fetch_result(diverging)
        )
            .prop_map(
                |(epoch, leader, fetch_offset, last_fetched_epoch, result)| {
                    RaftMessage::FetchResponse {
                        epoch,
                        leader,
                        fetch_offset,
                        last_fetched_epoch,
                        result,
                    }
                }
            ),
    ]
}

fn step(diverging: bool) -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (1u32..=4, message(diverging)).prop_map(|(from, msg)| Step::Message { from, msg }),
        2 => (prop_oneof![0u64..3_000, Just(u64::MAX / 2)], any::<u64>())
            .prop_map(|(advance_ms, random)| Step::Tick { advance_ms, random }),
        1 => any::<u64>().prop_map(|value| Step::Propose { value }),
    ]
}

/// Runs `steps` on node 2 of voters 1..=3 (elected leader of epoch 1 first, if `lead`),
/// checking after each that its disk recovers its state exactly.
fn drive(variant: RaftVariant, lead: bool, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut cfg = config(&[1, 2, 3]);
    cfg.variant = variant;
    let mut files = Files::default();
    let mut out = Vec::new();
    let mut node =
        RaftNode::<u64>::start(n(2), cfg, Vec::new(), DirectoryId::INITIAL, 0, &mut out).unwrap();
    files.apply(&out);
    let mut now: Millis = 0;
    if lead {
        let mut out = Vec::new();
        now = node.next_deadline();
        node.tick(now, 0, &mut out);
        let grant = RaftMessage::VoteResponse {
            epoch: e(1),
            leader: None,
            vote_granted: true,
            error: None,
        };
        node.handle(n(1), grant, now, &mut out);
        files.apply(&out);
        prop_assert!(node.is_leader());
    }
    for step in steps {
        let mut out = Vec::new();
        let epoch_before = node.epoch();
        match step {
            Step::Message { from, msg } => node.handle(n(from), msg, now, &mut out),
            Step::Tick { advance_ms, random } => {
                now = now.saturating_add(advance_ms);
                node.tick(now, random, &mut out);
            }
            Step::Propose { value } => {
                let _ = node.propose(value, now, &mut out);
            }
        }
        files.apply(&out);
        prop_assert!(node.epoch() >= epoch_before);
        prop_assert!(node.high_watermark() <= node.log_end());
        let (log, _) = RaftLog::<u64>::recover(files.0.get(log::LOG_PATH).map_or(&[][..], |b| b));
        prop_assert_eq!(log.entries(), node.entries(Offset(0), node.log_end()));
        let quorum_bytes = files.0.get(QUORUM_STATE_PATH).map_or(&[][..], |b| b);
        let (quorum, _) = QuorumState::recover(quorum_bytes);
        prop_assert_eq!(
            (quorum.epoch, quorum.voted_for),
            (node.epoch(), node.voted_for())
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn start_never_panics_on_arbitrary_files(
        log_bytes in proptest::collection::vec(any::<u8>(), 0..300),
        quorum_bytes in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let files = vec![(log::LOG_PATH.to_string(), log_bytes), (QUORUM_STATE_PATH.to_string(), quorum_bytes)];
        let node = RaftNode::<u64>::start(n(2), config(&[1, 2, 3]), files, DirectoryId::INITIAL, 0, &mut Vec::new()).unwrap();
        prop_assert!(node.log_end() <= Offset(300));
    }

    #[test]
    fn no_message_sequence_makes_a_correct_node_panic(
        lead in any::<bool>(),
        steps in proptest::collection::vec(step(false), 1..60),
    ) {
        drive(RaftVariant::Correct, lead, steps)?;
    }

    #[test]
    fn no_message_sequence_with_forged_divergences_makes_a_node_panic(
        steps in proptest::collection::vec(step(true), 1..60),
    ) {
        // The follower's path is the same in every variant; this one skips the debug
        // assertion that a correct quorum never asks to cut committed entries.
        drive(RaftVariant::CountVoteTwice, false, steps)?;
    }
}

//! Tests of the quorum controller: single-voter behaviour towards brokers, recovery, and a
//! three-voter quorum driven over a lossless in-test network.

use super::*;
use crate::config::TopicConfig;
use crate::effect::DiskOp;
use crate::ids::TopicPartition;
use crate::raft::RaftMessage;

type Files = Vec<(String, Vec<u8>)>;

fn config() -> ControllerConfig {
    ControllerConfig {
        session_timeout_ms: 1_000,
        ..ControllerConfig::default()
    }
}

fn layout() -> ClusterLayout {
    let topic = TopicConfig {
        name: "t".into(),
        partitions: 1,
        replication_factor: 3,
    };
    ClusterLayout::new(3, vec![topic])
}

const C1: NodeId = NodeId(90);

fn start(me: NodeId, voters: &[NodeId], files: Files, out: &mut Vec<Output>) -> QuorumController {
    let raft = config().raft_config(voters.to_vec());
    QuorumController::start(
        me,
        config(),
        raft,
        &layout(),
        files,
        DirectoryId::INITIAL,
        0,
        out,
    )
    .unwrap()
}

fn beat(node: &mut QuorumController, now: Millis, broker: u32, offset: u64, out: &mut Vec<Output>) {
    let message = Message::BrokerHeartbeatRequest {
        broker: BrokerId(broker),
        incarnation: 1,
        metadata_offset: offset,
    };
    node.on_message(now, NodeId(broker), message, out);
}

/// The files a node's disk holds after `out`'s operations (fsynced or not).
fn disk(files: &mut Files, out: &[Output]) {
    for output in out {
        let Output::Disk(op) = output else { continue };
        match op {
            DiskOp::Append { path, bytes } => match files.iter_mut().find(|(p, _)| p == path) {
                Some((_, data)) => data.extend_from_slice(bytes),
                None => files.push((path.clone(), bytes.clone())),
            },
            DiskOp::Truncate { path, len } => {
                if let Some((_, data)) = files.iter_mut().find(|(p, _)| p == path) {
                    data.truncate(*len as usize);
                }
            }
            DiskOp::Delete { path } => files.retain(|(p, _)| p != path),
            DiskOp::Fsync { .. } => {}
        }
    }
}

fn committed_indexes(out: &[Output]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            Output::Metadata { index, .. } => Some(*index),
            _ => None,
        })
        .collect()
}

#[test]
fn a_single_controller_leads_at_once_and_creates_partitions_once_every_broker_heartbeats() {
    let mut out = Vec::new();
    let mut node = start(C1, &[C1], Vec::new(), &mut out);
    assert!(node.is_active(), "a single voter is its own majority");
    for broker in 1..=3 {
        beat(&mut node, broker as u64 * 10, broker, 0, &mut out);
    }
    let tp = TopicPartition::new("t", 0);
    assert!(node.image().unwrap().partitions.contains_key(&tp));
    // Every record committed once, reported in order; brokers get only heartbeat answers
    // (they fetch the records themselves).
    let indexes = committed_indexes(&out);
    assert_eq!(indexes, (0..node.committed_records()).collect::<Vec<_>>());
    let to_brokers: Vec<&Message> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send { to, message } if to.0 <= 3 => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(to_brokers, vec![&Message::BrokerHeartbeatResponse; 3]);
}

/// A broker's fetch of the metadata log, as an observer that has `fetch_offset` entries.
fn observer_fetch(broker: u32, fetch_offset: u64, max_wait_ms: Millis) -> Message {
    Message::Raft(RaftMessage::FetchRequest {
        epoch: LeaderEpoch(1),
        fetch_offset: Offset(fetch_offset),
        last_fetched_epoch: LeaderEpoch(u32::from(fetch_offset > 0)),
        replica_id: NodeId(broker),
        replica_directory: DirectoryId::INITIAL,
        max_wait_ms,
        high_watermark: Offset(fetch_offset),
    })
}

#[test]
fn a_broker_fetches_the_committed_log_and_a_caught_up_fetch_waits_for_the_next_commit() {
    let mut out = Vec::new();
    let mut node = start(C1, &[C1], Vec::new(), &mut out);
    for broker in 1..=2 {
        beat(&mut node, broker as u64 * 10, broker, 0, &mut out);
    }
    let end = node.raft.log_end();
    let answers = |out: &[Output]| -> Vec<(usize, Option<Offset>)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send {
                    message:
                        Message::Raft(RaftMessage::FetchResponse {
                            result:
                                crate::raft::FetchResult::Entries {
                                    entries,
                                    high_watermark,
                                },
                            ..
                        }),
                    ..
                } => Some((entries.len(), *high_watermark)),
                _ => None,
            })
            .collect()
    };
    out.clear();
    node.on_message(50, NodeId(1), observer_fetch(1, 0, 500), &mut out);
    assert_eq!(answers(&out), vec![(end.0 as usize, Some(end))]);
    out.clear();
    node.on_message(60, NodeId(1), observer_fetch(1, end.0, 500), &mut out);
    assert_eq!(answers(&out), vec![], "nothing new: held");
    // Broker 3's first heartbeat registers it: a commit, and the held fetch's answer.
    beat(&mut node, 70, 3, 0, &mut out);
    let grown = node.raft.log_end();
    assert!(grown > end);
    assert_eq!(
        answers(&out),
        vec![((grown.0 - end.0) as usize, Some(grown))]
    );
}

#[test]
fn a_restarted_controller_recovers_the_committed_log_from_its_disk() {
    let mut out = Vec::new();
    let mut node = start(C1, &[C1], Vec::new(), &mut out);
    for broker in 1..=3 {
        beat(&mut node, broker as u64 * 10, broker, 0, &mut out);
    }
    let committed = node.committed_records();
    let mut files = Vec::new();
    disk(&mut files, &out);
    let mut again = Vec::new();
    let node = start(C1, &[C1], files, &mut again);
    assert_eq!(node.committed_records(), committed);
    assert!(node
        .image()
        .unwrap()
        .partitions
        .contains_key(&TopicPartition::new("t", 0)));
}

/// Three controllers on a lossless network: delivers every Raft message until quiet,
/// collecting what is sent to anyone else.
fn settle(
    nodes: &mut [QuorumController],
    now: Millis,
    mut pending: Vec<(NodeId, Output)>,
) -> Vec<(NodeId, Output)> {
    let mut elsewhere = Vec::new();
    while let Some((from, output)) = pending.pop() {
        match output {
            Output::Send { to, message } => match nodes.iter_mut().find(|n| n.raft.id() == to) {
                Some(node) => {
                    let mut out = Vec::new();
                    node.on_message(now, from, message, &mut out);
                    pending.extend(out.into_iter().map(|o| (to, o)));
                }
                None => elsewhere.push((from, Output::Send { to, message })),
            },
            other => elsewhere.push((from, other)),
        }
    }
    elsewhere
}

#[test]
fn in_a_quorum_only_the_active_controller_serves_brokers_and_alter_partition_waits_for_commit() {
    let voters = [NodeId(90), NodeId(91), NodeId(92)];
    let mut pending = Vec::new();
    let mut nodes: Vec<QuorumController> = voters
        .iter()
        .map(|&me| {
            let mut out = Vec::new();
            let node = start(me, &voters, Vec::new(), &mut out);
            pending.extend(out.into_iter().map(|o| (me, o)));
            node
        })
        .collect();
    settle(&mut nodes, 0, pending);
    // The first to time out stands and wins.
    let mut out = Vec::new();
    let deadline = nodes[0].next_deadline().unwrap();
    nodes[0].tick(deadline, 0, &mut out);
    let now = deadline + 1;
    settle(
        &mut nodes,
        now,
        out.into_iter().map(|o| (voters[0], o)).collect(),
    );
    assert!(nodes[0].is_active() && !nodes[1].is_active() && !nodes[2].is_active());

    let mut out = Vec::new();
    beat(&mut nodes[1], now, 1, 0, &mut out);
    assert_eq!(
        out,
        vec![Output::Send {
            to: NodeId(1),
            message: Message::NotController {
                leader: Some(voters[0])
            }
        }]
    );

    let mut out = Vec::new();
    for broker in 1..=3 {
        beat(&mut nodes[0], now, broker, 0, &mut out);
    }
    let sent = settle(
        &mut nodes,
        now,
        out.into_iter().map(|o| (voters[0], o)).collect(),
    );
    let tp = TopicPartition::new("t", 0);
    let registration = nodes[0].image().unwrap().partitions[&tp].clone();
    // The leader asks to shrink the ISR. Its answer leaves only once the followers have
    // fetched the change: here, as soon as Raft's messages are delivered.
    let request = Message::AlterPartitionRequest {
        correlation_id: 7,
        broker: registration.leader.unwrap(),
        tp: tp.clone(),
        leader_epoch: registration.leader_epoch,
        partition_epoch: registration.partition_epoch,
        new_isr: registration.isr[..2].to_vec(),
    };
    let mut out = Vec::new();
    let leader_node = registration.leader.unwrap().node();
    nodes[0].on_message(now, leader_node, request, &mut out);
    let answered = |outputs: &[Output]| {
        outputs.iter().any(|o| {
            matches!(
                o,
                Output::Send {
                    message: Message::AlterPartitionResponse {
                        correlation_id: 7,
                        ..
                    },
                    ..
                }
            )
        })
    };
    assert!(!answered(&out), "not before the quorum commits the change");
    let mut outputs: Vec<Output> = settle(
        &mut nodes,
        now,
        out.into_iter().map(|o| (voters[0], o)).collect(),
    )
    .into_iter()
    .map(|(_, o)| o)
    .collect();
    assert!(!answered(&outputs), "followers fetch on their own timers");
    // Followers pull: a few fetch intervals later the change is committed and answered.
    let mut now = now;
    for _ in 0..10 {
        now += 50;
        for i in 0..nodes.len() {
            if nodes[i].next_deadline().is_some_and(|d| d <= now) {
                let mut out = Vec::new();
                nodes[i].tick(now, 0, &mut out);
                let from = voters[i];
                outputs.extend(
                    settle(
                        &mut nodes,
                        now,
                        out.into_iter().map(|o| (from, o)).collect(),
                    )
                    .into_iter()
                    .map(|(_, o)| o),
                );
            }
        }
    }
    assert!(
        answered(&outputs),
        "once committed: {} outputs before",
        sent.len()
    );
    // Every controller knows the same committed records.
    let committed: Vec<u64> = nodes
        .iter()
        .map(QuorumController::committed_records)
        .collect();
    assert!(
        committed.iter().all(|c| *c == committed[0]),
        "{committed:?}"
    );
}

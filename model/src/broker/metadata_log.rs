//! The broker's copy of the cluster metadata log: a Raft observer of the controller quorum
//! (KIP-595's "brokers are observers that fetch the committed metadata log"). It fetches
//! from the quorum's leader, long-polled so that an idle broker does not poll many times a
//! second, keeps the log on its own disk like Kafka's `__cluster_metadata`, and the broker
//! applies an entry only once it is below the high watermark: a broker never acts on a
//! record the quorum might still lose.

use super::Broker;
use crate::effect::Output;
use crate::ids::{BrokerId, Millis, NodeId};
use crate::metadata::MetadataRecord;
use crate::protocol::Message;
use crate::raft::{DirectoryId, RaftConfig, RaftMessage, RaftNode, RaftOutput};

/// The observer's Raft settings: Kafka's defaults towards `controllers`, its fetches held
/// at the leader for up to `fetch_max_wait_ms` (`[broker] metadata_fetch_max_wait_ms`).
pub fn observer_config(controllers: &[NodeId], fetch_max_wait_ms: Millis) -> RaftConfig {
    let defaults = RaftConfig::new(controllers.to_vec());
    // An observer gives up on a leader only after a held fetch had time to come back.
    let fetch_timeout_ms = defaults
        .fetch_timeout_ms
        .max(defaults.request_timeout_ms + fetch_max_wait_ms + defaults.fetch_timeout_ms);
    RaftConfig {
        fetch_max_wait_ms,
        fetch_timeout_ms,
        ..defaults
    }
}

/// Starts broker `id`'s observer from the Raft files of its disk (an empty disk is
/// formatted with a directory id of this incarnation).
pub fn start_observer(
    id: BrokerId,
    incarnation: u32,
    controllers: &[NodeId],
    fetch_max_wait_ms: Millis,
    files: Vec<(String, Vec<u8>)>,
    now: Millis,
    out: &mut Vec<Output>,
) -> RaftNode<MetadataRecord> {
    let mut raft_out = Vec::new();
    let directory = DirectoryId::for_incarnation(incarnation);
    let config = observer_config(controllers, fetch_max_wait_ms);
    let node = RaftNode::start(id.node(), config, files, directory, now, &mut raft_out)
        .expect("the harness names at least one controller, each once");
    out.extend(raft_out.into_iter().map(carry));
    node
}

/// A Raft output as the broker's own.
fn carry(output: RaftOutput<MetadataRecord>) -> Output {
    match output {
        RaftOutput::Send { to, msg } => Output::Send {
            to,
            message: Message::Raft(msg),
        },
        RaftOutput::Disk(op) => Output::Disk(op),
        RaftOutput::Event(event) => Output::Raft(event),
        RaftOutput::Note(note) => Output::Note(note),
        RaftOutput::Reached(path) => Output::Reached(path),
    }
}

impl Broker {
    /// A Raft message from a controller (a fetch answer, or a new leader's news).
    pub(super) fn on_metadata_message(
        &mut self,
        now: Millis,
        from: NodeId,
        msg: RaftMessage<MetadataRecord>,
        out: &mut Vec<Output>,
    ) {
        let mut raft_out = Vec::new();
        self.metadata_log.handle(from, msg, now, &mut raft_out);
        out.extend(raft_out.into_iter().map(carry));
        self.apply_committed_metadata(now, out);
    }

    /// The observer's timers: fetch resends, and looking for the leader.
    pub(super) fn tick_metadata_log(&mut self, now: Millis, out: &mut Vec<Output>) {
        if now < self.metadata_log.next_deadline() {
            return;
        }
        // Only an observer that knows no leader uses the number: to pick which voter to
        // ask. Counting through them is as good as a random pick, and needs no seed.
        self.metadata_discoveries += 1;
        let mut raft_out = Vec::new();
        let pick = self.metadata_discoveries;
        self.metadata_log.tick(now, pick, &mut raft_out);
        out.extend(raft_out.into_iter().map(carry));
        self.apply_committed_metadata(now, out);
    }

    /// Applies the committed records this broker has not applied yet.
    fn apply_committed_metadata(&mut self, now: Millis, out: &mut Vec<Output>) {
        let applied = self.image.applied;
        let new: Vec<MetadataRecord> = self
            .metadata_log
            .committed_data()
            .skip(applied as usize)
            .map(|(_, record)| record.clone())
            .collect();
        if !new.is_empty() {
            self.apply_metadata(now, applied, new, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BrokerConfig, TopicConfig};
    use crate::ids::{LeaderEpoch, Offset};
    use crate::layout::ClusterLayout;
    use crate::raft::{FetchResult, LogEntry, RaftRecord};

    const CONTROLLER: NodeId = NodeId(90);

    fn start(files: Vec<(String, Vec<u8>)>, out: &mut Vec<Output>) -> Broker {
        let topics = vec![TopicConfig {
            name: "t".into(),
            partitions: 1,
            replication_factor: 1,
        }];
        let layout = ClusterLayout::new(1, topics);
        let config = BrokerConfig::default();
        Broker::start(
            BrokerId(1),
            1,
            config,
            &layout,
            &[CONTROLLER],
            files,
            0,
            out,
        )
        .0
    }

    fn register(broker: u32) -> MetadataRecord {
        MetadataRecord::RegisterBroker {
            broker: BrokerId(broker),
            incarnation: 1,
        }
    }

    /// The leader's answer to a fetch from `base`: `records` from there, and `hw`.
    fn answer(base: u64, records: &[MetadataRecord], hw: u64) -> Message {
        let entries = (base..)
            .zip(records)
            .map(|(offset, record)| LogEntry {
                offset: Offset(offset),
                epoch: LeaderEpoch(1),
                record: RaftRecord::Data(record.clone()),
            })
            .collect();
        Message::Raft(RaftMessage::FetchResponse {
            epoch: LeaderEpoch(1),
            leader: Some(CONTROLLER),
            fetch_offset: Offset(base),
            last_fetched_epoch: LeaderEpoch(u32::from(base > 0)),
            result: FetchResult::Entries {
                entries,
                high_watermark: Some(Offset(hw)),
            },
        })
    }

    fn applied(out: &[Output]) -> Vec<u64> {
        out.iter()
            .filter_map(|o| match o {
                Output::Metadata { index, .. } => Some(*index),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_broker_asks_a_controller_for_the_leader_with_a_long_poll() {
        let mut out = Vec::new();
        let mut broker = start(Vec::new(), &mut out);
        out.clear();
        broker.tick(broker.next_deadline().unwrap(), &mut out);
        let fetches: Vec<(NodeId, Millis)> = out
            .iter()
            .filter_map(|o| match o {
                Output::Send {
                    to,
                    message: Message::Raft(RaftMessage::FetchRequest { max_wait_ms, .. }),
                } => Some((*to, *max_wait_ms)),
                _ => None,
            })
            .collect();
        assert_eq!(
            fetches,
            vec![(
                CONTROLLER,
                BrokerConfig::default().metadata_fetch_max_wait_ms
            )]
        );
    }

    #[test]
    fn a_broker_applies_only_what_the_high_watermark_covers_and_relearns_it_after_a_restart() {
        let mut out = Vec::new();
        let mut broker = start(Vec::new(), &mut out);
        let records = [register(1), register(2), register(3)];
        out.clear();
        broker.on_message(10, CONTROLLER, answer(0, &records, 1), &mut out);
        assert_eq!(applied(&out), vec![0], "one of three entries is committed");
        assert_eq!(broker.image.applied, 1);
        out.clear();
        broker.on_message(20, CONTROLLER, answer(3, &[], 3), &mut out);
        assert_eq!(applied(&out), vec![1, 2]);

        // The log survives on disk; what is committed is learned again from the leader.
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut all = Vec::new();
        let mut fresh = start(Vec::new(), &mut all);
        fresh.on_message(10, CONTROLLER, answer(0, &records, 3), &mut all);
        for op in all.iter().filter_map(|o| match o {
            Output::Disk(op) => Some(op),
            _ => None,
        }) {
            if let crate::effect::DiskOp::Append { path, bytes } = op {
                match files.iter_mut().find(|(p, _)| p == path) {
                    Some((_, data)) => data.extend_from_slice(bytes),
                    None => files.push((path.clone(), bytes.clone())),
                }
            }
        }
        let mut out = Vec::new();
        let mut restarted = start(files, &mut out);
        assert_eq!(restarted.metadata_log.log_end(), Offset(3));
        assert_eq!(
            applied(&out),
            Vec::<u64>::new(),
            "not before the leader says"
        );
        restarted.on_message(30, CONTROLLER, answer(3, &[], 3), &mut out);
        assert_eq!(applied(&out), vec![0, 1, 2]);
    }
}

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

/// How long a broker's metadata fetch may wait at the quorum leader for a commit
/// (Kafka's fetch `MaxWaitMs`, 500 ms by default).
pub const METADATA_FETCH_MAX_WAIT_MS: Millis = 500;

/// The observer's Raft settings: Kafka's defaults towards `controllers`.
pub fn observer_config(controllers: &[NodeId]) -> RaftConfig {
    RaftConfig {
        fetch_max_wait_ms: METADATA_FETCH_MAX_WAIT_MS,
        ..RaftConfig::new(controllers.to_vec())
    }
}

/// Starts broker `id`'s observer from the Raft files of its disk (an empty disk is
/// formatted with a directory id of this incarnation).
pub fn start_observer(
    id: BrokerId,
    incarnation: u32,
    controllers: &[NodeId],
    files: Vec<(String, Vec<u8>)>,
    now: Millis,
    out: &mut Vec<Output>,
) -> RaftNode<MetadataRecord> {
    let mut raft_out = Vec::new();
    let directory = DirectoryId::for_incarnation(incarnation);
    let config = observer_config(controllers);
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

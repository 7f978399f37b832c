//! The controller as a network node: it keeps the metadata log on its disk (one JSON record
//! per line, fsynced before anything acts on it), recovers it after a crash, creates the
//! layout's partitions once the brokers are up, and carries the pure [`Controller`]'s
//! decisions to the brokers: pushed as they are written, and resent from wherever a
//! broker's heartbeat says it stopped.

use crate::controller::{Controller, ControllerConfig};
use crate::effect::{DiskOp, Output};
use crate::ids::{BrokerId, Millis, NodeId};
use crate::layout::ClusterLayout;
use crate::metadata::{MetadataImage, MetadataRecord};
use crate::protocol::Message;
use std::collections::BTreeSet;

/// Where the metadata log lives on the controller's disk.
pub const METADATA_LOG_PATH: &str = "metadata/log";

/// How long a fresh controller waits for every broker of the layout before it creates the
/// partitions anyway. Creating them while brokers are still starting would leave those out
/// of the first ISRs and leaderships; waiting forever would let one dead broker keep the
/// cluster from ever serving. A little over one heartbeat interval (2 s) gives every live
/// broker a chance to register.
const STARTUP_GRACE_MS: Millis = 3_000;

/// The controller node's state machine.
#[derive(Clone, Debug)]
pub struct ControllerServer {
    controller: Controller,
    layout: ClusterLayout,
    creation_deadline_ms: Millis,
    partitions_created: bool,
    /// Brokers that heartbeated this incarnation: a recovered log names brokers that may
    /// have died meanwhile, so only these count towards "every broker is up".
    heard_from: BTreeSet<BrokerId>,
}

impl ControllerServer {
    /// Starts from whatever the disk holds (`files`: path and bytes, as the process sees
    /// them after a crash). The first torn or unparsable line ends the metadata log.
    pub fn start(
        config: ControllerConfig,
        layout: &ClusterLayout,
        files: Vec<(String, Vec<u8>)>,
        now: Millis,
        out: &mut Vec<Output>,
    ) -> ControllerServer {
        let bytes = files
            .into_iter()
            .find(|(path, _)| path == METADATA_LOG_PATH)
            .map(|(_, bytes)| bytes)
            .unwrap_or_default();
        let (records, valid_len) = parse_log(&bytes);
        if valid_len < bytes.len() {
            out.push(Output::Disk(DiskOp::Truncate {
                path: METADATA_LOG_PATH.to_string(),
                len: valid_len as u64,
            }));
            out.push(Output::Note(format!(
                "metadata log: cut {} bytes of a torn or unparsable line after record {}",
                bytes.len() - valid_len,
                records.len()
            )));
        }
        let controller = if records.is_empty() {
            Controller::new(config)
        } else {
            Controller::from_log(config, records, now)
        };
        let partitions_created = layout
            .partitions()
            .all(|tp| controller.image().partitions.contains_key(&tp));
        ControllerServer {
            controller,
            layout: layout.clone(),
            creation_deadline_ms: now + STARTUP_GRACE_MS,
            partitions_created,
            heard_from: BTreeSet::new(),
        }
    }

    pub fn image(&self) -> &MetadataImage {
        self.controller.image()
    }

    pub fn log_len(&self) -> u64 {
        self.controller.log().len() as u64
    }

    /// When `tick` next has something to do: a session expiry, or creating the partitions.
    pub fn next_deadline(&self) -> Option<Millis> {
        let creation = (!self.partitions_created).then_some(self.creation_deadline_ms);
        [self.controller.next_deadline(), creation]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn tick(&mut self, now: Millis, out: &mut Vec<Output>) {
        let first_new = self.controller.log().len();
        self.controller.tick(now);
        self.create_partitions_if_due(now);
        self.publish(first_new, out);
    }

    pub fn on_message(
        &mut self,
        now: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        let first_new = self.controller.log().len();
        match message {
            Message::BrokerHeartbeatRequest {
                broker,
                incarnation,
                metadata_offset,
            } => {
                self.controller.heartbeat(now, broker, incarnation);
                self.heard_from.insert(broker);
                self.create_partitions_if_due(now);
                self.publish(first_new, out);
                // The catch-up path: a broker whose pushes were lost, or that restarted
                // with an empty image, gets everything past what it has applied.
                let first_index = metadata_offset.min(self.log_len());
                out.push(Output::Send {
                    to: from,
                    message: Message::MetadataUpdate {
                        first_index,
                        records: self.controller.log()[first_index as usize..].to_vec(),
                    },
                });
            }
            Message::AlterPartitionRequest {
                correlation_id,
                broker,
                tp,
                leader_epoch,
                partition_epoch,
                new_isr,
            } => {
                let result = self
                    .controller
                    .alter_partition(broker, &tp, leader_epoch, partition_epoch, new_isr)
                    .map(|partition_epoch| {
                        (self.image().partitions[&tp].isr.clone(), partition_epoch)
                    });
                if let Err(error) = &result {
                    out.push(Output::Note(format!(
                        "refuse AlterPartition {tp} from {broker}: {error}"
                    )));
                }
                self.publish(first_new, out);
                out.push(Output::Send {
                    to: from,
                    message: Message::AlterPartitionResponse {
                        correlation_id,
                        tp,
                        result,
                    },
                });
            }
            // Anything else is misdirected or stale: the sender's timeout deals with it.
            _ => {}
        }
    }

    /// Creates the layout's partitions once every layout broker is up, or at the deadline.
    fn create_partitions_if_due(&mut self, now: Millis) {
        if self.partitions_created {
            return;
        }
        let image = self.controller.image();
        let all_up = self
            .layout
            .brokers
            .iter()
            .all(|b| self.heard_from.contains(b) && image.is_live(*b));
        if all_up || now >= self.creation_deadline_ms {
            self.controller.create_partitions(self.layout.assignments());
            self.partitions_created = true;
        }
    }

    /// Writes the records from `first_new` on to disk and fsyncs them (KRaft acts on a
    /// record only once it is durable), then announces them and pushes them to every
    /// live broker.
    fn publish(&self, first_new: usize, out: &mut Vec<Output>) {
        let new = &self.controller.log()[first_new..];
        if new.is_empty() {
            return;
        }
        for record in new {
            let mut line = serde_json::to_vec(record).expect("a metadata record serializes");
            line.push(b'\n');
            out.push(Output::Disk(DiskOp::Append {
                path: METADATA_LOG_PATH.to_string(),
                bytes: line,
            }));
        }
        out.push(Output::Disk(DiskOp::Fsync {
            path: METADATA_LOG_PATH.to_string(),
        }));
        for (index, record) in (first_new..).zip(new) {
            out.push(Output::Metadata(record.clone()));
            out.push(Output::Note(format!(
                "metadata {index}: {}",
                describe(record)
            )));
        }
        let live = self.image().brokers.iter().filter(|(_, b)| !b.fenced);
        for (broker, _) in live {
            out.push(Output::Send {
                to: broker.node(),
                message: Message::MetadataUpdate {
                    first_index: first_new as u64,
                    records: new.to_vec(),
                },
            });
        }
    }
}

/// The records of the valid prefix of a metadata log file, and its length in bytes: it
/// ends before the first line that is not newline-terminated or does not parse.
fn parse_log(bytes: &[u8]) -> (Vec<MetadataRecord>, usize) {
    let mut records = Vec::new();
    let mut valid_len = 0;
    while let Some(line_len) = bytes[valid_len..].iter().position(|&b| b == b'\n') {
        let line = &bytes[valid_len..valid_len + line_len];
        let Ok(record) = serde_json::from_slice(line) else {
            break;
        };
        records.push(record);
        valid_len += line_len + 1;
    }
    (records, valid_len)
}

/// One record, for the trace.
fn describe(record: &MetadataRecord) -> String {
    let list = crate::ids::broker_list;
    match record {
        MetadataRecord::RegisterBroker {
            broker,
            incarnation,
        } => format!("register {broker} incarnation {incarnation}"),
        MetadataRecord::FenceBroker { broker } => format!("fence {broker}"),
        MetadataRecord::UnfenceBroker { broker } => format!("unfence {broker}"),
        MetadataRecord::CreatePartition { tp, replicas } => {
            format!("create {tp} replicas {}", list(replicas))
        }
        MetadataRecord::PartitionChange {
            tp,
            leader,
            isr,
            leader_epoch,
            ..
        } => {
            let leader = leader.map_or("none".to_string(), |l| l.to_string());
            format!(
                "{tp} leader {leader} epoch {} isr {}",
                leader_epoch.0,
                list(isr)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TopicConfig;
    use crate::controller::AlterPartitionError;
    use crate::ids::{LeaderEpoch, TopicPartition};

    type Files = Vec<(String, Vec<u8>)>;

    fn config() -> ControllerConfig {
        ControllerConfig {
            session_timeout_ms: 1_000,
            unclean_leader_election: false,
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

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }

    fn b(ids: &[u32]) -> Vec<BrokerId> {
        ids.iter().copied().map(BrokerId).collect()
    }

    /// Carries out the disk operations of `out` on the controller's one file.
    fn apply(files: &mut Files, out: &[Output]) {
        if files.is_empty() {
            files.push((METADATA_LOG_PATH.into(), Vec::new()));
        }
        for output in out {
            match output {
                Output::Disk(DiskOp::Append { bytes, .. }) => files[0].1.extend_from_slice(bytes),
                Output::Disk(DiskOp::Truncate { len, .. }) => files[0].1.truncate(*len as usize),
                _ => {}
            }
        }
    }

    /// Broker `broker` (incarnation 1) heartbeats, having applied `metadata_offset` records.
    fn beat(
        server: &mut ControllerServer,
        now: Millis,
        broker: u32,
        metadata_offset: u64,
        out: &mut Vec<Output>,
    ) {
        let message = Message::BrokerHeartbeatRequest {
            broker: BrokerId(broker),
            incarnation: 1,
            metadata_offset,
        };
        server.on_message(now, NodeId(broker), message, out);
    }

    fn line(record: &MetadataRecord) -> Output {
        let mut bytes = serde_json::to_vec(record).unwrap();
        bytes.push(b'\n');
        Output::Disk(DiskOp::Append {
            path: METADATA_LOG_PATH.into(),
            bytes,
        })
    }

    fn fsync() -> Output {
        Output::Disk(DiskOp::Fsync {
            path: METADATA_LOG_PATH.into(),
        })
    }

    fn update(to: u32, first_index: u64, records: &[MetadataRecord]) -> Output {
        Output::Send {
            to: NodeId(to),
            message: Message::MetadataUpdate {
                first_index,
                records: records.to_vec(),
            },
        }
    }

    fn change(leader: u32, epoch: u32, isr: &[u32], partition_epoch: u32) -> MetadataRecord {
        MetadataRecord::PartitionChange {
            tp: tp(),
            leader: Some(BrokerId(leader)),
            isr: b(isr),
            leader_epoch: LeaderEpoch(epoch),
            partition_epoch,
        }
    }

    /// A fresh controller whose three brokers heartbeated at 10, 20 and 30 ms; its disk.
    fn running() -> (ControllerServer, Files) {
        let mut out = Vec::new();
        let mut server = ControllerServer::start(config(), &layout(), Vec::new(), 0, &mut out);
        for broker in 1..=3 {
            beat(&mut server, broker as u64 * 10, broker, 0, &mut out);
        }
        let mut files = Vec::new();
        apply(&mut files, &out);
        (server, files)
    }

    #[test]
    fn partitions_are_created_once_every_layout_broker_heartbeats_and_pushed_to_them() {
        let mut out = Vec::new();
        let mut server = ControllerServer::start(config(), &layout(), Vec::new(), 0, &mut out);
        assert_eq!(out, vec![]);
        assert_eq!(server.next_deadline(), Some(STARTUP_GRACE_MS));
        for broker in 1..=2 {
            beat(&mut server, broker as u64 * 10, broker, 0, &mut out);
        }
        assert!(server.image().partitions.is_empty(), "b3 is not up yet");
        out.clear();
        beat(&mut server, 30, 3, 0, &mut out);
        let new = vec![
            MetadataRecord::RegisterBroker {
                broker: BrokerId(3),
                incarnation: 1,
            },
            MetadataRecord::UnfenceBroker {
                broker: BrokerId(3),
            },
            MetadataRecord::CreatePartition {
                tp: tp(),
                replicas: b(&[1, 2, 3]),
            },
            change(1, 1, &[1, 2, 3], 1),
        ];
        let notes = [
            "metadata 4: register b3 incarnation 1",
            "metadata 5: unfence b3",
            "metadata 6: create t-0 replicas [b1, b2, b3]",
            "metadata 7: t-0 leader b1 epoch 1 isr [b1, b2, b3]",
        ];
        let mut expected: Vec<Output> = new.iter().map(line).collect();
        expected.push(fsync());
        for (record, note) in new.iter().zip(notes) {
            expected.push(Output::Metadata(record.clone()));
            expected.push(Output::Note(note.to_string()));
        }
        for broker in 1..=3 {
            expected.push(update(broker, 4, &new));
        }
        let all = server.controller.log().to_vec();
        expected.push(update(3, 0, &all));
        assert_eq!(out, expected);
        assert_eq!(server.next_deadline(), Some(1_010), "sessions only");
    }

    #[test]
    fn partitions_are_created_without_a_silent_broker_after_the_grace_period() {
        let mut out = Vec::new();
        let mut server = ControllerServer::start(config(), &layout(), Vec::new(), 100, &mut out);
        beat(&mut server, 2_500, 2, 0, &mut out);
        server.tick(STARTUP_GRACE_MS + 99, &mut out);
        assert!(server.image().partitions.is_empty());
        assert_eq!(server.next_deadline(), Some(STARTUP_GRACE_MS + 100));
        out.clear();
        server.tick(STARTUP_GRACE_MS + 100, &mut out);
        let created = &server.image().partitions[&tp()];
        assert_eq!(created.leader, Some(BrokerId(2)));
        assert_eq!(created.isr, b(&[2]));
        assert!(out.contains(&update(2, 2, &server.controller.log()[2..])));
    }

    #[test]
    fn a_heartbeat_with_an_old_metadata_offset_gets_the_missing_suffix() {
        let (mut server, _) = running();
        let log = server.controller.log().to_vec();
        let mut out = Vec::new();
        beat(&mut server, 500, 2, 5, &mut out);
        assert_eq!(out, vec![update(2, 5, &log[5..])]);
        out.clear();
        beat(&mut server, 600, 2, 99, &mut out);
        assert_eq!(out, vec![update(2, 8, &[])], "past the end");
    }

    #[test]
    fn a_silent_broker_is_fenced_at_tick_and_its_leaderships_move() {
        let (mut server, _) = running();
        let mut out = Vec::new();
        for broker in 2..=3 {
            beat(&mut server, 900, broker, 8, &mut out);
        }
        out.clear();
        assert_eq!(server.next_deadline(), Some(1_010));
        server.tick(1_010, &mut out);
        let new = vec![
            MetadataRecord::FenceBroker {
                broker: BrokerId(1),
            },
            change(2, 2, &[2, 3], 2),
        ];
        let expected = vec![
            line(&new[0]),
            line(&new[1]),
            fsync(),
            Output::Metadata(new[0].clone()),
            Output::Note("metadata 8: fence b1".into()),
            Output::Metadata(new[1].clone()),
            Output::Note("metadata 9: t-0 leader b2 epoch 2 isr [b2, b3]".into()),
            update(2, 8, &new),
            update(3, 8, &new),
        ];
        assert_eq!(out, expected, "the fenced b1 is not pushed to");
    }

    #[test]
    fn alter_partition_with_a_stale_partition_epoch_is_refused() {
        let (mut server, _) = running();
        let request = |correlation_id, partition_epoch| Message::AlterPartitionRequest {
            correlation_id,
            broker: BrokerId(1),
            tp: tp(),
            leader_epoch: LeaderEpoch(1),
            partition_epoch,
            new_isr: b(&[1, 2]),
        };
        let response = |correlation_id, result| Output::Send {
            to: NodeId(1),
            message: Message::AlterPartitionResponse {
                correlation_id,
                tp: tp(),
                result,
            },
        };
        let mut out = Vec::new();
        server.on_message(100, NodeId(1), request(7, 0), &mut out);
        let refused = Err(AlterPartitionError::InvalidUpdateVersion);
        let expected = vec![
            Output::Note("refuse AlterPartition t-0 from b1: INVALID_UPDATE_VERSION".into()),
            response(7, refused),
        ];
        assert_eq!(out, expected);
        out.clear();
        server.on_message(110, NodeId(1), request(8, 1), &mut out);
        let shrunk = change(1, 1, &[1, 2], 2);
        let expected = vec![
            line(&shrunk),
            fsync(),
            Output::Metadata(shrunk.clone()),
            Output::Note("metadata 8: t-0 leader b1 epoch 1 isr [b1, b2]".into()),
            update(1, 8, std::slice::from_ref(&shrunk)),
            update(2, 8, std::slice::from_ref(&shrunk)),
            update(3, 8, std::slice::from_ref(&shrunk)),
            response(8, Ok((b(&[1, 2]), 2))),
        ];
        assert_eq!(out, expected);
        out.clear();
        let stray = Message::MetadataRequest { correlation_id: 1 };
        server.on_message(120, NodeId(100), stray, &mut out);
        assert_eq!(out, vec![], "a misdirected request is ignored");
    }

    #[test]
    fn a_restarted_controller_recovers_the_same_image_and_creates_nothing_again() {
        let (mut server, mut files) = running();
        let mut out = Vec::new();
        server.tick(1_010, &mut out);
        apply(&mut files, &out);
        let mut out = Vec::new();
        let mut restarted = ControllerServer::start(config(), &layout(), files, 5_000, &mut out);
        assert_eq!(out, vec![]);
        assert_eq!(restarted.image(), server.image());
        assert_eq!(restarted.log_len(), 10);
        assert_eq!(restarted.next_deadline(), Some(6_000), "no creation");
        for broker in 1..=3 {
            beat(&mut restarted, 5_100, broker, 10, &mut out);
        }
        let created =
            |o: &Output| matches!(o, Output::Metadata(MetadataRecord::CreatePartition { .. }));
        assert!(!out.iter().any(created), "{out:?}");
    }

    #[test]
    fn a_torn_last_line_is_cut_and_a_bad_line_ends_the_log() {
        let (server, files) = running();
        let valid_len = files[0].1.len();
        let mut torn = files.clone();
        torn[0].1.extend_from_slice(b"{\"FenceBro");
        let mut out = Vec::new();
        let recovered = ControllerServer::start(config(), &layout(), torn.clone(), 100, &mut out);
        let expected = vec![
            Output::Disk(DiskOp::Truncate {
                path: METADATA_LOG_PATH.into(),
                len: valid_len as u64,
            }),
            Output::Note(
                "metadata log: cut 10 bytes of a torn or unparsable line after record 8".into(),
            ),
        ];
        assert_eq!(out, expected);
        assert_eq!(recovered.image(), server.image());
        apply(&mut torn, &out);
        assert_eq!(torn, files);

        // Garbage after the third line: the rest of the file goes with it.
        let mut bad = files.clone();
        let line_len = |r: &MetadataRecord| serde_json::to_vec(r).unwrap().len() + 1;
        let third_end: usize = server.controller.log()[..3].iter().map(line_len).sum();
        bad[0]
            .1
            .splice(third_end..third_end, b"not json\n".iter().copied());
        let mut out = Vec::new();
        let recovered = ControllerServer::start(config(), &layout(), bad, 100, &mut out);
        assert_eq!(recovered.log_len(), 3);
        assert!(
            matches!(&out[0], Output::Disk(DiskOp::Truncate { len, .. }) if *len == third_end as u64)
        );
        let prefix = MetadataImage::replay(&server.controller.log()[..3]);
        assert_eq!(recovered.image(), &prefix);
    }
}

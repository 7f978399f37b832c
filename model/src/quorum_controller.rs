//! A controller node of the KRaft quorum: a Raft member ([`RaftNode`]) whose log is the
//! cluster metadata log, and, while it leads the quorum, the active controller that runs
//! the pure [`Controller`] over that log. The active controller proposes its records to
//! the quorum and acts towards brokers only on what the quorum committed: brokers fetch
//! the metadata log as Raft observers and apply only its committed part, and an
//! AlterPartition answer waits for its record's commit. Any other controller answers
//! brokers' heartbeats and requests with the leader it knows.

use crate::controller::{Controller, ControllerConfig};
use crate::effect::Output;
use crate::ids::{BrokerId, LeaderEpoch, Millis, NodeId, Offset};
use crate::layout::ClusterLayout;
use crate::metadata::{MetadataImage, MetadataRecord};
use crate::protocol::Message;
use crate::raft::{DirectoryId, RaftConfig, RaftConfigError, RaftNode, RaftOutput, RaftRecord};
use std::collections::BTreeSet;

/// How long a new active controller waits for every broker of the layout before it
/// creates the partitions anyway: a little over one heartbeat interval gives every live
/// broker a chance to register, and one dead broker cannot keep the cluster from serving.
const STARTUP_GRACE_MS: Millis = 3_000;

/// What only the active controller keeps.
#[derive(Clone, Debug)]
struct Active {
    epoch: LeaderEpoch,
    controller: Controller,
    creation_deadline_ms: Millis,
    partitions_created: bool,
    /// Brokers that heartbeated this leadership: a log names brokers that may have died.
    heard_from: BTreeSet<BrokerId>,
    /// Answers that report a record, held until the quorum commits it (its offset).
    held: Vec<(Offset, NodeId, Message)>,
}

/// One controller node.
#[derive(Clone, Debug)]
pub struct QuorumController {
    raft: RaftNode<MetadataRecord>,
    config: ControllerConfig,
    layout: ClusterLayout,
    active: Option<Active>,
    /// Committed metadata records this node has reported to the checkers.
    reported: u64,
}

impl QuorumController {
    /// Starts from whatever the disk holds (`files`, as the process sees them after a
    /// crash): the Raft log and quorum state, torn tails cut. An empty disk is formatted
    /// with `new_directory` (see [`RaftNode::start`]).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        me: NodeId,
        config: ControllerConfig,
        raft_config: RaftConfig,
        layout: &ClusterLayout,
        files: Vec<(String, Vec<u8>)>,
        new_directory: DirectoryId,
        now: Millis,
        out: &mut Vec<Output>,
    ) -> Result<QuorumController, RaftConfigError> {
        let mut raft_out = Vec::new();
        let raft = RaftNode::start(me, raft_config, files, new_directory, now, &mut raft_out)?;
        let mut node = QuorumController {
            raft,
            config,
            layout: layout.clone(),
            active: None,
            reported: 0,
        };
        node.after_raft(now, raft_out, out);
        Ok(node)
    }

    /// How many metadata records the quorum has committed, as this node knows.
    pub fn committed_records(&self) -> u64 {
        self.raft.committed_data().count() as u64
    }

    /// The quorum epoch this node is in.
    pub fn epoch(&self) -> LeaderEpoch {
        self.raft.epoch()
    }

    /// Whether this node is the active controller.
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// The active controller's image (its own, possibly uncommitted, view).
    pub fn image(&self) -> Option<&MetadataImage> {
        self.active.as_ref().map(|a| a.controller.image())
    }

    pub fn next_deadline(&self) -> Option<Millis> {
        let active = self.active.as_ref().map(|a| {
            let creation = (!a.partitions_created).then_some(a.creation_deadline_ms);
            [a.controller.next_deadline(), creation]
                .into_iter()
                .flatten()
                .min()
        });
        [Some(self.raft.next_deadline()), active.flatten()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Timers: Raft's (`random` draws the election jitter), broker sessions, partition
    /// creation.
    pub fn tick(&mut self, now: Millis, random: u64, out: &mut Vec<Output>) {
        let mut raft_out = Vec::new();
        self.raft.tick(now, random, &mut raft_out);
        self.after_raft(now, raft_out, out);
        if let Some(active) = &mut self.active {
            let first_new = active.controller.log().len();
            active.controller.tick(now);
            create_partitions_if_due(active, &self.layout, now);
            self.propose_from(first_new, now, out);
        }
    }

    /// The connection to `peer` closed: Raft's request in flight to it goes again after
    /// its backoff. The controller sends nothing else that waits for an answer (it only
    /// answers brokers), so nothing else fails.
    pub fn on_disconnected(&mut self, now: Millis, peer: NodeId) {
        self.raft.on_disconnected(now, peer);
    }

    pub fn on_message(
        &mut self,
        now: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        match message {
            Message::Raft(msg) => {
                let mut raft_out = Vec::new();
                self.raft.handle(from, msg, now, &mut raft_out);
                self.after_raft(now, raft_out, out);
            }
            Message::BrokerHeartbeatRequest { .. } | Message::AlterPartitionRequest { .. }
                if self.active.is_none() =>
            {
                out.push(Output::Send {
                    to: from,
                    message: Message::NotController {
                        leader: self.raft.leader().map(|(leader, _)| leader),
                    },
                });
            }
            Message::BrokerHeartbeatRequest {
                broker,
                incarnation,
                ..
            } => {
                let active = self.active.as_mut().expect("checked above");
                let first_new = active.controller.log().len();
                active.controller.heartbeat(now, broker, incarnation);
                active.heard_from.insert(broker);
                create_partitions_if_due(active, &self.layout, now);
                self.propose_from(first_new, now, out);
                out.push(Output::Send {
                    to: from,
                    message: Message::BrokerHeartbeatResponse,
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
                let active = self.active.as_mut().expect("checked above");
                let first_new = active.controller.log().len();
                let result = active
                    .controller
                    .alter_partition(broker, &tp, leader_epoch, partition_epoch, new_isr)
                    .map(|partition_epoch| {
                        let isr = active.controller.image().partitions[&tp].isr.clone();
                        (isr, partition_epoch)
                    });
                if let Err(error) = &result {
                    out.push(Output::Note(format!(
                        "refuse AlterPartition {tp} from {broker}: {error}"
                    )));
                }
                let answer = Message::AlterPartitionResponse {
                    correlation_id,
                    tp,
                    result,
                };
                // Held until everything this controller wrote so far is committed: an
                // accepted change must not be reported before it is, nor a refusal
                // founded on a record that may still be lost.
                let proposed_end = self.propose_from(first_new, now, out);
                if let Some(active) = &mut self.active {
                    active.held.push((proposed_end, from, answer));
                }
                self.release_committed(out);
            }
            // Anything else is misdirected or stale: the sender's timeout deals with it.
            _ => {}
        }
    }

    /// Proposes the controller's records from `first_new` on; returns the Raft log end
    /// after them (what must commit before an answer about them may leave).
    fn propose_from(&mut self, first_new: usize, now: Millis, out: &mut Vec<Output>) -> Offset {
        let Some(active) = &self.active else {
            return self.raft.log_end();
        };
        let new: Vec<MetadataRecord> = active.controller.log()[first_new..].to_vec();
        let mut raft_out = Vec::new();
        if !new.is_empty() {
            if let Err(error) = self.raft.propose_all(new, now, &mut raft_out) {
                raft_out.push(RaftOutput::Note(format!("cannot propose: {error:?}")));
            }
        }
        let end = self.raft.log_end();
        self.after_raft(now, raft_out, out);
        end
    }

    /// Carries Raft's outputs out, then follows what they changed: leadership taken or
    /// lost, records committed (reported, held answers released).
    fn after_raft(
        &mut self,
        now: Millis,
        raft_out: Vec<RaftOutput<MetadataRecord>>,
        out: &mut Vec<Output>,
    ) {
        for output in raft_out {
            out.push(match output {
                RaftOutput::Send { to, msg } => Output::Send {
                    to,
                    message: Message::Raft(msg),
                },
                RaftOutput::Disk(op) => Output::Disk(op),
                RaftOutput::Event(event) => Output::Raft(event),
                RaftOutput::Note(note) => Output::Note(note),
                RaftOutput::Reached(path) => Output::Reached(path),
            });
        }
        let leading = self.raft.is_leader().then(|| self.raft.epoch());
        if self.active.as_ref().map(|a| a.epoch) != leading {
            self.active = leading.map(|epoch| self.take_over(epoch, now, out));
        }
        self.report_committed(out);
        self.release_committed(out);
    }

    /// This node just won `epoch`: the active controller starts from the whole Raft log,
    /// uncommitted tail included (a Raft leader never loses its own log).
    fn take_over(&self, epoch: LeaderEpoch, now: Millis, out: &mut Vec<Output>) -> Active {
        let log: Vec<MetadataRecord> = self
            .raft
            .entries(Offset(0), self.raft.log_end())
            .iter()
            .filter_map(|entry| match &entry.record {
                RaftRecord::Data(record) => Some(record.clone()),
                RaftRecord::LeaderChange { .. } => None,
            })
            .collect();
        out.push(Output::Note(format!(
            "active controller for epoch {}, over {} metadata records",
            epoch.0,
            log.len()
        )));
        let controller = if log.is_empty() {
            Controller::new(self.config.clone())
        } else {
            Controller::from_log(self.config.clone(), log, now)
        };
        let partitions_created = self
            .layout
            .partitions()
            .all(|tp| controller.image().partitions.contains_key(&tp));
        Active {
            epoch,
            controller,
            creation_deadline_ms: now + STARTUP_GRACE_MS,
            partitions_created,
            heard_from: BTreeSet::new(),
            held: Vec::new(),
        }
    }

    /// Every newly committed record, for the trace and the checkers (which compare what
    /// each controller and broker holds at each index).
    fn report_committed(&mut self, out: &mut Vec<Output>) {
        let reported = self.reported as usize;
        for (index, (_, record)) in self.raft.committed_data().enumerate().skip(reported) {
            out.push(Output::Metadata {
                index: index as u64,
                record: record.clone(),
            });
            out.push(Output::Note(format!(
                "metadata {index}: {}",
                describe(record)
            )));
            self.reported = index as u64 + 1;
        }
    }

    /// Sends the held answers whose records are committed.
    fn release_committed(&mut self, out: &mut Vec<Output>) {
        let committed = self.raft.high_watermark();
        let Some(active) = &mut self.active else {
            return;
        };
        let (due, held): (Vec<_>, Vec<_>) = std::mem::take(&mut active.held)
            .into_iter()
            .partition(|(offset, _, _)| *offset <= committed);
        active.held = held;
        for (_, to, message) in due {
            out.push(Output::Send { to, message });
        }
    }
}

/// Creates the layout's partitions once every layout broker is up, or at the deadline.
fn create_partitions_if_due(active: &mut Active, layout: &ClusterLayout, now: Millis) {
    if active.partitions_created {
        return;
    }
    let image = active.controller.image();
    let all_up = layout
        .brokers
        .iter()
        .all(|b| active.heard_from.contains(b) && image.is_live(*b));
    if all_up || now >= active.creation_deadline_ms {
        active.controller.create_partitions(layout.assignments());
        active.partitions_created = true;
    }
}

/// One record, for the trace.
pub fn describe(record: &MetadataRecord) -> String {
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
            elr,
            last_known_elr,
            ..
        } => {
            let leader = leader.map_or("none".to_string(), |l| l.to_string());
            let mut line = format!(
                "{tp} leader {leader} epoch {} isr {}",
                leader_epoch.0,
                list(isr)
            );
            // Only ELR runs have either: the others' trace lines stay as they were.
            if !elr.is_empty() {
                line.push_str(&format!(" elr {}", list(elr)));
            }
            if !last_known_elr.is_empty() {
                line.push_str(&format!(" last-known-elr {}", list(last_known_elr)));
            }
            line
        }
    }
}

#[cfg(test)]
#[path = "quorum_controller_tests.rs"]
mod tests;

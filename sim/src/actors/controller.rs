//! The controller role: one member of the KRaft quorum. It recovers the Raft log and quorum
//! state from SimDisk at each start (an empty disk is formatted with a directory id drawn
//! from the incarnation, so a replaced disk gets a new one), then hands the
//! [`QuorumController`] every message, every deadline, and a seeded random number for
//! each election timer.

use super::Role;
use crate::disk::SimDisk;
use crate::events::EventKind;
use crate::seed::{self, Stream};
use crate::world::World;
use kafka_model::controller::ControllerConfig;
use kafka_model::effect::Output;
use kafka_model::ids::{Millis, NodeId};
use kafka_model::layout::ClusterLayout;
use kafka_model::protocol::Message;
use kafka_model::quorum_controller::QuorumController;
use kafka_model::raft::DirectoryId;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;

/// One controller node: `node` is built in `start`, from what the disk holds then.
pub struct ControllerRole {
    me: NodeId,
    voters: Vec<NodeId>,
    config: ControllerConfig,
    layout: ClusterLayout,
    node: Option<QuorumController>,
    /// Election jitter: one stream per controller and incarnation, so that no two draw
    /// the same timeouts and a restart does not replay its last ones.
    rng: Option<ChaCha8Rng>,
}

impl ControllerRole {
    pub fn new(
        me: NodeId,
        voters: Vec<NodeId>,
        config: ControllerConfig,
        layout: ClusterLayout,
    ) -> Self {
        ControllerRole {
            me,
            voters,
            config,
            layout,
            node: None,
            rng: None,
        }
    }
}

impl Role for ControllerRole {
    fn start(&mut self, world: &World, local_ms: Millis, _global_ms: u64, out: &mut Vec<Output>) {
        let incarnation = world.next_incarnation(self.me);
        let mut rng = seed::stream(world.seed, Stream::Quorum);
        // Distinct, fixed positions of the one quorum stream for each node and life.
        rng.set_word_pos(((self.me.0 as u128) << 40) | ((incarnation as u128) << 20));
        self.rng = Some(rng);
        let files = madsim::plugin::simulator::<SimDisk>().read_all(madsim::plugin::node());
        world.node_event(self.me, EventKind::Started { incarnation });
        let raft_config = self.config.raft_config(self.voters.clone());
        match QuorumController::start(
            self.me,
            self.config.clone(),
            raft_config,
            &self.layout,
            files,
            DirectoryId::for_incarnation(incarnation),
            local_ms,
            out,
        ) {
            Ok(node) => {
                if incarnation > 1 || node.committed_records() > 0 {
                    let committed_records = node.committed_records();
                    world.node_event(self.me, EventKind::MetadataRecovered { committed_records });
                }
                self.node = Some(node);
            }
            // Scenario validation keeps this from happening; if it does, the node stays
            // silent and liveness reports the cluster stuck.
            Err(error) => {
                let error = error.to_string();
                world.node_event(
                    self.me,
                    EventKind::StartFailed {
                        what: "start",
                        error,
                    },
                );
            }
        }
    }

    fn on_message(
        &mut self,
        local_ms: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        if let Some(node) = &mut self.node {
            node.on_message(local_ms, from, message, out);
        }
    }

    fn on_tick(&mut self, local_ms: Millis, _global_ms: u64, out: &mut Vec<Output>) {
        let random = self.rng.as_mut().map_or(0, |rng| rng.next_u64());
        if let Some(node) = &mut self.node {
            node.tick(local_ms, random, out);
        }
    }

    fn on_disconnected(&mut self, local_ms: Millis, peer: NodeId, _out: &mut Vec<Output>) {
        if let Some(node) = &mut self.node {
            node.on_disconnected(local_ms, peer);
        }
    }

    fn next_deadline(&self, _local_ms: Millis, _global_ms: u64) -> Option<Millis> {
        self.node.as_ref().and_then(QuorumController::next_deadline)
    }

    fn publish(&self, world: &World, me: NodeId) {
        if let Some(node) = &self.node {
            world.set_controller_status(me, node.epoch(), node.is_active());
        }
    }
}

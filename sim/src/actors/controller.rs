//! The controller role: recovers the metadata log from SimDisk at each start, then hands
//! the controller every heartbeat and AlterPartition request and every session deadline.

use super::Role;
use crate::disk::SimDisk;
use crate::world::{World, CONTROLLER};
use kafka_model::controller::ControllerConfig;
use kafka_model::controller_server::ControllerServer;
use kafka_model::effect::Output;
use kafka_model::ids::{Millis, NodeId};
use kafka_model::layout::ClusterLayout;
use kafka_model::protocol::Message;

/// The controller node: `server` is built in `start`, from what the disk holds then.
pub struct ControllerRole {
    config: ControllerConfig,
    layout: ClusterLayout,
    server: Option<ControllerServer>,
}

impl ControllerRole {
    pub fn new(config: ControllerConfig, layout: ClusterLayout) -> Self {
        ControllerRole {
            config,
            layout,
            server: None,
        }
    }

    fn server(&mut self) -> &mut ControllerServer {
        self.server
            .as_mut()
            .expect("start() runs before any message")
    }
}

impl Role for ControllerRole {
    fn start(&mut self, world: &World, local_ms: Millis, _global_ms: u64, out: &mut Vec<Output>) {
        let incarnation = world.next_incarnation(CONTROLLER);
        let files = madsim::plugin::simulator::<SimDisk>().read_all(madsim::plugin::node());
        let server =
            ControllerServer::start(self.config.clone(), &self.layout, files, local_ms, out);
        let name = world.name(CONTROLLER).to_string();
        world.trace(&name, format_args!("start incarnation {incarnation}"));
        if incarnation > 1 || server.log_len() > 0 {
            world.trace(
                &name,
                format_args!("recover metadata: {} records", server.log_len()),
            );
        }
        self.server = Some(server);
    }

    fn on_message(
        &mut self,
        local_ms: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        self.server().on_message(local_ms, from, message, out);
    }

    fn on_tick(&mut self, local_ms: Millis, _global_ms: u64, out: &mut Vec<Output>) {
        self.server().tick(local_ms, out);
    }

    fn next_deadline(&self, _local_ms: Millis, _global_ms: u64) -> Option<Millis> {
        self.server
            .as_ref()
            .and_then(ControllerServer::next_deadline)
    }
}

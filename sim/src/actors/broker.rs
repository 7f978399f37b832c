//! The broker role: recovers the broker's logs (its partitions' and its copy of the
//! metadata log) from SimDisk at each start, then hands it each message and timer tick.

use super::{DiskNode, Role};
use crate::disk::SimDisk;
use crate::events::EventKind;
use crate::world::World;
use kafka_model::broker::Broker;
use kafka_model::config::BrokerConfig;
use kafka_model::effect::Output;
use kafka_model::ids::{BrokerId, Millis, NodeId};
use kafka_model::layout::ClusterLayout;
use kafka_model::protocol::Message;

/// A broker node: `broker` is built in `start`, from what the disk holds then.
pub struct BrokerRole {
    id: BrokerId,
    config: BrokerConfig,
    layout: ClusterLayout,
    controllers: Vec<NodeId>,
    broker: Option<Broker>,
    /// Whether the last publish reported coordinated groups.
    coordinated: std::cell::Cell<bool>,
}

impl BrokerRole {
    pub fn new(
        id: BrokerId,
        config: BrokerConfig,
        layout: ClusterLayout,
        controllers: Vec<NodeId>,
    ) -> Self {
        BrokerRole {
            id,
            controllers,
            config,
            layout,
            broker: None,
            // A restarted broker coordinates nothing: its first publish clears what the
            // last incarnation reported.
            coordinated: std::cell::Cell::new(true),
        }
    }

    fn broker(&mut self) -> &mut Broker {
        self.broker
            .as_mut()
            .expect("start() runs before any message")
    }
}

impl Role for BrokerRole {
    fn start(&mut self, world: &World, local_ms: Millis, _global_ms: u64, out: &mut Vec<Output>) {
        let incarnation = world.next_incarnation(self.id.node());
        let files = madsim::plugin::simulator::<SimDisk>().read_all(madsim::plugin::node());
        let (broker, reports) = Broker::start(
            self.id,
            incarnation,
            self.config.clone(),
            &self.layout,
            &self.controllers,
            files,
            local_ms,
            out,
        );
        let node = self.id.node();
        world.node_event(node, EventKind::Started { incarnation });
        let log_ends: std::collections::BTreeMap<_, _> =
            broker.log_end_offsets().into_iter().collect();
        for (tp, report) in reports {
            if incarnation > 1 || report.batches > 0 || report.bytes_truncated > 0 {
                let log_end = log_ends.get(&tp).map_or(0, |o| o.0);
                let recovered = EventKind::LogRecovered {
                    tp,
                    batches: report.batches as u64,
                    log_end,
                    bytes_cut: report.bytes_truncated,
                    segments_deleted: report.segments_deleted as u64,
                };
                world.node_event(node, recovered);
            }
        }
        self.broker = Some(broker);
    }

    fn on_message(
        &mut self,
        local_ms: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    ) {
        self.broker().on_message(local_ms, from, message, out);
    }

    fn on_tick(&mut self, local_ms: Millis, _global_ms: u64, out: &mut Vec<Output>) {
        self.broker().tick(local_ms, out);
    }

    fn on_disconnected(&mut self, local_ms: Millis, peer: NodeId, out: &mut Vec<Output>) {
        self.broker().on_disconnected(local_ms, peer, out);
    }

    fn next_deadline(&self, _local_ms: Millis, _global_ms: u64) -> Option<Millis> {
        self.broker.as_ref().and_then(Broker::next_deadline)
    }

    fn check_reads(
        &self,
        disk: &SimDisk,
        disk_node: DiskNode,
        out: &mut [Output],
    ) -> Option<(usize, String)> {
        let broker = self.broker.as_ref()?;
        if !disk.damaged(disk_node) {
            return None;
        }
        let check_crc = self.config.check_crc_on_read;
        super::read_check::check_served(broker, disk, disk_node, check_crc, out)
    }

    fn halts_on_fsync_error(&self) -> bool {
        self.config.halt_on_fsync_error
    }

    fn publish(&self, world: &World, me: NodeId) {
        let Some(broker) = &self.broker else {
            return;
        };
        let summaries = broker.group_summaries();
        // Most brokers coordinate nothing: skip the lock unless there is news.
        if summaries.is_empty() && !self.coordinated.get() {
            return;
        }
        self.coordinated.set(!summaries.is_empty());
        world.set_group_summaries(me, summaries.into_iter().collect());
    }
}

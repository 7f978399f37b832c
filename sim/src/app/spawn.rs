//! Creating the services' nodes: one per replica, each running its service's code as a
//! task beside the `run_node` loop of its role; a restart runs both from scratch.

use super::context::ServiceContext;
use super::role::{service_member_config, ServiceRole, ServiceSetup};
use crate::actors::run_node;
use crate::scenario::Scenario;
use crate::world::{address, World};
use kafka_model::ids::{BrokerId, NodeId};
use madsim::runtime::Handle;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Service `s` (from 0) replica `r` (from 1) is node `FIRST_SERVICE + 20 s + r`: above
/// every other client, below the connections' wire (4000).
const FIRST_SERVICE: u32 = 1_000;

/// Service record values have this bit, the service's index (8 bits) and the replica's
/// number (7 bits) above its incarnation and count of sends (`ServiceRole`): the workload
/// uses small numbers, the brokers bits 60 to 62, retrying transactional producers bit
/// 59, pipelines bit 58.
const SERVICE_VALUE_BIT: u64 = 1 << 57;

fn service_id(service: usize, replica: u32) -> NodeId {
    NodeId(FIRST_SERVICE + 20 * service as u32 + replica)
}

fn value_prefix(service: usize, replica: u32) -> u64 {
    SERVICE_VALUE_BIT | ((service as u64 & 0xFF) << 49) | ((u64::from(replica) & 0x7F) << 42)
}

/// Every replica's node id and name.
pub(crate) fn node_names(scenario: &Scenario) -> Vec<(NodeId, String)> {
    scenario
        .services
        .list
        .iter()
        .enumerate()
        .flat_map(|(s, service)| {
            (1..)
                .zip(service.replica_names())
                .map(move |(r, name)| (service_id(s, r), name))
        })
        .collect()
}

/// Creates every replica's node; returns their madsim ids by name.
pub(crate) fn spawn_services(
    world: &Arc<World>,
    scenario: &Scenario,
    bootstrap: &[BrokerId],
) -> BTreeMap<String, madsim::task::NodeId> {
    let payloads = world.service_payloads.clone();
    let mut nodes = BTreeMap::new();
    for (s, service) in scenario.services.list.iter().enumerate() {
        for (r, name) in (1..).zip(service.replica_names()) {
            let id = service_id(s, r);
            let setup = ServiceSetup {
                producer: scenario.producer.clone(),
                consumer: scenario.consumer.clone(),
                member: service_member_config(),
                bootstrap: bootstrap.to_vec(),
                payloads: payloads.clone(),
                value_prefix: value_prefix(s, r),
            };
            let (world, run, node_name) = (world.clone(), service.run.clone(), name.clone());
            let node = Handle::current()
                .create_node()
                .name(name.clone())
                .ip(address(id).ip())
                .init(move || {
                    let (world, run, setup, name) =
                        (world.clone(), run.clone(), setup.clone(), node_name.clone());
                    async move {
                        let (role, mailbox) = ServiceRole::new(id, name.clone(), setup);
                        let context = ServiceContext {
                            mailbox,
                            world: world.clone(),
                            me: id,
                            name,
                            replica: r,
                            consumer_made: std::cell::Cell::new(false),
                        };
                        // Spawned from the node's own task, so it lives on the node: a
                        // crash drops it with the role.
                        madsim::task::spawn_local(run(context));
                        run_node(world, id, role).await
                    }
                })
                .build();
            nodes.insert(name, node.id());
        }
    }
    nodes
}

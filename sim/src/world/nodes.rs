//! Node identities: which ids the brokers, controllers and clients get, their names in
//! traces and fault plans, and their simulated addresses.

use kafka_model::ids::NodeId;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The port every simulated node listens on.
pub const PORT: u16 = 9092;

/// The first controller's node id: brokers are 1..=89, the controller quorum takes 90 to
/// 99.
pub const CONTROLLER: NodeId = NodeId(90);
/// A single controller's name in traces and fault plans; a quorum's are `controller-1`...
pub const CONTROLLER_NAME: &str = "controller";

/// First node ids of each client kind (brokers are 1..=n).
pub const FIRST_PRODUCER: u32 = 100;
pub const FIRST_CONSUMER: u32 = 200;
/// Producer `p`'s successor (`[transactions] successor_at_ms`) is `FIRST_SUCCESSOR + p`:
/// at most 50 producers, so successors fit between them and the consumers.
pub const FIRST_SUCCESSOR: u32 = 150;
/// Group members: group `g` (from 0) member `m` (from 1) is `FIRST_MEMBER + 20 g + m`.
pub const FIRST_MEMBER: u32 = 300;

/// The controller quorum's node ids.
pub fn controller_ids(voters: u32) -> Vec<NodeId> {
    (0..voters).map(|i| NodeId(CONTROLLER.0 + i)).collect()
}

/// A controller's name: `controller` alone, `controller-1`... in a quorum.
pub fn controller_name(id: NodeId, voters: u32) -> String {
    if voters == 1 {
        CONTROLLER_NAME.to_string()
    } else {
        format!("{CONTROLLER_NAME}-{}", id.0 - CONTROLLER.0 + 1)
    }
}

/// Whether a node id is a controller's.
pub fn is_controller(id: NodeId) -> bool {
    (CONTROLLER.0..FIRST_PRODUCER).contains(&id.0)
}

/// Whether a node id is a broker's.
pub fn is_broker(id: NodeId) -> bool {
    (1..CONTROLLER.0).contains(&id.0)
}

/// A group member's node id.
pub fn member_id(group_index: usize, member: u32) -> NodeId {
    NodeId(FIRST_MEMBER + 20 * group_index as u32 + member)
}

/// The simulated address of a node: 10.0.x.y from its id.
pub fn address(node: NodeId) -> SocketAddr {
    let ip = Ipv4Addr::new(10, 0, (node.0 >> 8) as u8, (node.0 & 0xff) as u8);
    SocketAddr::new(IpAddr::V4(ip), PORT)
}

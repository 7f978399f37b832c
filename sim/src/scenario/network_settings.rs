//! The scenario's `[network]` table: which transport carries the nodes' messages.

use serde::{Deserialize, Serialize};

/// How messages travel between nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// Each message on its own: reordered one by one, dropped by a partition or a lossy
    /// link; a dead peer is noticed only by a request timeout. The harness's first world,
    /// kept as the default so that every pinned seed keeps its meaning.
    #[default]
    Datagrams,
    /// Kafka's TCP connections: ordered per pair, stalled (not emptied) by a partition,
    /// reset when an end dies or the link was cut off for `reset_after_ms`, and each end
    /// told of a reset, so that its client fails what it had in flight at once.
    Connections,
}

/// `[network]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSettings {
    pub transport: Transport,
    /// A connection whose link carried nothing for this long, while it had something to
    /// carry, resets when the link carries again (connections only). Kafka's clients
    /// close a connection whose request timed out: 30 s, `request.timeout.ms`.
    pub reset_after_ms: u64,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            transport: Transport::Datagrams,
            reset_after_ms: 30_000,
        }
    }
}

impl NetworkSettings {
    pub fn is_default(&self) -> bool {
        *self == NetworkSettings::default()
    }

    pub fn connections(&self) -> bool {
        self.transport == Transport::Connections
    }
}

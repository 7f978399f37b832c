//! Typed identifiers and units shared by every Kafka state machine.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds on some node's clock. Which clock is always the caller's business:
/// the model never reads a clock, it is handed `now`.
pub type Millis = u64;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty), $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// Any actor in the cluster: broker or client. Brokers are 1..=n, clients start at 100.
    NodeId(u32), "n"
);
id_type!(
    /// A broker's id, as in `broker.id`.
    BrokerId(u32), "b"
);
id_type!(
    /// A record's position in its partition. Dense: no gaps (no compaction, no control records).
    Offset(u64), ""
);
id_type!(
    /// Bumped on every leader change of a partition (KIP-101).
    LeaderEpoch(u32), "e"
);
id_type!(
    /// Assigned by a broker to an idempotent producer (InitProducerId).
    ProducerId(u64), "pid"
);
id_type!(
    /// Bumped when an idempotent producer resets its sequences (KIP-360).
    ProducerEpoch(u16), "pe"
);

impl BrokerId {
    /// Brokers occupy the node ids equal to their broker ids.
    pub fn node(self) -> NodeId {
        NodeId(self.0)
    }
}

impl Offset {
    pub fn next(self) -> Offset {
        Offset(self.0 + 1)
    }
}

/// One partition of one topic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: u32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

/// "[b1, b2]": a list of brokers as traces write it.
pub fn broker_list(brokers: &[BrokerId]) -> String {
    let names: Vec<String> = brokers.iter().map(BrokerId::to_string).collect();
    format!("[{}]", names.join(", "))
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

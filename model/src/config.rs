//! Configuration of topics, brokers and clients, with Apache Kafka's defaults.

use serde::{Deserialize, Serialize};

/// `acks`: how many replicas must have a record before the producer hears it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Acks {
    /// No response at all: the producer counts a record as sent once it leaves.
    #[serde(rename = "0")]
    None,
    /// The leader's local append.
    #[serde(rename = "1")]
    Leader,
    /// Every in-sync replica (Kafka's default since 3.0).
    #[default]
    #[serde(rename = "all")]
    All,
}

impl Acks {
    pub fn as_str(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

/// A topic as created by the workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    pub name: String,
    pub partitions: u32,
    /// The replication factor: partition `p`'s replicas are `rf` brokers in a row from
    /// broker `p % brokers + 1`, the first being the preferred leader.
    #[serde(default = "one")]
    pub replication_factor: u32,
}

fn one() -> u32 {
    1
}

/// Per-broker log settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `segment.bytes`: a segment rolls once it holds this many bytes. Kafka's default is
    /// 1 GiB; the simulation keeps segments small so that rolling is exercised.
    pub segment_bytes: u64,
    /// `flush.messages`: fsync after this many appended records; `None` leaves flushing to
    /// the OS (Kafka's default: durability comes from replication, not fsync).
    pub flush_messages: Option<u64>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 16 * 1024,
            flush_messages: None,
        }
    }
}

/// The replication protocol brokers speak: today's, or a historical one whose bug the
/// harness can rediscover (DESIGN.md section 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicationProtocol {
    /// Leader epochs (KIP-101) with KIP-279's lookup and KIP-320's fencing.
    #[default]
    Modern,
    /// Before KIP-101: a replica that becomes a follower truncates its log to its own high
    /// watermark, which lags the leader's by a fetch, and fetches without any epoch check.
    /// Two quick leader changes then lose committed records (KIP-101's first scenario;
    /// hachikuji/kafka-specification, KafkaTruncateToHighWatermark.tla).
    TruncateToHighWatermark,
}

/// Broker settings beyond the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    pub log: LogConfig,
    /// `fetch.max.wait.ms` as the broker honours it: how long an empty fetch is parked.
    pub fetch_max_wait_ms: u64,
    /// How many batches per producer the broker remembers to detect duplicates (Kafka: 5).
    pub producer_batches_remembered: usize,
    /// A deliberately broken variant, for showing that the checkers catch it: `false`
    /// appends every batch without checking producer sequences (no duplicate detection,
    /// no out-of-order refusal), as a broker without KIP-98 would.
    pub check_producer_sequences: bool,
    /// The replication protocol: `modern`, or a historical variant.
    pub replication_protocol: ReplicationProtocol,
    /// `min.insync.replicas`: an `acks=all` write needs an ISR at least this large.
    pub min_insync_replicas: usize,
    /// `replica.lag.time.max.ms`: a follower that has not caught up for this long leaves
    /// the ISR.
    pub replica_lag_time_max_ms: u64,
    /// `replica.fetch.wait.max.ms`: how long a leader parks a follower fetch with no data.
    pub replica_fetch_wait_max_ms: u64,
    /// How many records a follower fetch returns at most.
    pub replica_fetch_max_records: usize,
    /// `broker.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: u64,
    /// How long a broker waits for a controller or leader to answer before asking again.
    pub inter_broker_request_timeout_ms: u64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            log: LogConfig::default(),
            fetch_max_wait_ms: 500,
            producer_batches_remembered: 5,
            check_producer_sequences: true,
            replication_protocol: ReplicationProtocol::Modern,
            min_insync_replicas: 1,
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_max_records: 1_000,
            heartbeat_interval_ms: 2_000,
            inter_broker_request_timeout_ms: 30_000,
        }
    }
}

/// Producer settings (`ProducerConfig` in the Java client).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProducerConfig {
    pub acks: Acks,
    /// `enable.idempotence`: producer id, epoch and sequences (needs acks=all in Kafka; the
    /// model allows it with any acks so that the broken combinations can be shown).
    pub idempotence: bool,
    /// `retries`: how often a failed batch is sent again.
    pub retries: u32,
    pub max_in_flight_requests_per_connection: u32,
    pub linger_ms: u64,
    /// `batch.size`, counted in records rather than bytes.
    pub batch_size_records: usize,
    pub delivery_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub retry_backoff_ms: u64,
    pub metadata_max_age_ms: u64,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            idempotence: true,
            retries: u32::MAX,
            max_in_flight_requests_per_connection: 5,
            linger_ms: 5,
            batch_size_records: 16,
            delivery_timeout_ms: 120_000,
            request_timeout_ms: 30_000,
            retry_backoff_ms: 100,
            metadata_max_age_ms: 300_000,
        }
    }
}

/// `auto.offset.reset`: where a consumer goes when its position is out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OffsetReset {
    #[default]
    Earliest,
    Latest,
}

/// Consumer settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerConfig {
    pub auto_offset_reset: OffsetReset,
    pub fetch_max_wait_ms: u64,
    pub max_poll_records: usize,
    pub request_timeout_ms: u64,
    pub retry_backoff_ms: u64,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            auto_offset_reset: OffsetReset::Earliest,
            fetch_max_wait_ms: 500,
            max_poll_records: 500,
            request_timeout_ms: 30_000,
            retry_backoff_ms: 100,
        }
    }
}

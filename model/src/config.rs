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
    /// `retention.ms`: a segment is deleted once its newest record is older than this
    /// (7 days). Kafka's -1 (keep forever) is `u64::MAX` here.
    pub retention_ms: u64,
    /// `retention.bytes`: oldest segments are deleted while the log would still hold at
    /// least this many bytes without them. `None` (Kafka's -1) is unlimited, the default.
    pub retention_bytes: Option<u64>,
    /// `log.retention.check.interval.ms`: how often a broker applies retention (5 minutes).
    pub retention_check_interval_ms: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 16 * 1024,
            flush_messages: None,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: None,
            retention_check_interval_ms: 5 * 60 * 1000,
        }
    }
}

/// The replication protocol brokers speak: today's, or a historical one whose bug the
/// harness can rediscover (DESIGN.md section 7). Each variant is Kafka as it was before one
/// fix; the variants are cumulative, oldest first: each lacks its fix and every later one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicationProtocol {
    /// Leader epochs (KIP-101) with KIP-279's lookup and KIP-320's fencing.
    #[default]
    Modern,
    /// Before KIP-101 (Kafka < 0.11): a replica that becomes a follower truncates its log
    /// to its own high watermark, which lags the leader's by a fetch, and fetches without
    /// any epoch check. Two quick leader changes then lose committed records (KIP-101's
    /// first scenario; hachikuji/kafka-specification, KafkaTruncateToHighWatermark.tla).
    TruncateToHighWatermark,
    /// KIP-101 without KIP-279 (Kafka 0.11 to 1.1): on becoming a follower, a replica asks
    /// the leader once where its latest epoch ends, and truncates there. The leader answers
    /// with an offset only; when the follower's latest epoch is one the leader never had
    /// (back-to-back leader changes), that offset is the start of the leader's next epoch,
    /// past where the two logs part, and they silently diverge (KIP-279, "fast leader
    /// failover"; KAFKA-6361).
    EpochLookupWithoutKip279,
    /// KIP-101 and KIP-279 without KIP-320 (Kafka 2.0 to 2.0.x): the epoch lookup is right
    /// but happens only on becoming a follower, and fetches carry no leader epoch. A
    /// follower that missed a leader change keeps fetching from a broker that has meanwhile
    /// truncated and been re-elected, and appends that broker's new records after its own
    /// stale ones: the logs diverge below the high watermark (KIP-320, KAFKA-6880).
    NoEpochFencing,
}

impl ReplicationProtocol {
    /// Every variant, for sweeps and the guarantee matrix.
    pub const ALL: [ReplicationProtocol; 4] = [
        ReplicationProtocol::Modern,
        ReplicationProtocol::TruncateToHighWatermark,
        ReplicationProtocol::EpochLookupWithoutKip279,
        ReplicationProtocol::NoEpochFencing,
    ];

    /// KIP-101: followers find their divergence from leader epochs, not their HW.
    pub fn looks_up_epochs(self) -> bool {
        self != ReplicationProtocol::TruncateToHighWatermark
    }

    /// KIP-279: the leader names the epoch its answer is for, and the follower also
    /// bounds its truncation by where that epoch ends in its own log.
    pub fn follower_checks_answer_epoch(self) -> bool {
        matches!(
            self,
            ReplicationProtocol::Modern | ReplicationProtocol::NoEpochFencing
        )
    }

    /// KIP-320: every fetch names the leader epoch (stale or future ones are refused) and
    /// the epoch of the last fetched record, so divergence is caught at any fetch, not
    /// only on becoming a follower.
    pub fn fences_fetches(self) -> bool {
        self == ReplicationProtocol::Modern
    }

    /// The name used in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            ReplicationProtocol::Modern => "modern",
            ReplicationProtocol::TruncateToHighWatermark => "truncate-to-high-watermark",
            ReplicationProtocol::EpochLookupWithoutKip279 => "epoch-lookup-without-kip-279",
            ReplicationProtocol::NoEpochFencing => "no-epoch-fencing",
        }
    }
}

/// A broker that returns an error without cause: `error` on every `every`-th request (by
/// its correlation id) that could carry it, whatever the broker's state. Deterministic: no
/// randomness, only the request's own id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpuriousError {
    pub error: SpuriousErrorCode,
    pub every: u64,
}

impl SpuriousError {
    /// Whether the request with this correlation id gets the error.
    pub fn strikes(&self, error: SpuriousErrorCode, correlation_id: u64) -> bool {
        self.error == error && correlation_id.is_multiple_of(self.every.max(1))
    }
}

/// The errors a [`SpuriousError`] broker hands out, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpuriousErrorCode {
    /// To an idempotent producer's batch that continues its sequence.
    OutOfOrderSequence,
    /// To an idempotent producer's batch of its current epoch.
    InvalidProducerEpoch,
    /// To an acks=all batch whatever the ISR.
    NotEnoughReplicas,
    /// To an acks=all batch the ISR committed, as it leaves the purgatory.
    NotEnoughReplicasAfterAppend,
    /// To a consumer fetch that names the leader's own epoch.
    FencedLeaderEpoch,
    /// To a consumer fetch that names the leader's own epoch.
    UnknownLeaderEpoch,
    /// To a consumer fetch within the log.
    OffsetOutOfRange,
    /// To a live member's heartbeat (the coordinator does not remove it).
    UnknownMemberId,
    /// To a heartbeat of the group's current generation.
    IllegalGeneration,
}

/// When a leader answers an acks=0/1 produce (or an acks=all one its ISR of one commits at
/// once), relative to its own disk: Kafka answers after the batch is written to the log
/// (the page cache) and, with `flush.messages`, fsynced. The two other orders are
/// deliberately broken variants, an asynchronous I/O pipeline that acknowledges what it
/// has only queued, for showing that triggered faults reach windows a single message wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ProduceAnswer {
    /// Kafka: written, and fsynced where `flush.messages` asks for it, then answered.
    #[default]
    AfterFlush,
    /// Written, answered, then fsynced: a power loss right after the answer loses an
    /// acknowledged record that `flush.messages=1` promised was on disk.
    BeforeFlush,
    /// Answered, then written: a process crash right after the answer loses an
    /// acknowledged record, although a crash keeps the page cache.
    BeforeWrite,
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
    /// A deliberately broken variant, for showing that the `spurious-error` checker
    /// catches it: a broker that answers every `every`-th request (by correlation id) of
    /// one kind with `error` although nothing in its state calls for it (see
    /// [`SpuriousError`]). `None` (the default): errors only where Kafka returns them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spurious_error: Option<SpuriousError>,
    /// When a produce is answered relative to the leader's write and fsync (see
    /// [`ProduceAnswer`]): `after-flush`, as Kafka does, unless set to a broken variant.
    pub answer_produce: ProduceAnswer,
    /// A deliberately broken variant, for showing that the checkers catch it: `false`
    /// serves a batch whose bytes on disk fail their CRC (a corrupted or misdirected
    /// write) as the bytes say. Kafka never serves one: the read fails with a storage
    /// error, the log directory goes offline and a broker with no other halts.
    pub check_crc_on_read: bool,
    /// A deliberately broken variant: `false` carries on after an fsync reports an error,
    /// acknowledging what the failed fsync dropped. Kafka treats an error on flush as fatal
    /// for the log directory (the broker halts before answering).
    pub halt_on_fsync_error: bool,
    /// The replication protocol: `modern`, or a historical variant.
    pub replication_protocol: ReplicationProtocol,
    /// A deliberately broken variant, for showing that the checkers tell retention from
    /// loss: `false` lets retention delete segments up to the log end instead of the high
    /// watermark, so the log start can pass records no follower has copied yet (Kafka
    /// never moves the log start past the high watermark: `UnifiedLog` refuses).
    pub retention_bounded_by_high_watermark: bool,
    /// `min.insync.replicas`: an `acks=all` write needs an ISR at least this large.
    pub min_insync_replicas: usize,
    /// KIP-966's strict min ISR: a leader's high watermark does not advance while its ISR
    /// is below `min.insync.replicas`, so that a replica that left such an ISR holds every
    /// committed record (what makes eligible leader replicas safe to elect). Kafka 4.x
    /// brokers always keep it; here it comes with `[controller] eligible_leader_replicas`,
    /// which the harness copies it from, so that runs without ELR keep their high
    /// watermarks.
    #[serde(skip)]
    pub strict_min_insync: bool,
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
    /// How long the broker's metadata fetch may wait at the quorum leader for something
    /// new (Kafka's fetch `MaxWaitMs`, 500 ms): an idle cluster's brokers fetch about
    /// twice a second.
    pub metadata_fetch_max_wait_ms: u64,
    /// `offsets.commit.timeout.ms`: how long a group coordinator's write to the offsets
    /// topic may wait for the ISR before the commit is answered COORDINATOR_NOT_AVAILABLE.
    pub offsets_commit_timeout_ms: u64,
    /// The group coordinator's settings (`group.*` broker configs). Its
    /// `offsets_topic_partitions` is taken from the cluster layout.
    pub group: crate::group::GroupCoordinatorConfig,
    /// The transaction coordinator's settings (`transaction.*` broker configs).
    pub txn: crate::txn::TxnCoordinatorConfig,
    /// KIP-890 part 1 (Kafka 3.6 on): before appending a transactional batch for a producer
    /// with no transaction open on the partition, the leader asks the transaction
    /// coordinator whether the partition is in the producer's transaction. Off is the
    /// protocol before it, whose late produce of an aborted transaction can hang a
    /// transaction on the partition.
    pub verify_transactional_produce: bool,
    /// A deliberately broken variant: `false` computes the last stable offset as the high
    /// watermark, ignoring open transactions, so that read_committed reads what is not
    /// committed yet. Kafka's LSO stops at the first offset of the earliest open transaction.
    pub last_stable_offset_waits_for_open_transactions: bool,
    /// A deliberately broken variant: `false` lets a partition leader append a
    /// transactional or idempotent batch whose producer epoch is older than the one it
    /// knows, so a zombie producer (fenced by a newer instance's InitProducerId) still
    /// writes. Kafka refuses it (INVALID_PRODUCER_EPOCH / PRODUCER_FENCED).
    pub fence_producer_epochs: bool,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            log: LogConfig::default(),
            fetch_max_wait_ms: 500,
            producer_batches_remembered: 5,
            check_producer_sequences: true,
            spurious_error: None,
            answer_produce: ProduceAnswer::AfterFlush,
            check_crc_on_read: true,
            halt_on_fsync_error: true,
            replication_protocol: ReplicationProtocol::Modern,
            retention_bounded_by_high_watermark: true,
            min_insync_replicas: 1,
            strict_min_insync: false,
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_max_records: 1_000,
            heartbeat_interval_ms: 2_000,
            inter_broker_request_timeout_ms: 30_000,
            metadata_fetch_max_wait_ms: 500,
            offsets_commit_timeout_ms: 5_000,
            group: crate::group::GroupCoordinatorConfig::default(),
            txn: crate::txn::TxnCoordinatorConfig::default(),
            verify_transactional_produce: true,
            last_stable_offset_waits_for_open_transactions: true,
            fence_producer_epochs: true,
        }
    }
}

/// Producer settings (`ProducerConfig` in the Java client).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProducerConfig {
    pub acks: Acks,
    /// `enable.idempotence`: producer id, epoch and sequences. `None` (not set) is Kafka's
    /// default: on, unless `acks`, `retries` or the requests in flight rule it out, then
    /// off (KIP-679); an explicit `true` with such a conflict is refused. See
    /// `client_settings` for the resolution and `idempotence_enabled` for the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotence: Option<bool>,
    /// `retries`: how often a failed batch is sent again.
    pub retries: u32,
    pub max_in_flight_requests_per_connection: u32,
    pub linger_ms: u64,
    /// `batch.size`, counted in records rather than bytes.
    pub batch_size_records: usize,
    /// `delivery.timeout.ms`. `None` (not set) is Kafka's 2 minutes, raised to linger +
    /// request timeout when below them; an explicit value below them is refused (KIP-91).
    /// See `effective_delivery_timeout_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_timeout_ms: Option<u64>,
    pub request_timeout_ms: u64,
    pub retry_backoff_ms: u64,
    pub metadata_max_age_ms: u64,
    /// `transactional.id`: set, the producer runs transactions (it needs idempotence)
    /// and a new instance with the same id fences the old one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: the coordinator aborts a transaction left open longer.
    /// `None` (not set) is Kafka's 60 s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_timeout_ms: Option<u64>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            idempotence: None,
            retries: u32::MAX,
            max_in_flight_requests_per_connection: 5,
            linger_ms: 5,
            batch_size_records: 16,
            delivery_timeout_ms: None,
            request_timeout_ms: 30_000,
            retry_backoff_ms: 100,
            metadata_max_age_ms: 300_000,
            transactional_id: None,
            transaction_timeout_ms: None,
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
    /// How long the application works on the records of a poll before it polls again
    /// (0, the default: at once). Only a poll that returned records costs this time, so a
    /// consumer with `max_poll_records` records every `processing_delay_ms` reads at most
    /// that fast, and falls behind a faster producer; once caught up it long-polls as usual.
    pub processing_delay_ms: u64,
    /// `isolation.level`: read_committed reads only below the last stable offset and
    /// skips aborted transactions' records.
    pub isolation_level: crate::txn::IsolationLevel,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            auto_offset_reset: OffsetReset::Earliest,
            fetch_max_wait_ms: 500,
            max_poll_records: 500,
            request_timeout_ms: 30_000,
            retry_backoff_ms: 100,
            processing_delay_ms: 0,
            isolation_level: crate::txn::IsolationLevel::ReadUncommitted,
        }
    }
}

//! Checkers: read a run's history and report anomalies, each classified against what the
//! run's configuration promises (DESIGN.md section 6). One checker per file, each citing
//! where its rule comes from.

use crate::history::History;
use serde::{Deserialize, Serialize};
use std::fmt;

pub mod commit_backwards;
pub mod duplicate;
pub mod group_ownership;
pub(crate) mod group_view;
pub mod hanging_transaction;
pub mod inconsistent_offsets;
pub mod lost_write;
pub mod monotonic_high_watermark;
pub mod nonmonotonic_poll;
pub mod nonmonotonic_send;
pub mod pipeline_effect;
pub mod poll_skip;
pub mod processing;
pub mod retention_skip;
pub mod stale_commit;
pub mod txn;
pub(crate) mod view;

/// Jepsen's queue anomaly taxonomy, as used by its Kafka workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    NonmonotonicSend,
    Duplicate,
    PollSkip,
    NonmonotonicPoll,
    InconsistentOffsets,
    LostWrite,
    /// A record that was below some leader's high watermark is not in the final log.
    CommittedRecordLost,
    /// A consumer read a record that is not in the final log.
    ConsistentRead,
    /// Two replicas disagree below the smaller of their high watermarks.
    LogMatching,
    /// An ISR member lacks the leader's records below the high watermark.
    StrongIsr,
    /// Two brokers led one partition in the same leader epoch.
    SingleLeader,
    /// A partition's leader epoch went backwards.
    MonotonicEpoch,
    /// A consumer saw a partition's high watermark go backwards.
    MonotonicHighWatermark,
    /// A partition's leader was not in its ISR.
    LeaderInIsr,
    /// A new leader lacked a record below the previous leader's high watermark.
    LeaderCompleteness,
    ControllerQuorum,
    MetadataLogMatching,
    /// Two members of a group owned one partition in the same generation.
    GroupOwnership,
    /// A commit from a member of an older generation than the group's was accepted.
    StaleCommit,
    /// A group's committed offset for a partition went backwards.
    CommitBackwards,
    /// A record below a group's committed offset was never processed by the group.
    LostProcessing,
    /// A group processed one record more than once.
    DuplicateProcessing,
    /// A consumer was reset past records retention deleted before it read them.
    RetentionSkip,
    /// A replica raised its log start past its high watermark.
    LogStartPastHighWatermark,
    /// A broker answered a client with an error no condition of the run explains.
    SpuriousError,
    /// A consumer read a value whose transaction aborted (Adya's G1a).
    G1a,
    /// A consumer read a transaction's write before it could have committed.
    PrecommittedRead,
    /// A transaction's successive polls of a partition skipped a record.
    IntPollSkip,
    /// A committed transaction's successive sends to a partition have a record between.
    IntSendSkip,
    /// A reader past all of a committed transaction's writes saw only some.
    TornTransaction,
    /// A fenced epoch's transaction committed after a newer epoch was initialized.
    ZombieWrite,
    /// A cycle of write dependencies among committed transactions.
    G0,
    /// A cycle of dependencies among committed transactions through a read.
    G1c,
    /// An exactly-once pipeline committed past an input without committing its effect.
    LostEffect,
    /// An exactly-once pipeline's input had two effects (committed, or read downstream).
    DuplicateEffect,
    /// A read_committed consumer held at the last stable offset after the heal, with
    /// every producer done: an open transaction nothing will end.
    HangingTransaction,
    /// A user check (`ScenarioBuilder::check`) failed.
    UserCheck,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 37] = [
        AnomalyKind::NonmonotonicSend,
        AnomalyKind::Duplicate,
        AnomalyKind::PollSkip,
        AnomalyKind::NonmonotonicPoll,
        AnomalyKind::InconsistentOffsets,
        AnomalyKind::LostWrite,
        AnomalyKind::CommittedRecordLost,
        AnomalyKind::ConsistentRead,
        AnomalyKind::LogMatching,
        AnomalyKind::StrongIsr,
        AnomalyKind::SingleLeader,
        AnomalyKind::MonotonicEpoch,
        AnomalyKind::MonotonicHighWatermark,
        AnomalyKind::LeaderInIsr,
        AnomalyKind::LeaderCompleteness,
        AnomalyKind::ControllerQuorum,
        AnomalyKind::MetadataLogMatching,
        AnomalyKind::GroupOwnership,
        AnomalyKind::StaleCommit,
        AnomalyKind::CommitBackwards,
        AnomalyKind::LostProcessing,
        AnomalyKind::DuplicateProcessing,
        AnomalyKind::RetentionSkip,
        AnomalyKind::LogStartPastHighWatermark,
        AnomalyKind::SpuriousError,
        AnomalyKind::G1a,
        AnomalyKind::PrecommittedRead,
        AnomalyKind::IntPollSkip,
        AnomalyKind::IntSendSkip,
        AnomalyKind::TornTransaction,
        AnomalyKind::ZombieWrite,
        AnomalyKind::G0,
        AnomalyKind::G1c,
        AnomalyKind::LostEffect,
        AnomalyKind::DuplicateEffect,
        AnomalyKind::HangingTransaction,
        AnomalyKind::UserCheck,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::NonmonotonicSend => "nonmonotonic-send",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::PollSkip => "poll-skip",
            AnomalyKind::NonmonotonicPoll => "nonmonotonic-poll",
            AnomalyKind::InconsistentOffsets => "inconsistent-offsets",
            AnomalyKind::LostWrite => "lost-write",
            AnomalyKind::CommittedRecordLost => "committed-record-lost",
            AnomalyKind::ConsistentRead => "consistent-read",
            AnomalyKind::LogMatching => "log-matching",
            AnomalyKind::StrongIsr => "strong-isr",
            AnomalyKind::SingleLeader => "single-leader",
            AnomalyKind::MonotonicEpoch => "monotonic-epoch",
            AnomalyKind::MonotonicHighWatermark => "monotonic-high-watermark",
            AnomalyKind::LeaderInIsr => "leader-in-isr",
            AnomalyKind::LeaderCompleteness => "leader-completeness",
            AnomalyKind::ControllerQuorum => "controller-quorum",
            AnomalyKind::MetadataLogMatching => "metadata-log-matching",
            AnomalyKind::GroupOwnership => "group-ownership",
            AnomalyKind::StaleCommit => "stale-commit",
            AnomalyKind::CommitBackwards => "commit-backwards",
            AnomalyKind::LostProcessing => "lost-processing",
            AnomalyKind::DuplicateProcessing => "duplicate-processing",
            AnomalyKind::RetentionSkip => "retention-skip",
            AnomalyKind::LogStartPastHighWatermark => "log-start-past-high-watermark",
            AnomalyKind::SpuriousError => "spurious-error",
            AnomalyKind::G1a => "g1a",
            AnomalyKind::PrecommittedRead => "precommitted-read",
            AnomalyKind::IntPollSkip => "int-poll-skip",
            AnomalyKind::IntSendSkip => "int-send-skip",
            AnomalyKind::TornTransaction => "torn-transaction",
            AnomalyKind::ZombieWrite => "zombie-write",
            AnomalyKind::G0 => "g0",
            AnomalyKind::G1c => "g1c",
            AnomalyKind::LostEffect => "lost-effect",
            AnomalyKind::DuplicateEffect => "duplicate-effect",
            AnomalyKind::HangingTransaction => "hanging-transaction",
            AnomalyKind::UserCheck => "user-check",
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the run's configuration promises the anomaly cannot happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Kafka does not promise its absence under this configuration: reported, not failed.
    Allowed,
    /// A broken promise: the run fails.
    Violation,
}

/// One anomaly found in a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub verdict: Verdict,
    /// Why it is allowed or a violation, in one line.
    pub why: String,
    /// What was seen, in one line (values, offsets, processes).
    pub detail: String,
    /// The values of the records involved, to follow them (`kafka-sim explain`).
    #[serde(default)]
    pub values: Vec<u64>,
    /// The history index of the operation where it shows.
    pub index: u64,
    /// Whether a loss of the records in `scope` (a power loss with async flush, an unclean
    /// election) would excuse it: the checker found a violation that the excuse pass
    /// (`crate::excuse`) turns into an allowed anomaly only if the run's loss ledger holds
    /// such a loss.
    #[serde(skip)]
    pub excusable: bool,
    /// The records and partitions the anomaly involves, for the excuse pass.
    #[serde(skip)]
    pub scope: Vec<LossScope>,
    /// What explains it: the chain of events from the run's log that lost its records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<ChainLink>,
}

impl Anomaly {
    /// An anomaly judged `verdict` for `why`, with no scope or chain yet.
    pub fn new(
        kind: AnomalyKind,
        (verdict, why): (Verdict, &str),
        detail: String,
        values: Vec<u64>,
        index: u64,
    ) -> Self {
        Anomaly {
            kind,
            verdict,
            why: why.to_string(),
            detail,
            values,
            index,
            excusable: false,
            scope: Vec::new(),
            chain: Vec::new(),
        }
    }

    /// Marks a violation as one a loss of its records would excuse (a no-op on an allowed
    /// anomaly, which keeps its own reason but may still be given a chain).
    pub fn unless_loss_explains(mut self) -> Self {
        self.excusable = self.verdict == Verdict::Violation;
        self
    }

    /// Adds the records of one partition the anomaly involves (no offsets: any record of
    /// it).
    pub fn involving(mut self, topic: &str, partition: u32, offsets: Vec<u64>) -> Self {
        self.scope.push(LossScope::Records {
            topic: topic.to_string(),
            partition,
            offsets,
        });
        self
    }

    /// Adds a group's coordinator state (its partition of the offsets topic).
    pub fn involving_group(mut self, group: &str) -> Self {
        self.scope.push(LossScope::Group {
            group: group.to_string(),
        });
        self
    }
}

/// What an anomaly involves, for matching it to lost records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LossScope {
    /// Records of a partition at these offsets (empty: any).
    Records {
        topic: String,
        partition: u32,
        offsets: Vec<u64>,
    },
    /// The group's metadata and commits, kept in its partition of the offsets topic.
    Group { group: String },
    /// For replicas that disagree: a power-loss cut explains it only on one of these
    /// brokers' replicas.
    Replicas { brokers: Vec<u32> },
    /// A transactional id's state, kept in its partition of `__transaction_state`.
    TxnState { transactional_id: String },
    /// The transaction markers of a partition: a lost one explains what its transaction
    /// and those after it on the partition show.
    TxnMarkers { topic: String, partition: u32 },
}

/// One event of an excuse's chain, as the run's event log holds it (`seq`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    pub seq: u64,
    pub time_ms: u64,
    pub node: String,
    pub what: String,
}

impl fmt::Display for ChainLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}ms {} {}", self.time_ms, self.node, self.what)
    }
}

/// What a run's configuration and faults promise, for classifying anomalies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promises {
    /// Idempotent producer: no duplicates and send order kept, per partition.
    pub idempotence: bool,
    /// Retries are on (`retries > 0`).
    pub retries: bool,
    /// `max.in.flight.requests.per.connection > 1`.
    pub max_in_flight_above_one: bool,
    /// `acks` as the history writes it: "0", "1" or "all".
    pub acks: String,
    /// Appends are not fsynced one by one (`flush.messages` is not 1): a power loss may cut
    /// acknowledged records from a replica, and the records it cut from a replica that
    /// then led are allowed to vanish.
    #[serde(default)]
    pub async_flush: bool,
    /// `unclean.leader.election.enable`: an out-of-sync replica may become leader, and the
    /// records such a leader lacked are allowed to vanish.
    #[serde(default)]
    pub unclean_election: bool,
    /// Consumer groups that commit before processing (at-most-once): they may lose
    /// processing, never duplicate it. Every other group commits after processing
    /// (at-least-once): it may duplicate processing, never lose it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_most_once_groups: Vec<String>,
}

impl Promises {
    /// The verdict on an anomaly whose absence Kafka promises (`promise`) except where its
    /// records were lost in a way the configuration allows: a violation, which the checker
    /// marks `Anomaly::unless_loss_explains` for the excuse pass.
    pub fn unless_loss_excused(&self, promise: &'static str) -> (Verdict, &'static str) {
        (Verdict::Violation, promise)
    }
}

/// Runs every checker over the history.
pub fn check_all(history: &History, promises: &Promises) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    anomalies.extend(nonmonotonic_send::check(history, promises));
    anomalies.extend(duplicate::check(history, promises));
    anomalies.extend(poll_skip::check(history, promises));
    anomalies.extend(nonmonotonic_poll::check(history, promises));
    anomalies.extend(inconsistent_offsets::check(history, promises));
    anomalies.extend(lost_write::check(history, promises));
    anomalies.extend(monotonic_high_watermark::check(history, promises));
    anomalies.extend(group_ownership::check(history, promises));
    anomalies.extend(stale_commit::check(history, promises));
    anomalies.extend(commit_backwards::check(history, promises));
    anomalies.extend(processing::check(history, promises));
    anomalies.extend(txn::check_transactions(history, promises));
    anomalies.extend(pipeline_effect::check(history));
    anomalies
}

//! The transactional producer's side of a transaction (Kafka's `TransactionManager`): the
//! phase it is in, the coordinator it talks to one request at a time, the partitions it
//! added, the offsets it commits with the transaction, and how each answer moves it on.
//!
//! The producer asks [`TransactionManager::may_send_to`] before a batch leaves (a partition
//! must be in the transaction first), tells it of every record it queues and of every batch
//! it gives up on (the transaction can then only abort), and hands it the coordinator's
//! answers. What the manager decides for the producer comes back as [`TxnEvent`]s.

use super::txn_calls::Call;
use crate::group::{Generation, GroupId, MemberId};
use crate::ids::{BrokerId, Millis, Offset, ProducerEpoch, ProducerId, TopicPartition};
use crate::metadata_client::InFlight;
use crate::txn::TransactionalId;
use std::collections::BTreeSet;

/// Where the producer's transactions stand (Kafka's `TransactionManager.State`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnPhase {
    /// InitProducerId not answered yet.
    Initializing,
    /// Initialized, no transaction open: `begin_transaction` may be called.
    Ready,
    InTransaction,
    /// The application asked to commit: batches finish, then EndTxn(commit).
    Committing,
    /// The transaction is being aborted: unsent batches are dropped, those in flight
    /// finish, then EndTxn(abort).
    Aborting,
    /// Fenced, or refused in a way no retry mends: the producer is done.
    Fatal(String),
}

/// How a transaction ended, as far as the producer can know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnOutcome {
    Committed,
    /// Definitely not committed: aborted, or never asked to commit.
    Aborted,
    /// A commit was asked for and its answer never came.
    Unknown,
}

/// What the manager tells the producer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnEvent {
    /// The coordinator gave this identity (a new epoch fences every older instance):
    /// sequences start again at 0.
    Identity(ProducerId, ProducerEpoch),
    /// Aborting: every batch not yet sent is dropped.
    DropUnsent,
    /// The transaction is over.
    Ended {
        outcome: TxnOutcome,
        error: Option<String>,
    },
    /// Nothing more will be sent: every pending record is given up.
    Fatal(String),
}

/// Offsets to commit with the transaction (`sendOffsetsToTransaction`): first the group's
/// offsets partition is added (AddOffsetsToTxn), then the group's coordinator takes them
/// (TxnOffsetCommit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct TxnOffsets {
    pub(super) group: GroupId,
    pub(super) generation: Option<Generation>,
    pub(super) member: Option<MemberId>,
    pub(super) offsets: Vec<(TopicPartition, Offset)>,
    pub(super) added: bool,
    pub(super) group_coordinator: Option<BrokerId>,
    /// The group's coordinator took them: they commit or abort with the transaction.
    pub(super) committed: bool,
}

/// The transactional producer's state machine.
#[derive(Clone, Debug)]
pub struct TransactionManager {
    pub(super) id: TransactionalId,
    pub(super) timeout_ms: u64,
    pub(super) phase: TxnPhase,
    pub(super) identity: Option<(ProducerId, ProducerEpoch)>,
    pub(super) coordinator: Option<BrokerId>,
    pub(super) in_flight: Option<(InFlight, Call)>,
    pub(super) not_before_ms: Millis,
    /// Partitions the coordinator knows are in the open transaction.
    pub(super) added: BTreeSet<TopicPartition>,
    /// Partitions with queued records, not yet added.
    pub(super) to_add: BTreeSet<TopicPartition>,
    pub(super) offsets: Option<TxnOffsets>,
    /// Why the open transaction can only abort (a batch given up, a refused offset commit).
    pub(super) abortable: Option<String>,
    /// An EndTxn(commit) left: if no answer comes, the outcome is unknown.
    pub(super) commit_sent: bool,
    /// An EndTxn(commit) attempt failed without a definite answer: it may have been written.
    pub(super) commit_uncertain: bool,
    /// After this abort, initialize again for a new epoch (a sequence gap only a new epoch
    /// closes: KIP-360 for a transactional producer).
    pub(super) reinit_after_abort: bool,
}

impl TransactionManager {
    pub fn new(id: TransactionalId, timeout_ms: u64) -> Self {
        TransactionManager {
            id,
            timeout_ms,
            phase: TxnPhase::Initializing,
            identity: None,
            coordinator: None,
            in_flight: None,
            not_before_ms: 0,
            added: BTreeSet::new(),
            to_add: BTreeSet::new(),
            offsets: None,
            abortable: None,
            commit_sent: false,
            commit_uncertain: false,
            reinit_after_abort: false,
        }
    }

    pub fn phase(&self) -> &TxnPhase {
        &self.phase
    }

    pub fn transactional_id(&self) -> &TransactionalId {
        &self.id
    }

    /// The identity batches are stamped with, once initialized.
    pub fn identity(&self) -> Option<(ProducerId, ProducerEpoch)> {
        self.identity
    }

    /// `beginTransaction`.
    pub fn begin(&mut self) -> Result<(), String> {
        match &self.phase {
            TxnPhase::Ready => {
                self.phase = TxnPhase::InTransaction;
                Ok(())
            }
            other => Err(format!("cannot begin a transaction while {other:?}")),
        }
    }

    /// Whether a record may be sent now (a transactional producer sends only inside a
    /// transaction that is not ending by abort).
    pub fn accepts_records(&self) -> bool {
        self.phase == TxnPhase::InTransaction && self.abortable.is_none()
    }

    /// Whether a failed batch is given up rather than retried: the open transaction can
    /// only abort, or the producer is done.
    pub fn drops_retries(&self) -> bool {
        self.abortable.is_some() || matches!(self.phase, TxnPhase::Aborting | TxnPhase::Fatal(_))
    }

    /// `sendOffsetsToTransaction`: commit these offsets for `group` with the transaction.
    pub fn send_offsets(
        &mut self,
        group: GroupId,
        generation: Option<Generation>,
        member: Option<MemberId>,
        offsets: Vec<(TopicPartition, Offset)>,
    ) -> Result<(), String> {
        if self.phase != TxnPhase::InTransaction {
            return Err(format!("cannot send offsets while {:?}", self.phase));
        }
        if self.offsets.is_some() {
            return Err("offsets were already sent in this transaction".into());
        }
        self.offsets = Some(TxnOffsets {
            group,
            generation,
            member,
            offsets,
            added: false,
            group_coordinator: None,
            committed: false,
        });
        Ok(())
    }

    /// `commitTransaction` (`commit`) or `abortTransaction`. A commit of a transaction that
    /// can only abort aborts it, as an application does when its commit throws.
    pub fn end(&mut self, commit: bool) -> Result<Vec<TxnEvent>, String> {
        match self.phase {
            TxnPhase::InTransaction => {}
            TxnPhase::Committing | TxnPhase::Aborting => return Ok(Vec::new()),
            ref other => return Err(format!("no transaction to end while {other:?}")),
        }
        if commit && self.abortable.is_none() {
            self.phase = TxnPhase::Committing;
            return Ok(Vec::new());
        }
        Ok(self.start_abort())
    }

    fn start_abort(&mut self) -> Vec<TxnEvent> {
        self.phase = TxnPhase::Aborting;
        self.to_add.clear();
        if self.offsets.as_ref().is_some_and(|o| !o.added) {
            self.offsets = None;
        }
        vec![TxnEvent::DropUnsent]
    }

    /// A record was queued for `tp`: the partition joins the transaction first.
    pub fn on_record_queued(&mut self, tp: &TopicPartition) {
        if !self.added.contains(tp) {
            self.to_add.insert(tp.clone());
        }
    }

    /// Whether a batch for `tp` may leave: the coordinator must have added the partition.
    pub fn may_send_to(&self, tp: &TopicPartition) -> bool {
        self.added.contains(tp)
            && matches!(
                self.phase,
                TxnPhase::InTransaction | TxnPhase::Committing | TxnPhase::Aborting
            )
    }

    /// The producer gave up on a batch of the open transaction: it can only abort now, and
    /// a committing one aborts at once. Its outcome may be unknown (a request that timed
    /// out may still land), so after the abort the producer takes a new epoch, as Kafka's
    /// TransactionManager does since KIP-360 (`clientSideEpochBumpRequired`): a late
    /// produce of the old epoch is then fenced instead of joining the next transaction.
    pub fn on_batch_failed(&mut self, error: &str) -> Vec<TxnEvent> {
        self.reinit_after_abort = true;
        self.abortable_error(error.to_string())
    }

    /// A sequence gap only a new epoch closes: abort, then initialize again.
    pub fn require_epoch_bump(&mut self) -> Vec<TxnEvent> {
        self.reinit_after_abort = true;
        self.abortable_error("OUT_OF_ORDER_SEQUENCE_NUMBER: a new epoch is needed".into())
    }

    /// The open transaction can only abort: what was not sent is dropped at once (Kafka's
    /// Sender aborts undrained batches in this state), and a committing one aborts now.
    pub(super) fn abortable_error(&mut self, error: String) -> Vec<TxnEvent> {
        let first = self.abortable.is_none();
        if first {
            self.abortable = Some(error);
        }
        if self.phase == TxnPhase::Committing && !self.commit_sent {
            return self.start_abort();
        }
        if first && self.phase == TxnPhase::InTransaction {
            return vec![TxnEvent::DropUnsent];
        }
        Vec::new()
    }

    /// A produce answer says a newer instance holds the transactional id.
    pub fn fenced(&mut self, error: String) -> Vec<TxnEvent> {
        self.fatal(error)
    }

    /// The coordinator knows no transaction of this producer id (its state was lost, or
    /// the id expired): as Kafka's client does, the transaction ends without an EndTxn
    /// (the coordinator would refuse it again) and the producer initializes anew. A commit
    /// is aborted unless an earlier attempt of it may have been written.
    pub(super) fn ended_unknown_to_coordinator(&mut self, commit: bool) -> Vec<TxnEvent> {
        self.reinit_after_abort = true;
        self.abortable =
            Some("INVALID_PRODUCER_ID_MAPPING: the coordinator lost the transaction".into());
        let outcome = if commit && self.commit_uncertain {
            TxnOutcome::Unknown
        } else {
            TxnOutcome::Aborted
        };
        self.ended(outcome)
    }

    /// The producer is fenced or refused for good: what the open transaction became.
    pub(super) fn fatal(&mut self, error: String) -> Vec<TxnEvent> {
        let mut events = Vec::new();
        let open = matches!(
            self.phase,
            TxnPhase::InTransaction | TxnPhase::Committing | TxnPhase::Aborting
        );
        if open {
            let outcome = if self.commit_sent {
                TxnOutcome::Unknown
            } else {
                TxnOutcome::Aborted
            };
            events.push(TxnEvent::Ended {
                outcome,
                error: Some(error.clone()),
            });
        }
        self.phase = TxnPhase::Fatal(error.clone());
        self.in_flight = None;
        events.push(TxnEvent::Fatal(error));
        events
    }

    /// The open transaction is over: back to Ready, or to initializing again.
    pub(super) fn ended(&mut self, outcome: TxnOutcome) -> Vec<TxnEvent> {
        let error = match outcome {
            TxnOutcome::Aborted => self.abortable.take(),
            _ => None,
        };
        self.added.clear();
        self.to_add.clear();
        self.offsets = None;
        self.abortable = None;
        self.commit_sent = false;
        self.commit_uncertain = false;
        self.phase = if std::mem::take(&mut self.reinit_after_abort) {
            self.identity = None;
            TxnPhase::Initializing
        } else {
            TxnPhase::Ready
        };
        vec![TxnEvent::Ended { outcome, error }]
    }

    /// When the manager next has something to do on its own: a retry after its backoff,
    /// or a request's timeout.
    pub fn next_deadline(&self, request_timeout_ms: u64, driven_at_ms: Millis) -> Option<Millis> {
        let timeout = self
            .in_flight
            .as_ref()
            .map(|(f, _)| f.sent_ms + request_timeout_ms);
        let retry = (self.not_before_ms > driven_at_ms).then_some(self.not_before_ms);
        timeout.into_iter().chain(retry).min()
    }
}

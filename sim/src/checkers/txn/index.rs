//! The view of a history the transactional checkers share: each transaction with its
//! outcome, the writer of each value, every positioned write, and every read (a poll's or
//! a transaction's) with its isolation level, split into assignments per reader.

use super::super::view::Partition;
use crate::history::{History, OpType, Operation, TxnValue};
use kafka_model::txn::IsolationLevel;
use std::collections::{BTreeMap, BTreeSet};

/// What became of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    /// `ok`: EndTxn(commit) succeeded.
    Committed,
    /// `fail`: definitely not committed.
    Aborted,
    /// `info`, or no completion at all: it may or may not have committed.
    Unknown,
}

/// One transaction: its invoke and its completion.
#[derive(Clone, Debug)]
pub(crate) struct Txn<'a> {
    pub process: &'a str,
    pub transactional_id: &'a str,
    pub epoch: Option<u16>,
    pub outcome: Outcome,
    /// When it began (its invoke's time and history index), if the history holds it.
    pub invoke_ms: Option<u64>,
    pub invoke_index: Option<u64>,
    /// The history index of its completion (of its invoke, if it never completed).
    pub index: u64,
    /// Its completion's value (its invoke's, if it never completed).
    pub value: &'a TxnValue,
}

impl Txn<'_> {
    /// "tx-1 epoch 3 (index 12)", for anomaly details.
    pub fn name(&self) -> String {
        let epoch = self.epoch.map_or("?".to_string(), |e| e.to_string());
        format!(
            "{} epoch {epoch} (index {})",
            self.transactional_id, self.index
        )
    }
}

/// Who wrote a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Writer {
    /// The transaction at this position of `TxnIndex::txns`.
    Txn(usize),
    /// A plain (non-transactional) send.
    Plain,
}

/// A value the history places at (partition, offset) by its writer's report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Write<'a> {
    pub partition: Partition<'a>,
    pub offset: u64,
    pub value: u64,
    pub writer: Writer,
    /// Whether the write's survival is promised once acknowledged (acks=all, or a
    /// committed transaction's).
    pub durable: bool,
}

/// One record a consumer read, by a plain poll or inside a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Read<'a> {
    pub process: &'a str,
    pub partition: Partition<'a>,
    pub offset: u64,
    pub value: u64,
    pub isolation: IsolationLevel,
    /// The history index of the entry that reported it, and that entry's time.
    pub index: u64,
    pub time_ms: u64,
    /// The transaction that polled it, if any.
    pub txn: Option<usize>,
}

/// A reader's reads of one partition from one `assign` to the next.
#[derive(Clone, Debug, Default)]
pub(crate) struct Span {
    /// The position the `assign` set; `None` for reads before any `assign`.
    pub assigned: Option<u64>,
    /// Positions in `TxnIndex::reads`, in the order the reader made them.
    pub reads: Vec<usize>,
}

/// The shared view.
#[derive(Debug, Default)]
pub(crate) struct TxnIndex<'a> {
    pub txns: Vec<Txn<'a>>,
    pub writer_of: BTreeMap<u64, Writer>,
    pub writes: Vec<Write<'a>>,
    pub reads: Vec<Read<'a>>,
    /// Per (reader, partition): its spans, oldest first.
    pub spans: BTreeMap<(&'a str, Partition<'a>), Vec<Span>>,
    /// History indexes of each process's `assign`s, per partition.
    pub assigns: BTreeMap<(&'a str, Partition<'a>), Vec<u64>>,
}

impl<'a> TxnIndex<'a> {
    pub fn of(history: &'a History) -> Self {
        let mut index = TxnIndex::default();
        // process -> (invoke index, invoke time, planned sends) of its open transaction
        let mut open: BTreeMap<&str, (u64, u64, &TxnValue)> = BTreeMap::new();
        let mut plain_writes: Vec<(u64, Partition<'a>, u64, bool)> = Vec::new();
        for entry in &history.entries {
            let process = entry.process.as_str();
            match (&entry.op, entry.op_type) {
                (Operation::Txn(txn), OpType::Invoke) => {
                    let invoke = (entry.index, entry.time_ms, txn);
                    if let Some((at, time_ms, planned)) = open.insert(process, invoke) {
                        // An invoke with no completion before the next: never completed.
                        let invoke = (Some(at), Some(time_ms), Some(planned));
                        index.push_txn(process, invoke, at, planned, None);
                    }
                }
                (Operation::Txn(txn), op_type) => {
                    let invoke = open.remove(process);
                    let invoke = (
                        invoke.map(|i| i.0),
                        invoke.map(|i| i.1),
                        invoke.map(|i| i.2),
                    );
                    let outcome = match op_type {
                        OpType::Ok => Outcome::Committed,
                        OpType::Fail => Outcome::Aborted,
                        OpType::Info | OpType::Invoke => Outcome::Unknown,
                    };
                    let at = index.push_txn(process, invoke, entry.index, txn, Some(outcome));
                    for (record, isolation) in txn.polled() {
                        index.push_read(process, entry, record, isolation, Some(at));
                    }
                }
                (Operation::Send(send), op_type) => {
                    index.writer_of.entry(send.value).or_insert(Writer::Plain);
                    if let (OpType::Ok, Some(p), Some(o)) = (op_type, send.partition, send.offset) {
                        let durable = matches!(send.acks.as_str(), "all" | "-1");
                        plain_writes.push((send.value, (send.topic.as_str(), p), o, durable));
                    }
                }
                (Operation::Poll(poll), OpType::Ok) => {
                    for record in &poll.records {
                        index.push_read(process, entry, record, poll.isolation, None);
                    }
                }
                (Operation::Assign(assign), OpType::Ok) => {
                    let key = (process, (assign.topic.as_str(), assign.partition));
                    index.assigns.entry(key).or_default().push(entry.index);
                    index.spans.entry(key).or_default().push(Span {
                        assigned: Some(assign.offset),
                        reads: Vec::new(),
                    });
                }
                _ => {}
            }
        }
        for (process, (at, time_ms, planned)) in open {
            let invoke = (Some(at), Some(time_ms), Some(planned));
            index.push_txn(process, invoke, at, planned, None);
        }
        for (value, partition, offset, durable) in plain_writes {
            index.writes.push(Write {
                partition,
                offset,
                value,
                writer: Writer::Plain,
                durable,
            });
        }
        index
    }

    /// Records a transaction, from its invoke (time and planned sends, if the history holds
    /// it) and its completion at history index `at` (`outcome` None: it never completed),
    /// and its writes.
    fn push_txn(
        &mut self,
        process: &'a str,
        (invoke_index, invoke_ms, planned): (Option<u64>, Option<u64>, Option<&'a TxnValue>),
        at: u64,
        value: &'a TxnValue,
        outcome: Option<Outcome>,
    ) -> usize {
        let id = self.txns.len();
        // A planned send the completion does not repeat (a failed transaction's) is still
        // this transaction's value.
        for send in planned.into_iter().flat_map(TxnValue::sends) {
            self.writer_of.insert(send.value, Writer::Txn(id));
        }
        let outcome = outcome.unwrap_or(Outcome::Unknown);
        self.txns.push(Txn {
            process,
            transactional_id: &value.transactional_id,
            epoch: value.producer_epoch,
            outcome,
            invoke_ms,
            invoke_index,
            index: at,
            value,
        });
        for send in value.sends() {
            // A transaction's value names it even if a plain send of it came first.
            self.writer_of.insert(send.value, Writer::Txn(id));
            if let (Some(p), Some(o)) = (send.partition, send.offset) {
                self.writes.push(Write {
                    partition: (&send.topic, p),
                    offset: o,
                    value: send.value,
                    writer: Writer::Txn(id),
                    durable: outcome == Outcome::Committed,
                });
            }
        }
        id
    }

    fn push_read(
        &mut self,
        process: &'a str,
        entry: &'a crate::history::HistoryEntry,
        record: &'a kafka_model::effect::ObservedRecord,
        isolation: IsolationLevel,
        txn: Option<usize>,
    ) {
        let partition = (record.topic.as_str(), record.partition);
        let spans = self.spans.entry((process, partition)).or_default();
        if spans.is_empty() {
            spans.push(Span::default());
        }
        spans
            .last_mut()
            .expect("just ensured")
            .reads
            .push(self.reads.len());
        self.reads.push(Read {
            process,
            partition,
            offset: record.offset,
            value: record.value,
            isolation,
            index: entry.index,
            time_ms: entry.time_ms,
            txn,
        });
    }

    /// The transaction that wrote `value`, if a transaction did.
    pub fn txn_writer(&self, value: u64) -> Option<(usize, &Txn<'a>)> {
        match self.writer_of.get(&value)? {
            Writer::Txn(id) => Some((*id, &self.txns[*id])),
            Writer::Plain => None,
        }
    }

    /// Whether a reader at `isolation` must be returned `value` when it reads past its
    /// offset: read_uncommitted returns every record; read_committed those of committed
    /// transactions and of plain sends, and nothing whose writer is unknown or undecided.
    pub fn returned_to(&self, value: u64, isolation: IsolationLevel) -> bool {
        match (isolation, self.writer_of.get(&value)) {
            (IsolationLevel::ReadUncommitted, _) => true,
            (IsolationLevel::ReadCommitted, Some(Writer::Plain)) => true,
            (IsolationLevel::ReadCommitted, Some(Writer::Txn(id))) => {
                self.txns[*id].outcome == Outcome::Committed
            }
            (IsolationLevel::ReadCommitted, None) => false,
        }
    }

    /// The values known to be in `partition` at offsets strictly between `low` and `high`:
    /// read there by some consumer, or written there by a durable write. Per offset, the
    /// values in order.
    pub fn known_between(
        &self,
        partition: Partition<'_>,
        low: u64,
        high: u64,
    ) -> BTreeMap<u64, BTreeSet<u64>> {
        self.known_in(partition, low.saturating_add(1)..high)
    }

    /// As [`Self::known_between`], for the offsets of `range`.
    pub fn known_in(
        &self,
        partition: Partition<'_>,
        range: std::ops::Range<u64>,
    ) -> BTreeMap<u64, BTreeSet<u64>> {
        let mut known: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
        let inside = |p: Partition<'_>, o: u64| p == partition && range.contains(&o);
        for read in self.reads.iter().filter(|r| inside(r.partition, r.offset)) {
            known.entry(read.offset).or_default().insert(read.value);
        }
        for write in self.writes.iter().filter(|w| w.durable) {
            if inside(write.partition, write.offset) {
                known.entry(write.offset).or_default().insert(write.value);
            }
        }
        known
    }

    /// The records at the offsets of `range` that a reader at `isolation` must be returned
    /// (not counting `own`, the reader's transaction's), one value per offset.
    pub fn skipped(
        &self,
        partition: Partition<'_>,
        range: std::ops::Range<u64>,
        isolation: IsolationLevel,
        own: Option<usize>,
    ) -> Vec<(u64, u64)> {
        self.known_in(partition, range)
            .into_iter()
            .filter_map(|(offset, values)| {
                let value = values.into_iter().find(|v| {
                    self.returned_to(*v, isolation)
                        && (own.is_none() || self.txn_writer(*v).map(|w| w.0) != own)
                })?;
                Some((offset, value))
            })
            .collect()
    }

    /// Whether `process` was assigned `partition` between history indexes `from` and `to`
    /// (a seek or a rebalance: its reads on the two sides need not be contiguous).
    pub fn assigned_between(
        &self,
        process: &str,
        partition: Partition<'_>,
        from: u64,
        to: u64,
    ) -> bool {
        self.assigns
            .get(&(process, partition))
            .is_some_and(|at| at.iter().any(|i| from < *i && *i < to))
    }
}

/// The verdict for a read the isolation level may or may not return.
pub(crate) fn by_isolation(
    isolation: IsolationLevel,
    allowed: &'static str,
    promise: &'static str,
) -> (super::super::Verdict, &'static str) {
    match isolation {
        IsolationLevel::ReadUncommitted => (super::super::Verdict::Allowed, allowed),
        IsolationLevel::ReadCommitted => (super::super::Verdict::Violation, promise),
    }
}

/// "read_committed" or "read_uncommitted", for details.
pub(crate) fn isolation_name(isolation: IsolationLevel) -> &'static str {
    match isolation {
        IsolationLevel::ReadUncommitted => "read_uncommitted",
        IsolationLevel::ReadCommitted => "read_committed",
    }
}

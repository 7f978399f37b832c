//! The application's side of a group member: polled records waiting to be processed, one
//! poll after another, each taking `process_ms`; in before-processing mode each first waits
//! for its commit to be acknowledged.

use crate::effect::ObservedRecord;
use crate::group::Generation;
use crate::ids::{Millis, Offset, TopicPartition};
use std::collections::{BTreeSet, VecDeque};

/// One poll's records of one partition.
#[derive(Clone, Debug)]
pub(super) struct Polled {
    pub tp: TopicPartition,
    pub records: Vec<ObservedRecord>,
    /// The offset after the last record: what a commit of this poll names.
    pub next: Offset,
    pub generation: Generation,
    /// Before-processing mode: the commit (correlation id) it waits for.
    pub waiting_for_commit: Option<u64>,
    /// When its processing ends, once it may start.
    pub done_ms: Option<Millis>,
}

/// Polls in the order they were polled; processed strictly in that order.
#[derive(Clone, Debug, Default)]
pub(super) struct ProcessingQueue {
    items: VecDeque<Polled>,
    busy_until_ms: Millis,
}

impl ProcessingQueue {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Queues a poll that may be processed as soon as the ones before it are.
    pub fn push_ready(&mut self, now: Millis, mut item: Polled, process_ms: u64) {
        item.waiting_for_commit = None;
        item.done_ms = Some(self.schedule(now, process_ms));
        self.items.push_back(item);
    }

    /// Queues a poll that must be committed before it is processed: its commit is sent
    /// when the commits before it are done ([`ProcessingQueue::next_to_commit`]).
    pub fn push_uncommitted(&mut self, mut item: Polled) {
        item.waiting_for_commit = None;
        item.done_ms = None;
        self.items.push_back(item);
    }

    /// The first poll whose commit is not sent yet: its partition and end offset.
    pub fn next_to_commit(&self) -> Option<(TopicPartition, Offset)> {
        self.items
            .iter()
            .find(|item| item.waiting_for_commit.is_none() && item.done_ms.is_none())
            .map(|item| (item.tp.clone(), item.next))
    }

    /// The commit of the poll [`ProcessingQueue::next_to_commit`] named is sent.
    pub fn commit_sent(&mut self, correlation_id: u64) {
        if let Some(item) = self
            .items
            .iter_mut()
            .find(|item| item.waiting_for_commit.is_none() && item.done_ms.is_none())
        {
            item.waiting_for_commit = Some(correlation_id);
        }
    }

    /// The commit `correlation_id` is durable: what waited on it may be processed.
    pub fn commit_acknowledged(&mut self, now: Millis, correlation_id: u64, process_ms: u64) {
        let waiting: Vec<usize> = (0..self.items.len())
            .filter(|&i| self.items[i].waiting_for_commit == Some(correlation_id))
            .collect();
        for i in waiting {
            let done_ms = self.schedule(now, process_ms);
            let item = &mut self.items[i];
            item.waiting_for_commit = None;
            item.done_ms = Some(done_ms);
        }
    }

    /// What waited on the commit `correlation_id` now waits on `retry` (a resent commit).
    pub fn commit_resent(&mut self, correlation_id: u64, retry: u64) {
        for item in &mut self.items {
            if item.waiting_for_commit == Some(correlation_id) {
                item.waiting_for_commit = Some(retry);
            }
        }
    }

    /// The commit `correlation_id` was refused for good: its polls are never processed,
    /// so that nothing is processed without its commit (at-most-once).
    pub fn commit_refused(&mut self, correlation_id: u64) {
        self.items
            .retain(|item| item.waiting_for_commit != Some(correlation_id));
    }

    /// Drops the polls of partitions the member no longer owns (or every poll).
    pub fn drop_partitions(&mut self, revoked: Option<&BTreeSet<TopicPartition>>) {
        match revoked {
            None => self.items.clear(),
            Some(revoked) => self.items.retain(|item| !revoked.contains(&item.tp)),
        }
    }

    /// The polls whose processing has ended by `now`, in order.
    pub fn take_done(&mut self, now: Millis) -> Vec<Polled> {
        let mut done = Vec::new();
        while self
            .items
            .front()
            .is_some_and(|item| item.done_ms.is_some_and(|t| t <= now))
        {
            done.push(self.items.pop_front().expect("checked"));
        }
        done
    }

    pub fn next_deadline(&self) -> Option<Millis> {
        self.items.front().and_then(|item| item.done_ms)
    }

    /// Processing is sequential: a poll starts when the one before it ends.
    fn schedule(&mut self, now: Millis, process_ms: u64) -> Millis {
        let done_ms = self.busy_until_ms.max(now) + process_ms;
        self.busy_until_ms = done_ms;
        done_ms
    }
}

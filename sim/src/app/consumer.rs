//! A service's consumer: a group member (rdkafka's `StreamConsumer` in a group) over the
//! model's group consumer (the scenario's `[consumer]` settings) that hands the service
//! each record and commits only when the service says, as a Kafka application with
//! `enable.auto.commit=false` does.

use super::mailbox::{Mailbox, Request};
use futures::channel::oneshot;
use kafka_model::ids::{Offset, TopicPartition};
use std::fmt;

/// One record as the service receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub key: Option<String>,
    /// The payload its producer sent: a service's own, or the decimal text of a workload
    /// record's number.
    pub value: Vec<u8>,
    /// The record's value as the history names it.
    pub id: u64,
}

impl Record {
    /// The payload as text (lossy).
    pub fn value_str(&self) -> String {
        String::from_utf8_lossy(&self.value).into_owned()
    }
}

/// A commit that did not succeed (Kafka's `CommitFailedException` and kin): the offsets
/// may be committed later by another commit, or read again by the partitions' next owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitError {
    pub error: String,
}

impl fmt::Display for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)
    }
}

impl std::error::Error for CommitError {}

/// The replica's group consumer.
pub struct ServiceConsumer {
    pub(crate) mailbox: Mailbox,
    pub(crate) group: String,
    pub(crate) subscribed: bool,
}

impl ServiceConsumer {
    /// Joins the group for `topics`. A consumer subscribes once (a second call does
    /// nothing, as Kafka's replaces a subscription only between polls).
    pub fn subscribe(&mut self, topics: &[&str]) {
        if std::mem::replace(&mut self.subscribed, true) {
            return;
        }
        self.mailbox.push(Request::Subscribe {
            group: self.group.clone(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
        });
    }

    /// The next record of the partitions the group gave this member, in the order polled.
    pub async fn recv(&mut self) -> Record {
        let (reply, answer) = oneshot::channel();
        self.mailbox.push(Request::Recv { reply });
        match answer.await {
            Ok(record) => record,
            // The node is going down: nothing more will come.
            Err(_) => futures::future::pending().await,
        }
    }

    /// `commitSync()`: commits, for each partition, the offset after the last record
    /// received, and resolves with the coordinator's answer.
    pub async fn commit(&mut self) -> Result<(), CommitError> {
        self.commit_request(None).await
    }

    /// `commitSync(offsets)`: commits these (topic, partition, next offset to read).
    pub async fn commit_offsets(
        &mut self,
        offsets: &[(&str, u32, u64)],
    ) -> Result<(), CommitError> {
        let offsets = offsets
            .iter()
            .map(|(topic, partition, offset)| {
                (TopicPartition::new(*topic, *partition), Offset(*offset))
            })
            .collect();
        self.commit_request(Some(offsets)).await
    }

    async fn commit_request(
        &mut self,
        offsets: Option<Vec<(TopicPartition, Offset)>>,
    ) -> Result<(), CommitError> {
        let (reply, answer) = oneshot::channel();
        self.mailbox.push(Request::Commit { offsets, reply });
        answer.await.unwrap_or_else(|_| {
            Err(CommitError {
                error: "the consumer is gone".into(),
            })
        })
    }
}

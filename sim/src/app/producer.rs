//! A service's producer: rdkafka's `FutureProducer` shape over the model's producer (the
//! scenario's `[producer]` settings), one per replica incarnation.

use super::mailbox::{Mailbox, Request};
use futures::channel::oneshot;
use std::fmt;

/// Where an acknowledged send landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub partition: u32,
    /// `None` under acks=0: the broker does not answer.
    pub offset: Option<u64>,
    /// The record's value as the history and the checkers name it (unique in the run).
    pub id: u64,
}

/// A send that was not acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProduceError {
    pub error: String,
    /// Whether it may have been written all the same (a timeout after the request left:
    /// Kafka's `TimeoutException`); `false`: it definitely was not.
    pub maybe_written: bool,
}

impl fmt::Display for ProduceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fate = if self.maybe_written {
            "may have been written"
        } else {
            "not written"
        };
        write!(f, "{} ({fate})", self.error)
    }
}

impl std::error::Error for ProduceError {}

/// A handle on the replica's producer; clones share it.
#[derive(Clone)]
pub struct ServiceProducer {
    pub(crate) mailbox: Mailbox,
}

impl ServiceProducer {
    /// Sends one record; resolves once the producer knows its fate (acknowledged, given
    /// up, or timed out), as `FutureProducer::send` does. Keyless records go where the
    /// sticky partitioner puts them, keyed ones to the key's partition.
    pub async fn send(
        &self,
        topic: &str,
        key: Option<&str>,
        payload: impl Into<Vec<u8>>,
    ) -> Result<Delivered, ProduceError> {
        let (reply, answer) = oneshot::channel();
        self.mailbox.push(Request::Send {
            topic: topic.to_string(),
            key: key.map(str::to_string),
            payload: payload.into(),
            reply,
        });
        answer.await.unwrap_or_else(|_| {
            Err(ProduceError {
                error: "the producer is gone".into(),
                maybe_written: true,
            })
        })
    }
}

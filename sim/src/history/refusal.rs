//! The history's error records: each error a broker answered a client with, as its own
//! entry in Jepsen's shape (`"type":"fail"`, or `"info"` when the refused batch may still
//! have been written), naming the broker that answered and the request it refused. The
//! send, poll or commit the request served completes in its own entry, with the strings
//! it always had.

use kafka_model::effect::{Refusal, RefusedRequest};
use serde::{Deserialize, Serialize};

/// A `produce` entry: a partition's batch of a produce request, refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProduceRefusal {
    /// The broker that answered (`b1`).
    pub broker: String,
    /// The request's correlation id.
    pub request: u64,
    pub topic: String,
    pub partition: u32,
    pub error: String,
    pub retriable: bool,
    /// The values of the batch's records, in order.
    pub values: Vec<u64>,
    /// An idempotent producer's batch identity (KIP-98).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer_epoch: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_sequence: Option<u32>,
    /// A transactional producer's batch (left out otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transactional: bool,
}

/// A `fetch` entry: one partition of a consumer's fetch, refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRefusal {
    pub broker: String,
    pub request: u64,
    pub topic: String,
    pub partition: u32,
    /// The fetch offset.
    pub offset: u64,
    /// The leader epoch the fetch named (KIP-320).
    pub leader_epoch: u32,
    pub error: String,
    pub retriable: bool,
}

/// A `group` entry: a coordinator request, refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRefusal {
    pub broker: String,
    pub request: u64,
    /// `join`, `sync`, `heartbeat`, `leave`, `commit` or `offset-fetch`.
    pub api: String,
    pub group: String,
    /// The member id and generation the request named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u32>,
    pub error: String,
    pub retriable: bool,
}

/// A refusal's error and where it came from, whatever the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefusalRef<'a> {
    pub broker: &'a str,
    pub request: u64,
    pub error: &'a str,
    pub retriable: bool,
}

impl super::Operation {
    /// The refusal this entry records, if it is one.
    pub fn refusal(&self) -> Option<RefusalRef<'_>> {
        let (broker, request, error, retriable) = match self {
            super::Operation::Produce(p) => (&p.broker, p.request, &p.error, p.retriable),
            super::Operation::Fetch(f) => (&f.broker, f.request, &f.error, f.retriable),
            super::Operation::Group(g) => (&g.broker, g.request, &g.error, g.retriable),
            _ => return None,
        };
        Some(RefusalRef {
            broker,
            request,
            error,
            retriable,
        })
    }
}

/// The history entry of a client's refusal: its type and operation.
pub(super) fn project(refusal: Refusal) -> (super::OpType, super::Operation) {
    let broker = refusal.broker.to_string();
    let (request, error, retriable) = (refusal.correlation_id, refusal.error, refusal.retriable);
    match refusal.request {
        RefusedRequest::Produce {
            tp,
            values,
            stamp,
            transactional,
            maybe_written,
        } => {
            let op_type = if maybe_written {
                super::OpType::Info
            } else {
                super::OpType::Fail
            };
            let op = super::Operation::Produce(ProduceRefusal {
                broker,
                request,
                topic: tp.topic,
                partition: tp.partition,
                error,
                retriable,
                values,
                producer_id: stamp.map(|s| s.producer_id.0),
                producer_epoch: stamp.map(|s| s.producer_epoch.0),
                base_sequence: stamp.map(|s| s.base_sequence),
                transactional,
            });
            (op_type, op)
        }
        RefusedRequest::Fetch {
            tp,
            fetch_offset,
            leader_epoch,
        } => (
            super::OpType::Fail,
            super::Operation::Fetch(FetchRefusal {
                broker,
                request,
                topic: tp.topic,
                partition: tp.partition,
                offset: fetch_offset.0,
                leader_epoch: leader_epoch.0,
                error,
                retriable,
            }),
        ),
        RefusedRequest::Group {
            api,
            group,
            member,
            generation,
        } => (
            super::OpType::Fail,
            super::Operation::Group(GroupRefusal {
                broker,
                request,
                api: api.to_string(),
                group,
                member,
                generation,
                error,
                retriable,
            }),
        ),
    }
}

//! The scripted broker the transactional producer tests talk to: it leads `t-0` and
//! coordinates the transaction and the group, answering every request at once unless a
//! test says otherwise.

use super::*;
use crate::group::GroupResponse;
use crate::ids::{LeaderEpoch, Offset, ProducerEpoch, ProducerId};
use crate::protocol::PartitionMetadata;
use crate::txn::{TxnRequest, TxnResponse};

pub(super) const B1: NodeId = NodeId(1);

/// A scripted broker: answers every request at once, unless `refuse` says otherwise
/// (`Some(None)`: the answer is lost; `Some(Some(m))`: answer `m` instead).
pub(super) struct Broker {
    pub inits: u16,
    pub next_offset: u64,
    pub seen: Vec<Message>,
    #[allow(clippy::type_complexity)]
    pub refuse: Box<dyn FnMut(&Message) -> Option<Option<Message>>>,
}

impl Broker {
    pub fn new() -> Self {
        Broker {
            inits: 0,
            next_offset: 0,
            seen: Vec::new(),
            refuse: Box::new(|_| None),
        }
    }

    pub fn answer(&mut self, message: &Message) -> Option<Message> {
        self.seen.push(message.clone());
        if let Some(instead) = (self.refuse)(message) {
            return instead;
        }
        Some(match message {
            Message::MetadataRequest { correlation_id } => Message::MetadataResponse {
                correlation_id: *correlation_id,
                brokers: vec![BrokerId(1)],
                partitions: vec![PartitionMetadata {
                    tp: tp(),
                    leader: Some(BrokerId(1)),
                    leader_epoch: LeaderEpoch(1),
                }],
            },
            Message::FindTxnCoordinatorRequest { correlation_id, .. } => {
                Message::FindTxnCoordinatorResponse {
                    correlation_id: *correlation_id,
                    result: Ok(BrokerId(1)),
                }
            }
            Message::FindCoordinatorRequest { correlation_id, .. } => {
                Message::FindCoordinatorResponse {
                    correlation_id: *correlation_id,
                    result: Ok(BrokerId(1)),
                }
            }
            Message::InitProducerIdRequest { correlation_id, .. } => {
                self.inits += 1;
                Message::InitProducerIdResponse {
                    correlation_id: *correlation_id,
                    result: Ok((ProducerId(9), ProducerEpoch(self.inits))),
                }
            }
            Message::TxnRequest {
                correlation_id,
                request,
            } => Message::TxnResponse {
                correlation_id: *correlation_id,
                response: match request {
                    TxnRequest::AddPartitions { partitions, .. } => TxnResponse::AddPartitions {
                        results: partitions.iter().map(|p| (p.clone(), Ok(()))).collect(),
                    },
                    TxnRequest::AddOffsets { .. } => TxnResponse::AddOffsets { result: Ok(()) },
                    TxnRequest::EndTxn { .. } => TxnResponse::EndTxn { result: Ok(()) },
                },
            },
            Message::GroupRequest {
                correlation_id,
                request,
            } => Message::GroupResponse {
                correlation_id: *correlation_id,
                response: match request {
                    GroupRequest::TxnOffsetCommit { group, offsets, .. } => {
                        GroupResponse::TxnOffsetCommit {
                            group: group.clone(),
                            results: offsets.iter().map(|(tp, _)| (tp.clone(), Ok(()))).collect(),
                        }
                    }
                    other => panic!("unexpected group request {other:?}"),
                },
            },
            Message::ProduceRequest {
                correlation_id,
                batches,
                ..
            } => Message::ProduceResponse {
                correlation_id: *correlation_id,
                results: batches
                    .iter()
                    .map(|(tp, batch)| {
                        let base = self.next_offset;
                        self.next_offset += batch.records.len() as u64;
                        (tp.clone(), Ok(Offset(base)))
                    })
                    .collect(),
            },
            other => panic!("unexpected request {other:?}"),
        })
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.seen
            .iter()
            .map(Message::kind)
            .filter(|k| *k != "MetadataReq")
            .collect()
    }
}

use crate::group::GroupRequest;

pub(super) fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

pub(super) fn transactional() -> Producer {
    let config = ProducerConfig {
        transactional_id: Some("tx-1".into()),
        ..ProducerConfig::default()
    };
    Producer::new(config, vec![BrokerId(1)])
}

/// Delivers every request in `out` to `broker` and its answers back, until quiet or
/// `until`; timers fire on the way. Returns everything the producer did.
pub(super) fn settle(
    producer: &mut Producer,
    broker: &mut Broker,
    mut out: Vec<Output>,
    until: Millis,
) -> Vec<Output> {
    let mut all = Vec::new();
    let mut now = 0;
    loop {
        let requests: Vec<Message> = out
            .iter()
            .filter_map(|o| match o {
                Output::Send { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect();
        all.append(&mut out);
        now += 1;
        for request in requests {
            if let Some(answer) = broker.answer(&request) {
                producer.on_message(now, B1, answer, &mut out);
            }
        }
        if out.is_empty() {
            match producer.next_deadline().filter(|at| *at <= until) {
                Some(at) => {
                    now = now.max(at);
                    producer.tick(now, &mut out);
                }
                None => return all,
            }
        }
    }
}

pub(super) fn ready(broker: &mut Broker) -> Producer {
    let mut producer = transactional();
    let mut out = Vec::new();
    producer.tick(0, &mut out);
    settle(&mut producer, broker, out, 1_000);
    assert_eq!(producer.transactions().unwrap().phase(), &TxnPhase::Ready);
    assert_eq!(
        producer.take_txn_events(),
        vec![TxnEvent::Identity(ProducerId(9), ProducerEpoch(1))]
    );
    producer
}

pub(super) fn ended(producer: &mut Producer) -> Vec<TxnOutcome> {
    producer
        .take_txn_events()
        .into_iter()
        .filter_map(|e| match e {
            TxnEvent::Ended { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect()
}

pub(super) fn send_and_end(
    producer: &mut Producer,
    broker: &mut Broker,
    commit: bool,
) -> Vec<Output> {
    let mut out = Vec::new();
    producer.begin_transaction().unwrap();
    producer.send(0, "t", Some("k".into()), 7, 0, &mut out);
    producer.end_transaction(0, commit, &mut out).unwrap();
    settle(producer, broker, out, 60_000)
}

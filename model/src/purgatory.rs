//! The produce purgatory: `acks=all` requests whose records are in the leader's log but not
//! yet below its high watermark. Each waits until every partition it wrote is committed,
//! its leadership is lost, or its timeout passes (Kafka's `DelayedProduce`).

use crate::ids::{Millis, NodeId, Offset, TopicPartition};
use crate::protocol::ErrorCode;

/// What a waiting partition's outcome depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingPartition {
    pub tp: TopicPartition,
    /// `Ok(base)` while waiting or done, the error once decided.
    pub result: Result<crate::partition::Appended, ErrorCode>,
    pub decided: bool,
}

/// One produce request waiting for replication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayedProduce {
    pub from: NodeId,
    pub correlation_id: u64,
    pub deadline_ms: Millis,
    pub partitions: Vec<WaitingPartition>,
}

/// How a waiting partition stands now, as its broker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Still leader and the high watermark has not passed the write.
    Waiting,
    /// Committed, with the ISR at least `min.insync.replicas`.
    Committed,
    Failed(ErrorCode),
}

/// A request whose every partition is decided: the response to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completed {
    pub to: NodeId,
    pub correlation_id: u64,
    pub results: Vec<(TopicPartition, Result<Offset, ErrorCode>)>,
}

/// The waiting requests, in arrival order.
#[derive(Clone, Debug, Default)]
pub struct Purgatory {
    waiting: Vec<DelayedProduce>,
}

impl Purgatory {
    pub fn add(&mut self, request: DelayedProduce) {
        self.waiting.push(request);
    }

    pub fn next_deadline(&self) -> Option<Millis> {
        self.waiting.iter().map(|r| r.deadline_ms).min()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Decides what can be decided now (`standing` says how a partition's write stands)
    /// and returns the requests that are complete, in arrival order, with one result per
    /// partition. Past its deadline, what still waits times out.
    pub fn complete(
        &mut self,
        now: Millis,
        standing: impl Fn(&TopicPartition, Offset) -> Standing,
    ) -> Vec<Completed> {
        let mut done = Vec::new();
        for mut request in std::mem::take(&mut self.waiting) {
            for partition in request.partitions.iter_mut().filter(|p| !p.decided) {
                let Ok(appended) = partition.result else {
                    partition.decided = true;
                    continue;
                };
                match standing(&partition.tp, appended.last) {
                    Standing::Waiting if now >= request.deadline_ms => {
                        partition.result = Err(ErrorCode::RequestTimedOut);
                        partition.decided = true;
                    }
                    Standing::Waiting => {}
                    Standing::Committed => partition.decided = true,
                    Standing::Failed(error) => {
                        partition.result = Err(error);
                        partition.decided = true;
                    }
                }
            }
            if request.partitions.iter().all(|p| p.decided) {
                let results = request
                    .partitions
                    .into_iter()
                    .map(|p| (p.tp, p.result.map(|a| a.base)))
                    .collect();
                done.push(Completed {
                    to: request.from,
                    correlation_id: request.correlation_id,
                    results,
                });
            } else {
                self.waiting.push(request);
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::Appended;

    fn waiting(tp: &TopicPartition, base: u64, last: u64) -> WaitingPartition {
        WaitingPartition {
            tp: tp.clone(),
            result: Ok(Appended {
                base: Offset(base),
                last: Offset(last),
            }),
            decided: false,
        }
    }

    #[test]
    fn a_request_completes_when_every_partition_is_decided_or_times_out() {
        let (a, b) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
        let mut purgatory = Purgatory::default();
        purgatory.add(DelayedProduce {
            from: NodeId(101),
            correlation_id: 7,
            deadline_ms: 1_000,
            partitions: vec![waiting(&a, 0, 4), waiting(&b, 10, 10)],
        });
        let hw_a = |tp: &TopicPartition, last: Offset| {
            if *tp == TopicPartition::new("t", 0) && last < Offset(5) {
                Standing::Committed
            } else {
                Standing::Waiting
            }
        };
        assert!(purgatory.complete(10, hw_a).is_empty(), "b still waits");
        let done = purgatory.complete(1_000, hw_a);
        assert_eq!(
            done,
            vec![Completed {
                to: NodeId(101),
                correlation_id: 7,
                results: vec![(a, Ok(Offset(0))), (b, Err(ErrorCode::RequestTimedOut))]
            }]
        );
        assert!(purgatory.is_empty());
    }

    #[test]
    fn lost_leadership_fails_the_write() {
        let a = TopicPartition::new("t", 0);
        let mut purgatory = Purgatory::default();
        purgatory.add(DelayedProduce {
            from: NodeId(101),
            correlation_id: 1,
            deadline_ms: 1_000,
            partitions: vec![waiting(&a, 0, 0)],
        });
        let done = purgatory.complete(5, |_, _| Standing::Failed(ErrorCode::NotLeaderOrFollower));
        assert_eq!(
            done[0].results,
            vec![(a, Err(ErrorCode::NotLeaderOrFollower))]
        );
    }
}

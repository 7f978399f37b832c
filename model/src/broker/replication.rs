//! The broker's side of replication: as leader, serving follower fetches (fencing them by
//! epoch and telling them where they diverge, KIP-320, or that they fell below the log
//! start) and moving the high watermark; as follower, taking the leader's answers (append
//! and follow the leader's log start, truncate a divergent suffix, or restart the log at
//! the leader's log start).

use super::{Broker, ParkedReplicaFetch, REPLICA_FETCH_BACKOFF_MS};
use crate::effect::Output;
use crate::ids::{BrokerId, Millis, NodeId, TopicPartition};
use crate::protocol::{ErrorCode, Message, ReplicaFetched};
use crate::reach::RarePath;
use crate::replica::FollowerFetch;

impl Broker {
    /// Answers a follower's fetch, or parks it while there is nothing to send (`may_park`
    /// is false when its wait is over).
    pub(super) fn serve_replica_fetch(
        &mut self,
        now: Millis,
        from: NodeId,
        request: Message,
        may_park: bool,
        out: &mut Vec<Output>,
    ) {
        let Message::ReplicaFetchRequest {
            correlation_id,
            replica,
            max_wait_ms,
            max_records,
            ref partitions,
        } = request
        else {
            return;
        };
        let mut results = Vec::with_capacity(partitions.len());
        let mut hw_moved = false;
        let mut anything = false;
        for asked in partitions {
            let mut below_log_start = false;
            let result = match self.partitions.get_mut(&asked.tp) {
                None => Err(ErrorCode::NotLeaderOrFollower),
                Some(p) => {
                    let log_end = p.log_end();
                    let log_start_offset = p.log_start();
                    let (answer, moved) = p.follower_fetched(
                        asked,
                        replica,
                        self.config.replication_protocol,
                        now,
                        out,
                    );
                    hw_moved |= moved;
                    match answer {
                        // A follower ahead of the leader's log end (possible only when it
                        // names no epoch) is told to cut back to it, as Kafka answered
                        // OFFSET_OUT_OF_RANGE before KIP-101.
                        FollowerFetch::Read if asked.fetch_offset > log_end => Ok(ReplicaFetched {
                            batches: Vec::new(),
                            high_watermark: p.high_watermark(),
                            diverging: Some((p.leader_epoch(), log_end)),
                            log_start_offset,
                        }),
                        // Below the log start retention took the records: no batches, and
                        // the log start tells the follower where to restart its log.
                        FollowerFetch::Read if asked.fetch_offset < log_start_offset => {
                            below_log_start = true;
                            Ok(ReplicaFetched {
                                batches: Vec::new(),
                                high_watermark: p.high_watermark(),
                                diverging: None,
                                log_start_offset,
                            })
                        }
                        FollowerFetch::Read => {
                            let batches = p.read_for_follower(asked.fetch_offset, max_records);
                            Ok(ReplicaFetched {
                                batches,
                                high_watermark: p.high_watermark(),
                                diverging: None,
                                log_start_offset,
                            })
                        }
                        FollowerFetch::Diverging { epoch, end_offset } => Ok(ReplicaFetched {
                            batches: Vec::new(),
                            high_watermark: p.high_watermark(),
                            diverging: Some((epoch, end_offset)),
                            log_start_offset,
                        }),
                        FollowerFetch::FencedLeaderEpoch => Err(ErrorCode::FencedLeaderEpoch),
                        FollowerFetch::UnknownLeaderEpoch => Err(ErrorCode::UnknownLeaderEpoch),
                        FollowerFetch::NotLeader => Err(ErrorCode::NotLeaderOrFollower),
                    }
                }
            };
            if matches!(&result, Ok(fetched) if fetched.diverging.is_some()) {
                out.push(Output::Reached(RarePath::DivergenceAnswered));
            }
            anything |= below_log_start
                || match &result {
                    Ok(fetched) => !fetched.batches.is_empty() || fetched.diverging.is_some(),
                    Err(_) => true,
                };
            results.push((asked.tp.clone(), result));
        }
        let tps: Vec<TopicPartition> = partitions.iter().map(|p| p.tp.clone()).collect();
        for tp in &tps {
            self.maybe_alter_isr(tp, now, out);
        }
        if hw_moved {
            self.after_high_watermark_change(now, out);
        }
        if !anything && may_park && max_wait_ms > 0 {
            let wait_ms = max_wait_ms.min(self.config.replica_fetch_wait_max_ms);
            self.parked_replica.push(ParkedReplicaFetch {
                from,
                request,
                deadline_ms: now + wait_ms,
            });
            return;
        }
        out.push(Output::Send {
            to: from,
            message: Message::ReplicaFetchResponse {
                correlation_id,
                results,
            },
        });
    }

    /// New records in some led partition: parked follower fetches have something now.
    pub(super) fn maybe_wake_followers(&mut self, now: Millis, out: &mut Vec<Output>) {
        for parked in std::mem::take(&mut self.parked_replica) {
            let has_news = match &parked.request {
                Message::ReplicaFetchRequest { partitions, .. } => {
                    partitions
                        .iter()
                        .any(|asked| match self.partitions.get(&asked.tp) {
                            Some(p) => !p.is_leader() || p.log_end() > asked.fetch_offset,
                            None => true,
                        })
                }
                _ => true,
            };
            if has_news {
                self.serve_replica_fetch(now, parked.from, parked.request, false, out);
            } else {
                self.parked_replica.push(parked);
            }
        }
    }

    /// A leader answered this follower's fetch.
    pub(super) fn on_replica_fetch_response(
        &mut self,
        now: Millis,
        from: NodeId,
        correlation_id: u64,
        results: Vec<(TopicPartition, Result<ReplicaFetched, ErrorCode>)>,
        out: &mut Vec<Output>,
    ) {
        let leader = BrokerId(from.0);
        let Some(asked) = self.fetcher.take_response(leader, correlation_id) else {
            return;
        };
        let mut failed = false;
        for (tp, result) in results {
            let Some(question) = asked.iter().find(|a| a.tp == tp) else {
                continue;
            };
            let Some(partition) = self.partitions.get_mut(&tp) else {
                continue;
            };
            // The role or the log changed since the fetch left: its answer is stale.
            if partition.following() != Some((leader, question.epoch))
                || partition.log_end() != question.fetch_offset
            {
                continue;
            }
            match result {
                Ok(ReplicaFetched {
                    diverging: Some((epoch, end_offset)),
                    ..
                }) => partition.truncate_divergent(
                    epoch,
                    end_offset,
                    self.config.replication_protocol,
                    out,
                ),
                Ok(fetched) if question.fetch_offset < fetched.log_start_offset => {
                    partition.fetch_served();
                    partition.reset_to_leader_log_start(fetched.log_start_offset, out);
                }
                Ok(fetched) => {
                    partition.fetch_served();
                    if let Err(error) =
                        partition.append_as_follower(fetched.batches, fetched.high_watermark, out)
                    {
                        out.push(Output::Note(format!(
                            "{tp}: leader b{} sent unusable batches: {error}",
                            leader.0
                        )));
                        failed = true;
                    } else {
                        partition.follow_leader_log_start(fetched.log_start_offset, out);
                    }
                }
                Err(error) => {
                    out.push(Output::Note(format!(
                        "fetch {tp} from b{}: {error}",
                        leader.0
                    )));
                    failed = true;
                }
            }
        }
        if failed {
            self.fetcher
                .back_off(leader, now + REPLICA_FETCH_BACKOFF_MS);
        }
    }
}

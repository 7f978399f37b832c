//! The broker's answers to consumer fetches: served at once when there is news (records
//! below the high watermark, an error, a fencing), parked until there is or their wait ends.

use super::{Broker, ParkedFetch};
use crate::config::SpuriousErrorCode;
use crate::effect::Output;
use crate::ids::NodeId;
use crate::protocol::{ConsumerFetchPartition, ErrorCode, Message};
use crate::txn::IsolationLevel;

impl Broker {
    pub(super) fn has_news_for_consumer(
        &self,
        partitions: &[ConsumerFetchPartition],
        isolation: IsolationLevel,
    ) -> bool {
        let protocol = self.config.replication_protocol;
        partitions
            .iter()
            .any(|asked| match self.partitions.get(&asked.tp) {
                None => true,
                Some(p) => p.has_news_for_consumer(asked, isolation, protocol),
            })
    }

    /// Answers the parked consumer fetches `due` picks, in arrival order.
    pub(super) fn answer_parked(
        &mut self,
        due: impl Fn(&Self, &ParkedFetch) -> bool,
        out: &mut Vec<Output>,
    ) {
        for fetch in std::mem::take(&mut self.parked) {
            if due(self, &fetch) {
                self.answer_fetch(
                    fetch.from,
                    fetch.correlation_id,
                    &fetch.partitions,
                    fetch.isolation,
                    fetch.max_records,
                    out,
                );
            } else {
                self.parked.push(fetch);
            }
        }
    }

    pub(super) fn answer_fetch(
        &self,
        to: NodeId,
        correlation_id: u64,
        partitions: &[ConsumerFetchPartition],
        isolation: IsolationLevel,
        max_records: usize,
        out: &mut Vec<Output>,
    ) {
        let protocol = self.config.replication_protocol;
        let results = partitions
            .iter()
            .map(|asked| {
                let result = match self.partitions.get(&asked.tp) {
                    None => Err(ErrorCode::NotLeaderOrFollower),
                    Some(p) => p.read_for_consumer(asked, isolation, protocol, max_records),
                };
                let result = match (result, self.spurious_fetch_error(correlation_id)) {
                    (Ok(_), Some(error)) => Err(error),
                    (result, _) => result,
                };
                (asked.tp.clone(), result)
            })
            .collect();
        out.push(Output::Send {
            to,
            message: Message::FetchResponse {
                correlation_id,
                results,
            },
        });
    }

    /// The error a deliberately broken broker (`spurious_error`) answers a fetch it could
    /// serve with, if this request is one it strikes.
    fn spurious_fetch_error(&self, correlation_id: u64) -> Option<ErrorCode> {
        let spurious = self.config.spurious_error?;
        if spurious.strikes(SpuriousErrorCode::FencedLeaderEpoch, correlation_id) {
            Some(ErrorCode::FencedLeaderEpoch)
        } else if spurious.strikes(SpuriousErrorCode::UnknownLeaderEpoch, correlation_id) {
            Some(ErrorCode::UnknownLeaderEpoch)
        } else if spurious.strikes(SpuriousErrorCode::OffsetOutOfRange, correlation_id) {
            Some(ErrorCode::OffsetOutOfRange)
        } else {
            None
        }
    }
}

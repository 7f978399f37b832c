//! What a broker serves, read back from its disk once storage faults damaged it: Kafka
//! checks a batch's CRC before trusting its bytes (`DefaultRecordBatch.ensureValid`), and
//! never serves one that fails. The model keeps its batches in memory; this is where the
//! broker's reads meet the bytes the disk really holds.

use super::DiskNode;
use crate::disk::SimDisk;
use kafka_model::broker::Broker;
use kafka_model::codec::{self, FrameCheck};
use kafka_model::effect::Output;
use kafka_model::ids::TopicPartition;
use kafka_model::protocol::Message;
use kafka_model::record::RecordBatch;

/// Checks every batch the outputs serve (consumer and follower fetch answers) against its
/// frame on disk. With `check_crc` a batch that fails is a storage error: the index of its
/// output and why. Without (the broken variant) the batch goes out as the bytes say.
pub fn check_served(
    broker: &Broker,
    disk: &SimDisk,
    node: DiskNode,
    check_crc: bool,
    out: &mut [Output],
) -> Option<(usize, String)> {
    for (index, output) in out.iter_mut().enumerate() {
        let Output::Send { message, .. } = output else {
            continue;
        };
        let served: Vec<(&TopicPartition, &mut Vec<RecordBatch>)> = match message {
            Message::FetchResponse { results, .. } => results
                .iter_mut()
                .filter_map(|(tp, r)| r.as_mut().ok().map(|f| (&*tp, &mut f.batches)))
                .collect(),
            Message::ReplicaFetchResponse { results, .. } => results
                .iter_mut()
                .filter_map(|(tp, r)| r.as_mut().ok().map(|f| (&*tp, &mut f.batches)))
                .collect(),
            _ => continue,
        };
        for (tp, batches) in served {
            let Some(log) = broker.log(tp) else {
                continue;
            };
            for batch in batches.iter_mut() {
                let Some((path, range)) = log.locate(batch.base_offset) else {
                    continue;
                };
                let bytes = disk.read(node, path);
                let frame = bytes.get(range.start..).unwrap_or_default();
                let found = match codec::check_frame(frame) {
                    FrameCheck::Valid(_) => continue,
                    FrameCheck::CrcMismatch(found) => found,
                    FrameCheck::Unreadable => None,
                };
                if check_crc {
                    return Some((
                        index,
                        format!(
                            "the batch at {} of {tp} fails its CRC on read ({path}): the log \
                             directory is offline",
                            batch.base_offset
                        ),
                    ));
                }
                // What a broker that skips the check sends: the records as the bytes parse.
                // (Its header stays as the broker holds it: garbage offsets would only
                // stop the follower's append, not reach a reader.)
                if let Some(found) = found {
                    for (record, read) in batch.records.iter_mut().zip(found.records) {
                        *record = read;
                    }
                }
            }
        }
    }
    None
}

//! Which records of a fetched partition a consumer hands to its application, as Kafka's
//! CompletedFetch reads them: never a control batch (a commit or abort marker), and under
//! read_committed no record of an aborted transaction; the position moves past both.

use crate::ids::{Offset, ProducerId};
use crate::protocol::FetchedPartition;
use crate::record::{Record, RecordBatch, TxnPart};
use crate::txn::IsolationLevel;
use std::collections::BTreeSet;

/// What a fetched partition gives the application from `position`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchedRecords<'a> {
    /// The records to hand over, with their offsets, in order.
    pub records: Vec<(Offset, &'a Record)>,
    /// Where the consumer reads next.
    pub next_position: Offset,
    /// Offsets moved past without handing them over: markers, and aborted records.
    pub skipped_markers: Vec<Offset>,
    pub skipped_aborted: Vec<Offset>,
}

/// Reads `data` from `position`, handing over at most `room` records. A batch is read
/// whole or, once the room is used up, not at all past that point.
pub fn fetched_records(
    data: &FetchedPartition,
    isolation: IsolationLevel,
    position: Offset,
    room: usize,
) -> FetchedRecords<'_> {
    let mut read = FetchedRecords {
        next_position: position,
        ..FetchedRecords::default()
    };
    let committed = isolation == IsolationLevel::ReadCommitted;
    // The aborted transactions not yet met, by first offset; a producer is "aborting" from
    // its first offset until its abort marker.
    let mut pending: Vec<_> = if committed {
        data.aborted.clone()
    } else {
        Vec::new()
    };
    // By first offset, as Kafka's consumer keeps them (a priority queue on the offset): by
    // producer id, an aborted transaction that starts earlier under a larger producer id
    // would wait behind a later one and its records be handed over.
    pending.sort_by_key(|a| (a.first_offset, a.producer_id));
    let mut pending = pending.into_iter().peekable();
    let mut aborting: BTreeSet<ProducerId> = BTreeSet::new();
    for batch in &data.batches {
        if batch.next_offset() <= read.next_position {
            continue;
        }
        if read.records.len() >= room {
            break;
        }
        while let Some(a) = pending.next_if(|a| a.first_offset <= batch.last_offset()) {
            aborting.insert(a.producer_id);
        }
        let producer = batch.producer.map(|s| s.producer_id);
        match batch.txn {
            Some(TxnPart::Marker(marker)) => {
                if !marker.commit {
                    if let Some(p) = producer {
                        aborting.remove(&p);
                    }
                }
                skip(batch, &mut read.skipped_markers, &mut read.next_position);
            }
            Some(TxnPart::Data) if committed && producer.is_some_and(|p| aborting.contains(&p)) => {
                skip(batch, &mut read.skipped_aborted, &mut read.next_position);
            }
            _ => {
                for (i, record) in batch.records.iter().enumerate() {
                    let offset = Offset(batch.base_offset.0 + i as u64);
                    if offset < read.next_position {
                        continue;
                    }
                    if read.records.len() >= room {
                        return read;
                    }
                    read.records.push((offset, record));
                    read.next_position = offset.next();
                }
            }
        }
    }
    read
}

/// Moves the position past the records of `batch` at or after it, noting their offsets.
fn skip(batch: &RecordBatch, skipped: &mut Vec<Offset>, position: &mut Offset) {
    for i in 0..batch.records.len() as u64 {
        let offset = Offset(batch.base_offset.0 + i);
        if offset >= *position {
            skipped.push(offset);
        }
    }
    *position = (*position).max(batch.next_offset());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConsumerConfig;
    use crate::ids::{LeaderEpoch, ProducerEpoch};
    use crate::record::{ControlMarker, ProducerStamp};
    use crate::txn::AbortedTxn;

    fn batch(pid: u64, base: u64, n: u64, txn: Option<TxnPart>) -> RecordBatch {
        RecordBatch {
            base_offset: Offset(base),
            leader_epoch: LeaderEpoch(1),
            producer: Some(ProducerStamp {
                producer_id: ProducerId(pid),
                producer_epoch: ProducerEpoch(0),
                base_sequence: 0,
            }),
            txn,
            records: (base..base + n)
                .map(|v| Record {
                    key: None,
                    value: v,
                    timestamp_ms: 0,
                })
                .collect(),
        }
    }

    fn data(pid: u64, base: u64, n: u64) -> RecordBatch {
        batch(pid, base, n, Some(TxnPart::Data))
    }

    fn end(pid: u64, at: u64, commit: bool) -> RecordBatch {
        let marker = ControlMarker {
            commit,
            coordinator_epoch: 0,
        };
        batch(pid, at, 1, Some(TxnPart::Marker(marker)))
    }

    /// Producer 1 aborts [0, 2) at 4; producer 2's interleaved [2, 4) commits at 5; producer
    /// 1's next transaction [6, 7) commits at 7.
    fn fetched() -> FetchedPartition {
        FetchedPartition {
            batches: vec![
                data(1, 0, 2),
                data(2, 2, 2),
                end(1, 4, false),
                end(2, 5, true),
                data(1, 6, 1),
                end(1, 7, true),
            ],
            high_watermark: Offset(8),
            log_start_offset: Offset(0),
            last_stable_offset: Offset(8),
            aborted: vec![AbortedTxn {
                producer_id: ProducerId(1),
                first_offset: Offset(0),
            }],
        }
    }

    fn offsets(read: &FetchedRecords<'_>) -> Vec<u64> {
        read.records.iter().map(|(o, _)| o.0).collect()
    }

    #[test]
    fn read_committed_skips_aborted_records_and_markers_and_moves_past_them() {
        let data = fetched();
        let read = fetched_records(&data, IsolationLevel::ReadCommitted, Offset(0), 100);
        // Handing over producer 1's aborted [0, 2) would show an aborted transaction; a
        // reader that skipped every transactional record of producer 1 would lose 6.
        assert_eq!(offsets(&read), vec![2, 3, 6]);
        assert_eq!(read.skipped_aborted, vec![Offset(0), Offset(1)]);
        assert_eq!(read.skipped_markers, vec![Offset(4), Offset(5), Offset(7)]);
        assert_eq!(read.next_position, Offset(8), "past the last marker");
    }

    #[test]
    fn read_uncommitted_hands_over_aborted_records_but_never_markers() {
        let data = fetched();
        let read = fetched_records(&data, IsolationLevel::ReadUncommitted, Offset(0), 100);
        assert_eq!(offsets(&read), vec![0, 1, 2, 3, 6]);
        assert!(read.skipped_aborted.is_empty());
        assert_eq!(read.next_position, Offset(8));
    }

    #[test]
    fn the_position_stops_where_the_room_ends() {
        let data = fetched();
        let read = fetched_records(&data, IsolationLevel::ReadCommitted, Offset(0), 1);
        assert_eq!(offsets(&read), vec![2]);
        assert_eq!(
            read.next_position,
            Offset(3),
            "3 is not handed over, so not passed"
        );
        let rest = fetched_records(&data, IsolationLevel::ReadCommitted, Offset(3), 100);
        assert_eq!(offsets(&rest), vec![3, 6]);
    }

    /// The shape of seed 117 of examples/eos-pipeline.toml: producer 9's aborted
    /// transaction starts at 0, before producer 1's empty aborted ones at 1 and 2, and the
    /// read stops below producer 9's abort marker.
    #[test]
    fn an_aborted_transaction_of_a_larger_producer_id_starting_first_is_skipped() {
        let data = FetchedPartition {
            batches: vec![data(9, 0, 1), end(1, 1, false), end(1, 2, false)],
            high_watermark: Offset(3),
            log_start_offset: Offset(0),
            last_stable_offset: Offset(3),
            aborted: [(1, 1), (1, 2), (9, 0)]
                .into_iter()
                .map(|(p, o)| AbortedTxn {
                    producer_id: ProducerId(p),
                    first_offset: Offset(o),
                })
                .collect(),
        };
        let read = fetched_records(&data, IsolationLevel::ReadCommitted, Offset(0), 100);
        assert_eq!(offsets(&read), Vec::<u64>::new());
        assert_eq!(read.skipped_aborted, vec![Offset(0)]);
    }

    #[test]
    fn isolation_level_is_read_uncommitted_unless_set() {
        let default: ConsumerConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(default.isolation_level, IsolationLevel::ReadUncommitted);
        let set: ConsumerConfig =
            serde_json::from_str(r#"{"isolation_level": "read_committed"}"#).unwrap();
        assert_eq!(set.isolation_level, IsolationLevel::ReadCommitted);
        assert!(serde_json::from_str::<ConsumerConfig>(r#"{"isolation_level": "x"}"#).is_err());
    }
}

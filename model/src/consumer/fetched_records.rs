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
    pending.sort();
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

//! On-disk format of a log segment: checksummed frames, one per record batch, and the
//! torn-write-tolerant decoder that recovers the valid prefix after a power loss.
//!
//! A segment is a sequence of frames:
//!
//! ```text
//! [u32 LE payload_len][u32 LE crc32c(payload)][payload]
//! ```
//!
//! The payload encodes one [`RecordBatch`], little-endian throughout:
//!
//! ```text
//! base_offset   u64
//! leader_epoch  u32
//! producer      u8 flag (0 = none, 1 = some, 2 = some and transactional data,
//!               3 = some and a transaction marker)
//!               [+ producer_id u64, producer_epoch u16, base_sequence u32]
//!               [flag 3: + commit u8 (0 = abort, 1 = commit), coordinator_epoch u32]
//! record_count  u32
//! records       record_count times:
//!     key           u8 flag (0 = none, 1 = some) [+ len u32, len bytes of UTF-8]
//!     value         u64
//!     timestamp_ms  u64
//! ```
//!
//! A payload must be consumed exactly: trailing bytes make it invalid.

use crate::ids::{LeaderEpoch, Offset, ProducerEpoch, ProducerId};
use crate::record::{ControlMarker, ProducerStamp, Record, RecordBatch, TxnPart};

/// Bytes of a frame before its payload: length and checksum.
pub const FRAME_HEADER_LEN: usize = 8;

/// Smallest encoding of one record: key flag, value, timestamp.
const MIN_RECORD_LEN: usize = 1 + 8 + 8;

/// Encodes `batch` as one whole frame, header included.
///
/// # Panics
/// If a key, the record count or the payload exceeds `u32::MAX` bytes or items.
pub fn encode_batch(batch: &RecordBatch) -> Vec<u8> {
    // One buffer, sized once: the header's place first, the payload after it, then the
    // header filled in (an encoding per appended batch, on every replica).
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + payload_len_bound(batch));
    frame.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    encode_payload(batch, &mut frame);
    let payload = &frame[FRAME_HEADER_LEN..];
    let len = u32::try_from(payload.len()).expect("batch payload exceeds u32::MAX bytes");
    let crc = crc32c::crc32c(payload);
    frame[..4].copy_from_slice(&len.to_le_bytes());
    frame[4..FRAME_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
    frame
}

/// At least the payload's length: its fixed fields at their largest, then the records.
fn payload_len_bound(batch: &RecordBatch) -> usize {
    let keys: usize = batch
        .records
        .iter()
        .map(|r| r.key.as_ref().map_or(0, |k| 4 + k.len()))
        .sum();
    let fixed = 8 + 4 + 1 + 8 + 2 + 4 + 1 + 4 + 4;
    fixed + batch.records.len() * MIN_RECORD_LEN + keys
}

fn encode_payload(batch: &RecordBatch, out: &mut Vec<u8>) {
    out.extend_from_slice(&batch.base_offset.0.to_le_bytes());
    out.extend_from_slice(&batch.leader_epoch.0.to_le_bytes());
    // A batch outside transactions keeps the bytes it had before transactions existed.
    match &batch.producer {
        None => out.push(0),
        Some(stamp) => {
            out.push(match batch.txn {
                None => 1,
                Some(TxnPart::Data) => 2,
                Some(TxnPart::Marker(_)) => 3,
            });
            out.extend_from_slice(&stamp.producer_id.0.to_le_bytes());
            out.extend_from_slice(&stamp.producer_epoch.0.to_le_bytes());
            out.extend_from_slice(&stamp.base_sequence.to_le_bytes());
            if let Some(TxnPart::Marker(marker)) = batch.txn {
                out.push(u8::from(marker.commit));
                out.extend_from_slice(&marker.coordinator_epoch.to_le_bytes());
            }
        }
    }
    let count = u32::try_from(batch.records.len()).expect("more than u32::MAX records");
    out.extend_from_slice(&count.to_le_bytes());
    for record in &batch.records {
        match &record.key {
            None => out.push(0),
            Some(key) => {
                out.push(1);
                let len = u32::try_from(key.len()).expect("key exceeds u32::MAX bytes");
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(key.as_bytes());
            }
        }
        out.extend_from_slice(&record.value.to_le_bytes());
        out.extend_from_slice(&record.timestamp_ms.to_le_bytes());
    }
}

/// What [`decode_segment`] recovered from a segment's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedSegment {
    /// The batches of the valid prefix, in order.
    pub batches: Vec<RecordBatch>,
    /// Byte length of the valid prefix: the caller truncates the segment here.
    pub valid_len: u64,
    /// Bytes remain after the valid prefix (a torn write, or garbage).
    pub torn: bool,
}

/// Decodes frames from the start of `bytes`, stopping at the first incomplete frame,
/// checksum mismatch or payload that does not parse. Never panics.
pub fn decode_segment(bytes: &[u8]) -> DecodedSegment {
    let mut batches = Vec::new();
    let mut pos = 0usize;
    while let Some((batch, frame_len)) = decode_frame(&bytes[pos..]) {
        batches.push(batch);
        pos += frame_len;
    }
    DecodedSegment {
        batches,
        valid_len: pos as u64,
        torn: pos < bytes.len(),
    }
}

/// What a reader finds in one frame's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameCheck {
    Valid(RecordBatch),
    /// The checksum does not match; the payload still parses as this batch (what a reader
    /// that skips the check would take for the data).
    CrcMismatch(Option<RecordBatch>),
    /// Not even a frame: a length past the bytes.
    Unreadable,
}

/// Checks the frame at the start of `bytes` as Kafka's `DefaultRecordBatch.ensureValid` does.
pub fn check_frame(bytes: &[u8]) -> FrameCheck {
    let mut header = Reader::new(bytes);
    let (Some(len), Some(crc)) = (header.u32(), header.u32()) else {
        return FrameCheck::Unreadable;
    };
    let Some(payload) = usize::try_from(len).ok().and_then(|len| header.take(len)) else {
        return FrameCheck::Unreadable;
    };
    if crc32c::crc32c(payload) != crc {
        return FrameCheck::CrcMismatch(decode_payload(payload));
    }
    match decode_payload(payload) {
        Some(batch) => FrameCheck::Valid(batch),
        None => FrameCheck::CrcMismatch(None),
    }
}

/// One whole valid frame at the start of `bytes`, and its length.
fn decode_frame(bytes: &[u8]) -> Option<(RecordBatch, usize)> {
    let mut header = Reader::new(bytes);
    let len = usize::try_from(header.u32()?).ok()?;
    let crc = header.u32()?;
    let payload = header.take(len)?;
    if crc32c::crc32c(payload) != crc {
        return None;
    }
    let batch = decode_payload(payload)?;
    Some((batch, FRAME_HEADER_LEN + len))
}

fn decode_payload(payload: &[u8]) -> Option<RecordBatch> {
    let mut r = Reader::new(payload);
    let base_offset = Offset(r.u64()?);
    let leader_epoch = LeaderEpoch(r.u32()?);
    let flag = r.u8()?;
    let producer = match flag {
        0 => None,
        1..=3 => Some(ProducerStamp {
            producer_id: ProducerId(r.u64()?),
            producer_epoch: ProducerEpoch(r.u16()?),
            base_sequence: r.u32()?,
        }),
        _ => return None,
    };
    let txn = match flag {
        2 => Some(TxnPart::Data),
        3 => Some(TxnPart::Marker(ControlMarker {
            commit: match r.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            },
            coordinator_epoch: r.u32()?,
        })),
        _ => None,
    };
    let count = usize::try_from(r.u32()?).ok()?;
    // The count is untrusted: never reserve more than the bytes left could hold.
    if count > r.remaining() / MIN_RECORD_LEN {
        return None;
    }
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        let key = match r.u8()? {
            0 => None,
            1 => {
                let len = usize::try_from(r.u32()?).ok()?;
                let bytes = r.take(len)?;
                Some(std::str::from_utf8(bytes).ok()?.to_owned())
            }
            _ => return None,
        };
        records.push(Record {
            key,
            value: r.u64()?,
            timestamp_ms: r.u64()?,
        });
    }
    if r.remaining() != 0 {
        return None;
    }
    Some(RecordBatch {
        base_offset,
        leader_epoch,
        producer,
        txn,
        records,
    })
}

/// Bounds-checked little-endian cursor: every read is `None` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn remaining(&self) -> usize {
        self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.bytes.len() {
            return None;
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(key: Option<&str>, value: u64, timestamp_ms: u64) -> Record {
        Record {
            key: key.map(str::to_owned),
            value,
            timestamp_ms,
        }
    }

    fn sample_batches() -> Vec<RecordBatch> {
        vec![
            RecordBatch {
                base_offset: Offset(0),
                leader_epoch: LeaderEpoch(1),
                producer: None,
                txn: None,
                records: vec![record(None, 1, 1000), record(Some("k1"), 2, 1001)],
            },
            RecordBatch {
                base_offset: Offset(2),
                leader_epoch: LeaderEpoch(1),
                producer: Some(ProducerStamp {
                    producer_id: ProducerId(7),
                    producer_epoch: ProducerEpoch(3),
                    base_sequence: 42,
                }),
                txn: None,
                records: vec![record(Some("ключ-é"), 3, 1002)],
            },
            RecordBatch {
                base_offset: Offset(u64::MAX - 10),
                leader_epoch: LeaderEpoch(u32::MAX),
                producer: Some(ProducerStamp {
                    producer_id: ProducerId(u64::MAX),
                    producer_epoch: ProducerEpoch(u16::MAX),
                    base_sequence: u32::MAX,
                }),
                txn: None,
                records: vec![
                    record(Some(""), 4, 0),
                    record(None, u64::MAX, u64::MAX),
                    record(Some("key"), 5, 1003),
                ],
            },
        ]
    }

    fn encode_all(batches: &[RecordBatch]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for batch in batches {
            bytes.extend_from_slice(&encode_batch(batch));
            ends.push(bytes.len());
        }
        (bytes, ends)
    }

    #[test]
    fn frame_layout() {
        let batch = &sample_batches()[0];
        let frame = encode_batch(batch);
        let len = u32::from_le_bytes(frame[0..4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(frame[4..8].try_into().unwrap());
        assert_eq!(frame.len(), FRAME_HEADER_LEN + len);
        assert_eq!(crc, crc32c::crc32c(&frame[8..]));
        assert_eq!(&frame[8..16], &0u64.to_le_bytes());
    }

    #[test]
    fn crc32c_reference_vector() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn round_trip() {
        let batches = sample_batches();
        for batch in &batches {
            let decoded = decode_segment(&encode_batch(batch));
            assert_eq!(decoded.batches, vec![batch.clone()]);
            assert!(!decoded.torn);
        }
        let (bytes, _) = encode_all(&batches);
        let decoded = decode_segment(&bytes);
        assert_eq!(decoded.batches, batches);
        assert_eq!(decoded.valid_len, bytes.len() as u64);
        assert!(!decoded.torn);

        let empty = RecordBatch {
            base_offset: Offset(9),
            leader_epoch: LeaderEpoch(0),
            producer: None,
            txn: None,
            records: vec![],
        };
        assert_eq!(decode_segment(&encode_batch(&empty)).batches, vec![empty]);
    }

    #[test]
    fn transactional_batches_round_trip_and_plain_ones_keep_their_bytes() {
        let plain = sample_batches()[1].clone();
        let plain_bytes = encode_batch(&plain);
        // The producer flag byte sits after base offset and leader epoch.
        assert_eq!(plain_bytes[FRAME_HEADER_LEN + 12], 1);
        let data = RecordBatch {
            txn: Some(TxnPart::Data),
            ..plain.clone()
        };
        let marker = RecordBatch {
            txn: Some(TxnPart::Marker(ControlMarker {
                commit: false,
                coordinator_epoch: 9,
            })),
            ..plain.clone()
        };
        for batch in [&data, &marker] {
            assert_eq!(
                decode_segment(&encode_batch(batch)).batches,
                vec![batch.clone()]
            );
        }
        assert_eq!(encode_batch(&data).len(), plain_bytes.len());
        assert_eq!(encode_batch(&marker).len(), plain_bytes.len() + 5);
        assert!(marker.is_control() && marker.is_transactional());
        assert!(!data.is_control() && data.is_transactional());
    }

    #[test]
    fn empty_segment() {
        let decoded = decode_segment(&[]);
        assert_eq!(
            decoded,
            DecodedSegment {
                batches: vec![],
                valid_len: 0,
                torn: false
            }
        );
    }

    #[test]
    fn zero_filled_tail_is_torn() {
        let (mut bytes, _) = encode_all(&sample_batches());
        let valid = bytes.len();
        bytes.extend_from_slice(&[0u8; 64]);
        let decoded = decode_segment(&bytes);
        assert_eq!(decoded.batches, sample_batches());
        assert_eq!(decoded.valid_len, valid as u64);
        assert!(decoded.torn);
    }

    #[test]
    fn truncation_at_every_byte() {
        let batches = sample_batches();
        let (bytes, ends) = encode_all(&batches);
        for cut in 0..=bytes.len() {
            let decoded = decode_segment(&bytes[..cut]);
            let complete = ends.iter().filter(|&&end| end <= cut).count();
            let valid = if complete == 0 { 0 } else { ends[complete - 1] };
            assert_eq!(decoded.batches, batches[..complete], "cut {cut}");
            assert_eq!(decoded.valid_len, valid as u64, "cut {cut}");
            assert_eq!(decoded.torn, cut > valid, "cut {cut}");
        }
    }

    #[test]
    fn any_corrupted_byte_cuts_at_its_frame() {
        let batches = sample_batches();
        let (bytes, ends) = encode_all(&batches);
        for pos in 0..bytes.len() {
            let frame = ends.iter().position(|&end| pos < end).unwrap();
            let start = if frame == 0 { 0 } else { ends[frame - 1] };
            for mask in [0x01u8, 0x80, 0xff] {
                let mut corrupt = bytes.clone();
                corrupt[pos] ^= mask;
                let decoded = decode_segment(&corrupt);
                assert_eq!(
                    decoded.batches,
                    batches[..frame],
                    "pos {pos} mask {mask:#x}"
                );
                assert_eq!(decoded.valid_len, start as u64, "pos {pos} mask {mask:#x}");
                assert!(decoded.torn);
            }
        }
    }

    /// Frames with a correct checksum but a payload that does not parse.
    #[test]
    fn checksummed_garbage_is_rejected() {
        fn frame(payload: &[u8]) -> Vec<u8> {
            let mut out = (payload.len() as u32).to_le_bytes().to_vec();
            out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
            out.extend_from_slice(payload);
            out
        }
        let good = encode_batch(&sample_batches()[0])[FRAME_HEADER_LEN..].to_vec();

        let mut bad_flag = good.clone();
        bad_flag[12] = 2; // producer flag
        let mut trailing = good.clone();
        trailing.push(0);
        let mut huge_count = good.clone();
        huge_count[13..17].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut bad_utf8 = good.clone();
        // Second record: flag at 34, len at 35..39, key "k1" at 39..41.
        assert_eq!(&bad_utf8[39..41], b"k1");
        bad_utf8[39] = 0xff;
        let mut long_key = good.clone();
        long_key[35..39].copy_from_slice(&1000u32.to_le_bytes());

        for payload in [
            vec![],
            good[..good.len() - 1].to_vec(),
            bad_flag,
            trailing,
            huge_count,
            bad_utf8,
            long_key,
        ] {
            let mut bytes = encode_batch(&sample_batches()[1]);
            let valid = bytes.len() as u64;
            bytes.extend_from_slice(&frame(&payload));
            let decoded = decode_segment(&bytes);
            assert_eq!(decoded.batches, sample_batches()[1..2]);
            assert_eq!(decoded.valid_len, valid);
            assert!(decoded.torn);
        }
        assert_eq!(decode_segment(&frame(&good)).batches, sample_batches()[..1]);
    }

    fn arb_batch() -> impl Strategy<Value = RecordBatch> {
        let stamp = (any::<u64>(), any::<u16>(), any::<u32>()).prop_map(|(pid, epoch, seq)| {
            ProducerStamp {
                producer_id: ProducerId(pid),
                producer_epoch: ProducerEpoch(epoch),
                base_sequence: seq,
            }
        });
        let rec = (
            proptest::option::of(any::<String>()),
            any::<u64>(),
            any::<u64>(),
        )
            .prop_map(|(key, value, timestamp_ms)| Record {
                key,
                value,
                timestamp_ms,
            });
        let txn = prop_oneof![
            Just(None),
            Just(Some(TxnPart::Data)),
            (any::<bool>(), any::<u32>()).prop_map(|(commit, coordinator_epoch)| Some(
                TxnPart::Marker(ControlMarker {
                    commit,
                    coordinator_epoch
                })
            )),
        ];
        (
            any::<u64>(),
            any::<u32>(),
            proptest::option::of(stamp),
            txn,
            proptest::collection::vec(rec, 0..5),
        )
            .prop_map(|(base, epoch, producer, txn, records)| RecordBatch {
                base_offset: Offset(base),
                leader_epoch: LeaderEpoch(epoch),
                // Transactional batches always carry a producer stamp.
                txn: producer.and(txn),
                producer,
                records,
            })
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let decoded = decode_segment(&bytes);
            prop_assert!(decoded.valid_len <= bytes.len() as u64);
            prop_assert_eq!(decoded.torn, decoded.valid_len < bytes.len() as u64);
        }

        #[test]
        fn valid_prefix_survives_garbage_tail(
            batches in proptest::collection::vec(arb_batch(), 0..4),
            tail in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let (mut bytes, _) = encode_all(&batches);
            let valid = bytes.len() as u64;
            bytes.extend_from_slice(&tail);
            let decoded = decode_segment(&bytes);
            prop_assert_eq!(&decoded.batches[..batches.len()], &batches[..]);
            prop_assert!(decoded.valid_len >= valid);
            prop_assert!(decoded.valid_len <= bytes.len() as u64);
            if tail.len() < FRAME_HEADER_LEN + 17 {
                // Too short to hold any frame: exactly the encoded batches.
                prop_assert_eq!(decoded.batches.len(), batches.len());
                prop_assert_eq!(decoded.valid_len, valid);
                prop_assert_eq!(decoded.torn, !tail.is_empty());
            }
        }
    }
}

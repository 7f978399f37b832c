//! Kafka's default partitioner: murmur2 hashing of keyed records and the sticky
//! partitioner (KIP-480) for keyless ones. Randomness is always an argument.

use std::collections::BTreeMap;

/// Kafka's `Utils.murmur2`: MurmurHash2, 32-bit, with Kafka's fixed seed, on
/// wrapping 32-bit arithmetic, returned as Java's signed `int`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java uses the int length; truncation only matters past 2 GiB.
    let mut h: u32 = SEED ^ (data.len() as u32);

    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    // Up to three trailing bytes, folded in from the highest one down (the Java
    // switch falls through from case 3 to case 1).
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows on `MIN`).
pub fn to_positive(n: i32) -> u32 {
    (n & 0x7fff_ffff) as u32
}

/// The partition of a keyed record: `toPositive(murmur2(key)) % numPartitions`.
///
/// # Panics
/// If `num_partitions` is 0.
pub fn partition_for_key(key: &[u8], num_partitions: u32) -> u32 {
    to_positive(murmur2(key)) % num_partitions
}

/// The sticky partitioner for keyless records (KIP-480): every keyless record of a
/// topic goes to the same partition until the producer starts a new batch for it,
/// then the topic sticks to another partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StickyPartitioner {
    sticky: BTreeMap<String, u32>,
}

impl StickyPartitioner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The current sticky partition of `topic`, if one has been chosen.
    pub fn current(&self, topic: &str) -> Option<u32> {
        self.sticky.get(topic).copied()
    }

    /// The partition for the next keyless record of `topic`: the sticky one, or
    /// `random % num_partitions` if there is none yet (or it no longer exists
    /// because the topic has fewer partitions than it had).
    ///
    /// # Panics
    /// If `num_partitions` is 0.
    pub fn partition(&mut self, topic: &str, num_partitions: u32, random: u64) -> u32 {
        assert!(num_partitions > 0, "topic {topic} has no partitions");
        match self.sticky.get(topic) {
            Some(&p) if p < num_partitions => p,
            _ => {
                let p = (random % u64::from(num_partitions)) as u32;
                self.sticky.insert(topic.to_owned(), p);
                p
            }
        }
    }

    /// A new batch was started for `topic`: stick to another partition. With more
    /// than one partition the new one differs from the previous, chosen uniformly
    /// among the others from `random`.
    ///
    /// # Panics
    /// If `num_partitions` is 0.
    pub fn on_new_batch(&mut self, topic: &str, num_partitions: u32, random: u64) {
        assert!(num_partitions > 0, "topic {topic} has no partitions");
        let next = match self.sticky.get(topic) {
            Some(&prev) if prev < num_partitions && num_partitions > 1 => {
                // Pick among the n - 1 others, skipping over `prev`.
                let pick = (random % u64::from(num_partitions - 1)) as u32;
                if pick >= prev {
                    pick + 1
                } else {
                    pick
                }
            }
            _ => (random % u64::from(num_partitions)) as u32,
        };
        self.sticky.insert(topic.to_owned(), next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors of Kafka's `UtilsTest.testMurmur2`, plus the empty input.
    #[test]
    fn murmur2_matches_kafka_vectors() {
        let cases: [(&[u8], i32); 7] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107), // Kafka's test uses the bytes {'a','b','c'}
            (b"", 275_646_681),
        ];
        for (input, expected) in cases {
            assert_eq!(
                murmur2(input),
                expected,
                "murmur2({:?})",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn to_positive_clears_sign_bit() {
        assert_eq!(to_positive(0), 0);
        assert_eq!(to_positive(5), 5);
        assert_eq!(to_positive(-1), 0x7fff_ffff);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(i32::MAX), 0x7fff_ffff);
    }

    #[test]
    fn partition_for_key_is_stable_and_in_range() {
        // toPositive(-790332482) = 1357151166; % 50 = 16.
        assert_eq!(partition_for_key(b"foobar", 50), 16);
        for n in 1..=64u32 {
            for i in 0..200u32 {
                let key = format!("key-{i}");
                let p = partition_for_key(key.as_bytes(), n);
                assert!(p < n);
                assert_eq!(p, partition_for_key(key.as_bytes(), n));
            }
        }
        // Spreads keys over every partition.
        let mut seen = [false; 8];
        for i in 0..200u32 {
            seen[partition_for_key(format!("k{i}").as_bytes(), 8) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn sticky_partition_holds_until_new_batch() {
        let mut sp = StickyPartitioner::new();
        assert_eq!(sp.current("t"), None);
        let p = sp.partition("t", 6, 13);
        assert_eq!(p, 13 % 6);
        // Later randomness is ignored while the partition sticks.
        for r in 0..20 {
            assert_eq!(sp.partition("t", 6, r), p);
        }
        // Topics are independent.
        assert_eq!(sp.partition("u", 6, 2), 2);
        assert_eq!(sp.current("t"), Some(p));

        sp.on_new_batch("t", 6, 99);
        let q = sp.partition("t", 6, 0);
        assert_ne!(q, p);
        assert!(q < 6);
        assert_eq!(sp.current("u"), Some(2));
    }

    #[test]
    fn new_batch_always_moves_and_is_deterministic() {
        for n in 2..=9u32 {
            for prev in 0..n {
                let mut reached = vec![false; n as usize];
                for r in 0..(4 * u64::from(n)) {
                    let mut sp = StickyPartitioner::new();
                    sp.partition("t", n, u64::from(prev));
                    assert_eq!(sp.current("t"), Some(prev));
                    sp.on_new_batch("t", n, r);
                    let next = sp.current("t").unwrap();
                    assert!(next < n);
                    assert_ne!(next, prev);
                    reached[next as usize] = true;

                    let mut again = StickyPartitioner::new();
                    again.partition("t", n, u64::from(prev));
                    again.on_new_batch("t", n, r);
                    assert_eq!(again, sp);
                }
                // Every other partition is reachable.
                for (p, &hit) in reached.iter().enumerate() {
                    assert_eq!(hit, p as u32 != prev, "n={n} prev={prev} p={p}");
                }
            }
        }
    }

    #[test]
    fn single_partition_and_shrunk_topic() {
        let mut sp = StickyPartitioner::new();
        assert_eq!(sp.partition("t", 1, 7), 0);
        sp.on_new_batch("t", 1, 7);
        assert_eq!(sp.partition("t", 1, 3), 0);

        // A new batch before any record chooses freely.
        let mut sp = StickyPartitioner::new();
        sp.on_new_batch("t", 4, 6);
        assert_eq!(sp.partition("t", 4, 0), 2);

        // A sticky partition beyond the partition count is replaced.
        let mut sp = StickyPartitioner::new();
        assert_eq!(sp.partition("t", 10, 9), 9);
        assert_eq!(sp.partition("t", 4, 5), 1);
        sp.on_new_batch("t", 3, 7);
        assert!(sp.current("t").unwrap() < 3);
    }
}

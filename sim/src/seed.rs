//! One seed derives every random choice of a run, through named, independent ChaCha8
//! streams: adding a fault kind never changes the workload drawn for the same seed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The named sub-streams of a run's seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Workload = 1,
    Faults = 2,
    Clocks = 3,
    Network = 4,
    Clients = 5,
    Swarm = 6,
    Quorum = 7,
    /// The swarm nemesis's choice of which faults strike on an event, and on which.
    Triggers = 8,
    /// Which un-fsynced bytes a power loss keeps and where it tears (the nemesis).
    Tears = 9,
    /// Where a storage fault strikes: which byte of an append, where a misdirected one
    /// lands, what a corruption XORs (the nemesis).
    Storage = 10,
}

/// A ChaCha8 generator for one named stream of `seed`.
pub fn stream(seed: u64, which: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(which as u64);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn streams_are_independent_and_repeatable() {
        let a = stream(7, Stream::Workload).next_u64();
        assert_eq!(a, stream(7, Stream::Workload).next_u64());
        assert_ne!(a, stream(7, Stream::Faults).next_u64());
        assert_ne!(a, stream(8, Stream::Workload).next_u64());
    }
}

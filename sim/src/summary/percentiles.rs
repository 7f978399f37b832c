//! Percentiles by nearest rank, shared by the run summary and the sweep's distributions
//! across seeds.

use serde::{Deserialize, Serialize};

/// p50, p99 and max of a sample, by nearest rank (the smallest value with at least p% of
/// the sample at or below it), so that every figure is a value that was measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spread {
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

impl Spread {
    /// The spread of `values`; `None` for an empty sample.
    pub fn of(values: impl IntoIterator<Item = u64>) -> Option<Spread> {
        let mut sorted: Vec<u64> = values.into_iter().collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_unstable();
        Some(Spread {
            count: sorted.len() as u64,
            p50: nearest_rank(&sorted, 50),
            p99: nearest_rank(&sorted, 99),
            max: *sorted.last().expect("not empty"),
        })
    }
}

/// The nearest-rank `percent` percentile of a sorted, non-empty sample.
pub fn nearest_rank(sorted: &[u64], percent: u64) -> u64 {
    let n = sorted.len() as u64;
    let rank = (percent * n).div_ceil(100).max(1);
    sorted[(rank - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_picks_measured_values() {
        let spread = Spread::of((1..=100).rev()).unwrap();
        assert_eq!((spread.p50, spread.p99, spread.max), (50, 99, 100));
        let one = Spread::of([7]).unwrap();
        assert_eq!((one.p50, one.p99, one.max, one.count), (7, 7, 7, 1));
        assert_eq!(Spread::of([]), None);
        // 3 values: p50 is the 2nd, p99 the 3rd.
        let three = Spread::of([30, 10, 20]).unwrap();
        assert_eq!((three.p50, three.p99), (20, 30));
    }
}

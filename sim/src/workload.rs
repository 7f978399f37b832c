//! The workload: which records each producer sends and when, drawn from the seed's workload
//! stream alone (faults never change it).

use crate::actors::producer::WorkItem;
use crate::scenario::Scenario;
use crate::seed::{self, Stream};
use rand::{Rng, RngCore};

/// Each producer's records, in send order. Values are unique across the run: producer `p`
/// (from 0) sends values `p * 1_000_000 + 1 ..`.
pub fn draw(scenario: &Scenario, seed: u64) -> Vec<Vec<WorkItem>> {
    let mut rng = seed::stream(seed, Stream::Workload);
    let workload = &scenario.workload;
    let gap_ms = workload.gap_ms();
    (0..u64::from(scenario.producers))
        .map(|p| {
            (0..workload.records)
                .map(|i| WorkItem {
                    at_ms: 100 + i * gap_ms + rng.gen_range(0..=gap_ms / 2),
                    topic: workload.topic.clone(),
                    key: (workload.keys > 0)
                        .then(|| format!("k{}", rng.gen_range(0..workload.keys))),
                    value: p * 1_000_000 + i + 1,
                    random: rng.next_u64(),
                })
                .collect()
        })
        .collect()
}

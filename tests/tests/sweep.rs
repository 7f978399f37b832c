//! Sharded sweeps: the shards of a seed range together run each seed exactly once, with
//! the same result as the unsharded sweep.

use kafka_sim::registry;
use kafka_sim::sweep::{sweep, Shard};

#[test]
fn three_shards_cover_the_unsharded_sweep_exactly() {
    let scenario = registry::find("retries-without-idempotence").unwrap();
    let range = 0..30;
    let whole = sweep(&scenario, &Shard::WHOLE.seeds(range.clone()), |_| {});
    let mut sharded: Vec<_> = (1..=3)
        .flat_map(|index| {
            sweep(
                &scenario,
                &Shard { index, count: 3 }.seeds(range.clone()),
                |_| {},
            )
        })
        .collect();
    sharded.sort_by_key(|r| r.seed);
    assert_eq!(sharded, whole);
    assert_eq!(
        whole.iter().map(|r| r.seed).collect::<Vec<_>>(),
        range.collect::<Vec<_>>()
    );
}

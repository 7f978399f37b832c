//! `kafka-sim bench`: how much simulation the harness does per wall second, against the
//! practical limit, madsim's own two-node ping-pong rate on the same machine.

use crate::checkers::AnomalyKind;
use crate::outcome::Outcome;
use crate::registry;
use crate::registry::bench_scenarios;
use crate::runner::{self, RunOptions};
use crate::scenario::Scenario;
use crate::sweep::{sweep, SeedResult};
use madsim::net::Endpoint;
use madsim::runtime::Runtime;
use std::net::SocketAddr;
use std::time::Instant;

/// Round trips of the bare ping-pong.
const PING_PONG_ROUND_TRIPS: u64 = 100_000;

/// The bare madsim rate: two nodes bouncing one message, in round trips per wall second.
pub fn bare_ping_pong_round_trips_per_s() -> f64 {
    let measure = || {
        let runtime = Runtime::with_seed_and_config(1, madsim::Config::default());
        let a: SocketAddr = "10.9.0.1:1".parse().expect("literal address");
        let b: SocketAddr = "10.9.0.2:1".parse().expect("literal address");
        let node_a = runtime.create_node().ip(a.ip()).build();
        let node_b = runtime.create_node().ip(b.ip()).build();
        #[allow(clippy::disallowed_methods)]
        let started = Instant::now(); // determinism-ok: wall time is what a benchmark measures; never inside a simulation
        runtime.block_on(async move {
            let ready = node_b.spawn(async move {
                let endpoint = Endpoint::bind(b).await.expect("bind b");
                for _ in 0..PING_PONG_ROUND_TRIPS {
                    let (payload, from) = endpoint.recv_from_raw(1).await.expect("recv ping");
                    endpoint
                        .send_to_raw(from, 1, payload)
                        .await
                        .expect("send pong");
                }
            });
            let client = node_a.spawn(async move {
                madsim::time::sleep(std::time::Duration::from_millis(1)).await;
                let endpoint = Endpoint::bind(a).await.expect("bind a");
                for i in 0..PING_PONG_ROUND_TRIPS {
                    endpoint
                        .send_to_raw(b, 1, Box::new(i))
                        .await
                        .expect("send ping");
                    endpoint.recv_from_raw(1).await.expect("recv pong");
                }
            });
            client.await.expect("client");
            ready.await.expect("server");
        });
        PING_PONG_ROUND_TRIPS as f64 / started.elapsed().as_secs_f64()
    };
    #[allow(clippy::disallowed_methods)]
    let thread = std::thread::spawn(measure); // determinism-ok: a fresh thread per runtime
    thread.join().expect("ping-pong thread")
}

/// A memory figure of this process from /proc/self/status (Linux), in MiB.
fn proc_status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Peak resident memory of this process, in MiB.
pub fn peak_memory_mib() -> Option<f64> {
    proc_status_mib("VmHWM:")
}

/// Resident memory of this process now, in MiB.
pub fn resident_memory_mib() -> Option<f64> {
    proc_status_mib("VmRSS:")
}

/// What one scenario measured over its seeds.
struct Figures {
    seeds: u64,
    failing: u64,
    wall_s: f64,
    simulated_ms: u64,
    messages: u64,
}

impl Figures {
    fn seeds_per_s(&self) -> f64 {
        self.seeds as f64 / self.wall_s
    }

    fn messages_per_s(&self) -> f64 {
        self.messages as f64 / self.wall_s
    }
}

/// Runs `scenario` for seeds `0..seeds` on this thread, handing `each` every outcome;
/// `at_quarter` runs once, a quarter of the way in (to read memory there).
fn measure(
    scenario: &Scenario,
    seeds: u64,
    mut at_quarter: impl FnMut(),
    mut each: impl FnMut(&Outcome),
) -> Figures {
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now(); // determinism-ok: wall time is what a benchmark measures; never inside a simulation
    let mut figures = Figures {
        seeds,
        failing: 0,
        wall_s: 0.0,
        simulated_ms: 0,
        messages: 0,
    };
    for seed in 0..seeds {
        if seed == seeds / 4 {
            at_quarter();
        }
        let outcome = runner::run(scenario, seed, RunOptions::default());
        figures.simulated_ms += outcome.stats.simulated_ms;
        figures.messages += outcome.stats.messages_delivered;
        figures.failing += u64::from(outcome.class.exit_code() != 0);
        each(&outcome);
    }
    figures.wall_s = started.elapsed().as_secs_f64();
    figures
}

/// The standard scenario with records, partitions and brokers each doubled (DESIGN.md
/// section 9's scaling bench), so that the growth of cost is visible.
pub fn doubled(standard: &Scenario) -> Scenario {
    let mut scenario = standard.clone();
    scenario.name = "standard-doubled".into();
    scenario.brokers *= 2;
    scenario.workload.records *= 2;
    for topic in &mut scenario.topics {
        topic.partitions *= 2;
    }
    scenario
}

fn describe(scenario: &Scenario) -> String {
    format!(
        "{} brokers, topic {} x{} RF {}, acks={}, idempotence={}, {} producer(s) x {} records, {} consumer(s)",
        scenario.brokers,
        scenario.topics[0].name,
        scenario.topics[0].partitions,
        scenario.topics[0].replication_factor,
        scenario.acks().as_str(),
        scenario.producer.idempotence_enabled(),
        scenario.producers,
        scenario.workload.records,
        scenario.consumers
    )
}

pub fn main(seeds: u64) -> i32 {
    let scenario = registry::standard();
    let seeds = seeds.max(1);
    println!("standard scenario: {}", scenario.description);
    println!("  ({})", describe(&scenario));
    let mut resident_after_first_quarter = None;
    let standard = measure(
        &scenario,
        seeds,
        || resident_after_first_quarter = resident_memory_mib(),
        |_| {},
    );
    let resident_at_end = resident_memory_mib();
    let bare = bare_ping_pong_round_trips_per_s();
    println!(
        "seeds:                        {seeds} ({} not passing), one core",
        standard.failing
    );
    println!(
        "seeds/s:                      {:.2}",
        standard.seeds_per_s()
    );
    println!(
        "simulated s per wall s:       {:.1}",
        standard.simulated_ms as f64 / 1000.0 / standard.wall_s
    );
    println!(
        "simulated messages/s:         {:.0}",
        standard.messages_per_s()
    );
    println!(
        "bare madsim ping-pong:        {bare:.0} round trips/s ({:.0} messages/s)",
        bare * 2.0
    );
    println!(
        "ratio harness/bare messages:  {:.2}",
        standard.messages_per_s() / (bare * 2.0)
    );
    if let Some(peak) = peak_memory_mib() {
        println!("peak memory:                  {peak:.0} MiB");
    }
    if let (Some(quarter), Some(end)) = (resident_after_first_quarter, resident_at_end) {
        println!("resident memory growth:       {:+.1} MiB over the last 3/4 of the seeds (flat: nothing leaks between runs)", end - quarter);
    }
    let scaled = doubled(&scenario);
    let twice = measure(&scaled, seeds, || {}, |_| {});
    println!("scaling: {}", describe(&scaled));
    println!(
        "  seeds/s {:.2} ({:.2}x the standard's wall time per seed), messages/s {:.0}, {} not passing",
        twice.seeds_per_s(),
        standard.seeds_per_s() / twice.seeds_per_s(),
        twice.messages_per_s(),
        twice.failing
    );
    app_failover(seeds);
    sweep_all(seeds);
    large_cluster(standard.messages_per_s());
    0
}

/// What an application engineer runs in `cargo test`: its wall time per seed, that a seed
/// replays byte for byte, and what it lost and duplicated.
fn app_failover(seeds: u64) {
    let scenario = bench_scenarios::app_failover();
    // Lost, written twice, processed twice: counted only here, so that the other
    // figures time the runs alone.
    let (mut lost, mut written_twice, mut processed_twice) = (0u64, 0u64, 0u64);
    let figures = measure(
        &scenario,
        seeds,
        || {},
        |outcome| {
            let result = SeedResult::of(outcome);
            let count = |kind| {
                result
                    .counts
                    .iter()
                    .filter(|c| c.kind == kind)
                    .map(|c| c.count)
                    .sum::<u64>()
            };
            lost += result.lost_writes;
            written_twice += count(AnomalyKind::Duplicate);
            processed_twice += count(AnomalyKind::DuplicateProcessing);
        },
    );
    let first = runner::run(&scenario, 0, RunOptions::default()).trace_hash;
    let again = runner::run(&scenario, 0, RunOptions::default()).trace_hash;
    println!("app-failover: {}", scenario.description);
    println!(
        "  wall time per seed {:.1} ms on one core ({seeds} seeds, {} not passing); replay of seed 0 {}",
        figures.wall_s * 1000.0 / seeds as f64,
        figures.failing,
        if first == again {
            "byte-identical"
        } else {
            "DIFFERS"
        }
    );
    println!(
        "  over all seeds: {} acknowledged records lost, {} written twice, {} processed twice",
        lost, written_twice, processed_twice
    );
}

/// `sweep all`'s rate on every core: the built-ins of today's protocol, `seeds` each.
fn sweep_all(seeds: u64) {
    let scenarios = registry::current();
    let seed_list: Vec<u64> = (0..seeds).collect();
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now(); // determinism-ok: wall time is what a benchmark measures; never inside a simulation
    for scenario in &scenarios {
        sweep(scenario, &seed_list, |_| {});
    }
    let wall_s = started.elapsed().as_secs_f64();
    let runs = scenarios.len() as u64 * seeds;
    println!(
        "sweep all: {} scenarios x {seeds} seeds on {} cores: {:.1} seeds/s ({runs} runs in {wall_s:.1} s)",
        scenarios.len(),
        rayon::current_num_threads(),
        runs as f64 / wall_s
    );
}

/// A large, quiet cluster: wall time, peak memory, and messages/s against the standard's.
fn large_cluster(standard_messages_per_s: f64) {
    let scenario = bench_scenarios::large_cluster();
    let figures = measure(&scenario, 1, || {}, |_| {});
    println!("large cluster: {}", scenario.description);
    println!(
        "  wall time {:.1} s ({:.0}x real time), {:.0} simulated messages/s ({:.1}x fewer than the standard's), {} not passing",
        figures.wall_s,
        figures.simulated_ms as f64 / 1000.0 / figures.wall_s,
        figures.messages_per_s(),
        standard_messages_per_s / figures.messages_per_s(),
        figures.failing
    );
    if let Some(peak) = peak_memory_mib() {
        println!("  peak memory of the bench process after it: {peak:.0} MiB");
    }
}

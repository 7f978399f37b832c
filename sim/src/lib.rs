//! kafka-sim: a deterministic simulation harness for a Kafka-style streaming system.
//!
//! Brokers, producers and consumers from [`kafka_model`] run as actors on madsim's seeded
//! network, clock and scheduler, over a simulated disk ([`disk::SimDisk`]) that can lose
//! what was not fsynced. A [`scenario::Scenario`] says what cluster to build and which
//! faults to throw at it; [`runner::run`] runs it for one seed and returns an
//! [`outcome::Outcome`]: the trace, the history, and the anomalies the [`checkers`] found.
//! [`invariants::ClusterInvariants`] checks the replicated brokers' safety properties on a
//! mirror of every replica, after every replica change.

#[cfg(not(madsim))]
compile_error!(
    "kafka-sim must be compiled with `--cfg madsim`. Build from the workspace root, whose \
     .cargo/config.toml sets it, and do not set RUSTFLAGS (it replaces that setting); \
     or export RUSTFLAGS=\"--cfg madsim\" RUSTDOCFLAGS=\"--cfg madsim\"."
);

pub mod actors;
pub mod app;
pub mod bench;
pub mod check;
pub mod checkers;
pub mod cli;
pub mod clock;
pub mod connections;
pub mod coverage;
pub mod disk;
pub mod errors;
pub mod events;
pub mod excuse;
pub mod explain;
pub mod faults;
pub mod history;
pub mod invariants;
pub mod liveness_phase;
pub mod matrix;
pub mod matrix_report;
pub mod merge;
pub mod nemesis;
pub mod network;
pub mod outcome;
pub mod perfetto;
pub mod registry;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod scenario_builder;
pub mod seed;
pub mod seeds;
pub mod shrink;
pub mod summary;
pub mod sweep;
pub mod sweep_coverage;
pub mod sweep_judge;
pub mod sweep_summary;
pub mod timeline;
pub mod trace;
pub mod workload;
pub mod world;

//! kafka-model: Kafka's state machines, pure. No I/O, no async, no clock, no randomness:
//! every input (including `now` and random numbers) is handed in, every effect is returned
//! as an [`effect::Output`] for a driver to carry out. Collections are BTreeMap/Vec only,
//! so that iteration order, and therefore every run, is deterministic.

pub mod broker;
pub mod client_settings;
pub mod codec;
pub mod config;
pub mod consumer;
pub mod controller;
pub mod disk;
pub mod effect;
pub mod eligible_leader_replicas;
pub mod group;
pub mod ids;
pub mod layout;
pub mod leader_epoch_cache;
pub mod log;
pub mod member;
pub mod metadata;
pub mod metadata_client;
pub mod partition;
pub mod partitioner;
pub mod producer;
pub mod producer_batch;
pub mod producer_sequences;
pub mod producer_state;
pub mod protocol;
pub mod purgatory;
pub mod quorum_controller;
pub mod raft;
pub mod reach;
pub mod record;
pub mod replica;
pub mod replica_fetcher;
pub mod txn;

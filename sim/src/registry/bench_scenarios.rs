//! The scenarios `kafka-sim bench` measures beside `standard`: what an application engineer
//! runs in `cargo test` (one failover under a consumer group) and a large, quiet cluster.
//! Not swept by `sweep all`; `run` and `sweep` find them by name.

use super::parts::{crash, replicated, tasks};
use crate::scenario::{Faults, GroupSpec, Scenario, Workload};
use kafka_model::config::{Acks, TopicConfig};

/// 3 brokers, `tasks` x3 at RF 3, an idempotent acks=all producer sending 1,000 keyed
/// records at 100/s, the leader of `tasks-0` down for 5 s from t=5 s, and a group of 2
/// members committing after each record.
pub fn app_failover() -> Scenario {
    let base = replicated();
    let mut scenario = Scenario {
        name: "app-failover".into(),
        description: "what an application test runs: RF 3, an idempotent acks=all \
                      producer of 1,000 keyed records at 100/s, the leader of tasks-0 down \
                      for 5 s from 5 s, a group of 2 committing after each record"
            .into(),
        topics: tasks(3),
        consumers: 0,
        groups: vec![GroupSpec {
            members: 2,
            member_faults: false,
            ..GroupSpec::default()
        }],
        workload: Workload {
            records: 1_000,
            rate_per_s: 100,
            ..Workload::default()
        },
        faults: Faults {
            events: vec![crash(5_000, "leader of tasks-0", 5_000)],
            ..Faults::default()
        },
        fault_phase_ms: 10_000,
        ..base
    };
    scenario.producer.acks = Acks::All;
    scenario.producer.idempotence = Some(true);
    scenario.consumer.max_poll_records = 1;
    scenario
}

/// 50 brokers and 1,000 partitions at RF 3 for one simulated minute of light load (600
/// records), no faults: how the cost of a message grows with the cluster.
pub fn large_cluster() -> Scenario {
    Scenario {
        name: "large-cluster".into(),
        description: "50 brokers, 1,000 partitions at RF 3, one simulated minute of light \
                      load (600 records at 10/s), no faults"
            .into(),
        brokers: 50,
        topics: vec![TopicConfig {
            name: "tasks".into(),
            partitions: 1_000,
            replication_factor: 3,
        }],
        workload: Workload {
            records: 600,
            rate_per_s: 10,
            ..Workload::default()
        },
        faults: Faults::default(),
        fault_phase_ms: 60_000,
        ..replicated()
    }
}

/// Both, for lookup by name.
pub fn scenarios() -> Vec<Scenario> {
    vec![app_failover(), large_cluster()]
}

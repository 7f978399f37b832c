//! The retention scenarios: a week of simulated time in which retention deletes what a slow
//! consumer has not read yet. A week is cheap to simulate only while the cluster is quiet
//! most of the time, so every periodic timer is stretched to minutes (heartbeats, long
//! polls, sessions) and the producer sends a record every five minutes: tens of thousands of
//! messages in all.

use crate::checkers::AnomalyKind;
use crate::faults::{Fault, TimedFault};
use crate::scenario::{Faults, Scenario, SweepExpectations, Workload};
use kafka_model::config::{BrokerConfig, ConsumerConfig, LogConfig, ProducerConfig, TopicConfig};
use kafka_model::controller::ControllerConfig;

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// `retention-lag`: a producer writes for a week with `retention.ms` of a day; a consumer
/// that reads two records per partition an hour, where the producer writes four, falls
/// behind the log start, gets OffsetOutOfRange and resets (retention-skip, allowed). A
/// broker is down for two days in the middle: its logs end below the leaders' log starts,
/// so it restarts them there.
pub fn retention_lag() -> Scenario {
    let base = Scenario::default();
    let broker = BrokerConfig {
        log: LogConfig {
            // Segments of a few hours: retention deletes whole segments.
            segment_bytes: 1_024,
            retention_ms: DAY_MS,
            ..LogConfig::default()
        },
        min_insync_replicas: 2,
        heartbeat_interval_ms: 5 * MINUTE_MS,
        fetch_max_wait_ms: 10 * MINUTE_MS,
        metadata_fetch_max_wait_ms: 10 * MINUTE_MS,
        replica_fetch_wait_max_ms: 10 * MINUTE_MS,
        replica_lag_time_max_ms: 30 * MINUTE_MS,
        inter_broker_request_timeout_ms: 30 * MINUTE_MS,
        ..base.broker.clone()
    };
    Scenario {
        name: "retention-lag".into(),
        description: "a week at one record every 5 minutes, retention.ms of a day, a consumer \
                      reading half as fast: it falls behind the log start and resets past \
                      records retention deleted (allowed, never loss); a broker down for two \
                      days restarts its logs at the leaders' log starts"
            .into(),
        expect: SweepExpectations::passing()
            .shows_allowed(AnomalyKind::RetentionSkip, 5)
            .never_shows(&[AnomalyKind::LostWrite]),
        topics: vec![TopicConfig {
            name: "tasks".into(),
            partitions: 3,
            replication_factor: 3,
        }],
        broker,
        controller: ControllerConfig {
            session_timeout_ms: 15 * MINUTE_MS,
            ..base.controller.clone()
        },
        // Sends outlast a leader's failover, which waits for the broker's session to expire.
        producer: ProducerConfig {
            request_timeout_ms: MINUTE_MS,
            delivery_timeout_ms: Some(HOUR_MS),
            metadata_max_age_ms: HOUR_MS,
            ..base.producer.clone()
        },
        consumer: ConsumerConfig {
            fetch_max_wait_ms: 10 * MINUTE_MS,
            request_timeout_ms: 15 * MINUTE_MS,
            max_poll_records: 2,
            processing_delay_ms: HOUR_MS,
            ..base.consumer.clone()
        },
        workload: Workload {
            records: 7 * DAY_MS / (5 * MINUTE_MS),
            interval_ms: Some(5 * MINUTE_MS),
            ..Workload::default()
        },
        faults: Faults {
            events: vec![TimedFault {
                on: None,
                at_ms: 2 * DAY_MS,
                fault: Fault::Crash {
                    node: "b3".into(),
                    restart_after_ms: 2 * DAY_MS,
                },
            }],
            nemesis: None,
            ..Faults::default()
        },
        // After the last write, retention empties the logs down to their active segments
        // within a day, and the consumer, reset there, reads what is left.
        fault_phase_ms: 9 * DAY_MS,
        liveness_ms: DAY_MS,
        ..base
    }
}

/// Every retention scenario.
pub fn scenarios() -> Vec<Scenario> {
    vec![retention_lag()]
}

//! The transactional built-ins (issue 15): transactions under broker, coordinator and
//! controller failover, read at read_committed. Each has its TOML twin under examples/,
//! the file a user starts from.

use super::parts::{nemesis, quorum_of, replicated};
use crate::faults::{FaultKind, NemesisSpec};
use crate::scenario::{Faults, Scenario, SweepExpectations, TransactionsSpec};
use kafka_model::txn::IsolationLevel;

/// The broker, coordinator and controller faults every transactional built-in runs under.
fn failover() -> Option<NemesisSpec> {
    nemesis(
        &[
            FaultKind::Crash,
            FaultKind::Partition,
            FaultKind::PartitionOneWay,
            FaultKind::Pause,
        ],
        1_500,
    )
}

/// The transactional built-ins, in `list` order.
pub fn scenarios() -> Vec<Scenario> {
    let base = replicated();
    vec![Scenario {
        name: "txn-failover".into(),
        description: "a transactional producer and a read_committed consumer; brokers (the \
                      transaction coordinator among them) and controllers crash, pause and \
                      get cut off"
            .into(),
        expect: SweepExpectations::passing(),
        controller: quorum_of(3),
        producer: kafka_model::config::ProducerConfig {
            transactional_id: Some("tx".into()),
            ..base.producer.clone()
        },
        consumer: kafka_model::config::ConsumerConfig {
            isolation_level: IsolationLevel::ReadCommitted,
            ..base.consumer.clone()
        },
        transactions: TransactionsSpec {
            records_per_transaction: 5,
            abort_every: 4,
            ..TransactionsSpec::default()
        },
        faults: Faults {
            nemesis: failover(),
            ..Faults::default()
        },
        ..base
    }]
}

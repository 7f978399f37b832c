//! Your application in the simulation: user services (async Rust code with Kafka-shaped
//! clients) that run as nodes of the simulated cluster, which the nemesis crashes, pauses
//! and restarts like any client node.
//!
//! A service is declared with [`ScenarioBuilder::service`](crate::scenario_builder::ScenarioBuilder::service):
//! a name, a number of replicas and an async function of a [`ServiceContext`]. Each replica
//! is a node `{name}-{i}` that runs the function from scratch at every start; the context
//! hands it a [`ServiceProducer`] (rdkafka's `FutureProducer` shape) and a
//! [`ServiceConsumer`] (a `StreamConsumer` in a group, committing by hand), and the node's
//! clock. The clients are fronts over the model's producer and group consumer, so the
//! protocol, the history and the built-in checkers are those of the built-in clients.
//!
//! Record values: the checkers name a record by a value unique in the run, so a service
//! never picks it. Each send gets one under the hood (its [`Delivered::id`]) and the
//! payload the service gave is kept beside it, run-wide: a consumer gets the payload back
//! in [`Record::value`]. Two sends of one payload are two records (as in Kafka: an
//! application that sends again after a crash writes a second record).
//!
//! ```
//! use kafka_sim::scenario_builder::ScenarioBuilder;
//!
//! let scenario = ScenarioBuilder::new("relay")
//!     .topic("tasks", 3)
//!     .topic("relayed", 3)
//!     .service("relay", 2, |ctx| async move {
//!         let producer = ctx.producer();
//!         let mut consumer = ctx.consumer("relay");
//!         consumer.subscribe(&["tasks"]);
//!         loop {
//!             let record = consumer.recv().await;
//!             if producer.send("relayed", record.key.as_deref(), record.value).await.is_ok() {
//!                 let _ = consumer.commit().await;
//!             }
//!         }
//!     })
//!     .service_output("relayed")
//!     .build()
//!     .expect("a valid scenario");
//! assert_eq!(scenario.services.names(), ["relay-1", "relay-2"]);
//! ```

mod check;
mod consumer;
mod context;
mod mailbox;
mod producer;
mod role;
pub(crate) mod spawn;
mod spec;

pub use check::{run_checks, CheckFn, CheckInput, CheckedRecord, UserCheck};
pub use consumer::{CommitError, Record, ServiceConsumer};
pub use context::ServiceContext;
pub use producer::{Delivered, ProduceError, ServiceProducer};
pub(crate) use role::Payloads;
pub use spec::{ServiceFn, ServiceSpec, Services};

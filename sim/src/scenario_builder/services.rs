//! The builder's services: user code run as replicated nodes of the simulation
//! (`crate::app`).

use super::ScenarioBuilder;
use crate::app::{CheckInput, ServiceContext, ServiceSpec, UserCheck};
use std::future::Future;
use std::sync::Arc;

impl ScenarioBuilder {
    /// A service of `replicas` nodes `{name}-1`..., each running `run` from scratch at
    /// every start (a restart after a crash runs it again; in-memory state is gone). The
    /// nemesis crashes, pauses and restarts them, and scripted faults name them.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let scenario = ScenarioBuilder::new("ticker")
    ///     .service("ticker", 1, |ctx| async move {
    ///         let producer = ctx.producer();
    ///         for i in 0..10 {
    ///             let _ = producer.send("tasks", None, format!("tick {i}")).await;
    ///             ctx.sleep(100).await;
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(scenario.client_names().last().unwrap(), "ticker-1");
    /// ```
    pub fn service<F, Fut>(mut self, name: &str, replicas: u32, run: F) -> Self
    where
        F: Fn(ServiceContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.scenario.services.list.push(ServiceSpec {
            name: name.to_string(),
            replicas,
            run: Arc::new(move |ctx| Box::pin(run(ctx))),
        });
        self
    }

    /// A topic the services write, which the scenario's plain consumers read as well, so
    /// that the checkers judge the services' sends (an acknowledged record no reader finds
    /// is a lost write).
    pub fn service_output(mut self, topic: &str) -> Self {
        self.scenario.services.outputs.push(topic.to_string());
        self
    }

    /// A check of the user's own contract, run over the history after the run (built-in
    /// checks stay on): `Err(why)` fails the run as a `user-check` violation, with its
    /// replay command, as a built-in anomaly does; shrinking keeps the check.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let scenario = ScenarioBuilder::new("every-record-read")
    ///     .records(50, 10)
    ///     .check("every record read", |run| {
    ///         let read = run.records_read("tasks");
    ///         let missing = run
    ///             .acknowledged_sends("tasks")
    ///             .into_iter()
    ///             .filter(|sent| !read.iter().any(|r| r.id == sent.id))
    ///             .count();
    ///         match missing {
    ///             0 => Ok(()),
    ///             n => Err(format!("{n} acknowledged records never read")),
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// let outcome = kafka_sim::runner::run(&scenario, 1, Default::default());
    /// assert_eq!(outcome.class, kafka_sim::outcome::OutcomeClass::Pass);
    /// ```
    pub fn check<F>(mut self, name: &str, check: F) -> Self
    where
        F: Fn(&CheckInput) -> Result<(), String> + Send + Sync + 'static,
    {
        self.scenario.services.checks.push(UserCheck {
            name: name.to_string(),
            run: Arc::new(check),
        });
        self
    }
}

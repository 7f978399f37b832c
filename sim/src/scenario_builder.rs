//! A Rust API that reads like the fault story of a scenario, and reaches every field a
//! scenario file can set:
//!
//! ```
//! use kafka_sim::faults::alias::NodeAlias;
//! use kafka_sim::scenario_builder::ScenarioBuilder;
//!
//! let scenario = ScenarioBuilder::new("leader-cut-off")
//!     .brokers(3)
//!     .topic("tasks", 6)
//!     .replication_factor(3)
//!     .min_insync_replicas(2)
//!     .acks("all")
//!     .records(300, 100)
//!     .at_ms(5_000).isolate(NodeAlias::leader_of("tasks", 0)).for_ms(3_000)
//!     .at_ms(7_000).power_loss("b2").restart_after_ms(2_000)
//!     .heal_at_ms(10_000)
//!     .build()
//!     .expect("a valid scenario");
//! assert_eq!(scenario.faults.events.len(), 2);
//! ```
//!
//! It builds the same [`Scenario`] a TOML file does, checked by the same `validate`; a call
//! that would do nothing (a duration for a clock jump, `jitter_ms` after anything but a
//! delay) is an error from [`ScenarioBuilder::build`], never silently dropped.

use crate::scenario::{GroupSpec, Scenario, ScenarioError, SweepExpectations, Transport};
use kafka_model::config::{BrokerConfig, ConsumerConfig, ProducerConfig, TopicConfig};
use kafka_model::controller::ControllerConfig;

mod acks;
mod faults;
mod services;

pub use acks::IntoAcks;

/// Builds a [`Scenario`] step by step. Fault methods apply at the time set by the last
/// [`at_ms`](ScenarioBuilder::at_ms); [`for_ms`](ScenarioBuilder::for_ms) and
/// [`restart_after_ms`](ScenarioBuilder::restart_after_ms) set the duration of the fault
/// just added. Cluster methods may come in any order: node lists (`isolate`) are resolved
/// when the scenario is built.
#[derive(Clone, Debug)]
pub struct ScenarioBuilder {
    scenario: Scenario,
    at_ms: u64,
    /// Whether `topic` has replaced the default topic yet.
    topics_named: bool,
    /// Faults whose node list is the whole cluster but one node: (event index, node).
    isolations: Vec<(usize, String)>,
    /// Calls that cannot take effect, as (the call, why): the first fails `build`.
    problems: Vec<(String, String)>,
}

impl ScenarioBuilder {
    /// A scenario with the harness defaults (see `Scenario::default`): 3 brokers, topic
    /// `tasks` x3 at RF 1, one producer sending 200 records at 100/s, one consumer.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let scenario = ScenarioBuilder::new("quiet").build().unwrap();
    /// assert_eq!(scenario.brokers, 3);
    /// assert_eq!(scenario.name, "quiet");
    /// ```
    pub fn new(name: &str) -> Self {
        ScenarioBuilder {
            scenario: Scenario {
                name: name.to_string(),
                ..Scenario::default()
            },
            at_ms: 0,
            topics_named: false,
            isolations: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// The broker that initially leads `partition` in a cluster of `brokers`: its
    /// preferred leader, broker `p % brokers + 1`. The first election may move the
    /// leadership: to name whoever leads when the fault strikes, use
    /// [`NodeAlias::leader_of`](crate::faults::alias::NodeAlias::leader_of).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// assert_eq!(ScenarioBuilder::preferred_leader(3, 0), "b1");
    /// assert_eq!(ScenarioBuilder::preferred_leader(3, 4), "b2");
    /// ```
    pub fn preferred_leader(brokers: u32, partition: u32) -> String {
        format!("b{}", partition % brokers.max(1) + 1)
    }

    /// One line saying what the scenario shows (`list` prints it).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").describe("b1 crashes").build().unwrap();
    /// assert_eq!(s.description, "b1 crashes");
    /// ```
    pub fn describe(mut self, description: &str) -> Self {
        self.scenario.description = description.to_string();
        self
    }

    /// How many brokers, `b1`..`bN` (1 to 89).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// assert_eq!(ScenarioBuilder::new("x").brokers(5).build().unwrap().brokers, 5);
    /// assert!(ScenarioBuilder::new("x").brokers(0).build().is_err());
    /// ```
    pub fn brokers(mut self, brokers: u32) -> Self {
        self.scenario.brokers = brokers;
        self
    }

    /// A KRaft quorum of `voters` controllers (`controller-1`..; 1, the default, is one
    /// node named `controller`).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").controllers(3).build().unwrap();
    /// assert_eq!(s.controller_names(), ["controller-1", "controller-2", "controller-3"]);
    /// ```
    pub fn controllers(mut self, voters: u32) -> Self {
        self.scenario.controller.voters = voters;
        self
    }

    /// A topic of `partitions` at replication factor 1. The first call replaces the default
    /// topic `tasks` and becomes the workload's topic; later calls add topics.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").topic("orders", 6).topic("audit", 1).build().unwrap();
    /// assert_eq!(s.topics.len(), 2);
    /// assert_eq!(s.workload.topic, "orders");
    /// ```
    pub fn topic(mut self, name: &str, partitions: u32) -> Self {
        let topic = TopicConfig {
            name: name.to_string(),
            partitions,
            replication_factor: 1,
        };
        if self.topics_named {
            self.scenario.topics.push(topic);
        } else {
            self.scenario.topics = vec![topic];
            self.scenario.workload.topic = name.to_string();
            self.topics_named = true;
        }
        self
    }

    /// The replication factor of the topic last added (or of the default topic).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").topic("t", 3).replication_factor(3).build().unwrap();
    /// assert_eq!(s.topics[0].replication_factor, 3);
    /// ```
    pub fn replication_factor(mut self, replication_factor: u32) -> Self {
        if let Some(topic) = self.scenario.topics.last_mut() {
            topic.replication_factor = replication_factor;
        }
        self
    }

    /// The topic the producers write and the consumers read (by default the first topic).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").topic("a", 1).topic("b", 1).workload_topic("b")
    ///     .build().unwrap();
    /// assert_eq!(s.workload.topic, "b");
    /// ```
    pub fn workload_topic(mut self, name: &str) -> Self {
        self.scenario.workload.topic = name.to_string();
        self
    }

    /// `min.insync.replicas`: an acks=all write needs an ISR at least this large.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").replication_factor(3).min_insync_replicas(2)
    ///     .build().unwrap();
    /// assert_eq!(s.broker.min_insync_replicas, 2);
    /// // Above the replication factor, no acks=all write could succeed.
    /// assert!(ScenarioBuilder::new("x").min_insync_replicas(2).build().is_err());
    /// ```
    pub fn min_insync_replicas(mut self, replicas: usize) -> Self {
        self.scenario.broker.min_insync_replicas = replicas;
        self
    }

    /// `unclean.leader.election.enable`: a replica outside the ISR may become leader.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").unclean_leader_election(true).build().unwrap();
    /// assert!(s.controller.unclean_leader_election);
    /// ```
    pub fn unclean_leader_election(mut self, on: bool) -> Self {
        self.scenario.controller.unclean_leader_election = on;
        self
    }

    /// KIP-966's eligible leader replicas (`eligible.leader.replicas.version=1`, Kafka
    /// 4.1's default for new clusters): the ISR may empty, replicas that left it below
    /// `min.insync.replicas` stay electable, a restart after an unclean shutdown is not.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").eligible_leader_replicas(true).build().unwrap();
    /// assert!(s.controller.eligible_leader_replicas);
    /// ```
    pub fn eligible_leader_replicas(mut self, on: bool) -> Self {
        self.scenario.controller.eligible_leader_replicas = on;
        self
    }

    /// `flush.messages=1`: fsync every append before acknowledging it.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").fsync_every_append().build().unwrap();
    /// assert_eq!(s.broker.log.flush_messages, Some(1));
    /// ```
    pub fn fsync_every_append(mut self) -> Self {
        self.scenario.broker.log.flush_messages = Some(1);
        self
    }

    /// The producer's `acks`: [`Acks`](kafka_model::config::Acks), or Kafka's spelling
    /// (`0`, `1`, `-1`, `"0"`, `"1"`, `"all"`); see [`IntoAcks`] for why there is no
    /// `Acks::One` (it is `Acks::Leader`). A value Kafka refuses fails `build`.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// use kafka_model::config::Acks;
    /// let s = ScenarioBuilder::new("x").acks(1).build().unwrap();
    /// assert_eq!(s.producer.acks, Acks::Leader);
    /// assert_eq!(ScenarioBuilder::new("x").acks(Acks::None).build().unwrap().producer.acks, Acks::None);
    /// assert!(ScenarioBuilder::new("x").acks(2).build().is_err());
    /// ```
    pub fn acks(mut self, acks: impl IntoAcks) -> Self {
        match acks.into_acks() {
            Ok(acks) => self.scenario.producer.acks = acks,
            Err(reason) => self.problem("acks", reason),
        }
        self
    }

    /// `enable.idempotence`, set explicitly (unset: on unless acks, retries or requests in
    /// flight rule it out, as Kafka's client decides).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").idempotence(false).build().unwrap();
    /// assert_eq!(s.producer.idempotence, Some(false));
    /// // Kafka's client refuses idempotence with acks=1.
    /// assert!(ScenarioBuilder::new("x").acks(1).idempotence(true).build().is_err());
    /// ```
    pub fn idempotence(mut self, on: bool) -> Self {
        self.scenario.producer.idempotence = Some(on);
        self
    }

    /// `retries` and `max.in.flight.requests.per.connection`.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").idempotence(false).retries(3, 5).build().unwrap();
    /// assert_eq!((s.producer.retries, s.producer.max_in_flight_requests_per_connection), (3, 5));
    /// ```
    pub fn retries(mut self, retries: u32, max_in_flight: u32) -> Self {
        self.scenario.producer.retries = retries;
        self.scenario.producer.max_in_flight_requests_per_connection = max_in_flight;
        self
    }

    /// Each producer sends `records` at `rate_per_s`.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").records(300, 100).build().unwrap();
    /// assert_eq!((s.workload.records, s.workload.rate_per_s), (300, 100));
    /// ```
    pub fn records(mut self, records: u64, rate_per_s: u64) -> Self {
        self.scenario.workload.records = records;
        self.scenario.workload.rate_per_s = rate_per_s;
        self
    }

    /// A record every `interval_ms`, for rates below one a second (replaces the rate).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").record_every_ms(300_000).build().unwrap();
    /// assert_eq!(s.workload.gap_ms(), 300_000);
    /// ```
    pub fn record_every_ms(mut self, interval_ms: u64) -> Self {
        self.scenario.workload.interval_ms = Some(interval_ms);
        self
    }

    /// Keys drawn from `keys` distinct keys; 0 sends keyless records (sticky partitioner).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// assert_eq!(ScenarioBuilder::new("x").keys(0).build().unwrap().workload.keys, 0);
    /// ```
    pub fn keys(mut self, keys: u64) -> Self {
        self.scenario.workload.keys = keys;
        self
    }

    /// How many producers (`producer-1`..) and standalone consumers (`consumer-1`..).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").clients(2, 0).build().unwrap();
    /// assert_eq!(s.client_names(), ["producer-1", "producer-2"]);
    /// ```
    pub fn clients(mut self, producers: u32, consumers: u32) -> Self {
        self.scenario.producers = producers;
        self.scenario.consumers = consumers;
        self
    }

    /// A consumer group `id` of `members` (`{id}-m1`..) with the default settings: range
    /// assignor, commit after processing.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").group("g1", 2).build().unwrap();
    /// assert_eq!(s.member_names(), ["g1-m1", "g1-m2"]);
    /// ```
    pub fn group(self, id: &str, members: u32) -> Self {
        self.group_spec(GroupSpec {
            id: id.to_string(),
            members,
            ..GroupSpec::default()
        })
    }

    /// A consumer group with every setting given (assignor, commit mode, timeouts...).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// use kafka_model::member::CommitMode;
    /// use kafka_sim::scenario::GroupSpec;
    /// let at_most_once = GroupSpec {
    ///     id: "g2".into(),
    ///     commit_mode: CommitMode::BeforeProcessing,
    ///     ..GroupSpec::default()
    /// };
    /// let s = ScenarioBuilder::new("x").group_spec(at_most_once).build().unwrap();
    /// assert_eq!(s.groups[0].commit_mode, CommitMode::BeforeProcessing);
    /// ```
    pub fn group_spec(mut self, group: GroupSpec) -> Self {
        self.scenario.groups.push(group);
        self
    }

    /// Partitions of the internal offsets topic (created when there are groups).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").group("g1", 2).offsets_topic_partitions(5)
    ///     .build().unwrap();
    /// assert_eq!(s.offsets_topic_partitions, 5);
    /// ```
    pub fn offsets_topic_partitions(mut self, partitions: u32) -> Self {
        self.scenario.offsets_topic_partitions = partitions;
        self
    }

    /// Any broker setting (`[broker]`): timeouts, the log, the replication protocol...
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x")
    ///     .broker_config(|b| b.log.retention_ms = 86_400_000)
    ///     .build().unwrap();
    /// assert_eq!(s.broker.log.retention_ms, 86_400_000);
    /// ```
    pub fn broker_config(mut self, change: impl FnOnce(&mut BrokerConfig)) -> Self {
        change(&mut self.scenario.broker);
        self
    }

    /// Any controller setting (`[controller]`): session and election timeouts, the quorum
    /// protocol...
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").controller_config(|c| c.session_timeout_ms = 6_000)
    ///     .build().unwrap();
    /// assert_eq!(s.controller.session_timeout_ms, 6_000);
    /// ```
    pub fn controller_config(mut self, change: impl FnOnce(&mut ControllerConfig)) -> Self {
        change(&mut self.scenario.controller);
        self
    }

    /// Any producer setting (`[producer]`): linger, batch size, timeouts...
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").producer_config(|p| p.linger_ms = 20).build().unwrap();
    /// assert_eq!(s.producer.linger_ms, 20);
    /// ```
    pub fn producer_config(mut self, change: impl FnOnce(&mut ProducerConfig)) -> Self {
        change(&mut self.scenario.producer);
        self
    }

    /// Any consumer setting (`[consumer]`): `auto.offset.reset`, `max.poll.records`...
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").consumer_config(|c| c.max_poll_records = 10)
    ///     .build().unwrap();
    /// assert_eq!(s.consumer.max_poll_records, 10);
    /// assert!(ScenarioBuilder::new("x").consumer_config(|c| c.max_poll_records = 0)
    ///     .build().is_err());
    /// ```
    pub fn consumer_config(mut self, change: impl FnOnce(&mut ConsumerConfig)) -> Self {
        change(&mut self.scenario.consumer);
        self
    }

    /// When every fault ends (the fault phase); the liveness phase follows.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// assert_eq!(ScenarioBuilder::new("x").heal_at_ms(20_000).build().unwrap().fault_phase_ms, 20_000);
    /// ```
    pub fn heal_at_ms(mut self, at_ms: u64) -> Self {
        self.scenario.fault_phase_ms = at_ms;
        self
    }

    /// Carries messages on Kafka's connections (`[network] transport = "connections"`),
    /// with Kafka's 30 s request timeouts where none was set.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").connections().build().unwrap();
    /// assert!(s.network.connections());
    /// assert_eq!(s.producer.request_timeout_ms, 30_000);
    /// ```
    pub fn connections(mut self) -> Self {
        let datagrams = Scenario::default();
        let kafka = Scenario::defaults_for(Transport::Connections);
        let s = &mut self.scenario;
        s.network.transport = Transport::Connections;
        if s.producer.request_timeout_ms == datagrams.producer.request_timeout_ms {
            s.producer.request_timeout_ms = kafka.producer.request_timeout_ms;
        }
        if s.consumer.request_timeout_ms == datagrams.consumer.request_timeout_ms {
            s.consumer.request_timeout_ms = kafka.consumer.request_timeout_ms;
        }
        if s.broker.inter_broker_request_timeout_ms
            == datagrams.broker.inter_broker_request_timeout_ms
        {
            s.broker.inter_broker_request_timeout_ms = kafka.broker.inter_broker_request_timeout_ms;
        }
        self
    }

    /// How long after the heal the cluster has to finish its work (`liveness_ms`).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// assert_eq!(ScenarioBuilder::new("x").liveness_ms(30_000).build().unwrap().liveness_ms, 30_000);
    /// ```
    pub fn liveness_ms(mut self, liveness_ms: u64) -> Self {
        self.scenario.liveness_ms = liveness_ms;
        self
    }

    /// What a sweep of the scenario must show (`[expect]`); a single run ignores it.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// use kafka_sim::checkers::AnomalyKind;
    /// use kafka_sim::scenario::SweepExpectations;
    /// let s = ScenarioBuilder::new("x")
    ///     .expect(SweepExpectations::passing().never_shows(&[AnomalyKind::LostWrite]))
    ///     .build().unwrap();
    /// assert!(!s.expect.is_empty());
    /// ```
    pub fn expect(mut self, expectations: SweepExpectations) -> Self {
        self.scenario.expect = expectations;
        self
    }

    /// The scenario, with every `isolate` resolved against the final node list, validated
    /// like a TOML file; the first call that could not take effect is an error too.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let error = ScenarioBuilder::new("x").at_ms(1_000).clock_jump("b1", 500).for_ms(100)
    ///     .build().unwrap_err();
    /// assert!(error.to_string().contains("`for_ms` after a clock-jump does nothing"), "{error}");
    /// ```
    pub fn build(self) -> Result<Scenario, ScenarioError> {
        let file = format!("scenario `{}`", self.scenario.name);
        if let Some((field, reason)) = self.problems.into_iter().next() {
            return Err(ScenarioError::Invalid {
                file,
                field,
                reason,
            });
        }
        let mut scenario = self.scenario;
        faults::resolve_isolations(&mut scenario, &self.isolations);
        scenario.validate(&file)?;
        Ok(scenario)
    }

    fn problem(&mut self, call: &str, reason: String) {
        self.problems.push((call.to_string(), reason));
    }
}

//! The builder's fault story: scripted faults at the time of the last `at_ms`, their
//! durations, and the random nemesis. A call that would change nothing (a duration for a
//! clock jump, `jitter_ms` after a crash) is recorded as a problem that fails `build`.

use super::ScenarioBuilder;
use crate::faults::{Fault, FaultKind, NemesisSpec, TimedFault};
use crate::scenario::Scenario;
use std::fmt::Display;

/// How long a fault lasts when no `for_ms` or `restart_after_ms` follows it.
const DEFAULT_DURATION_MS: u64 = 1_000;

fn names(nodes: &[&str]) -> Vec<String> {
    nodes.iter().map(|n| n.to_string()).collect()
}

/// Fills each isolation's second side with every node of the built scenario but the
/// isolated one, so that brokers or clients added after `isolate` are cut off too.
pub(super) fn resolve_isolations(scenario: &mut Scenario, isolations: &[(usize, String)]) {
    let everyone: Vec<String> = scenario
        .broker_names()
        .into_iter()
        .chain(scenario.controller_names())
        .chain(scenario.client_names())
        .collect();
    for (index, node) in isolations {
        if let Fault::Partition { groups, .. } = &mut scenario.faults.events[*index].fault {
            let others = everyone.iter().filter(|n| *n != node).cloned().collect();
            *groups = vec![vec![node.clone()], others];
        }
    }
}

impl ScenarioBuilder {
    /// The time of the faults that follow, in simulated ms from the start.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(2_000).crash("b1").build().unwrap();
    /// assert_eq!(s.faults.events[0].at_ms, 2_000);
    /// ```
    pub fn at_ms(mut self, at_ms: u64) -> Self {
        self.at_ms = at_ms;
        self
    }

    fn fault(mut self, fault: Fault) -> Self {
        self.scenario.faults.events.push(TimedFault {
            on: None,
            at_ms: self.at_ms,
            fault,
        });
        self
    }

    /// kill -9 of a broker, controller or group member (the page cache survives); it
    /// restarts after `restart_after_ms` (default 1 s). Every fault method takes a node
    /// name (`"b2"`) or a [`NodeAlias`](crate::faults::alias::NodeAlias), also as its text
    /// (`"leader of tasks-0"`), resolved when the fault strikes.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// use kafka_sim::faults::alias::NodeAlias;
    /// let s = ScenarioBuilder::new("x").replication_factor(3)
    ///     .at_ms(1_000).crash(NodeAlias::leader_of("tasks", 0))
    ///     .at_ms(2_000).pause("follower of tasks-1")
    ///     .build().unwrap();
    /// assert_eq!(s.faults.events[0].fault.to_string(), "crash leader of tasks-0 (restart +1000ms)");
    /// ```
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).crash("b2").restart_after_ms(3_000)
    ///     .build().unwrap();
    /// assert_eq!(s.faults.events[0].fault.to_string(), "crash b2 (restart +3000ms)");
    /// ```
    pub fn crash(self, node: impl Display) -> Self {
        self.fault(Fault::Crash {
            node: node.to_string(),
            restart_after_ms: DEFAULT_DURATION_MS,
        })
    }

    /// The node's machine loses power: what it had not fsynced is gone.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).power_loss("b1").build().unwrap();
    /// assert_eq!(s.faults.events[0].fault.to_string(), "power-loss b1 (restart +1000ms)");
    /// ```
    pub fn power_loss(self, node: impl Display) -> Self {
        self.fault(Fault::PowerLoss {
            node: node.to_string(),
            restart_after_ms: DEFAULT_DURATION_MS,
        })
    }

    /// The node's disk is replaced (a controller of a quorum of 3 or more): it restarts
    /// empty.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").controllers(3).at_ms(1_000).disk_loss("controller-1")
    ///     .build().unwrap();
    /// assert_eq!(s.scripted_disk_losses().len(), 1);
    /// ```
    pub fn disk_loss(self, node: impl Display) -> Self {
        self.fault(Fault::DiskLoss {
            node: node.to_string(),
            restart_after_ms: DEFAULT_DURATION_MS,
        })
    }

    /// SIGSTOP of the node for `for_ms` (default 1 s), then it resumes.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).pause("b3").for_ms(500).build().unwrap();
    /// assert_eq!(s.faults.events[0].fault.to_string(), "pause b3 500ms");
    /// ```
    pub fn pause(self, node: impl Display) -> Self {
        self.fault(Fault::Pause {
            node: node.to_string(),
            duration_ms: DEFAULT_DURATION_MS,
        })
    }

    /// Cuts `node` off from every other node of the scenario, both ways. The other side is
    /// the node list of the built scenario, whatever is set after this call.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// use kafka_sim::faults::Fault;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).isolate("b1").brokers(5).build().unwrap();
    /// let Fault::Partition { groups, .. } = &s.faults.events[0].fault else { panic!() };
    /// assert!(groups[1].contains(&"b5".to_string()));
    /// ```
    pub fn isolate(mut self, node: impl Display) -> Self {
        let node = node.to_string();
        let index = self.scenario.faults.events.len();
        self.isolations.push((index, node.clone()));
        self.fault(Fault::Partition {
            groups: vec![vec![node], Vec::new()],
            duration_ms: DEFAULT_DURATION_MS,
        })
    }

    /// No traffic between the two sides (nodes on neither side are unaffected).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).partition(&["b1", "b2"], &["b3"])
    ///     .build().unwrap();
    /// assert_eq!(s.faults.events[0].fault.to_string(), "partition [b1,b2] | [b3] 1000ms");
    /// ```
    pub fn partition(self, side_a: &[&str], side_b: &[&str]) -> Self {
        self.partition_groups(&[side_a, side_b])
    }

    /// No traffic between any two of several groups.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).partition_groups(&[&["b1"], &["b2"], &["b3"]])
    ///     .build().unwrap();
    /// assert_eq!(s.faults.events.len(), 1);
    /// ```
    pub fn partition_groups(self, groups: &[&[&str]]) -> Self {
        self.fault(Fault::Partition {
            groups: groups.iter().map(|g| names(g)).collect(),
            duration_ms: DEFAULT_DURATION_MS,
        })
    }

    /// Messages from `from` to `to` are dropped; the other way works.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000)
    ///     .partition_one_way(&["b1"], &["controller"]).for_ms(2_000)
    ///     .build().unwrap();
    /// assert!(s.faults.events[0].fault.to_string().starts_with("partition-one-way"));
    /// ```
    pub fn partition_one_way(self, from: &[&str], to: &[&str]) -> Self {
        self.fault(Fault::PartitionOneWay {
            from: names(from),
            to: names(to),
            duration_ms: DEFAULT_DURATION_MS,
        })
    }

    /// Each message between the two sets is lost with probability `rate` (0 to 1).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).loss(&["b1"], &["producer-1"], 0.3)
    ///     .build().unwrap();
    /// assert_eq!(s.faults.events.len(), 1);
    /// assert!(ScenarioBuilder::new("x").loss(&["b1"], &["b2"], 1.5).build().is_err());
    /// ```
    pub fn loss(self, from: &[&str], to: &[&str], rate: f64) -> Self {
        self.fault(Fault::Loss {
            from: names(from),
            to: names(to),
            rate,
            duration_ms: DEFAULT_DURATION_MS,
        })
    }

    /// The connections between the two sets reset (connections transport only): each end
    /// fails what it had in flight there.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").connections().at_ms(1_000)
    ///     .reset_connections(&["producer-1"], &["b1"]).build().unwrap();
    /// assert_eq!(s.faults.events.len(), 1);
    /// assert!(ScenarioBuilder::new("x").at_ms(1_000)
    ///     .reset_connections(&["producer-1"], &["b1"]).build().is_err());
    /// ```
    pub fn reset_connections(self, from: &[&str], to: &[&str]) -> Self {
        self.fault(Fault::ConnectionReset {
            from: names(from),
            to: names(to),
        })
    }

    /// Messages between the two sets wait `delay_ms` more (plus up to `jitter_ms`).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).delay(&["producer-1"], &["b1"], 400)
    ///     .jitter_ms(50).for_ms(2_000).build().unwrap();
    /// assert!(s.faults.events[0].fault.to_string().contains("400"));
    /// ```
    pub fn delay(self, from: &[&str], to: &[&str], delay_ms: u64) -> Self {
        self.fault(Fault::Delay {
            from: names(from),
            to: names(to),
            delay_ms,
            jitter_ms: 0,
            duration_ms: DEFAULT_DURATION_MS,
        })
    }

    /// Up to this much more delay, drawn per message, for the delay just added; after any
    /// other call it does nothing and fails `build`.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// assert!(ScenarioBuilder::new("x").at_ms(1_000).crash("b1").jitter_ms(5).build().is_err());
    /// ```
    pub fn jitter_ms(mut self, jitter: u64) -> Self {
        match self.scenario.faults.events.last_mut().map(|e| &mut e.fault) {
            Some(Fault::Delay { jitter_ms, .. }) => *jitter_ms = jitter,
            other => {
                let after = other.map_or("no fault".into(), |f| format!("a {}", f.kind().name()));
                self.problem(
                    "jitter_ms",
                    format!("`jitter_ms` after {after} does nothing: it belongs to a delay"),
                );
            }
        }
        self
    }

    /// Everything to and from the node waits until the clog ends.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).clog("b2").for_ms(800).build().unwrap();
    /// assert_eq!(s.faults.events[0].fault.to_string(), "clog b2 800ms");
    /// ```
    pub fn clog(self, node: impl Display) -> Self {
        self.fault(Fault::Clog {
            node: node.to_string(),
            duration_ms: DEFAULT_DURATION_MS,
        })
    }

    /// The node's clock jumps by `by_ms` (negative: backwards). Instantaneous: a duration
    /// after it fails `build`.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).clock_jump("b1", -5_000).build().unwrap();
    /// assert_eq!(s.faults.events[0].fault.to_string(), "clock-jump b1 -5000ms");
    /// ```
    pub fn clock_jump(self, node: impl Display, by_ms: i64) -> Self {
        self.fault(Fault::ClockJump {
            node: node.to_string(),
            by_ms,
        })
    }

    /// The node's clock runs `ppm` parts per million fast (negative: slow) until the heal.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).clock_drift("b1", 50_000).build().unwrap();
    /// assert_eq!(s.faults.events[0].fault.to_string(), "clock-drift b1 +50000ppm");
    /// ```
    pub fn clock_drift(self, node: impl Display, ppm: i64) -> Self {
        self.fault(Fault::ClockDrift {
            node: node.to_string(),
            ppm,
        })
    }

    /// How long the fault just added lasts: a pause, partition, loss, delay or clog, or how
    /// long a crashed node stays down. After a clock jump or drift (which last until the
    /// heal), or before any fault, it does nothing and fails `build`.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).isolate("b1").for_ms(3_000).build().unwrap();
    /// assert_eq!(s.faults.events[0].fault.to_string().rsplit(' ').next(), Some("3000ms"));
    /// assert!(ScenarioBuilder::new("x").for_ms(10).build().is_err());
    /// ```
    pub fn for_ms(mut self, duration: u64) -> Self {
        let Some(last) = self.scenario.faults.events.last_mut() else {
            self.problem("for_ms", "`for_ms` before any fault does nothing".into());
            return self;
        };
        let kind = last.fault.kind().name();
        match last.fault.duration_ms_mut() {
            Some((_, duration_ms)) => *duration_ms = duration,
            None => self.problem(
                "for_ms",
                format!(
                    "`for_ms` after a {kind} does nothing: a clock stays changed until the heal"
                ),
            ),
        }
        self
    }

    /// After a crash, power or disk loss: when the node comes back. After any other fault
    /// it does nothing and fails `build` (a pause or partition lasts `for_ms`).
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// let s = ScenarioBuilder::new("x").at_ms(1_000).crash("b1").restart_after_ms(500)
    ///     .build().unwrap();
    /// assert_eq!(s.faults.events[0].fault.to_string(), "crash b1 (restart +500ms)");
    /// assert!(ScenarioBuilder::new("x").at_ms(1_000).pause("b1").restart_after_ms(5)
    ///     .build().is_err());
    /// ```
    pub fn restart_after_ms(mut self, duration: u64) -> Self {
        match self.scenario.faults.events.last().map(|e| &e.fault) {
            Some(Fault::Crash { .. } | Fault::PowerLoss { .. } | Fault::DiskLoss { .. }) => {
                self.for_ms(duration)
            }
            other => {
                let after = other.map_or("no fault".into(), |f| format!("a {}", f.kind().name()));
                self.problem(
                    "restart_after_ms",
                    format!(
                        "`restart_after_ms` after {after} does nothing: only a crash, power \
                         loss or disk loss restarts a node (use `for_ms`)"
                    ),
                );
                self
            }
        }
    }

    /// Strikes the last fault on an event instead of at its `at_ms` (from which the trigger
    /// is armed): right after the trigger's node does it. The node may be an alias,
    /// matched against what the cluster believes when the event happens.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// use kafka_sim::faults::trigger::{Trigger, TriggerEvent};
    /// let s = ScenarioBuilder::new("x").replication_factor(3)
    ///     .at_ms(1_000).power_loss("follower of tasks-0")
    ///     .on(Trigger::new("follower of tasks-0", TriggerEvent::Append).partition("tasks-0"))
    ///     .build().unwrap();
    /// assert_eq!(s.faults.events[0].on.as_ref().unwrap().to_string(),
    ///     "on follower of tasks-0 append tasks-0");
    /// ```
    pub fn on(mut self, trigger: crate::faults::trigger::Trigger) -> Self {
        match self.scenario.faults.events.last_mut() {
            Some(event) => event.on = Some(trigger),
            None => self.problem(
                "on",
                "`on` triggers the fault before it, and there is none".into(),
            ),
        }
        self
    }

    /// Adds the random swarm nemesis, drawing from these fault kinds about every
    /// `mean_interval_ms` during the fault phase.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// use kafka_sim::faults::FaultKind;
    /// let s = ScenarioBuilder::new("x").nemesis(&[FaultKind::Crash, FaultKind::Pause], 2_000)
    ///     .build().unwrap();
    /// assert!(s.faults.nemesis.unwrap().swarm);
    /// ```
    pub fn nemesis(mut self, kinds: &[FaultKind], mean_interval_ms: u64) -> Self {
        self.scenario.faults.nemesis = Some(NemesisSpec {
            kinds: kinds.to_vec(),
            mean_interval_ms,
            swarm: true,
            triggered_percent: 0,
        });
        self
    }

    /// Swarm testing on (the default) or off for the nemesis just added: off, every listed
    /// kind is on in every seed. Without a nemesis it does nothing and fails `build`.
    ///
    /// ```
    /// # use kafka_sim::scenario_builder::ScenarioBuilder;
    /// use kafka_sim::faults::FaultKind;
    /// let s = ScenarioBuilder::new("x").nemesis(&[FaultKind::Loss], 1_000).swarm(false)
    ///     .build().unwrap();
    /// assert!(!s.faults.nemesis.unwrap().swarm);
    /// assert!(ScenarioBuilder::new("x").swarm(false).build().is_err());
    /// ```
    pub fn swarm(mut self, on: bool) -> Self {
        match &mut self.scenario.faults.nemesis {
            Some(nemesis) => nemesis.swarm = on,
            None => self.problem(
                "swarm",
                "`swarm` without a `nemesis` does nothing: add the nemesis first".into(),
            ),
        }
        self
    }
}

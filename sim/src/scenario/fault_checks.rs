//! Validating a scenario's faults: every scripted event names nodes that exist and that the
//! fault can strike, lasts a time the run can represent, and does something; and the random
//! nemesis draws from a list it can use.

use super::{Scenario, ScenarioError, TopicConfig};
use crate::clock::CLOCK_EPOCH_MS;
use crate::faults::alias::NodeAlias;
use crate::faults::{disk_loss_problem, Fault, FaultKind};
use crate::world::CONTROLLER_NAME;
use kafka_model::ids::TopicPartition;
use std::collections::BTreeSet;

/// How far a clock may start off: a day, well inside the local clocks' headroom.
const CLOCK_SKEW_MAX_MS: u64 = 86_400_000;

/// The longest a run may last, and so any fault in it: 30 simulated days.
pub(crate) const RUN_MAX_MS: u64 = 30 * 24 * 3_600_000;

/// A clock jump's largest size either way: local clocks start at `CLOCK_EPOCH_MS` (about
/// 11.6 days), so a jump back of up to 10 days never takes a clock below zero.
const CLOCK_JUMP_MAX_MS: i64 = 10 * 24 * 3_600_000;

/// A drift's bound in parts per million: at -1,000,000 a clock stops (and below, it would
/// run backwards); above +1,000,000 it runs more than twice as fast, which no machine does.
const CLOCK_DRIFT_MAX_PPM: i64 = 1_000_000;

impl Scenario {
    /// Every node a fault may name: brokers, controllers, `controller` (the whole quorum in a
    /// network fault, or the single controller), clients and group members, each once.
    pub(crate) fn fault_node_names(&self) -> Vec<String> {
        let mut nodes: Vec<String> = self.broker_names();
        for name in self
            .controller_names()
            .into_iter()
            .chain([CONTROLLER_NAME.to_string()])
            .chain(self.client_names())
        {
            if !nodes.contains(&name) {
                nodes.push(name);
            }
        }
        nodes
    }

    /// The nodes `name` stands for in a network fault: `controller` is every controller.
    fn network_members(&self, name: &str) -> Vec<String> {
        if name == CONTROLLER_NAME {
            self.controller_names()
        } else {
            vec![name.to_string()]
        }
    }

    pub(super) fn validate_faults(&self, file: &str) -> Result<(), ScenarioError> {
        let invalid = |field: String, reason: String| {
            Err(ScenarioError::Invalid {
                file: file.to_string(),
                field,
                reason,
            })
        };
        let nodes = self.fault_node_names();
        for (i, event) in self.faults.events.iter().enumerate() {
            let field = format!("faults.events[{i}]");
            if event.at_ms >= self.fault_phase_ms {
                return invalid(
                    format!("{field}.at_ms"),
                    format!(
                        "{} is not before fault_phase_ms ({})",
                        event.at_ms, self.fault_phase_ms
                    ),
                );
            }
            for node in event.fault.nodes() {
                match NodeAlias::parse(node) {
                    Some(Err(error)) => return invalid(field, error.to_string()),
                    Some(Ok(alias)) => {
                        if let Some(reason) = self.alias_problem(&event.fault, &alias) {
                            return invalid(field, format!("`{node}`: {reason}"));
                        }
                    }
                    None if !nodes.contains(node) => {
                        return invalid(
                            field,
                            format!(
                                "unknown node `{node}` (nodes: {}; or an alias: `leader of \
                                 TOPIC-PARTITION`, `follower of TOPIC-PARTITION`, `active \
                                 controller`)",
                                nodes.join(", ")
                            ),
                        );
                    }
                    None => {}
                }
            }
            if let Some((name, reason)) = event.on.as_ref().and_then(|t| self.trigger_problem(t)) {
                return invalid(format!("{field}.on.{name}"), reason);
            }
            if let Some((name, reason)) = self.fault_problem(&event.fault) {
                // A node that cannot suffer the fault is the event's problem, not its field's.
                let field = match name {
                    "node" => field,
                    name => format!("{field}.{name}"),
                };
                return invalid(field, reason);
            }
        }
        let nemesis = self.faults.nemesis.as_ref();
        let draws_disk_losses = nemesis.is_some_and(|n| n.kinds.contains(&FaultKind::DiskLoss));
        let mut disk_losses = self.scripted_disk_losses();
        // Each disk loss of `active controller` may strike another controller.
        let mut aliased = Vec::new();
        for (i, event) in self.faults.events.iter().enumerate() {
            if let Fault::DiskLoss { node, .. } = &event.fault {
                if NodeAlias::parse(node).is_some() {
                    aliased.push(i);
                }
            }
        }
        if let Some(i) = aliased.first().filter(|_| draws_disk_losses) {
            return invalid(
                format!("faults.events[{i}]"),
                "a disk loss of `active controller` cannot go with a nemesis that draws disk \
                 losses: which controllers keep their disk would only be known as the run goes"
                    .into(),
            );
        }
        for i in &aliased {
            disk_losses.insert(format!("active controller (faults.events[{i}])"));
        }
        let voters = self.controller.voters;
        if let Some((field, reason)) = disk_loss_problem(voters, &disk_losses, draws_disk_losses) {
            return invalid(field.to_string(), reason);
        }
        if self.faults.clock_skew_ms > CLOCK_SKEW_MAX_MS {
            return invalid(
                "faults.clock_skew_ms".into(),
                format!(
                    "must be 0..={CLOCK_SKEW_MAX_MS} (a day), got {}",
                    self.faults.clock_skew_ms
                ),
            );
        }
        if let Some(nemesis) = &self.faults.nemesis {
            if nemesis.kinds.is_empty() {
                return invalid(
                    "faults.nemesis.kinds".into(),
                    "list at least one fault kind, or drop the nemesis".into(),
                );
            }
            if nemesis.kinds.contains(&FaultKind::ConnectionReset) && !self.network.connections() {
                return invalid(
                    "faults.nemesis.kinds".into(),
                    "connection-reset: only connections reset: set `[network] transport = \
                     \"connections\"`"
                        .into(),
                );
            }
            if nemesis.triggered_percent > 100 {
                return invalid(
                    "faults.nemesis.triggered_percent".into(),
                    format!(
                        "is a share of the drawn faults: 0..=100, got {}",
                        nemesis.triggered_percent
                    ),
                );
            }
            if nemesis.mean_interval_ms < 100 || nemesis.mean_interval_ms > RUN_MAX_MS {
                return invalid(
                    "faults.nemesis.mean_interval_ms".into(),
                    format!(
                        "must be 100..={RUN_MAX_MS} (30 days), got {}",
                        nemesis.mean_interval_ms
                    ),
                );
            }
        }
        Ok(())
    }

    /// The topic of partition `tp`, or why the cluster has no such partition.
    pub(super) fn topic_of(&self, tp: &TopicPartition) -> Result<TopicConfig, String> {
        let topics = self.cluster_topics();
        let Some(topic) = topics.iter().find(|t| t.name == tp.topic) else {
            let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
            return Err(format!(
                "no topic `{}` (topics: {})",
                tp.topic,
                names.join(", ")
            ));
        };
        if tp.partition >= topic.partitions {
            return Err(format!(
                "topic `{}` has partitions 0..={}",
                topic.name,
                topic.partitions - 1
            ));
        }
        Ok(topic.clone())
    }

    /// Why an alias cannot name a node of this scenario for this fault, if it cannot.
    fn alias_problem(&self, fault: &Fault, alias: &NodeAlias) -> Option<String> {
        if let Some(tp) = alias.partition() {
            let topic = match self.topic_of(tp) {
                Ok(topic) => topic,
                Err(reason) => return Some(reason),
            };
            if matches!(alias, NodeAlias::FollowerOf(_)) && topic.replication_factor < 2 {
                return Some(format!(
                    "topic `{}` has replication factor 1: its partitions have no follower",
                    topic.name
                ));
            }
            if let Fault::DiskLoss { .. } = fault {
                return Some(
                    "a partition's replicas are brokers, and disk loss is modelled for the \
                     controllers of a quorum only (`active controller` names one)"
                        .into(),
                );
            }
        }
        if *alias == NodeAlias::ActiveController && self.controller.voters < 2 {
            return Some(format!(
                "there is no quorum to lead with controller.voters = 1: the single controller \
                 is `{CONTROLLER_NAME}`"
            ));
        }
        None
    }

    /// What is wrong with one fault, as (its field, why), nodes already known to exist.
    fn fault_problem(&self, fault: &Fault) -> Option<(&'static str, String)> {
        let processes: Vec<String> = self
            .broker_names()
            .into_iter()
            .chain(self.controller_names())
            .chain(self.member_names())
            .chain(self.services.names())
            .collect();
        // A paused client keeps its memory, so any client may pause (a zombie producer
        // is one); a crashed one would start its work again from the beginning.
        let pausable =
            |node: &String| processes.contains(node) || self.client_names().contains(node);
        match fault {
            Fault::Crash { node, .. } | Fault::PowerLoss { node, .. }
                if !processes.contains(node) && NodeAlias::parse(node).is_none() =>
            {
                return Some((
                    "node",
                    format!(
                        "`{node}`: only brokers, controllers and group members crash or lose \
                         power (name one controller of a quorum: {})",
                        self.controller_names().join(", ")
                    ),
                ));
            }
            Fault::Pause { node, .. } if !pausable(node) && NodeAlias::parse(node).is_none() => {
                return Some((
                    "node",
                    format!(
                        "`{node}`: only brokers, controllers and clients pause (name one \
                         controller of a quorum: {})",
                        self.controller_names().join(", ")
                    ),
                ));
            }
            Fault::DiskLoss { node, .. }
                if !self.controller_names().contains(node) && NodeAlias::parse(node).is_none() =>
            {
                return Some((
                    "node",
                    format!(
                        "`{node}`: disk loss is modelled for the controllers of a quorum \
                         only (a broker that comes back empty is not): name one of {}",
                        self.controller_names().join(", ")
                    ),
                ));
            }
            Fault::DiskCorrupt { node, .. }
            | Fault::MisdirectedWrite { node, .. }
            | Fault::FsyncFail { node, .. }
                if !self.broker_names().contains(node)
                    && !NodeAlias::parse(node)
                        .is_some_and(|a| a.is_ok_and(|a| a != NodeAlias::ActiveController)) =>
            {
                return Some((
                    "node",
                    format!(
                        "`{node}`: storage faults strike a broker's log segments: name a \
                         broker ({}) or a partition's leader or follower",
                        self.broker_names().join(", ")
                    ),
                ));
            }
            Fault::Partition { groups, .. } => return self.partition_problem(groups),
            Fault::ConnectionReset { .. } if !self.network.connections() => {
                return Some((
                    "kind",
                    "only connections reset: set `[network] transport = \"connections\"`".into(),
                ));
            }
            Fault::PartitionOneWay { from, to, .. }
            | Fault::Loss { from, to, .. }
            | Fault::Delay { from, to, .. }
            | Fault::ConnectionReset { from, to }
                if from.is_empty() || to.is_empty() =>
            {
                let side = if from.is_empty() { "from" } else { "to" };
                return Some((side, "names no node: the fault would do nothing".into()));
            }
            Fault::ClockJump { by_ms, .. }
                if *by_ms == 0 || by_ms.unsigned_abs() > CLOCK_JUMP_MAX_MS as u64 =>
            {
                return Some((
                    "by_ms",
                    format!(
                        "must be non-zero and within ±{CLOCK_JUMP_MAX_MS} ms (10 days: local \
                             clocks start {CLOCK_EPOCH_MS} ms from zero), got {by_ms}"
                    ),
                ));
            }
            Fault::ClockDrift { ppm, .. }
                if *ppm <= -CLOCK_DRIFT_MAX_PPM || *ppm > CLOCK_DRIFT_MAX_PPM =>
            {
                return Some((
                    "ppm",
                    format!(
                        "must be above -{CLOCK_DRIFT_MAX_PPM} (a stopped clock) and at most \
                             {CLOCK_DRIFT_MAX_PPM} (twice as fast), got {ppm}"
                    ),
                ));
            }
            _ => {}
        }
        if let Fault::Loss { rate, .. } = fault {
            if !(0.0..=1.0).contains(rate) {
                return Some(("rate", format!("must be within 0..=1, got {rate}")));
            }
        }
        if let Fault::Delay { delay_ms, .. } = fault {
            if *delay_ms == 0 {
                return Some((
                    "delay_ms",
                    "must be positive: a delay of 0 does nothing".into(),
                ));
            }
        }
        duration_problem(fault)
    }

    /// A partition needs two or more groups with no node in two of them (`controller`
    /// counts as every controller).
    fn partition_problem(&self, groups: &[Vec<String>]) -> Option<(&'static str, String)> {
        let sides = groups.iter().filter(|g| !g.is_empty()).count();
        if sides < 2 {
            return Some((
                "groups",
                format!(
                    "needs at least two non-empty groups to cut apart, got {sides}: \
                     to cut a node off from all others, list the others as a second group"
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for group in groups {
            let mut in_group = BTreeSet::new();
            for name in group {
                for member in self.network_members(name) {
                    if in_group.insert(member.clone()) && !seen.insert(member.clone()) {
                        return Some((
                            "groups",
                            format!(
                                "`{member}` is in two groups: a node is on one side of a \
                                 partition"
                            ),
                        ));
                    }
                }
            }
        }
        None
    }
}

/// A fault's duration must be positive (a fault of 0 ms does nothing) and fit in a run.
fn duration_problem(fault: &Fault) -> Option<(&'static str, String)> {
    if let Fault::Delay {
        delay_ms,
        jitter_ms,
        ..
    } = fault
    {
        if let Some((field, value)) = [("delay_ms", delay_ms), ("jitter_ms", jitter_ms)]
            .into_iter()
            .find(|(_, v)| **v > RUN_MAX_MS)
        {
            return Some((field, format!("{value} ms is longer than a run (30 days)")));
        }
    }
    let mut fault = fault.clone();
    let (field, value) = fault
        .duration_ms_mut()
        .map(|(field, value)| (field, *value))?;
    // A node down for 0 ms restarts at once, which is still a crash; a pause or a
    // partition of 0 ms is nothing.
    let may_be_zero = field == "restart_after_ms";
    if value == 0 && !may_be_zero {
        return Some((
            field,
            "must be positive: a fault of 0 ms does nothing".into(),
        ));
    }
    (value > RUN_MAX_MS).then(|| (field, format!("{value} ms is longer than a run (30 days)")))
}

//! A fault as it strikes: the plan's fault, and what each node alias in it stood for at that
//! moment. Rendered as written with the resolution beside each alias
//! (`crash leader of tasks-0 (= b2) (restart +1000ms)`); a fault without aliases renders as
//! it always did.

use super::alias::NodeAlias;
use super::belief::ClusterBelief;
use super::{Fault, TimedFault};
use crate::events::{EventKind, EventLog, FaultEvent};
use kafka_model::ids::NodeId;
use std::collections::BTreeMap;
use std::fmt;

/// What an alias read as when it stood for no node (a leaderless partition, no quorum
/// leader yet).
const NOBODY: &str = "nobody";

/// One fault at the moment it strikes.
#[derive(Clone, Debug, PartialEq)]
pub struct StruckFault {
    /// The fault as the plan wrote it, aliases included.
    pub planned: Fault,
    /// Each alias the plan wrote (as written) and the node it stood for (`None`: no node
    /// fitted, so it struck nothing there).
    pub resolved: BTreeMap<String, Option<String>>,
}

impl StruckFault {
    /// Resolves the fault's aliases against `belief`; `name` names a node as traces do.
    pub fn resolve(fault: &Fault, belief: &ClusterBelief, name: impl Fn(NodeId) -> String) -> Self {
        let mut resolved = BTreeMap::new();
        for node in fault.nodes() {
            if let Some(Ok(alias)) = NodeAlias::parse(node) {
                resolved.insert(node.clone(), belief.resolve(&alias).map(&name));
            }
        }
        StruckFault {
            planned: fault.clone(),
            resolved,
        }
    }

    /// A fault that names every node by name.
    pub fn plain(fault: Fault) -> Self {
        StruckFault {
            planned: fault,
            resolved: BTreeMap::new(),
        }
    }

    /// The fault that strikes: every alias replaced by its node. An alias that stood for no
    /// node leaves its side of a network fault; a fault on that one node strikes nothing
    /// (`None`).
    pub fn fault(&self) -> Option<Fault> {
        if self.resolved.is_empty() {
            return Some(self.planned.clone());
        }
        self.planned.map_nodes(|n| match self.resolved.get(n) {
            Some(node) => node.clone(),
            None => Some(n.to_string()),
        })
    }
}

/// Each planned fault as it struck (its aliases resolved, from the run's `Injected` events,
/// which even a sweep's log keeps), or as planned if it never struck.
pub fn plan_as_struck(plan: &[TimedFault], log: &EventLog) -> Vec<String> {
    // One `Injected` event per entry that struck; a triggered entry strikes out of the
    // plan's order, so each entry takes the first unclaimed strike of its fault.
    let mut struck: Vec<Option<&StruckFault>> = log
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Fault(FaultEvent::Injected(struck)) => Some(Some(struck)),
            _ => None,
        })
        .collect();
    plan.iter()
        .map(|event| {
            let claimed = struck
                .iter_mut()
                .find(|s| s.is_some_and(|s| s.planned == event.fault))
                .and_then(Option::take);
            match claimed {
                Some(s) => s.to_string(),
                None => event.fault.to_string(),
            }
        })
        .collect()
}

impl fmt::Display for StruckFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.resolved.is_empty() {
            return write!(f, "{}", self.planned);
        }
        let written = self.planned.map_nodes(|n| {
            Some(match self.resolved.get(n) {
                Some(node) => format!("{n} (= {})", node.as_deref().unwrap_or(NOBODY)),
                None => n.to_string(),
            })
        });
        match written {
            Some(fault) => write!(f, "{fault}")?,
            None => write!(f, "{}", self.planned)?,
        }
        if self.fault().is_none() {
            write!(f, ": strikes nothing")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_model::ids::{BrokerId, LeaderEpoch, TopicPartition};
    use kafka_model::metadata::MetadataRecord;

    fn belief_with_leader(leader: Option<u32>) -> ClusterBelief {
        let mut belief = ClusterBelief::default();
        belief.on_event(&EventKind::Metadata {
            index: 0,
            record: MetadataRecord::PartitionChange {
                tp: TopicPartition::new("tasks", 0),
                leader: leader.map(BrokerId),
                isr: vec![BrokerId(2), BrokerId(3)],
                leader_epoch: LeaderEpoch(1),
                partition_epoch: 1,
                elr: Vec::new(),
                last_known_elr: Vec::new(),
            },
        });
        belief
    }

    fn name(node: NodeId) -> String {
        format!("b{}", node.0)
    }

    #[test]
    fn a_struck_alias_prints_as_written_with_its_node() {
        let crash = Fault::Crash {
            node: "leader of tasks-0".into(),
            restart_after_ms: 500,
        };
        let struck = StruckFault::resolve(&crash, &belief_with_leader(Some(2)), name);
        assert_eq!(
            struck.to_string(),
            "crash leader of tasks-0 (= b2) (restart +500ms)"
        );
        assert_eq!(
            struck.fault(),
            Some(Fault::Crash {
                node: "b2".into(),
                restart_after_ms: 500
            })
        );
        let leaderless = StruckFault::resolve(&crash, &belief_with_leader(None), name);
        assert_eq!(leaderless.fault(), None);
        assert!(leaderless
            .to_string()
            .ends_with("(= nobody) (restart +500ms): strikes nothing"));
    }

    #[test]
    fn an_alias_that_fits_no_node_leaves_its_side() {
        let partition = Fault::Partition {
            groups: vec![
                vec!["leader of tasks-0".into()],
                vec!["b1".into(), "b2".into(), "b3".into()],
            ],
            duration_ms: 100,
        };
        let struck = StruckFault::resolve(&partition, &belief_with_leader(None), name);
        let Some(Fault::Partition { groups, .. }) = struck.fault() else {
            panic!("{struck}");
        };
        assert!(groups[0].is_empty());
        let plain = Fault::Clog {
            node: "b1".into(),
            duration_ms: 5,
        };
        let struck = StruckFault::resolve(&plain, &belief_with_leader(Some(2)), name);
        assert_eq!(struck, StruckFault::plain(plain.clone()));
        assert_eq!(struck.to_string(), plain.to_string());
    }
}

//! Validation of a triggered fault's `on`: its node (a name or an alias), its message kind
//! (only for sends and receipts, one that exists), its partition (only for log events, one
//! that exists) and its `nth` (from 1). A trigger that could never fire is refused, not
//! left to strike nothing.

use super::Scenario;
use crate::faults::alias::{partition_of, NodeAlias};
use crate::faults::trigger::{Trigger, MESSAGE_KINDS};

impl Scenario {
    /// What is wrong with a trigger, as (its field under `on`, why), if anything.
    pub(super) fn trigger_problem(&self, trigger: &Trigger) -> Option<(&'static str, String)> {
        match NodeAlias::parse(&trigger.node) {
            Some(Err(error)) => return Some(("node", error.to_string())),
            Some(Ok(alias)) => {
                if let Some(Err(reason)) = alias.partition().map(|tp| self.topic_of(tp)) {
                    return Some(("node", format!("`{}`: {reason}", trigger.node)));
                }
                if alias == NodeAlias::ActiveController && self.controller.voters < 2 {
                    return Some((
                        "node",
                        "there is no quorum to lead with controller.voters = 1".into(),
                    ));
                }
            }
            None => {
                let nodes = self.fault_node_names();
                if !nodes.contains(&trigger.node) {
                    return Some((
                        "node",
                        format!(
                            "unknown node `{}` (nodes: {}; or an alias)",
                            trigger.node,
                            nodes.join(", ")
                        ),
                    ));
                }
            }
        }
        if let Some(message) = &trigger.message {
            if !trigger.event.takes_message() {
                return Some((
                    "message",
                    format!(
                        "only `send` and `receive` take a message, not `{}`",
                        trigger.event.as_str()
                    ),
                ));
            }
            if !MESSAGE_KINDS.contains(&message.as_str()) {
                return Some((
                    "message",
                    format!(
                        "unknown message kind `{message}` (kinds: {})",
                        MESSAGE_KINDS.join(", ")
                    ),
                ));
            }
        }
        if let Some(partition) = &trigger.partition {
            if !trigger.event.takes_partition() {
                return Some((
                    "partition",
                    format!("`{}` takes no partition", trigger.event.as_str()),
                ));
            }
            let Some(tp) = partition_of(partition) else {
                return Some((
                    "partition",
                    format!("`{partition}`: write TOPIC-PARTITION, e.g. tasks-0"),
                ));
            };
            if let Err(reason) = self.topic_of(&tp) {
                return Some(("partition", reason));
            }
        }
        if trigger.nth == 0 {
            return Some(("nth", "counts from 1 (the first matching event)".into()));
        }
        None
    }
}

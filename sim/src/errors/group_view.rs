//! One coordinator's view of one group as the spurious-error checker follows it from the
//! coordinator's `GroupEvent`s: the generation, the members, and how each member that
//! left got out (session expiry, leave, a rebalance that went on without it), each with the
//! event that shows it.

use crate::checkers::ChainLink;
use crate::events::EventAt;
use crate::invariants::losses::link;
use kafka_model::group::GroupEvent;
use kafka_model::ids::BrokerId;
use std::collections::BTreeMap;

/// The group at one coordinator, as of now.
#[derive(Clone, Debug, Default)]
pub struct GroupView {
    pub generation: u32,
    /// The event that started the current generation (or loaded the group).
    pub generation_link: Option<ChainLink>,
    /// Members, each with the event that made it one.
    pub members: BTreeMap<String, ChainLink>,
    /// Members that are no longer, each with the event that took it out.
    pub removed: BTreeMap<String, ChainLink>,
}

impl GroupView {
    /// Follows one of the coordinator's events on this group.
    pub fn apply(&mut self, broker: BrokerId, event: &GroupEvent, at: EventAt) {
        let b = broker.to_string();
        let here = |what: String| link(at, &b, what);
        match event {
            GroupEvent::MemberJoined { group, member, .. } => {
                self.removed.remove(&member.0);
                let joined = here(format!("admitted {member} to {group}"));
                self.members.insert(member.0.clone(), joined);
            }
            GroupEvent::MemberRemoved {
                group,
                member,
                reason,
            } => {
                self.members.remove(&member.0);
                let removed = here(format!("removed {member} from {group} ({reason:?})"));
                self.removed.insert(member.0.clone(), removed);
            }
            GroupEvent::GenerationStarted {
                group,
                generation,
                members,
                ..
            } => {
                let started = here(format!("started generation {} of {group}", generation.0));
                let kept: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
                self.leave_out(&kept, &started);
                for member in members {
                    self.members
                        .entry(member.0.clone())
                        .or_insert_with(|| started.clone());
                }
                self.generation = generation.0;
                self.generation_link = Some(started);
            }
            GroupEvent::GroupEmpty { group, generation } => {
                let emptied = here(format!("emptied {group} in generation {}", generation.0));
                self.leave_out(&[], &emptied);
                self.generation = generation.0;
                self.generation_link = Some(emptied);
            }
            GroupEvent::GroupLoaded {
                group,
                generation,
                assignments,
            } => {
                let loaded = here(format!(
                    "loaded {group} in generation {} from the offsets topic",
                    generation.0
                ));
                let kept: Vec<&str> = assignments.keys().map(|m| m.0.as_str()).collect();
                self.leave_out(&kept, &loaded);
                for member in assignments.keys() {
                    self.members.insert(member.0.clone(), loaded.clone());
                }
                self.generation = generation.0;
                self.generation_link = Some(loaded);
            }
            GroupEvent::RebalanceStarted { .. }
            | GroupEvent::Assigned { .. }
            | GroupEvent::Committed { .. }
            | GroupEvent::Fenced { .. } => {}
        }
    }

    /// Members not in `kept` are no longer members, by `why`.
    fn leave_out(&mut self, kept: &[&str], why: &ChainLink) {
        let gone: Vec<String> = self
            .members
            .keys()
            .filter(|m| !kept.contains(&m.as_str()))
            .cloned()
            .collect();
        for member in gone {
            self.members.remove(&member);
            self.removed.insert(member, why.clone());
        }
    }
}

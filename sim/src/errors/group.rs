//! Group errors: unknown members and illegal generations against the coordinator's group
//! as its events built it.

use super::expectations::{shown, Expectation, Unexplained};
use super::group_view::GroupView;
use crate::history::GroupRefusal;
use kafka_model::ids::BrokerId;

/// Whether the group `view` at `broker` explains the group error `expectation` refusing
/// `refused` (`None`: the coordinator does not hold the group at all).
pub fn judge(
    expectation: Expectation,
    broker: BrokerId,
    view: Option<&GroupView>,
    refused: &GroupRefusal,
) -> Result<(), Unexplained> {
    let Some(view) = view else {
        return Ok(());
    };
    let (b, g) = (broker, &refused.group);
    match expectation {
        Expectation::UnknownMemberId => {
            let Some(member) = &refused.member else {
                if !view.members.is_empty() {
                    return Ok(());
                }
                return Err(Unexplained {
                    looked_for: format!("members in {g} at {b}, which refuse a standalone commit"),
                    found: format!("{g} at {b} has no members"),
                });
            };
            let Some(joined) = view.members.get(member) else {
                return Ok(());
            };
            Err(Unexplained {
                looked_for: format!(
                    "{member}'s removal from {g} at {b} (session expiry, leave, a rebalance \
                     without it), a takeover of {g} without it, or {b} not knowing {g}"
                ),
                found: format!(
                    "{member} is a member of {g} at {b} since {joined}, in generation {} ({})",
                    view.generation,
                    shown(&view.generation_link)
                ),
            })
        }
        Expectation::IllegalGeneration => match refused.generation {
            Some(generation) if generation == view.generation => Err(Unexplained {
                looked_for: format!(
                    "a generation of {g} at {b} other than {generation} when it answered"
                ),
                found: format!(
                    "{g} at {b} is in generation {generation} ({})",
                    shown(&view.generation_link)
                ),
            }),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

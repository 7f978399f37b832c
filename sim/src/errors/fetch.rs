//! Fetch errors: fenced and unknown leader epochs against the replica's epoch, offsets out
//! of range against its log's bounds.

use super::expectations::{shown, Expectation, ReplicaAtAnswer, Unexplained};
use super::replica_view::RoleView;
use crate::history::FetchRefusal;

/// Whether `at` explains the fetch error `expectation` refusing `refused`.
pub fn judge(
    expectation: Expectation,
    at: &ReplicaAtAnswer,
    refused: &FetchRefusal,
) -> Result<(), Unexplained> {
    let (b, tp) = (at.broker, &at.tp);
    let asked = refused.leader_epoch;
    let role = || match &at.role {
        RoleView::Leader { epoch, .. } => {
            format!(
                "{b} led {tp} in epoch {} ({})",
                epoch.0,
                shown(&at.role_link)
            )
        }
        RoleView::Follower { epoch } => format!(
            "{b} followed {tp} in epoch {} ({})",
            epoch.0,
            shown(&at.role_link)
        ),
        RoleView::Unknown => format!("{b} had no role for {tp} since it started"),
    };
    let epoch = at.role.epoch().map(|e| e.0);
    match expectation {
        Expectation::FencedLeaderEpoch if epoch.is_some_and(|e| e > asked) => Ok(()),
        Expectation::FencedLeaderEpoch => Err(Unexplained {
            looked_for: format!("{b}'s leader epoch of {tp} newer than the fetch's {asked}"),
            found: role(),
        }),
        Expectation::UnknownLeaderEpoch if epoch.is_none_or(|e| e < asked) => Ok(()),
        Expectation::UnknownLeaderEpoch => Err(Unexplained {
            looked_for: format!("{b}'s leader epoch of {tp} older than the fetch's {asked}"),
            found: role(),
        }),
        Expectation::OffsetOutOfRange => {
            let offset = refused.offset;
            if offset < at.log_start || offset > at.log_end {
                return Ok(());
            }
            Err(Unexplained {
                looked_for: format!(
                    "{b}'s log of {tp} starting above offset {offset} or ending below it"
                ),
                found: format!(
                    "{b}'s log of {tp} spans offsets {}..{} (its log start: {})",
                    at.log_start,
                    at.log_end,
                    shown(&at.log_start_link)
                ),
            })
        }
        _ => Ok(()),
    }
}

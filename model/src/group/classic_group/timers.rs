//! A classic group's timers: pending member ids lapse, silent members are removed after
//! their session timeout, and overdue join and sync phases end.

use super::{ClassicGroup, Ctx};
use crate::group::config::GroupCoordinatorConfig;
use crate::group::ids::MemberId;
use crate::group::output::RemovalReason;
use crate::group::summary::GroupState;
use crate::ids::Millis;

impl ClassicGroup {
    /// The earliest time at which [`ClassicGroup::tick`] has something to do. Only
    /// deadlines whose passing changes something are given, so a driver never spins.
    pub(crate) fn next_deadline(&self, config: &GroupCoordinatorConfig) -> Option<Millis> {
        let pending = self.pending_members.values().copied();
        let sessions = self
            .members
            .values()
            .filter_map(|m| m.expiry_ms(config.new_member_join_timeout_ms));
        let phase = match self.state {
            GroupState::PreparingRebalance if self.all_joined() => {
                Some(self.join_not_before_ms.min(self.phase_deadline_ms))
            }
            GroupState::PreparingRebalance => Some(self.phase_deadline_ms),
            GroupState::CompletingRebalance if self.sync_overdue_possible() => {
                Some(self.phase_deadline_ms)
            }
            _ => None,
        };
        pending.chain(sessions).chain(phase).min()
    }

    /// Whether the sync phase's end would remove anyone: the assignment is not being
    /// written and some member has not sent SyncGroup.
    fn sync_overdue_possible(&self) -> bool {
        self.assignment_in_flight.is_none()
            && self.members.values().any(|m| m.awaiting_sync.is_none())
    }

    /// Ends overdue phases, then expires pending ids and silent members. Phases come first:
    /// a member waiting in a join phase that ends now is in the new generation, not out.
    pub(crate) fn tick(&mut self, ctx: &mut Ctx) {
        let now = ctx.now;
        match self.state {
            GroupState::PreparingRebalance if now >= self.phase_deadline_ms => {
                self.complete_join(ctx);
            }
            GroupState::CompletingRebalance
                if now >= self.phase_deadline_ms && self.sync_overdue_possible() =>
            {
                let unsynced: Vec<MemberId> = self
                    .members
                    .values()
                    .filter(|m| m.awaiting_sync.is_none())
                    .map(|m| m.id.clone())
                    .collect();
                for id in &unsynced {
                    self.remove(ctx, id, RemovalReason::SyncTimeout);
                }
                self.prepare_rebalance(ctx, "sync timeout".to_string());
            }
            _ => {}
        }
        self.pending_members.retain(|_, expiry| *expiry > now);
        let expired: Vec<(MemberId, bool)> = self
            .members
            .values()
            .filter(|m| {
                m.expiry_ms(ctx.config.new_member_join_timeout_ms)
                    .is_some_and(|at| at <= now)
            })
            .map(|m| (m.id.clone(), m.is_new && m.awaiting_join.is_some()))
            .collect();
        for (id, new) in expired {
            let reason = if new {
                RemovalReason::NewMemberJoinTimeout
            } else {
                RemovalReason::SessionTimeout
            };
            self.remove_and_rebalance(ctx, &id, reason);
        }
        self.maybe_complete_join(ctx);
    }
}

//! SingleLeader: at most one broker ever becomes leader of a partition in a given leader
//! epoch. Claims come from two places and share one ledger: the controller's PartitionChange
//! records (a record naming another leader for an epoch already given is the breach) and the
//! brokers' BecameLeader events (a broker leading an epoch given to another).
//!
//! Source: Raft's Election Safety (Ongaro and Ousterhout, figure 3: at most one leader per
//! term), which Kafka's leader epoch inherits: KIP-101 tags every record with the epoch of
//! the leader that wrote it and KIP-320 fences fetches by epoch, both assuming an epoch names
//! exactly one leader. hachikuji/kafka-specification's `KafkaReplication.tla` has the
//! controller draw each new epoch from a strictly increasing sequence for the same reason.
//! No configuration excuses it: unclean election still bumps the epoch.

use super::{Breach, Rule};
use crate::checkers::AnomalyKind;
use kafka_model::ids::{BrokerId, LeaderEpoch};
use std::collections::BTreeMap;
use std::fmt;

pub(crate) const RULE: Rule = Rule {
    kind: AnomalyKind::SingleLeader,
    excusable: false,
    promise: "one leader epoch names one leader: epochs are how Kafka fences a deposed \
              leader (KIP-101, KIP-320)",
};

/// Who claimed the leadership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claimant {
    /// The controller's PartitionChange record named the broker.
    Controller,
    /// The broker itself became leader.
    Broker,
}

/// One claim: `broker` leads, said `by`, at history index `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    pub broker: BrokerId,
    pub by: Claimant,
    pub index: u64,
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.by {
            Claimant::Controller => write!(f, "{} (named by the controller", self.broker)?,
            Claimant::Broker => write!(f, "{} (became leader", self.broker)?,
        }
        write!(f, " at history index {})", self.index)
    }
}

/// The first claim of each epoch.
pub(crate) type Claims = BTreeMap<LeaderEpoch, Claim>;

/// Records `claim` for `epoch`; a breach if the epoch was already given to another broker.
pub(crate) fn check(claims: &mut Claims, epoch: LeaderEpoch, claim: Claim) -> Option<Breach> {
    let first = *claims.entry(epoch).or_insert(claim);
    if first.broker == claim.broker {
        return None;
    }
    Some(Breach {
        detail: format!("leader epoch {epoch} has two leaders: {first} and {claim}"),
        values: Vec::new(),
        skip: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use crate::checkers::{Promises, Verdict};

    /// b2 becomes leader of epoch 1, which the controller gave to b1.
    fn a_second_broker_leads_the_epoch(promises: Promises) -> Run {
        let mut run = started(promises);
        run.at(8).lead(2, 1, &[1, 2, 3], 2);
        run
    }

    #[test]
    fn one_leader_per_epoch_passes_even_when_it_leads_again_after_a_restart() {
        let mut run = healthy(Promises::default());
        // b2 restarts and, told the same metadata, leads epoch 2 again: the same leader.
        run.recover(2, 0, &[(1, 1), (2, 1), (4, 2), (5, 2)])
            .lead(2, 2, &[1, 2, 3], 4);
        assert_eq!(run.finish(), vec![]);
    }

    #[test]
    fn a_broker_leading_an_epoch_given_to_another_breaks_it() {
        let found = a_second_broker_leads_the_epoch(Promises::default()).finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        assert_eq!((found[0].verdict, found[0].index), (Verdict::Violation, 8));
        assert_eq!(
            found[0].detail,
            "t/0: leader epoch e1 has two leaders: b1 (named by the controller at history \
             index 0) and b2 (became leader at history index 8)"
        );
    }

    #[test]
    fn the_controller_naming_a_second_leader_for_an_epoch_breaks_it() {
        let mut run = Run::new(Promises::default());
        run.change(Some(1), &[1, 2, 3], 1, 1)
            .change(Some(2), &[1, 2, 3], 1, 2);
        let found = run.finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Violation);
    }

    #[test]
    fn two_leaders_in_one_epoch_stay_a_violation_under_unclean_election() {
        let found = a_second_broker_leads_the_epoch(unclean()).finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Violation);
    }
}

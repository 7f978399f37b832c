//! MonotonicEpoch: a partition's leader epoch never goes back. Two ledgers: the controller's
//! epoch across its PartitionChange records, and each broker's epoch across its BecameLeader
//! and BecameFollower events while it lives. A restart (a Recovered event) starts a new life:
//! the broker relearns its epochs from the metadata log, so its memory is reset.
//!
//! Source: KIP-101 and KIP-320. The leader epoch orders leaderships: followers truncate by it
//! (KIP-101) and fetches are fenced by it (KIP-320, "current leader epoch"), so a replica
//! accepting a smaller epoch than one it already acted on would take a deposed leader for a
//! current one. hachikuji/kafka-specification (`KafkaReplication.tla`, BecomeLeader and
//! BecomeFollowerAndTruncateTo) lets a replica act only on a higher epoch than it holds.
//! No configuration excuses it.

use super::{Breach, Rule};
use crate::checkers::AnomalyKind;
use kafka_model::ids::{BrokerId, LeaderEpoch};
use std::collections::BTreeMap;

pub(crate) const RULE: Rule = Rule {
    kind: AnomalyKind::MonotonicEpoch,
    excusable: false,
    promise: "leader epochs never go back: they order leaderships, so a smaller one would \
              let a deposed leader pass for a current one (KIP-101, KIP-320)",
};

/// Per broker: the life it was seen in (bumped on each recovery) and the highest epoch it
/// acted on in that life.
pub(crate) type BrokerEpochs = BTreeMap<BrokerId, (u32, LeaderEpoch)>;

/// The controller writes `epoch` after `previous`, its last record's epoch for the partition.
pub(crate) fn check_controller(
    previous: Option<LeaderEpoch>,
    epoch: LeaderEpoch,
) -> Option<Breach> {
    let previous = previous.filter(|&previous| epoch < previous)?;
    Some(Breach {
        detail: format!("the controller's leader epoch went back from {previous} to {epoch}"),
        values: Vec::new(),
        skip: None,
    })
}

/// `broker`, in life `life`, acts on `epoch` (`role`: "leader" or "follower").
pub(crate) fn check_broker(
    seen: &mut BrokerEpochs,
    broker: BrokerId,
    life: u32,
    epoch: LeaderEpoch,
    role: &str,
) -> Option<Breach> {
    let remembered = seen.entry(broker).or_insert((life, epoch));
    if remembered.0 != life {
        *remembered = (life, epoch);
        return None;
    }
    let highest = remembered.1;
    remembered.1 = highest.max(epoch);
    if epoch >= highest {
        return None;
    }
    Some(Breach {
        detail: format!(
            "{broker} became {role} in leader epoch {epoch} after acting in {highest}, \
             without a restart between"
        ),
        values: Vec::new(),
        skip: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use crate::checkers::{Promises, Verdict};

    #[test]
    fn growing_epochs_and_a_restart_between_pass() {
        let mut run = healthy(Promises::default());
        // b3 restarts: a new life may see an older epoch first (stale metadata).
        run.recover(3, 0, &[(1, 1), (2, 1), (4, 2), (5, 2)])
            .follow(3, 1, 1)
            .follow(3, 2, 2);
        assert_eq!(run.finish(), vec![]);
    }

    #[test]
    fn a_broker_going_back_an_epoch_breaks_it() {
        let mut run = started(Promises::default());
        run.follow(2, 2, 3).at(6).follow(2, 1, 1);
        let found = run.finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        assert_eq!((found[0].verdict, found[0].index), (Verdict::Violation, 6));
        assert_eq!(
            found[0].detail,
            "t/0: b2 became follower in leader epoch e1 after acting in e2, without a \
             restart between"
        );
    }

    #[test]
    fn the_controller_going_back_an_epoch_breaks_it_even_under_unclean_election() {
        for promises in [Promises::default(), unclean()] {
            let mut run = Run::new(promises);
            run.change(Some(1), &[1, 2], 1, 1)
                .change(Some(2), &[1, 2], 2, 2)
                .change(Some(1), &[1, 2], 1, 3);
            let found = run.finish();
            assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
            assert_eq!(found[0].verdict, Verdict::Violation);
            assert_eq!(
                found[0].detail,
                "t/0: the controller's leader epoch went back from e2 to e1"
            );
        }
    }
}

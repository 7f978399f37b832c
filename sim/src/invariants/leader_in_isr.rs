//! LeaderInIsr: a partition's leader is a member of its ISR. Checked on every controller
//! PartitionChange that names a leader, and on every BecameLeader and IsrChanged a broker
//! reports (a leader's own view of its ISR must include itself).
//!
//! Source: Kafka's replication design ("Replicated Logs: Quorums, In-Sync Replicas, and
//! State Machines": the leader is always in the ISR, and only an ISR member may be elected
//! under clean election), kept by KRaft's PartitionChangeBuilder, which elects from the ISR
//! and, under KIP-966, from the eligible leader replicas; hachikuji/kafka-specification
//! (`KafkaReplication.tla`) elects a new leader `\in quorumState.isr`. Even an unclean
//! election puts the chosen replica in the ISR, so no configuration excuses it.

use super::{Breach, Rule};
use crate::checkers::AnomalyKind;
use kafka_model::ids::BrokerId;

pub(crate) const RULE: Rule = Rule {
    kind: AnomalyKind::LeaderInIsr,
    excusable: false,
    promise: "a partition's leader is always a member of its ISR",
};

/// `who` (the controller's record, or the broker's event) names `leader` with `isr`.
pub(crate) fn check(leader: BrokerId, isr: &[BrokerId], who: &str) -> Option<Breach> {
    if isr.contains(&leader) {
        return None;
    }
    Some(Breach {
        detail: format!(
            "{who} has leader {leader} outside its ISR {}",
            super::brokers(isr)
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
    fn leaders_inside_their_isr_pass() {
        let mut run = healthy(Promises::default());
        // Shrinking the ISR to the leader alone keeps it in.
        run.change(Some(2), &[2], 2, 4).isr(2, 2, &[2]);
        assert_eq!(run.finish(), vec![]);
    }

    #[test]
    fn a_controller_record_with_the_leader_outside_the_isr_breaks_it() {
        for promises in [Promises::default(), unclean()] {
            let mut run = Run::new(promises);
            run.at(3).change(Some(1), &[2, 3], 1, 1);
            let found = run.finish();
            assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
            assert_eq!((found[0].verdict, found[0].index), (Verdict::Violation, 3));
            assert_eq!(
                found[0].detail,
                "t/0: the controller's record has leader b1 outside its ISR [b2, b3]"
            );
        }
    }

    #[test]
    fn a_broker_leading_outside_its_isr_breaks_it() {
        let mut run = Run::new(Promises::default());
        run.lead(1, 1, &[2, 3], 0);
        let found = run.finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        assert_eq!(
            found[0].detail,
            "t/0: b1 becoming leader has leader b1 outside its ISR [b2, b3]"
        );
    }
}

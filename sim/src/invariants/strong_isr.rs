//! StrongIsr: every member of a leader's ISR holds the leader's records below the leader's
//! high watermark. Checked when a leader's high watermark moves, and when any replica's log
//! is truncated or recovered (the two ways a member can stop holding what it held).
//!
//! Source: hachikuji/kafka-specification, `KafkaReplication.tla`. That spec names two forms:
//! `WeakIsr` quantifies over the ISR as the presumed leader sees it, `StrongIsr` over the
//! quorum's ISR. This checks the leader's own view (BecameLeader, IsrChanged), for every
//! broker that presumes to lead, deposed or not: with KRaft's ISR changes committed by the
//! controller before the leader adopts them (KIP-497 AlterPartition, KIP-966's strict ISR),
//! that view never holds a member the quorum did not admit. It is what makes an acks=all
//! write survive the loss of any ISR member; the loss of committed records (unclean
//! election, power loss with asynchronous flush) is the only excuse.

use super::agreement::{Agreement, Gap};
use super::replica::Replica;
use super::{Breach, Rule};
use crate::checkers::AnomalyKind;
use kafka_model::ids::BrokerId;
use std::collections::BTreeMap;

pub(crate) const RULE: Rule = Rule {
    kind: AnomalyKind::StrongIsr,
    excusable: true,
    promise: "Kafka promises every in-sync replica holds every record below the leader's \
              high watermark",
};

/// After `leader`'s high watermark moved: every member of its ISR, up to the new mark.
pub(crate) fn after_high_watermark(
    replicas: &BTreeMap<BrokerId, Replica>,
    agreement: &mut Agreement,
    leader: BrokerId,
) -> Option<Breach> {
    let isr = replicas.get(&leader)?.leader_isr()?;
    isr.iter()
        .find_map(|&member| check_pair(replicas, agreement, leader, member))
}

/// After `member`'s log was cut: every leader whose ISR holds it.
pub(crate) fn after_cut(
    replicas: &BTreeMap<BrokerId, Replica>,
    agreement: &mut Agreement,
    member: BrokerId,
) -> Option<Breach> {
    replicas
        .iter()
        .filter(|(_, r)| r.leader_isr().is_some_and(|isr| isr.contains(&member)))
        .find_map(|(&leader, _)| check_pair(replicas, agreement, leader, member))
}

fn check_pair(
    replicas: &BTreeMap<BrokerId, Replica>,
    agreement: &mut Agreement,
    leader_id: BrokerId,
    member_id: BrokerId,
) -> Option<Breach> {
    if leader_id == member_id {
        return None;
    }
    let leader = replicas.get(&leader_id)?;
    // A member the harness never heard from holds nothing.
    let nothing = Replica::default();
    let member = replicas.get(&member_id).unwrap_or(&nothing);
    let high_watermark = leader.high_watermark;
    let gap = agreement.extend((leader_id, leader), (member_id, member), high_watermark)?;
    let (offset, held, values) = match gap {
        Gap::Differ {
            offset,
            first,
            second,
        } => (
            offset,
            format!("holds value {} ({}) there", second.value, second.epoch),
            vec![first.value, second.value],
        ),
        Gap::Lacks { offset, broker } if broker == member_id => {
            let first = leader
                .get(offset)
                .expect("the leader holds what the member lacks");
            (
                offset,
                format!("lacks it (its log ends at {})", member.log_end()),
                vec![first.value],
            )
        }
        // The leader lacking a record below its own high watermark: nothing to hold it to.
        Gap::Lacks { .. } => return None,
    };
    let isr = leader.leader_isr().unwrap_or_default();
    let record = leader.get(offset).expect("the leader holds the record");
    Some(Breach {
        detail: format!(
            "{member_id}, in leader {leader_id}'s ISR {}, {held}: the leader holds value {} \
             ({}) at offset {offset}, below its high watermark {high_watermark}",
            super::brokers(isr),
            record.value,
            record.epoch
        ),
        values,
        skip: Some((leader_id, member_id, offset)),
    })
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use crate::checkers::{Promises, Verdict};

    /// b3 copies only the first of two records, yet the leader counts it in sync and moves
    /// its high watermark past both.
    fn high_watermark_past_a_lagging_member(promises: Promises) -> Run {
        let mut run = Run::new(promises);
        run.change(Some(1), &[1, 2, 3], 1, 1)
            .lead(1, 1, &[1, 2, 3], 0)
            .follow(2, 1, 1)
            .follow(3, 1, 1);
        run.append(1, 0, &[(1, 1), (2, 1)])
            .append(2, 0, &[(1, 1), (2, 1)])
            .append(3, 0, &[(1, 1)]);
        run.at(5).hw(1, 2);
        run
    }

    #[test]
    fn members_holding_the_leaders_records_pass() {
        let mut run = healthy(Promises::default());
        // A follower out of the ISR may lag and even truncate below the high watermark.
        run.change(Some(2), &[2, 3], 2, 4).isr(2, 2, &[2, 3]);
        run.truncate(1, 0)
            .append(2, 4, &[(6, 2)])
            .append(3, 4, &[(6, 2)]);
        run.hw(2, 5);
        assert_eq!(run.finish(), vec![]);
    }

    #[test]
    fn a_high_watermark_past_a_lagging_member_breaks_it() {
        let found = high_watermark_past_a_lagging_member(Promises::default()).finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        assert_eq!((found[0].verdict, found[0].index), (Verdict::Violation, 5));
        assert_eq!(
            found[0].detail,
            "t/0: b3, in leader b1's ISR [b1, b2, b3], lacks it (its log ends at 1): the \
             leader holds value 2 (e1) at offset 1, below its high watermark 2"
        );
    }

    #[test]
    fn a_member_truncated_below_the_high_watermark_breaks_it() {
        let mut run = started(Promises::default());
        run.at(9).truncate(3, 1);
        let found = run.finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        assert_eq!((found[0].verdict, found[0].index), (Verdict::Violation, 9));
    }

    #[test]
    fn a_lagging_member_stays_a_violation_under_unclean_election_when_no_unclean_election_explains_it(
    ) {
        let found = high_watermark_past_a_lagging_member(unclean()).finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        // The flag alone excuses nothing: no unclean election happened in this run.
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert!(found[0].excusable && found[0].chain.is_empty());
    }
}

//! LogMatching: any two replicas of a partition agree, with the same value and leader epoch
//! at each offset, below the smaller of their two high watermarks.
//!
//! Source: Raft's Log Matching property (Ongaro and Ousterhout, "In Search of an
//! Understandable Consensus Algorithm", figure 3), in the form Kafka's replication gives it:
//! a replica's high watermark marks what it knows to be committed, and KIP-101's leader-epoch
//! truncation (with KIP-279's fix for fast leader changes) exists precisely so that replicas
//! never diverge below it. Broken only where committed records may vanish (unclean election,
//! or a power loss meeting asynchronous flush).

use super::agreement::{Agreement, Gap};
use super::replica::Replica;
use super::{Breach, Rule};
use crate::checkers::AnomalyKind;
use kafka_model::ids::BrokerId;
use std::collections::BTreeMap;

pub(crate) const RULE: Rule = Rule {
    kind: AnomalyKind::LogMatching,
    excusable: true,
    promise: "Kafka promises replicas agree on every record below their high watermarks",
};

/// After `changed`'s log or high watermark changed: compares it with every other replica
/// below the smaller of their high watermarks, from where the pair was last verified.
pub(crate) fn check(
    replicas: &BTreeMap<BrokerId, Replica>,
    agreement: &mut Agreement,
    changed: BrokerId,
) -> Option<Breach> {
    let mine = replicas.get(&changed)?;
    for (&other_id, other) in replicas {
        if other_id == changed {
            continue;
        }
        let limit = mine.high_watermark.min(other.high_watermark);
        // A replica lacking a record below its own high watermark is a bookkeeping matter
        // of that replica, not a disagreement between two; only differing records count.
        let Some(Gap::Differ {
            offset,
            first,
            second,
        }) = agreement.extend((changed, mine), (other_id, other), limit)
        else {
            continue;
        };
        return Some(Breach {
            detail: format!(
                "{changed} holds value {} ({}) at offset {offset} but {other_id} holds value \
                 {} ({}), below both high watermarks ({} and {})",
                first.value,
                first.epoch,
                second.value,
                second.epoch,
                mine.high_watermark,
                other.high_watermark
            ),
            values: vec![first.value, second.value],
            skip: Some((changed, other_id, offset)),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::build::*;
    use crate::checkers::{Promises, Verdict};

    /// b3 leaves the ISR, then overwrites offset 1 with another value and reports a high
    /// watermark above it: b1 and b3 disagree below both high watermarks, yet no ISR member
    /// lacks anything (so StrongIsr stays quiet).
    fn diverged_below_the_high_watermark(promises: Promises) -> Run {
        let mut run = started(promises);
        run.change(Some(1), &[1, 2], 1, 2).isr(1, 1, &[1, 2]);
        run.append(3, 1, &[(9, 1)]).at(7).hw(3, 2);
        run
    }

    #[test]
    fn replicas_diverging_above_the_high_watermark_pass() {
        let mut run = healthy(Promises::default());
        // An unreplicated suffix may differ until truncated: it is not below both HWs.
        run.append(3, 4, &[(50, 2)]).append(1, 4, &[(51, 2)]);
        assert_eq!(run.finish(), vec![]);
    }

    #[test]
    fn replicas_disagreeing_below_both_high_watermarks_break_it() {
        let found = diverged_below_the_high_watermark(Promises::default()).finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert_eq!(found[0].index, 7);
        assert_eq!(found[0].values, vec![9, 2]);
        assert_eq!(
            found[0].detail,
            "t/0: b3 holds value 9 (e1) at offset 1 but b1 holds value 2 (e1), below both \
             high watermarks (2 and 2)"
        );
    }

    #[test]
    fn disagreement_stays_a_violation_under_unclean_election_when_no_unclean_election_explains_it()
    {
        let found = diverged_below_the_high_watermark(unclean()).finish();
        assert_eq!(kinds(&found), vec![super::RULE.kind], "{found:?}");
        // The flag alone excuses nothing: no unclean election happened in this run.
        assert_eq!(found[0].verdict, Verdict::Violation);
        assert!(found[0].excusable && found[0].chain.is_empty());
    }
}

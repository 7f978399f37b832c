//! Checks an allowed anomaly's chain against the run's event log, independently of how the
//! excuse pass built it: every link is an event of the log at its time and node, and a
//! power-loss chain shows a power loss of a broker, that broker recovering the partition
//! without one of the anomaly's records (which it held before), and that broker then
//! leading the partition.

use kafka_model::effect::{ReplicaEvent, ReplicaRecord};
use kafka_model::ids::TopicPartition;
use kafka_sim::checkers::{Anomaly, ChainLink, LossScope};
use kafka_sim::events::{Actor, Event, EventKind, FaultEvent};
use kafka_sim::outcome::Outcome;

/// The event a link points at, if the log holds it at the link's time.
fn event<'a>(outcome: &'a Outcome, link: &ChainLink) -> Result<&'a Event, String> {
    let event = outcome
        .events
        .get(link.seq)
        .ok_or_else(|| format!("no event #{} in the log for {link}", link.seq))?;
    if event.time_ms != link.time_ms {
        return Err(format!(
            "event #{} is at {}ms: {link}",
            link.seq, event.time_ms
        ));
    }
    Ok(event)
}

/// The node name of an event's actor, as the scenario names nodes (`b1`...).
fn by_broker(event: &Event, name: &str) -> bool {
    matches!(event.actor, Actor::Node(node) if format!("b{}", node.0) == name)
}

/// What a chain link's event is, for a power-loss chain.
enum Step<'a> {
    PowerCut(&'a str),
    Recovered(
        &'a TopicPartition,
        u64,
        &'a [kafka_model::effect::ReplicaRecord],
    ),
    Led(&'a TopicPartition),
    Other,
}

fn step<'a>(event: &'a Event, link: &'a ChainLink) -> Step<'a> {
    match &event.kind {
        EventKind::Fault(FaultEvent::PowerCut { node, .. }) if *node == link.node => {
            Step::PowerCut(node)
        }
        EventKind::Replica(ReplicaEvent::Recovered {
            tp,
            log_start,
            records,
        }) if by_broker(event, &link.node) => Step::Recovered(tp, log_start.0, records),
        EventKind::Replica(ReplicaEvent::BecameLeader { tp, .. })
            if by_broker(event, &link.node) =>
        {
            Step::Led(tp)
        }
        _ => Step::Other,
    }
}

/// What `broker` appended to `tp` before event `before`: each append's base offset and
/// records, in order.
fn appends_before<'a>(
    outcome: &'a Outcome,
    broker: &'a str,
    tp: &'a TopicPartition,
    before: u64,
) -> impl Iterator<Item = (u64, &'a [ReplicaRecord])> + 'a {
    let events = outcome.events.events().iter();
    let events = events.take_while(move |e| e.seq < before);
    events
        .filter(move |e| by_broker(e, broker))
        .filter_map(move |e| match &e.kind {
            EventKind::Replica(ReplicaEvent::Appended {
                tp: at,
                base,
                records,
            }) if at == tp => Some((base.0, records.as_slice())),
            _ => None,
        })
}

/// Where `broker` appended `value` to `tp` before event `before`, if it did.
fn appended_at(
    outcome: &Outcome,
    broker: &str,
    tp: &TopicPartition,
    value: u64,
    before: u64,
) -> Option<u64> {
    appends_before(outcome, broker, tp, before).find_map(|(base, records)| {
        let offset = records.iter().position(|r| r.value == value)?;
        Some(base + offset as u64)
    })
}

/// The value `broker` last appended at `offset` of `tp` before event `before`.
fn held_before(
    outcome: &Outcome,
    broker: &str,
    tp: &TopicPartition,
    offset: u64,
    before: u64,
) -> Option<u64> {
    appends_before(outcome, broker, tp, before)
        .filter_map(|(base, records)| {
            let index = usize::try_from(offset.checked_sub(base)?).ok()?;
            records.get(index).map(|r| r.value)
        })
        .last()
}

/// Checks `anomaly`'s chain against `outcome`'s log (which must keep every event).
pub fn check_chain(outcome: &Outcome, anomaly: &Anomaly) -> Result<(), String> {
    if anomaly.chain.is_empty() {
        return Err(format!("{} has no chain: {}", anomaly.kind, anomaly.detail));
    }
    let mut steps = Vec::new();
    for link in &anomaly.chain {
        steps.push((link, step(event(outcome, link)?, link)));
    }
    if !anomaly.why.contains("power loss") {
        return Ok(());
    }
    // A power loss of broker B, B recovering tp without one of the anomaly's records that
    // it had appended before, and B leading tp afterwards.
    let cut = steps.iter().find_map(|(link, s)| match s {
        Step::PowerCut(node) => Some((link.seq, *node)),
        _ => None,
    });
    let (cut_seq, broker) = cut.ok_or("a power-loss chain without a power loss")?;
    // Every recovery of the broker after its power loss that the chain names (a second
    // power loss before it led adds its own).
    let recoveries: Vec<(u64, &TopicPartition, u64, &[ReplicaRecord])> = steps
        .iter()
        .filter_map(|(link, s)| match s {
            Step::Recovered(tp, start, records) if link.node == broker && link.seq > cut_seq => {
                Some((link.seq, *tp, *start, *records))
            }
            _ => None,
        })
        .collect();
    let (first_seq, tp, _, _) = *recoveries
        .first()
        .ok_or_else(|| format!("{broker} never recovers after its power loss"))?;
    let led = steps.iter().any(|(link, s)| {
        matches!(s, Step::Led(at) if *at == tp && link.node == broker && link.seq > first_seq)
    });
    let offsets: Vec<u64> = anomaly
        .scope
        .iter()
        .flat_map(|scope| match scope {
            LossScope::Records {
                topic,
                partition,
                offsets,
            } if *topic == tp.topic && *partition == tp.partition => offsets.clone(),
            _ => Vec::new(),
        })
        .collect();
    let holds = |start: u64, records: &[ReplicaRecord], offset: u64, value: u64| {
        offset
            .checked_sub(start)
            .and_then(|i| records.get(i as usize))
            .is_some_and(|r| r.value == value)
    };
    let involved = recoveries.iter().any(|&(seq, tp, start, records)| {
        // One of the anomaly's records: appended by the broker before, not held after.
        let by_value = anomaly.values.iter().any(|value| {
            appended_at(outcome, broker, tp, *value, seq)
                .is_some_and(|offset| !holds(start, records, offset, *value))
        });
        // Or one of the offsets it involves: the broker held a record there before that
        // its recovered log does not hold (an offset a later record then reused).
        let by_offset = offsets.iter().any(|offset| {
            held_before(outcome, broker, tp, *offset, seq)
                .is_some_and(|value| !holds(start, records, *offset, value))
        });
        by_value || by_offset
    });
    if !involved && !replica_level(anomaly) {
        return Err(format!(
            "{broker}'s recovery of {tp} lost none of {:?}: {}",
            anomaly.values, anomaly.detail
        ));
    }
    if !led && !replica_level(anomaly) {
        return Err(format!("{broker} never led {tp} after its recovery"));
    }
    Ok(())
}

fn replica_level(anomaly: &Anomaly) -> bool {
    use kafka_sim::checkers::AnomalyKind::*;
    matches!(anomaly.kind, LogMatching | StrongIsr | LeaderCompleteness)
}

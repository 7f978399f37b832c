//! The catalog of historical Kafka replication bugs (DESIGN.md section 7): each historical
//! protocol's built-in scenario finds its bug within a bounded seed sweep, and the very
//! same scenario and seeds on today's protocol find nothing. Last Replica Standing needs
//! no protocol variant: it is async flush meeting a power loss, which fsync on every
//! append removes.

use kafka_model::config::ReplicationProtocol;
use kafka_sim::checkers::{AnomalyKind, Verdict};
use kafka_sim::registry;
use kafka_sim::scenario::Scenario;
use kafka_sim::sweep::{sweep, SeedResult};

fn sweep_seeds(scenario: &Scenario, seeds: std::ops::Range<u64>) -> Vec<SeedResult> {
    let seeds: Vec<u64> = seeds.collect();
    sweep(scenario, &seeds, |_| {})
}

/// The historical scenario `name` shows every one of `kinds` as a violation in some seed
/// of `seeds`; on the modern protocol the same seeds show no anomaly at all.
fn found_and_fixed(name: &str, seeds: std::ops::Range<u64>, kinds: &[AnomalyKind]) {
    let historical = registry::find(name).unwrap_or_else(|| panic!("no built-in `{name}`"));
    assert_ne!(
        historical.broker.replication_protocol,
        ReplicationProtocol::Modern,
        "{name} must run a historical protocol"
    );
    let results = sweep_seeds(&historical, seeds.clone());
    for kind in kinds {
        let found = results
            .iter()
            .find(|r| r.anomalies.contains(&(*kind, Verdict::Violation)));
        assert!(
            found.is_some(),
            "{name}: no seed in {seeds:?} shows a {kind} violation"
        );
    }
    let mut modern = historical.clone();
    modern.broker.replication_protocol = ReplicationProtocol::Modern;
    let anomalous: Vec<(u64, Vec<(AnomalyKind, Verdict)>)> = sweep_seeds(&modern, seeds)
        .into_iter()
        .filter(|r| !r.anomalies.is_empty())
        .map(|r| (r.seed, r.anomalies))
        .collect();
    assert!(
        anomalous.is_empty(),
        "{name} on the modern protocol: {anomalous:?}"
    );
}

#[test]
fn pre_kip_101_truncation_to_the_high_watermark_loses_committed_writes() {
    found_and_fixed(
        "pre-kip-101-truncate-to-hw",
        0..40,
        &[
            AnomalyKind::LostWrite,
            AnomalyKind::StrongIsr,
            AnomalyKind::LeaderCompleteness,
            AnomalyKind::CommittedRecordLost,
        ],
    );
}

#[test]
fn pre_kip_279_fast_failover_leaves_replicas_diverged_below_the_high_watermark() {
    found_and_fixed(
        "pre-kip-279-fast-failover",
        0..1000,
        &[AnomalyKind::LogMatching, AnomalyKind::CommittedRecordLost],
    );
}

#[test]
fn pre_kip_320_unfenced_fetches_leave_replicas_diverged_below_the_high_watermark() {
    found_and_fixed(
        "pre-kip-320-stale-fetch",
        0..40,
        &[AnomalyKind::LogMatching, AnomalyKind::StrongIsr],
    );
}

#[test]
fn the_last_replica_standing_loses_acknowledged_writes_unless_it_fsyncs() {
    let scenario = registry::find("last-replica-standing").unwrap();
    let lossy = sweep_seeds(&scenario, 0..10);
    let lost = lossy
        .iter()
        .filter(|r| {
            r.anomalies
                .contains(&(AnomalyKind::LostWrite, Verdict::Allowed))
        })
        .count();
    // The story is scripted; the nemesis's noise on top rarely lets b1 flush in time.
    assert!(
        lost >= 8,
        "acknowledged writes must be lost, reported as allowed, in most seeds: {lossy:?}"
    );
    assert!(lossy.iter().all(|r| r
        .anomalies
        .iter()
        .all(|(_, verdict)| *verdict == Verdict::Allowed)));
    let mut fsync = scenario.clone();
    fsync.broker.log.flush_messages = Some(1);
    let kept = sweep_seeds(&fsync, 0..10);
    assert!(
        kept.iter().all(|r| r.anomalies.is_empty()),
        "with flush.messages=1 nothing is lost: {kept:?}"
    );
}

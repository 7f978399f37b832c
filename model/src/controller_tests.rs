//! The controller's unit tests: elections, fencing, AlterPartition, the log's replay, and
//! (with eligible leader replicas) the ELR's life.

use super::*;

fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

fn cluster(unclean: bool) -> Controller {
    cluster_with(ControllerConfig {
        unclean_leader_election: unclean,
        ..ControllerConfig::default()
    })
}

/// Brokers 1..=3, all live at 0 ms, and one partition on all three; sessions of 1 s.
fn cluster_with(config: ControllerConfig) -> Controller {
    let mut controller = Controller::new(ControllerConfig {
        session_timeout_ms: 1_000,
        ..config
    });
    for b in 1..=3 {
        controller.heartbeat(0, BrokerId(b), 1);
    }
    controller.create_partitions(vec![(tp(), vec![BrokerId(1), BrokerId(2), BrokerId(3)])]);
    controller
}

fn partition(controller: &Controller) -> PartitionRegistration {
    controller.image().partitions[&tp()].clone()
}

#[test]
fn a_new_partition_is_led_by_its_preferred_replica_with_every_live_replica_in_sync() {
    let p = partition(&cluster(false));
    assert_eq!(p.leader, Some(BrokerId(1)));
    assert_eq!(p.isr, vec![BrokerId(1), BrokerId(2), BrokerId(3)]);
    assert_eq!(p.leader_epoch, LeaderEpoch(1));
}

#[test]
fn a_silent_leader_is_fenced_and_an_isr_member_takes_over_with_a_new_epoch() {
    let mut controller = cluster(false);
    for b in 2..=3 {
        controller.heartbeat(900, BrokerId(b), 1);
    }
    assert_eq!(controller.next_deadline(), Some(1_000));
    controller.tick(1_000);
    let p = partition(&controller);
    assert_eq!(p.leader, Some(BrokerId(2)));
    assert_eq!(p.isr, vec![BrokerId(2), BrokerId(3)]);
    assert_eq!(p.leader_epoch, LeaderEpoch(2));
    assert!(!controller.image().is_live(BrokerId(1)));
}

#[test]
fn clean_election_waits_for_the_last_isr_member_and_unclean_does_not() {
    for unclean in [false, true] {
        let mut controller = cluster(unclean);
        // The ISR shrinks to b1 alone, then b1 dies.
        let epoch = partition(&controller).partition_epoch;
        controller
            .alter_partition(BrokerId(1), &tp(), LeaderEpoch(1), epoch, vec![BrokerId(1)])
            .unwrap();
        for b in 2..=3 {
            controller.heartbeat(900, BrokerId(b), 1);
        }
        controller.tick(1_000);
        let p = partition(&controller);
        if unclean {
            assert_eq!(p.leader, Some(BrokerId(2)), "an out-of-sync replica leads");
            assert_eq!(p.isr, vec![BrokerId(2)]);
        } else {
            assert_eq!(p.leader, None, "offline until b1 returns");
            assert_eq!(
                p.isr,
                vec![BrokerId(1)],
                "the last ISR member is remembered"
            );
            controller.heartbeat(1_500, BrokerId(1), 1);
            assert_eq!(partition(&controller).leader, Some(BrokerId(1)));
        }
    }
}

#[test]
fn stale_or_ineligible_alter_partition_requests_are_refused() {
    let mut controller = cluster(false);
    let epoch = partition(&controller).partition_epoch;
    let shrink = vec![BrokerId(1), BrokerId(2)];
    assert_eq!(
        controller.alter_partition(BrokerId(2), &tp(), LeaderEpoch(1), epoch, shrink.clone()),
        Err(AlterPartitionError::FencedLeaderEpoch)
    );
    assert_eq!(
        controller.alter_partition(
            BrokerId(1),
            &tp(),
            LeaderEpoch(1),
            epoch + 7,
            shrink.clone()
        ),
        Err(AlterPartitionError::InvalidUpdateVersion)
    );
    let next = controller
        .alter_partition(BrokerId(1), &tp(), LeaderEpoch(1), epoch, shrink.clone())
        .unwrap();
    assert_eq!(next, epoch + 1);
    assert_eq!(
        controller.alter_partition(BrokerId(1), &tp(), LeaderEpoch(1), epoch, shrink),
        Err(AlterPartitionError::InvalidUpdateVersion),
        "the same request twice is stale the second time"
    );
    controller.heartbeat(900, BrokerId(1), 1);
    controller.heartbeat(900, BrokerId(2), 1);
    controller.tick(1_000); // b3 fenced
    let current = partition(&controller).partition_epoch;
    assert_eq!(
        controller.alter_partition(
            BrokerId(1),
            &tp(),
            LeaderEpoch(1),
            current,
            vec![BrokerId(1), BrokerId(3)]
        ),
        Err(AlterPartitionError::IneligibleReplica)
    );
}

#[test]
fn a_restarted_broker_leaves_the_isr_until_it_catches_up() {
    let mut controller = cluster(false);
    controller.heartbeat(500, BrokerId(3), 2);
    let p = partition(&controller);
    assert_eq!(p.isr, vec![BrokerId(1), BrokerId(2)]);
    assert_eq!(p.leader, Some(BrokerId(1)));
}

#[test]
fn the_image_is_the_replay_of_the_log_and_epochs_never_go_back() {
    let mut controller = cluster(false);
    for (now, alive) in [(900, [2, 3]), (1_900, [1, 3]), (2_900, [1, 2])] {
        for b in alive {
            controller.heartbeat(now, BrokerId(b), 1);
        }
        controller.tick(now + 100);
    }
    assert_eq!(MetadataImage::replay(controller.log()), *controller.image());
    let mut last = LeaderEpoch(0);
    for record in controller.log() {
        if let MetadataRecord::PartitionChange { leader_epoch, .. } = record {
            assert!(*leader_epoch >= last);
            last = *leader_epoch;
        }
    }
    let takeover = Controller::from_log(
        ControllerConfig::default(),
        controller.log().to_vec(),
        5_000,
    );
    assert_eq!(takeover.image(), controller.image());
}

use proptest::prelude::*;

/// One step of a generated history: heartbeats from some brokers, a new incarnation,
/// an ISR change request, or time passing.
#[derive(Clone, Debug)]
enum Step {
    Heartbeat(u32),
    Restart(u32),
    Shrink(u32),
    Expand,
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1u32..=3).prop_map(Step::Heartbeat),
        (1u32..=3).prop_map(Step::Restart),
        (1u32..=3).prop_map(Step::Shrink),
        Just(Step::Expand),
        (1u64..1_500).prop_map(Step::Wait),
    ]
}

proptest! {
    /// Whatever brokers do: the image is the replay of the log, every leader is a
    /// live member of its ISR (LeaderInIsr, clean election), and leader epochs never
    /// go back (MonotonicEpoch).
    #[test]
    fn invariants_hold_under_any_history(
        steps in proptest::collection::vec(step(), 1..80),
        unclean in any::<bool>(),
        elr in any::<bool>(),
        min_insync_replicas in 1usize..=3,
    ) {
        let mut controller = cluster_with(ControllerConfig {
            unclean_leader_election: unclean,
            eligible_leader_replicas: elr,
            min_insync_replicas,
            ..ControllerConfig::default()
        });
        let mut now = 0;
        let mut incarnations = [1u32; 4];
        let mut last_epoch = LeaderEpoch(0);
        for step in steps {
            match step {
                Step::Heartbeat(b) => controller.heartbeat(now, BrokerId(b), incarnations[b as usize]),
                Step::Restart(b) => {
                    incarnations[b as usize] += 1;
                    controller.heartbeat(now, BrokerId(b), incarnations[b as usize]);
                }
                Step::Shrink(b) => {
                    let p = partition(&controller);
                    if let Some(leader) = p.leader {
                        let isr: Vec<BrokerId> = p.isr.iter().copied().filter(|x| x.0 != b || *x == leader).collect();
                        let _ = controller.alter_partition(leader, &tp(), p.leader_epoch, p.partition_epoch, isr);
                    }
                }
                Step::Expand => {
                    let p = partition(&controller);
                    if let Some(leader) = p.leader {
                        let _ = controller.alter_partition(leader, &tp(), p.leader_epoch, p.partition_epoch, p.replicas.clone());
                    }
                }
                Step::Wait(ms) => {
                    now += ms;
                    controller.tick(now);
                }
            }
            let p = partition(&controller);
            prop_assert!(p.leader_epoch >= last_epoch);
            last_epoch = p.leader_epoch;
            if let Some(leader) = p.leader {
                prop_assert!(controller.image().is_live(leader), "{p:?}");
                prop_assert!(p.isr.contains(&leader), "{p:?}");
            }
            // Only ELR lets the ISR empty (Kafka keeps the last member otherwise).
            prop_assert!(elr || !p.isr.is_empty(), "{p:?}");
            prop_assert!(p.elr.iter().all(|b| !p.isr.contains(b)), "{p:?}");
            prop_assert!(elr || (p.elr.is_empty() && p.last_known_elr.is_empty()), "{p:?}");
            if p.isr.len() >= min_insync_replicas {
                prop_assert!(p.elr.is_empty(), "an ISR at the minimum has no ELR: {p:?}");
            }
        }
        prop_assert_eq!(&MetadataImage::replay(controller.log()), controller.image());
    }
}

fn elr_cluster(min_insync_replicas: usize, unclean_shutdown_detection: bool) -> Controller {
    cluster_with(ControllerConfig {
        eligible_leader_replicas: true,
        unclean_shutdown_detection,
        min_insync_replicas,
        ..ControllerConfig::default()
    })
}

fn brokers(list: &[u32]) -> Vec<BrokerId> {
    list.iter().map(|b| BrokerId(*b)).collect()
}

/// b2 and b3 go silent and are fenced at 1 s (b2 first); b1 heartbeats at 900 ms.
fn fence_2_and_3(controller: &mut Controller) {
    controller.heartbeat(900, BrokerId(1), 1);
    controller.tick(1_000);
}

#[test]
fn with_elr_the_last_isr_member_is_fenced_into_the_elr_and_elected_when_it_returns() {
    let mut controller = elr_cluster(1, true);
    fence_2_and_3(&mut controller);
    assert_eq!(partition(&controller).isr, brokers(&[1]));
    assert!(
        partition(&controller).elr.is_empty(),
        "at the minimum: no ELR"
    );
    controller.tick(1_900); // b1 fenced too: the ISR empties into the ELR
    let p = partition(&controller);
    assert_eq!(
        (p.leader, p.isr.clone(), p.elr.clone()),
        (None, vec![], brokers(&[1]))
    );
    // b1 comes back, same incarnation (it was cut off, not restarted).
    controller.heartbeat(2_000, BrokerId(1), 1);
    let p = partition(&controller);
    assert_eq!(p.leader, Some(BrokerId(1)));
    assert_eq!((p.isr, p.elr), (brokers(&[1]), vec![]));
}

#[test]
fn with_elr_a_restart_after_an_unclean_shutdown_is_not_eligible_unless_detection_is_broken() {
    for detection in [true, false] {
        let mut controller = elr_cluster(1, detection);
        fence_2_and_3(&mut controller);
        // b1, the last ISR member, restarts: a new incarnation without a clean shutdown.
        controller.heartbeat(1_200, BrokerId(1), 2);
        let p = partition(&controller);
        if detection {
            assert_eq!(
                p.leader, None,
                "nobody holds every committed record for sure"
            );
            assert!(p.isr.is_empty() && p.elr.is_empty(), "{p:?}");
            assert_eq!(p.last_known_elr, brokers(&[1]));
            controller.heartbeat(1_300, BrokerId(2), 1);
            assert_eq!(partition(&controller).leader, None, "b2 was never eligible");
        } else {
            assert_eq!(
                p.leader,
                Some(BrokerId(1)),
                "the broken ELR trusts b1: {p:?}"
            );
        }
    }
}

#[test]
fn with_elr_a_replica_that_left_an_isr_below_the_minimum_leads_after_an_unclean_restart() {
    let mut controller = elr_cluster(2, true);
    fence_2_and_3(&mut controller);
    // b2's fence left the ISR [1, 3], at the minimum; b3's left [1], below it.
    let p = partition(&controller);
    assert_eq!((p.isr, p.elr), (brokers(&[1]), brokers(&[3])));
    controller.heartbeat(1_200, BrokerId(1), 2);
    let p = partition(&controller);
    assert_eq!(
        (p.leader, p.elr.clone()),
        (None, brokers(&[3])),
        "b3 is fenced"
    );
    controller.heartbeat(1_300, BrokerId(2), 1);
    assert_eq!(
        partition(&controller).leader,
        None,
        "b2 left at the minimum"
    );
    controller.heartbeat(1_400, BrokerId(3), 1);
    let p = partition(&controller);
    assert_eq!(p.leader, Some(BrokerId(3)), "elected from the ELR");
    assert_eq!((p.isr, p.elr), (brokers(&[3]), vec![]));
    assert_eq!(MetadataImage::replay(controller.log()), *controller.image());
}

//! The controller's unit tests: elections, fencing, AlterPartition, the log's replay, and
//! (with eligible leader replicas) the ELR's life.

use super::*;

fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

fn cluster(unclean: bool) -> Controller {
    let mut controller = Controller::new(ControllerConfig {
        session_timeout_ms: 1_000,
        unclean_leader_election: unclean,
        ..ControllerConfig::default()
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
    fn invariants_hold_under_any_history(steps in proptest::collection::vec(step(), 1..80), unclean in any::<bool>()) {
        let mut controller = cluster(unclean);
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
            prop_assert!(!p.isr.is_empty(), "{p:?}");
        }
        prop_assert_eq!(&MetadataImage::replay(controller.log()), controller.image());
    }
}

use super::*;

const A: NodeId = NodeId(1);
const B: NodeId = NodeId(2);
const C: NodeId = NodeId(3);

fn message(from: NodeId, correlation_id: u64) -> Box<Envelope> {
    Box::new(Envelope {
        from,
        id: correlation_id,
        sent_ms: 0,
        position: None,
        message: Message::MetadataRequest { correlation_id },
    })
}

fn up(nodes: &[NodeId]) -> Connections {
    let mut connections = Connections::new(30_000);
    for &node in nodes {
        connections.node_up(node);
    }
    connections
}

/// Sends `correlation_id` from `from` to `to` on an unblocked link; what goes on the wire.
fn wire(connections: &mut Connections, from: NodeId, to: NodeId, id: u64) -> Box<Envelope> {
    match connections.send(message(from, id), to, false, 0, 0) {
        Sent::Wire { envelope, .. } => envelope,
        other => panic!("expected the wire, got {other:?}"),
    }
}

/// What `node` takes, as correlation ids, with a disconnect from `peer` as `-peer`.
fn taken(connections: &mut Connections, node: NodeId) -> Vec<i64> {
    connections
        .take_ready(node)
        .into_iter()
        .map(|delivery| match delivery {
            Delivery::Message(envelope) => match envelope.message {
                Message::MetadataRequest { correlation_id } => correlation_id as i64,
                other => panic!("unexpected {other:?}"),
            },
            Delivery::Disconnected { peer, .. } => -(peer.0 as i64),
        })
        .collect()
}

#[test]
fn a_link_delivers_in_the_order_sent() {
    let mut connections = up(&[A, B]);
    let first = wire(&mut connections, A, B, 1);
    let second = wire(&mut connections, A, B, 2);
    let third = wire(&mut connections, A, B, 3);
    connections.arrive(B, third);
    connections.arrive(B, second);
    assert_eq!(
        taken(&mut connections, B),
        Vec::<i64>::new(),
        "1 is missing"
    );
    connections.arrive(B, first);
    assert_eq!(taken(&mut connections, B), vec![1, 2, 3]);
}

#[test]
fn a_partition_stalls_a_link_and_the_heal_releases_it_in_order() {
    let mut connections = up(&[A, B]);
    let before = wire(&mut connections, A, B, 1);
    assert!(matches!(
        connections.send(message(A, 2), B, true, 0, 100),
        Sent::Held
    ));
    // Unblocked again, a later message still waits behind what the link holds.
    assert!(matches!(
        connections.send(message(A, 3), B, false, 0, 200),
        Sent::Held
    ));
    connections.arrive(B, before);
    assert_eq!(taken(&mut connections, B), vec![1]);
    connections.unblocked(A, B, 1_000);
    assert_eq!(taken(&mut connections, B), vec![2, 3]);
    assert_eq!(connections.dropped, 0);
    let after = wire(&mut connections, A, B, 4);
    connections.arrive(B, after);
    assert_eq!(taken(&mut connections, B), vec![4]);
}

#[test]
fn a_link_cut_off_too_long_resets_and_both_ends_hear() {
    let mut connections = up(&[A, B]);
    let first = wire(&mut connections, A, B, 1);
    connections.arrive(B, first);
    assert_eq!(taken(&mut connections, B), vec![1]);
    assert!(matches!(
        connections.send(message(A, 2), B, true, 0, 1_000),
        Sent::Held
    ));
    connections.unblocked(A, B, 31_000);
    assert_eq!(taken(&mut connections, B), vec![-1], "B hears A's reset");
    assert_eq!(taken(&mut connections, A), vec![-2], "A hears B's reset");
    assert_eq!(connections.dropped, 1, "the held request is gone");
    // The next connection carries on from scratch.
    let fresh = wire(&mut connections, A, B, 3);
    connections.arrive(B, fresh);
    assert_eq!(taken(&mut connections, B), vec![3]);
}

#[test]
fn a_stall_shorter_than_the_reset_bound_loses_nothing() {
    let mut connections = up(&[A, B]);
    let first = wire(&mut connections, A, B, 1);
    connections.arrive(B, first);
    connections.take_ready(B);
    assert!(matches!(
        connections.send(message(A, 2), B, true, 0, 1_000),
        Sent::Held
    ));
    connections.unblocked(A, B, 30_999);
    assert_eq!(taken(&mut connections, B), vec![2]);
    assert_eq!(taken(&mut connections, A), Vec::<i64>::new());
}

#[test]
fn a_dead_process_peers_take_what_it_sent_then_hear_it_died() {
    let mut connections = up(&[A, B, C]);
    let answer = wire(&mut connections, B, A, 1);
    let _to_b = wire(&mut connections, A, B, 2);
    connections.node_down(B, Down::Process);
    assert_eq!(
        taken(&mut connections, A),
        Vec::<i64>::new(),
        "the answer B sent is still on the wire, and comes first"
    );
    connections.arrive(A, answer);
    assert_eq!(taken(&mut connections, A), vec![1, -2]);
    assert_eq!(
        taken(&mut connections, C),
        Vec::<i64>::new(),
        "C had no connection"
    );
    // While B is down its host refuses A at once.
    assert!(matches!(
        connections.send(message(A, 3), B, false, 0, 10),
        Sent::Refused
    ));
    assert_eq!(taken(&mut connections, A), vec![-2]);
    connections.node_up(B);
    let again = wire(&mut connections, A, B, 4);
    connections.arrive(B, again);
    assert_eq!(taken(&mut connections, B), vec![4]);
}

#[test]
fn a_machine_without_power_is_heard_of_only_when_it_is_back() {
    let mut connections = up(&[A, B]);
    let request = wire(&mut connections, A, B, 1);
    connections.arrive(B, request);
    connections.take_ready(B);
    connections.node_down(B, Down::Machine);
    assert_eq!(taken(&mut connections, A), Vec::<i64>::new());
    // Sent into the void: no host answers, nothing is refused.
    assert!(matches!(
        connections.send(message(A, 2), B, false, 0, 10),
        Sent::Wire { .. }
    ));
    assert_eq!(taken(&mut connections, A), Vec::<i64>::new());
    connections.node_up(B);
    assert_eq!(
        taken(&mut connections, A),
        vec![-2],
        "the restarted host resets"
    );
    let fresh = wire(&mut connections, A, B, 3);
    connections.arrive(B, fresh);
    assert_eq!(taken(&mut connections, B), vec![3]);
}

#[test]
fn a_message_of_a_connection_that_reset_is_discarded() {
    let mut connections = up(&[A, B]);
    let stale = wire(&mut connections, A, B, 1);
    // B dies and comes back: A's message to its old incarnation must not reach the new.
    connections.node_down(B, Down::Process);
    connections.node_up(B);
    connections.arrive(B, stale);
    assert_eq!(taken(&mut connections, B), Vec::<i64>::new());
    assert_eq!(connections.dropped, 1);
}

#[test]
fn a_node_that_never_started_refuses() {
    let mut connections = up(&[A]);
    assert!(matches!(
        connections.send(message(A, 1), B, false, 0, 0),
        Sent::Refused
    ));
    assert_eq!(taken(&mut connections, A), vec![-2]);
}

#[test]
fn retransmissions_delay_a_lossy_links_segment_instead_of_losing_it() {
    let lossy = LinkFault {
        loss_rate: 0.5,
        delay_ms: 0,
        jitter_ms: 0,
    };
    let mut losses = [true, true, false].into_iter();
    let delay = Connections::retransmit_delay_ms(&lossy, |_| losses.next().unwrap());
    assert_eq!(delay, 200 + 400, "two losses, two doubling timeouts");
    assert_eq!(
        Connections::retransmit_delay_ms(&LinkFault::default(), |_| panic!("no loss, no draw")),
        0
    );
}

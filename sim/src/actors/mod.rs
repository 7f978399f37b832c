//! Actors: each simulated node runs one role (broker, producer, consumer) in the same event
//! loop, which feeds the pure model messages and timer ticks and carries out its outputs:
//! sends through the faulty network, disk operations on SimDisk, observations into the
//! history.

mod alarm;
pub mod broker;
pub mod consumer;
pub mod controller;
pub mod eos_pipeline;
pub mod producer;
mod read_check;
pub mod two_clients;
pub mod txn_producer;
pub mod wire;

use crate::connections::{Delivery, Envelope};
use crate::disk::SimDisk;
use crate::events::{EventKind, FaultEvent};
use crate::invariants::losses::LossCause;
use crate::world::{address, World};
use alarm::Alarm;
use futures::channel::mpsc::UnboundedReceiver;
use futures::future::{select, Either};
use futures::StreamExt;
use kafka_model::disk::DiskFault;
use kafka_model::effect::Output;
use kafka_model::ids::{Millis, NodeId};
use kafka_model::protocol::Message;
use madsim::net::Endpoint;
use std::sync::Arc;
use std::time::Duration;

/// The one message tag of the simulated protocol.
const TAG: u64 = 9092;

/// A node's behaviour, driven by `run_node`. Times are the node's own clock (`local`)
/// unless named `global`.
pub trait Role {
    fn start(&mut self, world: &World, local_ms: Millis, global_ms: u64, out: &mut Vec<Output>);
    fn on_message(
        &mut self,
        local_ms: Millis,
        from: NodeId,
        message: Message,
        out: &mut Vec<Output>,
    );
    fn on_tick(&mut self, local_ms: Millis, global_ms: u64, out: &mut Vec<Output>);
    /// The connection to `peer` was reset (connections transport only): every request in
    /// flight to `peer` has failed, as Kafka's network client fails them on a disconnect.
    fn on_disconnected(&mut self, _local_ms: Millis, _peer: NodeId, _out: &mut Vec<Output>) {}
    /// Wakes of the role's own, taken once as the node starts: each one is a tick (a
    /// service's code asked for something; see `crate::app`).
    fn take_wakes(&mut self) -> Option<UnboundedReceiver<()>> {
        None
    }
    /// When the role next needs a tick, on its own clock.
    fn next_deadline(&self, local_ms: Millis, global_ms: u64) -> Option<Millis>;
    /// Reports progress to the world after each step (clients only).
    fn publish(&self, _world: &World, _me: NodeId) {}
    /// Reads what the step's outputs serve from disk (brokers, once their disk was
    /// damaged): the index of the first output that cannot be served and why, if one
    /// cannot. Outputs may be rewritten to what the disk holds.
    fn check_reads(
        &self,
        _disk: &SimDisk,
        _disk_node: DiskNode,
        _out: &mut [Output],
    ) -> Option<(usize, String)> {
        None
    }
    /// Whether a failed fsync halts the process (Kafka's brokers: the log directory goes
    /// offline).
    fn halts_on_fsync_error(&self) -> bool {
        true
    }
}

/// A node as SimDisk knows it.
pub type DiskNode = madsim::task::NodeId;

/// The event loop of one node incarnation. Returns when the node's socket closes.
pub async fn run_node<R: Role>(world: Arc<World>, me: NodeId, mut role: R) {
    let endpoint = match Endpoint::bind(address(me)).await {
        Ok(endpoint) => Arc::new(endpoint),
        Err(error) => {
            let error = error.to_string();
            world.node_event(
                me,
                EventKind::StartFailed {
                    what: "bind",
                    error,
                },
            );
            return;
        }
    };
    // A restarted node starts with its timers: whatever its last incarnation parked on
    // is gone.
    world.unpark(me);
    // Over connections, what its connections make ready (a reset, what a stall held)
    // wakes it through this.
    let mut woken = world.node_up(me);
    let mut wakes = role.take_wakes();
    let disk_node = madsim::plugin::node();
    let disk = madsim::plugin::simulator::<SimDisk>();
    let mut out = Vec::new();
    let global = World::now_ms();
    role.start(&world, world.local_ms(me, global), global, &mut out);
    if step(&world, me, &endpoint, &disk, disk_node, &role, &mut out).await == Step::Halted {
        return;
    }
    role.publish(&world, me);

    let receiver = endpoint.clone();
    let next_message = move || {
        let receiver = receiver.clone();
        Box::pin(async move { receiver.recv_from_raw(TAG).await })
    };
    // The pending receive is kept across timer ticks: dropping it could lose a message.
    let mut receive = next_message();
    let mut alarm = Alarm::default();
    // Deadlines as instants on whole simulated milliseconds, so that an unchanged deadline
    // gives the same instant and keeps its timer.
    let time = madsim::time::TimeHandle::current();
    let run_start = time.now_instant() - time.elapsed();
    loop {
        let global = World::now_ms();
        let local = world.local_ms(me, global);
        let wait_ms = role
            .next_deadline(local, global)
            .map(|deadline| world.global_wait_ms(me, global, deadline));
        if world.stalls(me, global) {
            // A deliberately stuck actor (`RunOptions::stall`): it waits on nothing.
            world.park(me);
            futures::future::pending::<()>().await;
        }
        let ready = async {
            let (ready, own) = (next_wake(woken.as_mut()), next_wake(wakes.as_mut()));
            match select(std::pin::pin!(ready), std::pin::pin!(own)).await {
                Either::Left(_) => Wake::Ready,
                Either::Right((true, _)) => Wake::Tick,
                // The role dropped its end: no more wakes of its own.
                Either::Right((false, _)) => futures::future::pending::<Wake>().await,
            }
        };
        let ready = std::pin::pin!(ready);
        let wake = match wait_ms {
            None => {
                world.park(me);
                let wake = match select(&mut receive, ready).await {
                    Either::Left((message, _)) => Wake::Message(message),
                    Either::Right((wake, _)) => wake,
                };
                world.unpark(me);
                wake
            }
            Some(wait_ms) => {
                alarm.set(run_start + Duration::from_millis(global + wait_ms));
                match select(select(&mut receive, alarm.ring()), ready).await {
                    Either::Left((Either::Left((message, _)), _)) => Wake::Message(message),
                    Either::Left((Either::Right(((), _)), _)) => Wake::Tick,
                    Either::Right((wake, _)) => wake,
                }
            }
        };
        let global = World::now_ms();
        let local = world.local_ms(me, global);
        let deliveries = match wake {
            Wake::Message(Ok((payload, _))) => {
                receive = next_message();
                let Ok(envelope) = payload.downcast::<Envelope>() else {
                    continue;
                };
                world.accept(me, envelope)
            }
            Wake::Message(Err(_)) => return,
            Wake::Ready => world.take_ready(me),
            Wake::Tick => {
                role.on_tick(local, global, &mut out);
                if step(&world, me, &endpoint, &disk, disk_node, &role, &mut out).await
                    == Step::Halted
                {
                    return;
                }
                role.publish(&world, me);
                continue;
            }
        };
        for delivery in deliveries {
            match delivery {
                Delivery::Message(envelope) => {
                    let (from, kind) = (envelope.from, envelope.message.kind());
                    world.delivered(from, me, kind, envelope.id, envelope.sent_ms);
                    world.arrived(me, from, &envelope.message);
                    role.on_message(local, envelope.from, envelope.message, &mut out);
                }
                Delivery::Disconnected { peer, why } => {
                    world.node_event(me, EventKind::ConnectionReset { peer, why });
                    role.on_disconnected(local, peer, &mut out);
                }
            }
            if step(&world, me, &endpoint, &disk, disk_node, &role, &mut out).await == Step::Halted
            {
                return;
            }
            role.publish(&world, me);
        }
    }
}

/// The next wake of `stream` (false once it ended); never, without one.
async fn next_wake(stream: Option<&mut UnboundedReceiver<()>>) -> bool {
    match stream {
        Some(stream) => stream.next().await.is_some(),
        None => futures::future::pending().await,
    }
}

/// What woke a node's loop.
enum Wake {
    Message(std::io::Result<(madsim::net::Payload, std::net::SocketAddr)>),
    Tick,
    /// Its connections made something ready.
    Ready,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Done,
    /// The node halted over a storage error: its process does nothing more.
    Halted,
}

/// Carries out a step's outputs, up to a storage error that halts the node.
async fn step<R: Role>(
    world: &Arc<World>,
    me: NodeId,
    endpoint: &Arc<Endpoint>,
    disk: &SimDisk,
    disk_node: DiskNode,
    role: &R,
    out: &mut Vec<Output>,
) -> Step {
    match execute(world, me, endpoint, disk, disk_node, role, out).await {
        Some(why) => {
            world.halt(me, why);
            Step::Halted
        }
        None => Step::Done,
    }
}

/// Carries out a step's outputs in order: a disk write before the response that
/// acknowledges it. Stops at a storage error that halts the node (a failed fsync, a
/// batch that fails its CRC as it is served), and says why; dropping the drain drops the
/// step's other outputs, so nothing after the error leaves the node.
async fn execute<R: Role>(
    world: &Arc<World>,
    me: NodeId,
    endpoint: &Arc<Endpoint>,
    disk: &SimDisk,
    disk_node: DiskNode,
    role: &R,
    out: &mut Vec<Output>,
) -> Option<String> {
    for mut output in out.drain(..) {
        // A trigger the last output (or the message just handled) fired strikes first.
        world.wait_if_held(me).await;
        // Checked here, once the step's earlier writes are on disk.
        if let Some((_, why)) = role.check_reads(disk, disk_node, std::slice::from_mut(&mut output))
        {
            return Some(why);
        }
        match output {
            Output::Send { to, message } => {
                world.answered(me, to, &message);
                let Some((envelope, extra_delay_ms)) = world.transmit(me, to, message) else {
                    continue;
                };
                send(endpoint, to, envelope, extra_delay_ms).await;
            }
            Output::Disk(op) => {
                world.disk(me, &op);
                let Some(fault) = disk.apply(disk_node, &op) else {
                    continue;
                };
                let cause = match fault {
                    DiskFault::FsyncFailed(_) => LossCause::FsyncFailure,
                    DiskFault::Corrupted(_) | DiskFault::Misdirected(_) => LossCause::Corruption,
                };
                world.fault(FaultEvent::DiskDamaged {
                    node: world.name(me).to_string(),
                    what: storage_note(&fault),
                    cause,
                });
                if let DiskFault::FsyncFailed(failed) = fault {
                    if role.halts_on_fsync_error() {
                        return Some(format!("fsync of {} failed", failed.path));
                    }
                }
            }
            Output::Observe(observation) => world.observe(me, observation),
            Output::Note(note) => world.node_event(me, EventKind::Note(note)),
            Output::Replica(event) => world.replica_event(me, event),
            Output::Metadata { index, record } => world.metadata(me, index, record),
            Output::Raft(event) => world.raft_event(me, event),
            Output::Group(event) => world.group_event(me, event),
            Output::Reached(path) => world.node_event(me, EventKind::Reached(path)),
        }
    }
    world.wait_if_held(me).await;
    None
}

/// Puts `envelope` on madsim's network from `endpoint`, now or (in a task of the
/// endpoint's node) after the delay a fault adds.
async fn send(endpoint: &Arc<Endpoint>, to: NodeId, envelope: Box<Envelope>, extra_delay_ms: u64) {
    if extra_delay_ms == 0 {
        let _ = endpoint.send_to_raw(address(to), TAG, envelope).await;
    } else {
        let endpoint = endpoint.clone();
        madsim::task::spawn(async move {
            madsim::time::sleep(Duration::from_millis(extra_delay_ms)).await;
            let _ = endpoint.send_to_raw(address(to), TAG, envelope).await;
        });
    }
}

/// A storage fault's trace line, on the node it struck.
fn storage_note(fault: &DiskFault) -> String {
    match fault {
        DiskFault::Corrupted(c) => format!("append to {} written wrong at byte {}", c.path, c.at),
        DiskFault::Misdirected(m) => format!(
            "append of {} bytes to {} landed at byte {} instead of {}",
            m.len, m.path, m.landed_at, m.intended_at
        ),
        DiskFault::FsyncFailed(f) => format!(
            "fsync of {} failed, {} dirty bytes dropped",
            f.path, f.bytes_dropped
        ),
    }
}

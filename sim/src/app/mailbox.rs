//! The queue between a service's code and its node's role: the code's clients push
//! requests with a reply channel each and wake the node loop; the role drains them at its
//! next step and answers from the model clients' outputs. One node, one thread: `Rc`.

use super::consumer::{CommitError, Record};
use super::producer::{Delivered, ProduceError};
use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::channel::oneshot;
use kafka_model::ids::{Offset, TopicPartition};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// What a service's code asks of its node.
pub(crate) enum Request {
    Send {
        topic: String,
        key: Option<String>,
        payload: Vec<u8>,
        reply: oneshot::Sender<Result<Delivered, ProduceError>>,
    },
    Subscribe {
        group: String,
        topics: Vec<String>,
    },
    Recv {
        reply: oneshot::Sender<Record>,
    },
    /// `None`: what was received so far (commitSync without arguments).
    Commit {
        offsets: Option<Vec<(TopicPartition, Offset)>>,
        reply: oneshot::Sender<Result<(), CommitError>>,
    },
}

#[derive(Default)]
struct Queue {
    requests: VecDeque<Request>,
    wake: Option<UnboundedSender<()>>,
}

/// The shared end: cheap to clone, one per node incarnation.
#[derive(Clone, Default)]
pub(crate) struct Mailbox(Rc<RefCell<Queue>>);

impl Mailbox {
    /// A mailbox and the wakes the node loop listens to.
    pub fn new() -> (Mailbox, UnboundedReceiver<()>) {
        let (wake, wakes) = unbounded();
        let mailbox = Mailbox::default();
        mailbox.0.borrow_mut().wake = Some(wake);
        (mailbox, wakes)
    }

    pub fn push(&self, request: Request) {
        let mut queue = self.0.borrow_mut();
        queue.requests.push_back(request);
        if let Some(wake) = &queue.wake {
            // A closed loop (the node is going down) has nothing left to wake.
            let _ = wake.unbounded_send(());
        }
    }

    pub fn drain(&self) -> Vec<Request> {
        self.0.borrow_mut().requests.drain(..).collect()
    }
}

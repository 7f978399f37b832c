//! An actor's timer: one madsim timer per deadline, however often the actor wakes. madsim's
//! `Sleep` registers a new timer on every poll, and an actor that polls its timer on each
//! wake-up would fill the timer queue with stale timers and spurious wake-ups.

use madsim::time::{Instant, Sleep};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The deadline an actor waits for, if any.
#[derive(Default)]
pub struct Alarm {
    deadline: Option<Instant>,
    sleep: Option<Pin<Box<Sleep>>>,
    registered: bool,
}

impl Alarm {
    /// Waits for `deadline`; keeps the registered timer if the deadline did not change.
    pub fn set(&mut self, deadline: Instant) {
        if self.deadline != Some(deadline) {
            self.deadline = Some(deadline);
            self.sleep = Some(Box::pin(madsim::time::sleep_until(deadline)));
            self.registered = false;
        }
    }

    /// A future that completes at the deadline.
    pub fn ring(&mut self) -> Ring<'_> {
        Ring { alarm: self }
    }
}

/// The future of `Alarm::ring`.
pub struct Ring<'a> {
    alarm: &'a mut Alarm,
}

impl Future for Ring<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let alarm = &mut *self.alarm;
        let Some(sleep) = alarm.sleep.as_mut() else {
            return Poll::Pending;
        };
        if sleep.is_elapsed() {
            alarm.deadline = None;
            alarm.sleep = None;
            return Poll::Ready(());
        }
        if !alarm.registered {
            // The first poll registers the timer; it wakes this task at the deadline.
            alarm.registered = sleep.as_mut().poll(cx).is_pending();
        }
        Poll::Pending
    }
}

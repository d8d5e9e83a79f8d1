//! Long polling (`PullRequestHoldService`): a pull that finds nothing new is parked on its
//! queue and woken by the next append to that queue, or answered after its timeout.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

/// Parked pulls per queue beyond which new ones are answered at once instead: a bound on
/// memory whatever the number of consumers.
pub const PARKED_PER_QUEUE_MAX: usize = 4096;

/// One parked pull's wake-up. The pull owns it; the queue's list holds a weak reference,
/// so a pull that timed out leaves nothing behind but a dead pointer pruned on the next
/// park.
#[derive(Default)]
pub struct Wakeup {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Wakeup {
    fn fire(&self) {
        self.fired.set(true);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    /// Resolves once the queue has seen an append since the pull parked.
    pub fn wait(self: &Rc<Self>) -> WakeupFuture {
        WakeupFuture(self.clone())
    }
}

pub struct WakeupFuture(Rc<Wakeup>);

impl Future for WakeupFuture {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.fired.get() {
            return Poll::Ready(());
        }
        *self.0.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Parked pulls of one queue, as weak references.
type Parked = Vec<Weak<Wakeup>>;

#[derive(Default)]
pub struct LongPolling {
    waiters: RefCell<HashMap<(String, i32), Parked>>,
}

impl LongPolling {
    /// Parks a pull on a queue. `None` when the queue already has too many parked pulls.
    pub fn park(&self, topic: &str, queue_id: i32) -> Option<Rc<Wakeup>> {
        let mut waiters = self.waiters.borrow_mut();
        let list = waiters.entry((topic.to_owned(), queue_id)).or_default();
        list.retain(|waiter| waiter.strong_count() > 0);
        if list.len() >= PARKED_PER_QUEUE_MAX {
            return None;
        }
        let wakeup = Rc::new(Wakeup::default());
        list.push(Rc::downgrade(&wakeup));
        Some(wakeup)
    }

    /// A message reached `(topic, queue_id)`: wake every pull parked there. Woken pulls
    /// re-run and park again if the new message does not match their filter.
    pub fn notify(&self, topic: &str, queue_id: i32) {
        let Some(parked) = self
            .waiters
            .borrow_mut()
            .remove(&(topic.to_owned(), queue_id))
        else {
            return;
        };
        for waiter in parked.iter().filter_map(Weak::upgrade) {
            waiter.fire();
        }
    }

    pub fn parked_count(&self) -> usize {
        self.waiters
            .borrow()
            .values()
            .flatten()
            .filter(|w| w.strong_count() > 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_wakes_parked_pulls_and_dead_ones_are_pruned() {
        let polling = LongPolling::default();
        let alive = polling.park("T", 0).unwrap();
        drop(polling.park("T", 0).unwrap());
        assert_eq!(polling.parked_count(), 1);
        polling.notify("T", 1);
        assert!(!alive.fired.get());
        polling.notify("T", 0);
        assert!(alive.fired.get());
        assert_eq!(polling.parked_count(), 0);
    }
}

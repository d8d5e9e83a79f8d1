//! Single-threaded async primitives for one shard: no atomics, no Send, no runtime. They
//! only use wakers, so the same code runs under glommio and under `block_on` in the
//! simulation.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A FIFO lock. Appends take it so queue offsets are assigned in CommitLog order, and
/// first-come-first-served keeps a producer's send order.
#[derive(Default)]
pub struct AsyncMutex {
    next_ticket: Cell<u64>,
    serving: Cell<u64>,
    /// By ticket: a thousand writers may queue here, so no linear scans.
    waiters: RefCell<BTreeMap<u64, Waker>>,
    /// Tickets whose futures were dropped before their turn; skipped when reached.
    abandoned: RefCell<BTreeSet<u64>>,
}

pub struct AsyncMutexGuard<'a> {
    mutex: &'a AsyncMutex,
}

impl AsyncMutex {
    pub fn lock(&self) -> impl Future<Output = AsyncMutexGuard<'_>> {
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket + 1);
        Acquire {
            mutex: self,
            ticket,
            done: false,
        }
    }

    fn release(&self) {
        let mut next = self.serving.get() + 1;
        while self.abandoned.borrow_mut().remove(&next) {
            next += 1;
        }
        self.serving.set(next);
        let next_waiter = self.waiters.borrow_mut().remove(&next);
        if let Some(waker) = next_waiter {
            waker.wake();
        }
    }
}

struct Acquire<'a> {
    mutex: &'a AsyncMutex,
    ticket: u64,
    done: bool,
}

impl<'a> Future for Acquire<'a> {
    type Output = AsyncMutexGuard<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.mutex.serving.get() == self.ticket {
            self.done = true;
            return Poll::Ready(AsyncMutexGuard { mutex: self.mutex });
        }
        let mut waiters = self.mutex.waiters.borrow_mut();
        match waiters.get_mut(&self.ticket) {
            Some(waker) => waker.clone_from(cx.waker()),
            None => {
                waiters.insert(self.ticket, cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.mutex.waiters.borrow_mut().remove(&self.ticket);
        if self.mutex.serving.get() == self.ticket {
            // Our turn came but nobody will use it: pass it on.
            self.mutex.release();
        } else {
            self.mutex.abandoned.borrow_mut().insert(self.ticket);
        }
    }
}

impl Drop for AsyncMutexGuard<'_> {
    fn drop(&mut self) {
        self.mutex.release();
    }
}

/// A monotonically growing offset (written, flushed) that tasks wait on.
#[derive(Default)]
pub struct Progress {
    value: Cell<u64>,
    /// `(waiter id, target, waker)`, oldest first.
    waiters: RefCell<Vec<(u64, u64, Waker)>>,
    next_waiter_id: Cell<u64>,
}

impl Progress {
    pub fn new(value: u64) -> Self {
        Self {
            value: Cell::new(value),
            ..Self::default()
        }
    }

    pub fn get(&self) -> u64 {
        self.value.get()
    }

    pub fn set(&self, value: u64) {
        // Progress going backwards would re-acknowledge or un-acknowledge records.
        assert!(
            value >= self.value.get(),
            "progress moved back: {} -> {value}",
            self.value.get()
        );
        self.value.set(value);
    }

    /// Resolves once the value reaches `target`, or when this waiter is kicked (chosen to
    /// issue the next write). Callers loop and re-check, so an early return is harmless.
    pub fn wait(&self, target: u64) -> ProgressWait<'_> {
        ProgressWait {
            progress: self,
            target,
            id: None,
            done: false,
        }
    }

    /// Wakes every waiter whose target is reached; with `kick_one`, also the oldest of the
    /// rest, which will look for a write to issue (group commit hand-over).
    pub fn notify(&self, kick_one: bool) {
        let value = self.value.get();
        let mut to_wake = Vec::new();
        {
            let mut waiters = self.waiters.borrow_mut();
            waiters.retain(|(_, target, waker)| {
                if *target <= value {
                    to_wake.push(waker.clone());
                    false
                } else {
                    true
                }
            });
            if kick_one && !waiters.is_empty() {
                to_wake.push(waiters.remove(0).2);
            }
        }
        to_wake.into_iter().for_each(Waker::wake);
    }

    /// Wakes the oldest waiter, which will look for a write to issue.
    pub fn kick_one(&self) {
        let kicked = {
            let mut waiters = self.waiters.borrow_mut();
            (!waiters.is_empty()).then(|| waiters.remove(0).2)
        };
        if let Some(waker) = kicked {
            waker.wake();
        }
    }

    /// Wakes everybody (failure, shutdown).
    pub fn notify_all(&self) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        waiters.into_iter().for_each(|(_, _, waker)| waker.wake());
    }
}

pub struct ProgressWait<'a> {
    progress: &'a Progress,
    target: u64,
    /// Set once registered as a waiter.
    id: Option<u64>,
    done: bool,
}

impl Future for ProgressWait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.id.is_some() || self.progress.value.get() >= self.target {
            self.done = true;
            return Poll::Ready(());
        }
        let id = self.progress.next_waiter_id.get();
        self.progress.next_waiter_id.set(id + 1);
        self.id = Some(id);
        self.progress
            .waiters
            .borrow_mut()
            .push((id, self.target, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for ProgressWait<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        if self.done {
            return;
        }
        let mut waiters = self.progress.waiters.borrow_mut();
        if let Some(at) = waiters.iter().position(|(waiter, ..)| *waiter == id) {
            waiters.remove(at);
        } else if self.progress.value.get() < self.target {
            // Kicked to issue a write, but dropped before it could: pass the turn on, or
            // a ready write could sit until the next put comes along.
            drop(waiters);
            self.progress.kick_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_lite::future::{block_on, poll_once};

    use super::*;

    #[test]
    fn mutex_serves_in_arrival_order_and_skips_dropped_waiters() {
        let mutex = AsyncMutex::default();
        block_on(async {
            let first = mutex.lock().await;
            let mut second = Box::pin(mutex.lock());
            let third = mutex.lock();
            assert!(poll_once(&mut second).await.is_none());
            drop(third); // Gives up before its turn.
            let mut fourth = Box::pin(mutex.lock());
            drop(first);
            let second = poll_once(&mut second).await.expect("second is next");
            assert!(poll_once(&mut fourth).await.is_none());
            drop(second);
            assert!(
                poll_once(&mut fourth).await.is_some(),
                "abandoned third is skipped"
            );
        });
    }

    #[test]
    fn progress_wakes_reached_targets_and_kicks_one() {
        let progress = Progress::new(0);
        block_on(async {
            let mut low = Box::pin(progress.wait(10));
            let mut high = Box::pin(progress.wait(20));
            assert!(poll_once(&mut low).await.is_none());
            assert!(poll_once(&mut high).await.is_none());
            progress.set(10);
            progress.notify(true);
            assert!(poll_once(&mut low).await.is_some());
            assert!(poll_once(&mut high).await.is_some(), "kicked to lead");
        });
    }
}

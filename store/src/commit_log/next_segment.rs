//! The next CommitLog segment, created in the background before the roll needs it.
//!
//! Why: an append that rolled used to create the file, preallocate 1 GiB and fsync the
//! directory before any send behind it could go on (max ack 1.5 s with 4 KiB records,
//! against 38 ms without a roll). RocketMQ hides the same cost by allocating the next
//! file ahead (its AllocateMappedFileService); here the appender that crosses the middle
//! of a segment starts the creation as a detached task and the roll picks the file up,
//! waiting only if it is not ready yet. The directory fsync moved to the next flush
//! (`dir_unsynced` in commit_log.rs).
//!
//! A file created ahead but never used (the process stops first) is empty: recovery
//! removes every segment at or past the valid end, so it never becomes data.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::storage::{SegmentOptions, Storage};

enum State<Seg> {
    Idle,
    Creating { base: u64, waiters: Vec<Waker> },
    Ready { base: u64, result: io::Result<Seg> },
}

/// At most one segment is created ahead, the one after the current.
pub(super) struct NextSegment<S: Storage> {
    state: Rc<RefCell<State<S::Segment>>>,
}

impl<S: Storage> NextSegment<S> {
    pub(super) fn new() -> Self {
        Self {
            state: Rc::new(RefCell::new(State::Idle)),
        }
    }

    /// Whether creating `base` was started (and not yet taken).
    pub(super) fn started(&self, base: u64) -> bool {
        match &*self.state.borrow() {
            State::Idle => false,
            State::Creating { base: at, .. } | State::Ready { base: at, .. } => *at == base,
        }
    }

    /// Starts creating the segment at `base` in `path` on a detached task, replacing any
    /// other segment created ahead (it can only be stale: its base was passed).
    pub(super) fn start(
        &self,
        storage: &S,
        base: u64,
        path: PathBuf,
        size: u64,
        options: SegmentOptions,
    ) {
        *self.state.borrow_mut() = State::Creating {
            base,
            waiters: Vec::new(),
        };
        let creator = storage.clone();
        let finish = Finish {
            state: self.state.clone(),
            base,
            result: None,
        };
        storage.spawn_detached(Box::pin(async move {
            let mut finish = finish;
            finish.result = Some(creator.open_segment(&path, size, options).await);
        }));
    }

    /// The segment at `base` if its creation was started: waits for it to finish. None
    /// if it was not started (or its task was dropped unfinished): the caller creates it.
    pub(super) async fn take(&self, base: u64) -> Option<io::Result<S::Segment>> {
        Take { next: self, base }.await
    }
}

struct Take<'a, S: Storage> {
    next: &'a NextSegment<S>,
    base: u64,
}

impl<S: Storage> Future for Take<'_, S> {
    type Output = Option<io::Result<S::Segment>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.next.state.borrow_mut();
        match &mut *state {
            State::Creating { base, waiters } if *base == self.base => {
                if !waiters.iter().any(|waiter| waiter.will_wake(cx.waker())) {
                    waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
            State::Ready { base, .. } if *base == self.base => {
                let State::Ready { result, .. } = std::mem::replace(&mut *state, State::Idle)
                else {
                    unreachable!()
                };
                Poll::Ready(Some(result))
            }
            _ => Poll::Ready(None),
        }
    }
}

/// Publishes the creating task's result when it is dropped: finished, or dropped before it
/// finished (executor shutdown, or the simulation dropping a task that would wait), in
/// which case waiters find no segment and create it themselves.
struct Finish<Seg> {
    state: Rc<RefCell<State<Seg>>>,
    base: u64,
    result: Option<io::Result<Seg>>,
}

impl<Seg> Drop for Finish<Seg> {
    fn drop(&mut self) {
        let mut state = self.state.borrow_mut();
        let State::Creating { base, waiters } = &mut *state else {
            return;
        };
        if *base != self.base {
            return;
        }
        let waiters = std::mem::take(waiters);
        *state = match self.result.take() {
            Some(result) => State::Ready {
                base: self.base,
                result,
            },
            None => State::Idle,
        };
        drop(state);
        for waiter in waiters {
            waiter.wake();
        }
    }
}

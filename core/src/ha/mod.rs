//! Master/slave replication (RocketMQ's HAService, shard-aware; docs/replication.md).
//!
//! Every shard replicates its own CommitLog over its own TCP connection: the slave's shard
//! n connects to the master's HA port, says which shard it is, and the master's shard 0
//! hands the accepted socket to its shard n, which ships that shard's records from the
//! offset the slave reports. `ShardHa` is one shard's view: the slave's acknowledged
//! offset (SYNC_MASTER sends wait on it, grouped in one waiter list per shard) and the
//! counters tests and operators read.

pub mod config;
pub mod master;
pub mod protocol;
pub mod slave;
pub mod sync_meta;
mod vectored;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use ramjet_store::PutStatus;

pub use config::HaConfig;

/// What a SYNC_MASTER send learns of its slave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaveAck {
    /// The slave reported an offset at or past the send's end.
    Acked,
    /// `syncFlushTimeout` passed first (FLUSH_SLAVE_TIMEOUT).
    Timeout,
    /// No slave connected, or it is more than `haSlaveFallbehindMax` behind
    /// (SLAVE_NOT_AVAILABLE, RocketMQ's `isSlaveOK`).
    NotAvailable,
}

impl SlaveAck {
    /// The put status a send answers with, given what the store said.
    pub fn status(self, stored: PutStatus) -> PutStatus {
        match self {
            SlaveAck::Acked => stored,
            SlaveAck::Timeout => PutStatus::FlushSlaveTimeout,
            SlaveAck::NotAvailable => PutStatus::SlaveNotAvailable,
        }
    }
}

struct Waiter {
    end: u64,
    deadline: Instant,
    done: oneshot::Sender<bool>,
}

/// One shard's replication state.
#[derive(Default)]
pub struct ShardHa {
    /// The highest offset the slave reported for this shard (`push2SlaveMaxOffset`).
    acked: Cell<u64>,
    /// Live slave connections of this shard.
    connections: Cell<usize>,
    /// SYNC_MASTER sends waiting for `acked`, in CommitLog order (so oldest end first).
    waiters: RefCell<VecDeque<Waiter>>,
    /// Master: CommitLog bytes shipped to slaves since start.
    pub shipped_bytes: Cell<u64>,
    /// Slave: CommitLog bytes received and stored since start.
    pub received_bytes: Cell<u64>,
    /// Slave: the offset this shard asked its master for on its first connection since
    /// start (its own recovered end).
    pub first_request_offset: Cell<Option<u64>>,
}

impl ShardHa {
    pub fn new() -> Rc<ShardHa> {
        Rc::new(ShardHa::default())
    }

    pub fn acked(&self) -> u64 {
        self.acked.get()
    }

    pub fn connections(&self) -> usize {
        self.connections.get()
    }

    pub(crate) fn connected(&self) {
        self.connections.set(self.connections.get() + 1);
    }

    pub(crate) fn disconnected(&self) {
        self.connections
            .set(self.connections.get().saturating_sub(1));
    }

    /// The slave reported `offset`: wakes every send it covers.
    pub(crate) fn ack(&self, offset: u64) {
        if offset <= self.acked.get() {
            return;
        }
        self.acked.set(offset);
        let mut waiters = self.waiters.borrow_mut();
        while waiters.front().is_some_and(|waiter| waiter.end <= offset) {
            let _ = waiters.pop_front().unwrap().done.send(true);
        }
        // Ends are in CommitLog order unless puts of a shard finished out of order;
        // sweep the rest too so none is left behind an older, larger end.
        if waiters.iter().any(|waiter| waiter.end <= offset) {
            let (done, rest): (VecDeque<_>, VecDeque<_>) =
                waiters.drain(..).partition(|waiter| waiter.end <= offset);
            *waiters = rest;
            for waiter in done {
                let _ = waiter.done.send(true);
            }
        }
    }

    /// RocketMQ's `isSlaveOK(masterPutWhere)`.
    fn slave_ok(&self, end: u64, fallbehind_max: u64) -> bool {
        self.connections.get() > 0 && end.saturating_sub(self.acked.get()) < fallbehind_max
    }

    /// Waits until the slave has `[.., end)` or `timeout` passes. No timer per send:
    /// `expiry_loop` answers the timed-out ones, oldest first.
    pub async fn wait_for_slave(
        &self,
        end: u64,
        timeout: Duration,
        fallbehind_max: u64,
    ) -> SlaveAck {
        if !self.slave_ok(end, fallbehind_max) {
            return SlaveAck::NotAvailable;
        }
        if self.acked.get() >= end {
            return SlaveAck::Acked;
        }
        let (done, receiver) = oneshot::channel();
        self.waiters.borrow_mut().push_back(Waiter {
            end,
            deadline: Instant::now() + timeout,
            done,
        });
        match receiver.await {
            Ok(true) => SlaveAck::Acked,
            _ => SlaveAck::Timeout,
        }
    }

    /// Answers waiters past their deadline. One task per shard (spawned on masters).
    pub async fn expiry_loop(self: Rc<Self>) {
        const TICK: Duration = Duration::from_millis(20);
        while !crate::shutdown::requested() {
            glommio::timer::sleep(TICK).await;
            let now = Instant::now();
            let mut waiters = self.waiters.borrow_mut();
            if waiters.iter().all(|waiter| waiter.deadline > now) {
                continue;
            }
            let (late, rest): (VecDeque<_>, VecDeque<_>) =
                waiters.drain(..).partition(|waiter| waiter.deadline <= now);
            *waiters = rest;
            drop(waiters);
            for waiter in late {
                let _ = waiter.done.send(false);
            }
        }
    }
}

/// The master's addresses a slave learned from the name server (REGISTER_BROKER's answer:
/// `haServerAddr`, `masterAddr`). Written by the leader's registration, read by every
/// shard's HA client; process-wide because shards share nothing else mutable.
static LEARNED_MASTER: Mutex<Option<(String, String)>> = Mutex::new(None);

pub fn learn_master(ha_server_addr: Option<String>, master_addr: Option<String>) {
    let (Some(ha), Some(master)) = (ha_server_addr, master_addr) else {
        return;
    };
    if ha.is_empty() || master.is_empty() {
        return;
    }
    let mut learned = LEARNED_MASTER.lock().unwrap_or_else(|e| e.into_inner());
    if learned.as_ref() != Some(&(ha.clone(), master.clone())) {
        tracing::info!(ha, master, "slave: master learned from the name server");
        *learned = Some((ha, master));
    }
}

/// `(haServerAddr, masterAddr)` as last learned from a name server.
pub fn learned_master() -> Option<(String, String)> {
    LEARNED_MASTER
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::{block_on, poll_once};

    #[test]
    fn one_ack_wakes_every_send_it_covers_and_no_more() {
        let ha = ShardHa::new();
        ha.connected();
        block_on(async {
            let timeout = Duration::from_secs(60);
            let mut a = Box::pin(ha.wait_for_slave(100, timeout, u64::MAX));
            let mut b = Box::pin(ha.wait_for_slave(200, timeout, u64::MAX));
            let mut c = Box::pin(ha.wait_for_slave(300, timeout, u64::MAX));
            for waiter in [&mut a, &mut b, &mut c] {
                assert!(poll_once(waiter).await.is_none());
            }
            ha.ack(250);
            assert_eq!(poll_once(&mut a).await, Some(SlaveAck::Acked));
            assert_eq!(poll_once(&mut b).await, Some(SlaveAck::Acked));
            assert!(poll_once(&mut c).await.is_none());
        });
    }

    #[test]
    fn no_slave_or_a_slave_too_far_behind_is_not_available() {
        let ha = ShardHa::new();
        block_on(async {
            let timeout = Duration::from_secs(1);
            assert_eq!(
                ha.wait_for_slave(10, timeout, 1 << 20).await,
                SlaveAck::NotAvailable
            );
            ha.connected();
            assert_eq!(
                ha.wait_for_slave(2 << 20, timeout, 1 << 20).await,
                SlaveAck::NotAvailable
            );
        });
    }
}

//! The shard mesh: bounded channels between every pair of shards, carrying typed requests
//! and their replies, metadata snapshots and notices for client connections.
//!
//! One reply mechanism: a reply travels back on the mesh like a request and completes a
//! local waiter by request id. glommio wakes a parked executor for its own channels, so
//! the requesting shard wakes at once; a oneshot completed from another core would not
//! wake it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use futures_channel::oneshot;
use glommio::channels::channel_mesh::Senders;
use ramjet_net::header::{CheckTransactionStateRequestHeader, ResetOffsetRequestHeader};

use crate::client_manager::ChannelKey;
use crate::config::BrokerConfig;
use crate::error::{BrokerError, BrokerResult};
use crate::shard_request::{ShardReply, ShardRequest};
use crate::snapshot::MetadataSnapshot;

/// Messages one shard's inbox holds before senders wait: a full inbox pushes back.
pub const SHARD_INBOX_CAPACITY: usize = 1024;

/// What a broker shard sends a client on the client's own connection.
#[derive(Debug, Clone)]
pub enum ClientNotice {
    /// NOTIFY_CONSUMER_IDS_CHANGED (oneway): the group's members changed, rebalance.
    ConsumerIdsChanged { group: String },
    /// CHECK_TRANSACTION_STATE (oneway): how did this half message's transaction end?
    /// The body is the half message encoded as a stored message.
    CheckTransactionState {
        header: CheckTransactionStateRequestHeader,
        body: Vec<u8>,
    },
    /// RESET_CONSUMER_CLIENT_OFFSET (oneway): move to these offsets (a ResetOffsetBody).
    ResetOffset {
        header: ResetOffsetRequestHeader,
        body: Vec<u8>,
    },
}

pub enum ShardMessage {
    Request {
        from: usize,
        request_id: u64,
        request: ShardRequest,
    },
    Reply {
        request_id: u64,
        reply: ShardReply,
    },
    Snapshot(MetadataSnapshot),
    /// A changed broker configuration (UPDATE_BROKER_CONFIG).
    Config(Box<BrokerConfig>),
    /// Leader only: a client connection on another shard closed.
    ConnectionClosed(ChannelKey),
    ToClient {
        connection_id: u64,
        notice: ClientNotice,
    },
}

pub struct Mesh {
    id: usize,
    shard_count: usize,
    peers: Option<Senders<ShardMessage>>,
    /// Requests this shard sent, by id, waiting for their reply.
    pending: RefCell<HashMap<u64, oneshot::Sender<ShardReply>>>,
    next_request_id: Cell<u64>,
}

impl Mesh {
    pub fn new(id: usize, shard_count: usize, peers: Option<Senders<ShardMessage>>) -> Mesh {
        assert!(id < shard_count.max(1));
        assert_eq!(peers.is_some(), shard_count > 1);
        Mesh {
            id,
            shard_count,
            peers,
            pending: RefCell::new(HashMap::new()),
            next_request_id: Cell::new(0),
        }
    }

    pub fn id(&self) -> usize {
        self.id
    }

    pub fn shard_count(&self) -> usize {
        self.shard_count
    }

    /// Sends to another shard, waiting while its inbox is full.
    pub async fn send(&self, shard: usize, message: ShardMessage) -> BrokerResult<()> {
        assert_ne!(shard, self.id, "a shard never messages itself");
        let peers = self
            .peers
            .as_ref()
            .ok_or(BrokerError::ShardUnreachable(shard))?;
        peers
            .send_to(shard, message)
            .await
            .map_err(|_| BrokerError::ShardUnreachable(shard))
    }

    /// Sends `message` to every other shard.
    pub async fn broadcast(&self, message: impl Fn() -> ShardMessage) {
        for shard in (0..self.shard_count).filter(|s| *s != self.id) {
            if let Err(error) = self.send(shard, message()).await {
                tracing::error!(shard, %error, "broadcast lost");
            }
        }
    }

    /// Runs `request` on another shard and waits for its reply.
    pub async fn call(&self, shard: usize, request: ShardRequest) -> BrokerResult<ShardReply> {
        let request_id = self.next_request_id.get();
        self.next_request_id.set(request_id.wrapping_add(1));
        let (reply, answer) = oneshot::channel();
        self.pending.borrow_mut().insert(request_id, reply);
        let message = ShardMessage::Request {
            from: self.id,
            request_id,
            request,
        };
        if let Err(error) = self.send(shard, message).await {
            self.pending.borrow_mut().remove(&request_id);
            return Err(error);
        }
        answer
            .await
            .map_err(|_| BrokerError::ShardUnreachable(shard))
    }

    /// A reply arrived: hand it to the request that waits for it.
    pub fn complete(&self, request_id: u64, reply: ShardReply) {
        match self.pending.borrow_mut().remove(&request_id) {
            Some(waiter) => {
                let _ = waiter.send(reply);
            }
            None => tracing::error!(request_id, "a shard reply nobody waits for"),
        }
    }
}

/// The mesh's channels (glommio's shared channels, with third_party/README.md's change 8):
/// a receive wakes the sending shard only when a sender waits for room.
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use glommio::channels::shared_channel::{self, SharedReceiver, SharedSender};
    use glommio::timer::sleep;
    use glommio::LocalExecutorBuilder;

    /// This thread's voluntary context switches: one per park that ended in a wake-up.
    fn voluntary_switches() -> u64 {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
            .map(|count| count.trim().parse().unwrap())
            .unwrap()
    }

    /// Runs the sender and the receiver on executors of their own threads; returns what the
    /// sender reports. Panics after `limit` rather than hang on a lost wake-up.
    fn on_two_executors<S, R>(
        capacity: usize,
        sender: impl FnOnce(glommio::channels::shared_channel::ConnectedSender<u64>) -> S
            + Send
            + 'static,
        receiver: impl FnOnce(glommio::channels::shared_channel::ConnectedReceiver<u64>) -> R
            + Send
            + 'static,
        limit: Duration,
    ) -> u64
    where
        S: std::future::Future<Output = u64> + 'static,
        R: std::future::Future<Output = ()> + 'static,
    {
        let (tx, rx): (SharedSender<u64>, SharedReceiver<u64>) =
            shared_channel::new_bounded(capacity);
        let (done, finished) = std::sync::mpsc::channel();
        let sending = LocalExecutorBuilder::default()
            .spawn(move || async move { sender(tx.connect().await).await })
            .unwrap();
        let receiving = LocalExecutorBuilder::default()
            .spawn(move || async move { receiver(rx.connect().await).await })
            .unwrap();
        std::thread::spawn(move || {
            let reported = sending.join().unwrap();
            receiving.join().unwrap();
            let _ = done.send(reported);
        });
        finished
            .recv_timeout(limit)
            .expect("the channel's executors did not finish: a lost wake-up")
    }

    #[test]
    fn a_receive_does_not_wake_a_sender_that_does_not_wait() {
        const MESSAGES: u64 = 100;
        let wakes = on_two_executors(
            1024,
            |sender| async move {
                for n in 0..MESSAGES {
                    sender.try_send(n).unwrap();
                }
                // Parked while the receiver takes them one by one, 5 ms apart.
                let before = voluntary_switches();
                sleep(Duration::from_millis(1_500)).await;
                voluntary_switches() - before
            },
            |receiver| async move {
                sleep(Duration::from_millis(200)).await;
                for n in 0..MESSAGES {
                    assert_eq!(receiver.recv().await, Some(n));
                    sleep(Duration::from_millis(5)).await;
                }
            },
            Duration::from_secs(30),
        );
        // Upstream glommio woke the sender's executor after each of the 100 receives.
        assert!(wakes < 30, "the idle sender was woken {wakes} times");
    }

    #[test]
    fn a_sender_waiting_for_room_is_woken_by_each_receive() {
        const MESSAGES: u64 = 5_000;
        let sent = on_two_executors(
            1,
            |sender| async move {
                for n in 0..MESSAGES {
                    sender.send(n).await.unwrap();
                }
                MESSAGES
            },
            |receiver| async move {
                for n in 0..MESSAGES {
                    // Now and then let the sender find the channel full and park.
                    if n % 97 == 0 {
                        sleep(Duration::from_millis(1)).await;
                    }
                    assert_eq!(receiver.recv().await, Some(n));
                }
            },
            Duration::from_secs(60),
        );
        assert_eq!(sent, MESSAGES);
    }
}

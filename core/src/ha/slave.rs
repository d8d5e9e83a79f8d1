//! The slave side (RocketMQ's HAClient), one per shard: connects to the master's HA
//! port, asks for its shard from its own CommitLog end, appends what arrives at the same
//! offsets (the store checks every record) and reports its new end after each transfer.

use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use crate::ha::protocol::{self, Handshake, TRANSFER_HEADER_LEN};
use crate::shard::BrokerShard;

/// Wait between connection attempts (RocketMQ's HAClient waits 5 s; shorter here so a
/// restarted master is caught up with quickly).
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Replicates this shard until shutdown.
pub async fn run(shard: Rc<BrokerShard>) {
    let mut last_error = String::new();
    while !crate::shutdown::requested() {
        let config = shard.config();
        let address = config
            .ha
            .master_address
            .clone()
            .or_else(|| crate::ha::learned_master().map(|(ha, _)| ha));
        match address {
            None => {
                if last_error.is_empty() {
                    tracing::info!(
                        shard = shard.id(),
                        "slave: no haMasterAddress and no master known to the name server yet"
                    );
                    last_error = "waiting".into();
                }
            }
            Some(address) => {
                let result = session(&shard, &address).await;
                if let Err(error) = result {
                    // Logged once per distinct failure, not once per retry.
                    if error != last_error {
                        tracing::warn!(
                            shard = shard.id(),
                            master = address,
                            error,
                            "slave: HA link down"
                        );
                        last_error = error;
                    }
                }
            }
        }
        futures_lite::future::or(
            glommio::timer::sleep(RECONNECT_DELAY),
            crate::shutdown::wait(),
        )
        .await;
    }
}

async fn session(shard: &Rc<BrokerShard>, address: &str) -> Result<(), String> {
    let config = shard.config();
    let owner = shard.owner();
    let store = owner.store().clone();
    let ha = owner.ha().clone();
    let addr = ramjet_net::client::resolve(address)?;
    let mut stream = TcpStream::connect_timeout(addr, CONNECT_TIMEOUT)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let start = store.replica_next_offset();
    if ha.first_request_offset.get().is_none() {
        ha.first_request_offset.set(Some(start));
    }
    let handshake = Handshake {
        shard: shard.id() as u32,
        shard_count: shard.shard_count() as u32,
        offset: start,
    };
    stream
        .write_all(&handshake.encode())
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let housekeeping = config.ha.housekeeping_interval;
    let answer = with_timeout(housekeeping, protocol::read_answer(&mut stream))
        .await
        .ok_or("no handshake answer")?
        .map_err(|e| format!("handshake answer: {e}"))?;
    if let Err(remark) = answer {
        tracing::error!(
            shard = shard.id(),
            master = address,
            remark,
            "slave: the master refused this slave"
        );
        return Err(format!("refused by the master: {remark}"));
    }
    tracing::info!(
        shard = shard.id(),
        master = address,
        offset = start,
        "slave: replicating"
    );
    ha.connected();
    let result = receive(shard, &mut stream, housekeeping).await;
    ha.disconnected();
    result
}

async fn receive(
    shard: &Rc<BrokerShard>,
    stream: &mut TcpStream,
    housekeeping: Duration,
) -> Result<(), String> {
    let owner = shard.owner();
    let store = owner.store().clone();
    let ha = owner.ha().clone();
    // A transfer is at most haTransferBatchSize, or one record when that is larger.
    let len_max = shard
        .config()
        .ha
        .transfer_batch_size
        .max(store.config().record_size_max());
    let mut body = Vec::new();
    while !crate::shutdown::requested() {
        let mut head = [0u8; TRANSFER_HEADER_LEN];
        with_timeout(housekeeping, stream.read_exact(&mut head))
            .await
            .ok_or("master silent past haHousekeepingInterval")?
            .map_err(|e| format!("read: {e}"))?;
        let (offset, len) = protocol::decode_transfer_header(&head);
        if len > len_max {
            return Err(format!("transfer of {len} bytes, at most {len_max}"));
        }
        body.resize(len, 0);
        stream
            .read_exact(&mut body)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if len > 0 && offset > store.replica_next_offset() && store.is_empty_replica() {
            // An empty slave starts at its master's newest file (RocketMQ's rule).
            if let Err(error) = store.start_empty_replica_at(offset).await {
                tracing::error!(shard = shard.id(), %error, "slave: cannot start at the master's offset");
                return Err(format!("empty slave start refused: {error}"));
            }
        }
        if len > 0 {
            if let Err(error) = store.append_replicated(offset, &body).await {
                // Nothing of the transfer was stored; reconnecting asks again from the
                // slave's own end. Loud: a gap, an overlap or a damaged record means the
                // two stores disagree.
                tracing::error!(shard = shard.id(), %error, "slave: replicated transfer refused");
                return Err(format!("replicated append refused: {error}"));
            }
            ha.received_bytes.set(ha.received_bytes.get() + len as u64);
        }
        let end = store.replica_next_offset();
        stream
            .write_all(&end.to_be_bytes())
            .await
            .map_err(|e| format!("report: {e}"))?;
        stream.flush().await.map_err(|e| format!("report: {e}"))?;
    }
    Ok(())
}

async fn with_timeout<T>(limit: Duration, work: impl std::future::Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(work.await) }, async {
        glommio::timer::sleep(limit).await;
        None
    })
    .await
}

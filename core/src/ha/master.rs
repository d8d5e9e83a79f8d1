//! The master side: shard 0 listens on haListenPort, reads each slave connection's
//! handshake, checks the shard layout, and hands the socket to the shard it names; that
//! shard ships its CommitLog from the slave's offset and reads the slave's reports.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

use crate::ha::protocol::{self, Handshake, HANDSHAKE_LEN};
use crate::ha::vectored;
use crate::shard::BrokerShard;
use crate::shard_request::{ShardReply, ShardRequest};

/// A slave connection handed from the accepting shard to the shard it replicates.
pub struct HaHandoff {
    pub fd: OwnedFd,
    pub handshake: Handshake,
    pub peer: SocketAddr,
}

/// Accepts slave connections (shard 0 only) until shutdown.
pub async fn listen(shard: Rc<BrokerShard>, listener: TcpListener) {
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            crate::shutdown::wait().await;
            None
        })
        .await;
        let Some(accepted) = accepted else { return };
        match accepted {
            Ok(stream) => {
                glommio::spawn_local(route(shard.clone(), stream)).detach();
            }
            Err(error) => {
                tracing::warn!(%error, "HA accept failed");
                glommio::timer::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads the handshake and sends the connection where it belongs.
async fn route(shard: Rc<BrokerShard>, mut stream: TcpStream) {
    let peer = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let config = shard.config();
    let mut head = [0u8; HANDSHAKE_LEN];
    let read =
        futures_lite::future::or(async { Some(stream.read_exact(&mut head).await) }, async {
            glommio::timer::sleep(config.ha.housekeeping_interval).await;
            None
        })
        .await;
    let handshake = match read {
        Some(Ok(())) => Handshake::decode(&head),
        Some(Err(error)) => Err(format!("handshake not received: {error}")),
        None => Err("no handshake within haHousekeepingInterval".into()),
    };
    let count = shard.shard_count() as u32;
    let checked = handshake.and_then(|handshake| {
        if handshake.shard_count != count {
            Err(format!(
                "shard layout differs: master shardCount={count}, slave shardCount={}; \
                 start both with the same shardCount",
                handshake.shard_count
            ))
        } else if handshake.shard >= count {
            Err(format!("slave names shard {} of {count}", handshake.shard))
        } else {
            Ok(handshake)
        }
    });
    let handshake = match checked {
        Ok(handshake) => handshake,
        Err(reason) => {
            tracing::error!(%peer, reason, "HA: slave refused");
            let _ = protocol::write_answer(&mut stream, &Err(reason)).await;
            return;
        }
    };
    let target = handshake.shard as usize;
    if target == shard.id() {
        serve(shard, stream, handshake, peer).await;
        return;
    }
    // glommio streams cannot move between executors; the socket can.
    // SAFETY: the descriptor stays open while borrowed: `stream` lives until after the dup.
    let borrowed = unsafe { BorrowedFd::borrow_raw(stream.as_raw_fd()) };
    let fd = match borrowed.try_clone_to_owned() {
        Ok(fd) => fd,
        Err(error) => {
            tracing::error!(%error, "HA: cannot hand the slave connection over");
            return;
        }
    };
    drop(stream);
    let handoff = HaHandoff {
        fd,
        handshake,
        peer,
    };
    match shard
        .call(target, ShardRequest::HaConnection(handoff))
        .await
    {
        Ok(ShardReply::HaAccepted) => {}
        Ok(other) => tracing::error!(error = %other.mismatch("HaAccepted"), "HA handoff"),
        Err(error) => tracing::error!(%error, "HA handoff to shard {target} failed"),
    }
}

/// Runs on the shard a handed-over connection replicates.
pub fn adopt(shard: &Rc<BrokerShard>, handoff: HaHandoff) {
    // SAFETY: the descriptor is ours (dup'ed by the accepting shard) and a connected
    // TCP socket; the stream owns and closes it.
    let stream = unsafe { TcpStream::from_raw_fd(handoff.fd.into_raw_fd()) };
    glommio::spawn_local(serve(
        shard.clone(),
        stream,
        handoff.handshake,
        handoff.peer,
    ))
    .detach();
}

/// Ships this shard's CommitLog to one slave until the link breaks.
async fn serve(
    shard: Rc<BrokerShard>,
    mut stream: TcpStream,
    handshake: Handshake,
    peer: SocketAddr,
) {
    let owner = shard.owner();
    let store = owner.store().clone();
    let ha = owner.ha().clone();
    let id = shard.id();
    let master_end = store.replica_next_offset();
    if handshake.offset > master_end {
        let reason = format!(
            "slave shard {id} is at CommitLog offset {}, past this master's end {master_end}; \
             its store holds records this master never wrote",
            handshake.offset
        );
        tracing::error!(%peer, reason, "HA: slave refused");
        let _ = protocol::write_answer(&mut stream, &Err(reason)).await;
        return;
    }
    let start = match store.replica_start_for(handshake.offset) {
        Ok(start) => start,
        Err(reason) => {
            let reason = format!("slave shard {id}: {reason}");
            tracing::error!(%peer, reason, "HA: slave refused");
            let _ = protocol::write_answer(&mut stream, &Err(reason)).await;
            return;
        }
    };
    if protocol::write_answer(&mut stream, &Ok(())).await.is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    tracing::info!(shard = id, %peer, offset = handshake.offset, start, "HA: slave connected");
    ha.connected();
    ha.ack(handshake.offset);
    let config = shard.config();
    // The socket stays open as long as either half: `transfers` sends on it directly.
    let fd = stream.as_raw_fd();
    let (mut reader, mut writer) = futures_lite::io::split(stream);
    let alive = std::cell::Cell::new(true);
    let reports = async {
        let mut report = [0u8; 8];
        loop {
            let read = futures_lite::future::or(
                async { Some(reader.read_exact(&mut report).await) },
                async {
                    glommio::timer::sleep(config.ha.housekeeping_interval).await;
                    None
                },
            )
            .await;
            match read {
                Some(Ok(())) => {
                    let reported = u64::from_be_bytes(report);
                    // A report past what this master ever wrote would acknowledge SYNC
                    // sends the slave cannot have: a broken or hostile peer.
                    let end = store.replica_next_offset();
                    if reported > end {
                        tracing::error!(
                            shard = id, %peer, reported, end,
                            "HA: slave reported an offset past this master's end; closing"
                        );
                        break;
                    }
                    ha.ack(reported);
                }
                Some(Err(error)) => {
                    tracing::warn!(shard = id, %peer, %error, "HA: slave link closed");
                    break;
                }
                None => {
                    tracing::warn!(shard = id, %peer, "HA: slave silent past haHousekeepingInterval");
                    break;
                }
            }
            if !alive.get() {
                break;
            }
        }
        alive.set(false);
    };
    let transfers = async {
        let mut next = start;
        while alive.get() && !crate::shutdown::requested() {
            let batch = config.ha.transfer_batch_size;
            let transfer = match store.read_for_replica(next, batch).await {
                Ok(transfer) => transfer,
                Err(error) => {
                    tracing::error!(shard = id, %peer, %error, "HA: cannot ship");
                    break;
                }
            };
            let (len, sent) = match &transfer {
                Some(transfer) => {
                    // Header and parts in vectored sends: the parts are slices of read-cache
                    // chunks (or the one copy of the write buffers' tail), never copied
                    // into a frame.
                    let len = transfer.len();
                    let header = protocol::transfer_header(next, len);
                    let written =
                        vectored::write_all_parts(&mut writer, fd, &header, &transfer.parts).await;
                    (len, written.map(|()| transfer.end))
                }
                None => {
                    // Nothing new: wait for a put, or send a heartbeat when idle.
                    let woken = futures_lite::future::or(
                        async {
                            store.wait_written_past(next).await;
                            true
                        },
                        async {
                            glommio::timer::sleep(config.ha.send_heartbeat_interval).await;
                            false
                        },
                    )
                    .await;
                    if woken {
                        continue;
                    }
                    (
                        0,
                        writer
                            .write_all(&protocol::transfer_header(next, 0))
                            .await
                            .map(|()| next),
                    )
                }
            };
            let sent = match sent {
                Ok(end) => writer.flush().await.map(|()| end),
                Err(error) => Err(error),
            };
            match sent {
                Ok(end) => next = end,
                Err(error) => {
                    tracing::warn!(shard = id, %peer, %error, "HA: write to slave failed");
                    break;
                }
            }
            ha.shipped_bytes.set(ha.shipped_bytes.get() + len as u64);
        }
        alive.set(false);
    };
    futures_lite::future::or(reports, transfers).await;
    ha.disconnected();
    tracing::info!(shard = id, %peer, "HA: slave disconnected");
}

/// Binds the HA listener (shard 0 of a master).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).map_err(std::io::Error::from)
}

//! Starting the name server: one shard per core, each with a listener on the same port and
//! its own snapshot; shard 0 leads.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use glommio::channels::channel_mesh::MeshBuilder;
use ramjet_net::server::{self, run_shards, ShardConfig};

use crate::config::NamesrvConfig;
use crate::leader::Leader;
use crate::processor::{NamesrvProcessor, ShardMessage};
use crate::snapshot::RouteSnapshot;

/// Messages queued between two shards before the sender waits.
const SHARD_INBOX_CAPACITY: usize = 1024;

/// Runs the name server until the process ends. Fails only if the executors cannot start;
/// a port that cannot be bound ends the process with a message naming it.
pub fn run(mut config: NamesrvConfig) -> std::io::Result<()> {
    // Resolved here: inside a pinned shard thread the available parallelism is one core.
    let shard_count = config.effective_shard_count();
    config.shard_count = shard_count;
    if let Ok(addr) = format!("{}:{}", config.bind_address, config.listen_port).parse() {
        server::ensure_port_free(addr)?;
    }
    let mesh = (shard_count > 1).then(|| MeshBuilder::full(shard_count, SHARD_INBOX_CAPACITY));
    let shard_config = ShardConfig::new("namesrv", shard_count);
    run_shards(&shard_config, move |_| {
        let (config, mesh) = (config.clone(), mesh.clone());
        async move { shard_main(config, mesh).await }
    })
}

async fn shard_main(
    config: NamesrvConfig,
    mesh: Option<MeshBuilder<ShardMessage, glommio::channels::channel_mesh::Full>>,
) {
    let (shard, peers, receivers) = match mesh {
        Some(mesh) => {
            let (senders, receivers) = mesh.join().await.expect("joining the shard mesh");
            (senders.peer_id(), Some(Rc::new(senders)), Some(receivers))
        }
        None => (0, None, None),
    };
    let leader = (shard == 0).then(|| Rc::new(RefCell::new(Leader::new(config.clone()))));
    let processor = Rc::new(NamesrvProcessor::new(
        shard,
        RouteSnapshot::default(),
        leader.clone(),
        peers,
    ));
    if let Some(leader) = &leader {
        let snapshot = leader.borrow_mut().snapshot();
        processor.publish(&snapshot);
        glommio::spawn_local(scan_loop(
            leader.clone(),
            processor.clone(),
            config.scan_not_active_broker_interval,
        ))
        .detach();
    }
    if let Some(mut receivers) = receivers {
        for (_, stream) in receivers.streams() {
            glommio::spawn_local(inbox_loop(processor.clone(), stream)).detach();
        }
    }
    let addr: SocketAddr = match format!("{}:{}", config.bind_address, config.listen_port).parse() {
        Ok(addr) => addr,
        Err(_) => fail(&format!(
            "bindAddress {:?} is not an IP address",
            config.bind_address
        )),
    };
    let listener = match server::bind(addr) {
        Ok(listener) => listener,
        Err(error) => fail(&format!("cannot listen on {addr}: {error}")),
    };
    if shard == 0 {
        println!(
            "The Name Server boot success. serializeType=JSON, address {addr}, shards {}",
            config.effective_shard_count()
        );
    }
    server::serve(
        listener,
        processor,
        server::ShardLimits::new(config.frame_bytes_max),
    )
    .await;
}

fn fail(message: &str) -> ! {
    eprintln!("mqnamesrv: {message}");
    tracing::error!("{message}");
    std::process::exit(1);
}

async fn inbox_loop(
    processor: Rc<NamesrvProcessor>,
    mut stream: glommio::channels::shared_channel::ConnectedReceiver<ShardMessage>,
) {
    while let Some(message) = stream.next().await {
        match message {
            ShardMessage::Write {
                request,
                channel,
                reply,
            } => {
                let _ = reply.send(processor.apply_forwarded(request, channel));
            }
            ShardMessage::ChannelClosed(channel) => processor.channel_closed(channel),
            ShardMessage::Snapshot(snapshot) => processor.install(snapshot),
        }
    }
}

/// Drops brokers that stopped registering (Java's `scanNotActiveBroker`).
async fn scan_loop(
    leader: Rc<RefCell<Leader>>,
    processor: Rc<NamesrvProcessor>,
    interval: Duration,
) {
    loop {
        glommio::timer::sleep(interval).await;
        let changed = leader.borrow_mut().scan_not_active_brokers(Instant::now());
        if changed {
            let snapshot = leader.borrow_mut().snapshot();
            processor.publish(&snapshot);
        }
    }
}

//! Starting the broker: one shard per core, each with its own store, listeners on
//! listenPort and listenPort-2 (the VIP port old Java clients use), and the leader's
//! registration and housekeeping on shard 0.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use glommio::channels::channel_mesh::{Full, MeshBuilder};
use ramjet_net::server::{self, run_shards, ShardConfig};
use ramjet_store::{DmaStorage, MessageStore, StoreConfig};

use crate::acl::AclState;
use crate::client_connections::ClientConnections;
use crate::config::{BrokerConfig, BrokerRole};
use crate::consumer_offset_manager::ConsumerOffsetManager;
use crate::leader::Leader;
use crate::mesh::{Mesh, ShardMessage, SHARD_INBOX_CAPACITY};
use crate::placement::{LEADER_SHARD, SHARD_OFFSET_SHIFT};
use crate::processor::BrokerHandler;
use crate::queue_owner::QueueOwner;
use crate::registration::NamesrvRegistration;
use crate::schedule::deliver::ScheduleService;
use crate::shard::BrokerShard;
use crate::shutdown;
use crate::snapshot::SharedMetadata;

/// How often expired CommitLog segments and their queue and index files are removed.
const RETENTION_INTERVAL: Duration = Duration::from_secs(10);
/// How often mapped ConsumeQueue and IndexFile pages nobody writes any more are released
/// from the broker's RSS: what stays resident is at most about a second's worth of index
/// entries and of sealed queue files read, beside the live files (docs/architecture.md, Memory).
const RELEASE_INTERVAL: Duration = Duration::from_secs(1);

pub fn run(mut config: BrokerConfig) -> Result<(), String> {
    config.finish().map_err(|e| e.to_string())?;
    let shard_count = config.effective_shard_count();
    check_shard_layout(&config.store.store_path_root_dir, shard_count)?;
    let mut ports = vec![config.listen_port, config.listen_port - 2];
    if config.broker_role != BrokerRole::Slave {
        ports.push(config.ha.port(config.listen_port));
    }
    for port in ports {
        if let Ok(addr) = format!("{}:{port}", config.bind_address).parse() {
            server::ensure_port_free(addr).map_err(|e| e.to_string())?;
        }
    }
    let acl = start_acl(&config)?;
    start_console(&config);
    shutdown::install();
    let mesh = (shard_count > 1).then(|| MeshBuilder::full(shard_count, SHARD_INBOX_CAPACITY));
    let mut shard_config = ShardConfig::new("broker", shard_count);
    shard_config.spin_before_park =
        (!config.spin_before_park.is_zero()).then_some(config.spin_before_park);
    shard_config.pin = config.pin_shards;
    shard_config.preempt_timer = (!config.preempt_timer.is_zero()).then_some(config.preempt_timer);
    run_shards(&shard_config, move |_| {
        let (config, mesh, acl) = (config.clone(), mesh.clone(), acl.clone());
        async move { shard_main(config, mesh, shard_count, acl).await }
    })
    .map_err(|e| e.to_string())
}

/// The HTTP admin API and web console on `httpPort` (docs/console.md), on threads of
/// its own that speak remoting to this broker's listen port. A port that cannot be bound
/// is logged and the broker serves on without a console: operators lose a view, clients
/// lose nothing.
fn start_console(config: &BrokerConfig) {
    if config.http_port == 0 {
        tracing::info!("httpPort=0: the HTTP admin API and console are off");
        return;
    }
    let console = ramjet_console::ConsoleConfig {
        http_addr: format!("{}:{}", config.http_bind_address, config.http_port),
        broker_addr: config.broker_addr(),
        namesrv_addr: config.namesrv_addr.join(";"),
        cluster_name: config.broker_cluster_name.clone(),
        broker_name: config.broker_name.clone(),
        metrics_addr: config.metrics_prom_addr(),
    };
    match ramjet_console::start(console) {
        Ok(()) => tracing::info!(
            "HTTP admin API and console on http://{}:{}/ (httpBindAddress, httpPort)",
            config.http_bind_address,
            config.http_port
        ),
        Err(error) => tracing::error!(
            "httpPort={}: the HTTP admin API and console are off: {error}; the broker serves on",
            config.http_port
        ),
    }
}

/// With `aclEnable=true`: loads `<rocketmqHome>/conf/plain_acl.yml` (a file that does not
/// parse stops the start, as in Java) and starts its reload thread.
fn start_acl(config: &BrokerConfig) -> Result<Option<Arc<AclState>>, String> {
    if !config.acl_enable {
        return Ok(None);
    }
    let home = config
        .rocketmq_home
        .as_ref()
        .ok_or("aclEnable=true needs rocketmqHome (or ROCKETMQ_HOME) to find conf/plain_acl.yml")?;
    let state = AclState::load(crate::acl::acl_file(home))?;
    state.watch();
    tracing::info!(home = %home.display(), "ACL enabled");
    Ok(Some(state))
}

/// Queues are spread over shards by `owner_shard(topic, queue, shard_count)`, so data written
/// with one shard count is unreachable with another. The count is recorded on first start.
fn check_shard_layout(root: &Path, shard_count: usize) -> Result<(), String> {
    let path = root.join("ramjet-shards");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let recorded: usize = text
                .trim()
                .parse()
                .map_err(|_| format!("{} is corrupt", path.display()))?;
            if recorded != shard_count {
                return Err(format!(
                    "the store at {} was written by {recorded} shards; start with shardCount={recorded}",
                    root.display()
                ));
            }
            Ok(())
        }
        Err(_) => {
            std::fs::create_dir_all(root)
                .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
            crate::persist::write_atomically(&path, shard_count.to_string().as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
    }
}

fn shard_store_config(config: &BrokerConfig, shard: usize) -> StoreConfig {
    let mut store = config.store.clone();
    store.store_path_root_dir = shard_root(config, shard);
    store.commit_log_offset_base = (shard as u64) << SHARD_OFFSET_SHIFT;
    store
}

/// `<storePathRootDir>/shards/<n>`: everything shard `n` stores.
pub(crate) fn shard_root(config: &BrokerConfig, shard: usize) -> PathBuf {
    config
        .store
        .store_path_root_dir
        .join("shards")
        .join(shard.to_string())
}

fn fail(message: &str) -> ! {
    eprintln!("mqbroker: {message}");
    tracing::error!("{message}");
    std::process::exit(1);
}

async fn shard_main(
    config: BrokerConfig,
    mesh: Option<MeshBuilder<ShardMessage, Full>>,
    shard_count: usize,
    acl: Option<Arc<AclState>>,
) {
    let (id, peers, receivers) = match mesh {
        Some(mesh) => {
            let (senders, receivers) = mesh
                .join()
                .await
                .unwrap_or_else(|_| fail("cannot join the shard mesh"));
            (senders.peer_id(), Some(senders), Some(receivers))
        }
        None => (0, None, None),
    };
    let config = Rc::new(config);
    let store_host: SocketAddr = config.broker_addr().parse().unwrap_or_else(|_| {
        fail(&format!(
            "brokerIP1 {:?} is not an IP address",
            config.broker_ip1
        ))
    });
    let (store, report) = MessageStore::open(DmaStorage::new(), shard_store_config(&config, id))
        .await
        .unwrap_or_else(|e| fail(&format!("shard {id}: cannot open the store: {e}")));
    tracing::info!(shard = id, ?report, "store recovered");
    let offsets = ConsumerOffsetManager::load(shard_root(&config, id).join("consumerOffset.json"))
        .unwrap_or_else(|e| fail(&e));
    let metadata = Rc::new(SharedMetadata::new(config.clone()));
    let mesh = Rc::new(Mesh::new(id, shard_count, peers));
    let connections = Rc::new(ClientConnections::new(mesh.clone()));
    let leader = (id == LEADER_SHARD).then(|| {
        Rc::new(
            Leader::load(metadata.clone(), mesh.clone(), connections.clone())
                .unwrap_or_else(|e| fail(&e)),
        )
    });
    let owner = QueueOwner::new(id, shard_count, metadata.clone(), store, offsets);
    let shard = Rc::new(BrokerShard::new(
        store_host,
        metadata,
        mesh,
        connections,
        owner,
        leader.clone(),
    ));
    if let Some(mut receivers) = receivers {
        for (_, stream) in receivers.streams() {
            glommio::spawn_local(shard.clone().inbox_loop(stream)).detach();
        }
    }
    let registration = leader
        .as_ref()
        .map(|leader| Rc::new(NamesrvRegistration::new(leader.clone())));
    if let Some(leader) = &leader {
        leader.publish().await;
        glommio::spawn_local(leader.clone().housekeeping_loop()).detach();
    }
    glommio::spawn_local(flush_loop(shard.clone())).detach();
    glommio::spawn_local(stats_loop(shard.clone())).detach();
    if id == LEADER_SHARD {
        crate::metrics::start_exporter(&shard);
    }
    let slave = config.broker_role == BrokerRole::Slave;
    if slave {
        // A slave writes nothing of its own: no check-backs, timer or delay deliveries
        // (RocketMQ stops its schedule service on a slave); records come by replication.
        glommio::spawn_local(crate::ha::slave::run(shard.clone())).detach();
        if id == LEADER_SHARD {
            glommio::spawn_local(crate::ha::sync_meta::run(shard.clone())).detach();
        }
    } else {
        glommio::spawn_local(crate::transaction::check_loop(shard.clone())).detach();
        glommio::spawn_local(crate::timer::timer_loop(shard.clone())).detach();
        if config.broker_role == BrokerRole::SyncMaster {
            glommio::spawn_local(shard.owner().ha().clone().expiry_loop()).detach();
        }
        if id == LEADER_SHARD {
            let port = config.ha.port(config.listen_port);
            let addr: SocketAddr = format!("{}:{port}", config.bind_address)
                .parse()
                .unwrap_or_else(|_| {
                    fail(&format!("bad HA address {}:{port}", config.bind_address))
                });
            let listener = crate::ha::master::bind(addr)
                .unwrap_or_else(|e| fail(&format!("cannot listen on haListenPort {addr}: {e}")));
            glommio::spawn_local(crate::ha::master::listen(shard.clone(), listener)).detach();
        }
    }
    let schedule = ScheduleService::load(
        shard_root(&config, id),
        id,
        shard_count,
        config.message_delay_level.clone(),
        config.flush_delay_offset_interval,
    )
    .unwrap_or_else(|e| fail(&e));
    shard.set_schedule(schedule.clone());
    if !slave {
        schedule.start(&shard);
    }
    let addrs = [config.listen_port, config.listen_port - 2].map(|port| {
        let text = format!("{}:{port}", config.bind_address);
        text.parse::<SocketAddr>().unwrap_or_else(|_| {
            fail(&format!(
                "bindAddress {:?} is not an IP address",
                config.bind_address
            ))
        })
    });
    let handler = Rc::new(BrokerHandler::new(shard.clone(), acl));
    let mut servers = Vec::new();
    let limits = server::ShardLimits::with_limits(config.frame_bytes_max, config.limits.clone());
    for addr in addrs {
        let listener =
            server::bind(addr).unwrap_or_else(|e| fail(&format!("cannot listen on {addr}: {e}")));
        servers.push(glommio::spawn_local(server::serve_until(
            listener,
            handler.clone(),
            limits.clone(),
            shutdown::wait(),
        )));
    }
    if let Some(registration) = &registration {
        registration.register_all().await;
        glommio::spawn_local(registration.clone().run()).detach();
        println!(
            "The broker[{}, {}] boot success. serializeType=JSON and name server is {}",
            config.broker_name,
            config.broker_addr(),
            config.namesrv_addr.join(";")
        );
    }
    for server in servers {
        server.await;
    }
    stop(&shard, registration.as_deref()).await;
    if let Err(error) = schedule.flush().await {
        tracing::error!(shard = shard.id(), %error, "delay offset flush failed");
    }
}

/// Periodic work of every shard: consumer offsets (5 s), store flush and checkpoint (1 s),
/// release of cold mapped pages (1 s), retention (10 s).
async fn flush_loop(shard: Rc<BrokerShard>) {
    let mut since_offsets = Duration::ZERO;
    let mut since_retention = Duration::ZERO;
    let mut since_thorough = Duration::ZERO;
    let mut since_release = Duration::ZERO;
    let owner = shard.owner();
    while !shutdown::requested() {
        let interval = shard.config().flush_interval_commit_log;
        glommio::timer::sleep(interval).await;
        since_offsets += interval;
        since_retention += interval;
        since_thorough += interval;
        since_release += interval;
        // RocketMQ's FlushRealTimeService: a flush when enough is dirty, and a thorough
        // one now and then whatever is dirty.
        let least_bytes = shard
            .config()
            .flush_commit_log_least_pages
            .saturating_mul(4096);
        let thorough = since_thorough >= shard.config().flush_commit_log_thorough_interval;
        let behind = owner.store().flush_behind_bytes();
        // With the CommitLog durable, a flush still syncs the live IndexFile once no key
        // came for a whole interval (docs/architecture.md, Write path 12).
        let idle_index = behind == 0 && owner.store().index_unsynced();
        if (behind > 0 && (thorough || behind >= least_bytes)) || idle_index {
            if thorough {
                since_thorough = Duration::ZERO;
            }
            let started = std::time::Instant::now();
            let flushed = owner.store().flush().await;
            owner.stats().record_flush(started.elapsed().as_secs_f64());
            if let Err(error) = flushed {
                tracing::error!(shard = shard.id(), %error, "store flush failed");
            }
        }
        if since_offsets >= shard.config().flush_consumer_offset_interval {
            since_offsets = Duration::ZERO;
            if let Err(error) = owner.flush_offsets().await {
                tracing::error!(shard = shard.id(), %error, "consumer offset flush failed");
            }
        }
        if since_release >= RELEASE_INTERVAL {
            since_release = Duration::ZERO;
            owner.store().release_cold_pages().await;
        }
        if since_retention >= RETENTION_INTERVAL {
            since_retention = Duration::ZERO;
            match owner.store().clean_expired_files(false).await {
                Ok(report) => tracing::debug!(shard = shard.id(), ?report, "retention"),
                Err(error) => tracing::error!(shard = shard.id(), %error, "retention failed"),
            }
        }
    }
}

/// Samples this shard's counters every second for the TPS windows and the day totals
/// (docs/metrics.md); the hot path only adds to the counters.
async fn stats_loop(shard: Rc<BrokerShard>) {
    let mut tick = 0u64;
    let stats = shard.owner().stats();
    while !shutdown::requested() {
        let now = crate::topic_config_manager::now_ms() / 1000;
        stats.sample(tick, crate::stats::local_day(now));
        if tick.is_multiple_of(crate::stats::broker_stats::MINUTE_SAMPLE_SECS) {
            shard.sample_broker_stats(crate::topic_config_manager::now_ms(), tick);
        }
        tick += 1;
        glommio::timer::sleep(Duration::from_secs(crate::stats::SAMPLE_SECS)).await;
    }
}

/// Graceful stop: in-flight sends finish (5 s at most), offsets and store are flushed,
/// the checkpoint written and `abort` removed, and the leader unregisters.
async fn stop(shard: &Rc<BrokerShard>, registration: Option<&NamesrvRegistration>) {
    tracing::info!(shard = shard.id(), "shutting down");
    let owner = shard.owner();
    for _ in 0..100 {
        if owner.in_flight_puts() == 0 {
            break;
        }
        glommio::timer::sleep(Duration::from_millis(50)).await;
    }
    if let Err(error) = owner.flush_offsets().await {
        tracing::error!(shard = shard.id(), %error, "consumer offset flush failed");
    }
    if let Err(error) = owner.store().shutdown().await {
        tracing::error!(shard = shard.id(), %error, "store shutdown failed");
    }
    if let Some(registration) = registration {
        registration.unregister_all().await;
    }
}

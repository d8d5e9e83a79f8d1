//! Starting one glommio executor per shard, pinned to its core where possible.

use std::time::Duration;

use glommio::{LocalExecutorPoolBuilder, PoolPlacement};

/// A shard's index, 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(pub u16);

#[derive(Debug, Clone)]
pub struct ShardConfig {
    pub shard_count: usize,
    pub name: String,
    /// glommio's registered I/O memory per shard. Registered buffers count against
    /// RLIMIT_MEMLOCK without CAP_IPC_LOCK, so this is sized from what the process may lock.
    pub io_memory_bytes: usize,
    /// Spin briefly before sleeping in io_uring: trades idle CPU for wake-up latency.
    pub spin_before_park: Option<Duration>,
    /// glommio's preempt timer: how long a task queue may run before the executor submits
    /// queued I/O and reaps completions. None: glommio's default (100 ms).
    pub preempt_timer: Option<Duration>,
    /// Pin each shard's thread to its own core (when there are enough cores). Pinned shards
    /// keep their caches and never migrate; on a machine whose cores are oversubscribed a
    /// pinned shard waits for its own core even when another is free.
    pub pin: bool,
}

impl ShardConfig {
    pub fn new(name: &str, shard_count: usize) -> ShardConfig {
        ShardConfig {
            shard_count: shard_count.max(1),
            name: name.to_owned(),
            io_memory_bytes: io_memory_budget(shard_count.max(1)),
            spin_before_park: None,
            preempt_timer: None,
            pin: true,
        }
    }
}

/// How much io_memory each shard may register. glommio registers each buffer in three
/// rings, so without CAP_IPC_LOCK it needs about 3x this under RLIMIT_MEMLOCK; with the
/// capability (or an unlimited limit) the default of 10 MiB is used.
fn io_memory_budget(shard_count: usize) -> usize {
    const DEFAULT_BYTES: usize = 10 * 1024 * 1024;
    const FLOOR_BYTES: usize = 512 * 1024;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and has no other effect.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } == 0;
    if !ok || limit.rlim_cur == libc::RLIM_INFINITY || has_cap_ipc_lock() {
        return DEFAULT_BYTES;
    }
    let per_shard = (limit.rlim_cur as usize / 3 / shard_count).min(DEFAULT_BYTES);
    if per_shard < FLOOR_BYTES {
        tracing::warn!(
            memlock_bytes = limit.rlim_cur,
            "RLIMIT_MEMLOCK is too small for registered buffers; raise it (ulimit -l, see tuning/)"
        );
    }
    per_shard.max(FLOOR_BYTES)
}

/// CAP_IPC_LOCK (bit 14) in the effective set, read from /proc so no extra crate is needed.
fn has_cap_ipc_lock() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}

/// Runs `shard_main(shard_id)` on each shard and waits for all of them to finish.
pub fn run_shards<F, Fut>(config: &ShardConfig, shard_main: F) -> std::io::Result<()>
where
    F: Fn(ShardId) -> Fut + Send + Clone + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let placement = if config.pin && config.shard_count <= core_count() {
        PoolPlacement::MaxSpread(config.shard_count, None)
    } else {
        PoolPlacement::Unbound(config.shard_count)
    };
    let mut builder = LocalExecutorPoolBuilder::new(placement)
        .name(&config.name)
        .io_memory(config.io_memory_bytes);
    if let Some(spin) = config.spin_before_park {
        builder = builder.spin_before_park(spin);
    }
    if let Some(preempt) = config.preempt_timer {
        builder = builder.preempt_timer(preempt);
    }
    // Executor ids are process-wide (a standalone process runs two pools), so shard ids
    // are handed out here instead.
    let next_shard = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(0));
    let handles = builder
        .on_all_shards(move || {
            let shard_main = shard_main.clone();
            let shard_id = ShardId(next_shard.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            async move { shard_main(shard_id).await }
        })
        .map_err(|error| std::io::Error::other(format!("cannot start executors: {error}")))?;
    for result in handles.join_all() {
        if let Err(error) = result {
            return Err(std::io::Error::other(format!("shard failed: {error}")));
        }
    }
    Ok(())
}

fn core_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

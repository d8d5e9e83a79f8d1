//! `mqbench store`: how close the store's append path gets to the disk.
//!
//! Many glommio tasks put records of `--record-size` bytes (the whole CommitLog record,
//! TOTALSIZE) through `MessageStore::put` under the chosen flush mode, each timing its own
//! acknowledgements. Then the same number of bytes is written raw into a preallocated
//! file on the same file system: sequential O_DIRECT writes of the store's buffer size,
//! as many in flight as the store has write buffers, and under `--flush sync` one
//! fdatasync at a time covering every write completed when it started, while writes go
//! on (the I/O pattern group commit aims for, with the same depth and durability, and
//! without any store work). ratio = store / raw.
//!
//! The executor's preempt timer matters less than it did: glommio hands queued I/O to the
//! kernel and reaps completions only between task-queue runs, and a queue runs until it
//! is empty or its preempt timer fires (100 ms by default, what the broker's shards run
//! with). With a thousand writers a burst of acknowledged puts runs for a good part of a
//! millisecond; the store now hands a full buffer's write to the kernel at once
//! (docs/architecture.md, Write path item 3), but completions are still reaped only at
//! the end of the burst. `--preempt-timer-us` measures that; the default stays glommio's.
//!
//! The summary line on stderr says how busy the executor and the disk were, and the CPU
//! per record, which machine noise moves far less than throughput.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use glommio::io::{DmaFile, OpenOptions};
use glommio::{LocalExecutorBuilder, Placement};
use hdrhistogram::Histogram;
use ramjet_store::{
    DmaStorage, FlushDiskType, MessageRecord, MessageStore, Properties, StoreConfig,
};

const TOPIC: &str = "BenchmarkTest";

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Flush {
    Async,
    Sync,
}

#[derive(Args, Debug)]
pub struct StoreBenchArgs {
    /// Bytes per CommitLog record (TOTALSIZE, header included).
    #[arg(long, default_value_t = 4096)]
    pub record_size: usize,
    #[arg(long, value_enum, default_value_t = Flush::Async)]
    pub flush: Flush,
    /// Concurrent writer tasks.
    #[arg(long, default_value_t = 1024)]
    pub writers: usize,
    /// Bytes to append, in MiB (the raw write uses the same volume).
    #[arg(long, default_value_t = 2048)]
    pub volume_mib: u64,
    /// Queues the writers spread over.
    #[arg(long, default_value_t = 8)]
    pub queues: i32,
    /// Where to put the store and the raw file (removed afterwards). Must not be tmpfs,
    /// or O_DIRECT falls back to buffered I/O and the comparison means nothing.
    #[arg(long, default_value = "/work/tmp/mqbench-store")]
    pub dir: PathBuf,
    #[arg(long, default_value_t = 1 << 20)]
    pub write_buffer_bytes: usize,
    #[arg(long, default_value_t = 16)]
    pub write_buffer_count: usize,
    /// glommio io_memory (registered buffers), MiB.
    #[arg(long, default_value_t = 64)]
    pub io_memory_mib: usize,
    /// The executor's preempt timer, µs: how long a task queue may run before glommio
    /// submits and reaps I/O (glommio's default; see the module comment).
    #[arg(long, default_value_t = 100_000)]
    pub preempt_timer_us: u64,
    /// The store's `writeDirect`: `false` writes the CommitLog through the page cache (the
    /// raw baseline stays O_DIRECT, so the ratio then compares the two ways of writing).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub write_direct: bool,
    /// The store's `zeroAheadBytes`: bytes of each segment written with zeros ahead of the
    /// appends (0: off). The zeros share the device with the appends.
    #[arg(long, default_value_t = ramjet_store::StoreConfig::new("").zero_ahead_bytes)]
    pub zero_ahead_bytes: u64,
}

struct Measured {
    bytes: u64,
    elapsed: Duration,
    /// User + system CPU the process spent meanwhile (io_uring workers included).
    cpu: Duration,
    /// Time the executor spent running tasks.
    executor_busy: Duration,
    /// Time the disk under `--dir` had I/O in flight (`io_ticks`), if known.
    disk_busy: Option<Duration>,
    latency_us: Histogram<u64>,
}

impl Measured {
    fn busy_percent(&self, busy: Duration) -> f64 {
        busy.as_secs_f64() * 100.0 / self.elapsed.as_secs_f64()
    }

    fn disk_busy_text(&self) -> String {
        self.disk_busy
            .map_or("?".into(), |busy| format!("{:.0}", self.busy_percent(busy)))
    }
}

/// The milliseconds the block device holding `dir` has been busy (`/proc/diskstats`
/// field 13, io_ticks), found by the device numbers of the file system.
fn disk_busy_ms(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(dir).ok()?.dev();
    let (major, minor) = (libc::major(dev).to_string(), libc::minor(dev).to_string());
    let stats = std::fs::read_to_string("/proc/diskstats").ok()?;
    stats.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let matches = fields.len() > 12 && fields[0] == major && fields[1] == minor;
        matches.then(|| fields[12].parse().ok()).flatten()
    })
}

fn disk_busy_since(dir: &std::path::Path, started: Option<u64>) -> Option<Duration> {
    Some(Duration::from_millis(disk_busy_ms(dir)? - started?))
}

fn executor_runtime() -> Duration {
    glommio::executor().executor_stats().executor_runtime()
}

/// User + system CPU time of the whole process so far.
fn process_cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |time: libc::timeval| time.tv_sec as u64 * 1_000_000 + time.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

pub fn run(args: StoreBenchArgs) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir)
        .map_err(|error| format!("{}: {error}", args.dir.display()))?;
    let io_memory = args.io_memory_mib << 20;
    let flush = args.flush;
    let executor = LocalExecutorBuilder::new(Placement::Unbound)
        .io_memory(io_memory)
        .preempt_timer(Duration::from_micros(args.preempt_timer_us))
        .name("mqbench-store")
        .make()
        .map_err(|error| format!("glommio executor: {error}"))?;
    let args = Rc::new(args);
    let (store, raw) = executor.run({
        let args = args.clone();
        async move {
            let store = bench_store(&args).await?;
            let raw = bench_raw(&args, store.bytes).await?;
            Ok::<_, String>((store, raw))
        }
    })?;
    let _ = std::fs::remove_dir_all(&args.dir);
    let mb_per_s = store.bytes as f64 / store.elapsed.as_secs_f64() / 1e6;
    let raw_mb_per_s = raw.bytes as f64 / raw.elapsed.as_secs_f64() / 1e6;
    let flush_name = match flush {
        Flush::Async => "async",
        Flush::Sync => "sync",
    };
    let latency = &store.latency_us;
    // CPU per record says what the store's own work costs, which the machine's noise
    // (other processes, the disk) moves far less than throughput.
    eprintln!(
        "store: {} records, {:.1} MB in {:.2} s, {:.2} CPU-us per record, executor busy \
         {:.0}%, disk busy {}%, max ack {} us; raw: {:.1} MB in {:.2} s, disk busy {}%",
        latency.len(),
        store.bytes as f64 / 1e6,
        store.elapsed.as_secs_f64(),
        store.cpu.as_secs_f64() * 1e6 / latency.len().max(1) as f64,
        store.busy_percent(store.executor_busy),
        store.disk_busy_text(),
        latency.max(),
        raw.bytes as f64 / 1e6,
        raw.elapsed.as_secs_f64(),
        raw.disk_busy_text(),
    );
    println!(
        "RESULT store record_size={} flush={flush_name} mb_per_s={mb_per_s:.1} raw_mb_per_s={raw_mb_per_s:.1} \
         ratio={:.3} p50_us={} p99_us={} p999_us={}",
        args.record_size,
        mb_per_s / raw_mb_per_s,
        latency.value_at_quantile(0.5),
        latency.value_at_quantile(0.99),
        latency.value_at_quantile(0.999),
    );
    Ok(())
}

/// A record whose encoded size is exactly `record_size`.
fn bench_record(record_size: usize, queue_id: i32) -> Result<MessageRecord, String> {
    let mut record = MessageRecord {
        topic: TOPIC.to_string(),
        queue_id,
        flag: 0,
        body: bytes::Bytes::new(),
        properties: Properties::new(),
        sys_flag: 0,
        born_timestamp: 0,
        born_host: "127.0.0.1:40000".parse().unwrap(),
        store_host: "127.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    };
    let overhead = record
        .prepare()
        .map_err(|error| error.to_string())?
        .total_size;
    if record_size < overhead {
        return Err(format!(
            "--record-size must be at least {overhead} (the record header)"
        ));
    }
    record.body = (0..record_size - overhead).map(|at| at as u8).collect();
    Ok(record)
}

async fn bench_store(args: &StoreBenchArgs) -> Result<Measured, String> {
    let mut config = StoreConfig::new(args.dir.join("store"));
    config.flush_disk_type = match args.flush {
        Flush::Async => FlushDiskType::AsyncFlush,
        Flush::Sync => FlushDiskType::SyncFlush,
    };
    config.write_buffer_bytes = args.write_buffer_bytes;
    config.write_buffer_count_max = args.write_buffer_count;
    config.write_direct = args.write_direct;
    config.zero_ahead_bytes = args.zero_ahead_bytes;
    config.message_index_enable = false; // Bench records carry no keys.
    let (store, _) = MessageStore::open(DmaStorage::new(), config)
        .await
        .map_err(|error| format!("open store: {error}"))?;
    let records: Vec<MessageRecord> = (0..args.queues)
        .map(|queue| bench_record(args.record_size, queue))
        .collect::<Result<_, _>>()?;
    let records = Rc::new(records);
    let budget = Rc::new(Cell::new(args.volume_mib << 20));
    let histogram = Rc::new(RefCell::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    ));
    let started = Instant::now();
    let cpu_started = process_cpu_time();
    let executor_started = executor_runtime();
    let disk_started = disk_busy_ms(&args.dir);
    let mut tasks = Vec::new();
    for writer in 0..args.writers {
        let (store, records, budget, histogram) = (
            store.clone(),
            records.clone(),
            budget.clone(),
            histogram.clone(),
        );
        let record_size = args.record_size as u64;
        tasks.push(glommio::spawn_local(async move {
            let record = &records[writer % records.len()];
            while budget.get() >= record_size {
                budget.set(budget.get() - record_size);
                let sent = Instant::now();
                store.put(record).await.expect("put");
                let micros = sent.elapsed().as_micros() as u64;
                histogram.borrow_mut().saturating_record(micros.max(1));
            }
        }));
    }
    for task in tasks {
        task.await;
    }
    let elapsed = started.elapsed();
    let cpu = process_cpu_time() - cpu_started;
    let executor_busy = executor_runtime().saturating_sub(executor_started);
    let disk_busy = disk_busy_since(&args.dir, disk_started);
    let (_, written) = store.commit_log_bounds();
    store
        .shutdown()
        .await
        .map_err(|error| format!("shutdown: {error}"))?;
    let latency_us = histogram.borrow().clone();
    Ok(Measured {
        bytes: written,
        elapsed,
        cpu,
        executor_busy,
        disk_busy,
        latency_us,
    })
}

async fn bench_raw(args: &StoreBenchArgs, bytes: u64) -> Result<Measured, String> {
    let path = args.dir.join("raw");
    let file: DmaFile = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .dma_open(&path)
        .await
        .map_err(|error| format!("O_DIRECT open of {}: {error}", path.display()))?;
    let write_bytes = args.write_buffer_bytes;
    let bytes = bytes.next_multiple_of(write_bytes as u64);
    // Preallocated like a CommitLog segment, so both pay the same extent conversion.
    file.pre_allocate(bytes, false)
        .await
        .map_err(|error| error.to_string())?;
    let file = Rc::new(file);
    let started = Instant::now();
    let cpu_started = process_cpu_time();
    let executor_started = executor_runtime();
    let disk_started = disk_busy_ms(&args.dir);
    let next_position = Rc::new(Cell::new(0u64));
    let completed_writes = Rc::new(Cell::new(0u64));
    // One token wakes the flusher after a write completes; more would add nothing.
    let (wake_flusher, flusher_woken) = glommio::channels::local_channel::new_bounded(1);
    let wake_flusher = Rc::new(wake_flusher);
    let mut writers = Vec::new();
    for _ in 0..args.write_buffer_count.max(1) {
        let (file, next_position, completed_writes) = (
            file.clone(),
            next_position.clone(),
            completed_writes.clone(),
        );
        let wake_flusher = wake_flusher.clone();
        writers.push(glommio::spawn_local(async move {
            loop {
                let position = next_position.get();
                if position >= bytes {
                    return Ok::<_, String>(());
                }
                next_position.set(position + write_bytes as u64);
                let mut buffer = file.alloc_dma_buffer(write_bytes);
                buffer.as_bytes_mut().fill(0x5A);
                file.write_at(buffer, position)
                    .await
                    .map_err(|error| error.to_string())?;
                completed_writes.set(completed_writes.get() + 1);
                let _ = wake_flusher.try_send(());
            }
        }));
    }
    drop(wake_flusher);
    let flusher = matches!(args.flush, Flush::Sync).then(|| {
        let (file, completed_writes) = (file.clone(), completed_writes.clone());
        let total_writes = bytes / write_bytes as u64;
        glommio::spawn_local(async move {
            let mut synced_writes = 0;
            while synced_writes < total_writes {
                if completed_writes.get() == synced_writes {
                    flusher_woken.recv().await;
                    continue;
                }
                let covered = completed_writes.get();
                file.fdatasync().await.map_err(|error| error.to_string())?;
                synced_writes = covered;
            }
            Ok::<_, String>(())
        })
    });
    for writer in writers {
        writer.await?;
    }
    if let Some(flusher) = flusher {
        flusher.await?;
    }
    let position = next_position.get();
    let elapsed = started.elapsed();
    let cpu = process_cpu_time() - cpu_started;
    let executor_busy = executor_runtime().saturating_sub(executor_started);
    let disk_busy = disk_busy_since(&args.dir, disk_started);
    if let Ok(file) = Rc::try_unwrap(file) {
        file.close().await.map_err(|error| error.to_string())?;
    }
    std::fs::remove_file(&path).map_err(|error| error.to_string())?;
    Ok(Measured {
        bytes: position,
        elapsed,
        cpu,
        executor_busy,
        disk_busy,
        latency_us: Histogram::new(3).unwrap(),
    })
}

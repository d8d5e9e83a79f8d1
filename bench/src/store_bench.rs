//! `mqbench store`: how close the store's append path gets to the disk.
//!
//! Many glommio tasks put records of `--record-size` bytes (the whole CommitLog record,
//! TOTALSIZE) through `MessageStore::put` under the chosen flush mode, each timing its own
//! acknowledgements. Then the same number of bytes is written raw: sequential 1 MiB
//! O_DIRECT writes, one at a time, into a preallocated file on the same file system (the
//! I/O pattern group commit aims for, without any store work). ratio = store / raw.

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
const RAW_WRITE_BYTES: usize = 1 << 20;

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
}

struct Measured {
    bytes: u64,
    elapsed: Duration,
    latency_us: Histogram<u64>,
}

pub fn run(args: StoreBenchArgs) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir)
        .map_err(|error| format!("{}: {error}", args.dir.display()))?;
    let io_memory = args.io_memory_mib << 20;
    let flush = args.flush;
    let executor = LocalExecutorBuilder::new(Placement::Unbound)
        .io_memory(io_memory)
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
    eprintln!(
        "store: {} records, {:.1} MB in {:.2} s; raw: {:.1} MB in {:.2} s; max ack {} us",
        latency.len(),
        store.bytes as f64 / 1e6,
        store.elapsed.as_secs_f64(),
        raw.bytes as f64 / 1e6,
        raw.elapsed.as_secs_f64(),
        latency.max()
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
        body: Vec::new(),
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
    let (_, written) = store.commit_log_bounds();
    store
        .shutdown()
        .await
        .map_err(|error| format!("shutdown: {error}"))?;
    let latency_us = histogram.borrow().clone();
    Ok(Measured {
        bytes: written,
        elapsed,
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
    // Preallocated like a CommitLog segment, so both pay the same extent conversion.
    file.pre_allocate(bytes.next_multiple_of(RAW_WRITE_BYTES as u64), false)
        .await
        .map_err(|error| error.to_string())?;
    let started = Instant::now();
    let mut position = 0u64;
    while position < bytes {
        let mut buffer = file.alloc_dma_buffer(RAW_WRITE_BYTES);
        buffer.as_bytes_mut().fill(0x5A);
        file.write_at(buffer, position)
            .await
            .map_err(|error| error.to_string())?;
        position += RAW_WRITE_BYTES as u64;
    }
    let elapsed = started.elapsed();
    file.close().await.map_err(|error| error.to_string())?;
    std::fs::remove_file(&path).map_err(|error| error.to_string())?;
    Ok(Measured {
        bytes: position,
        elapsed,
        latency_us: Histogram::new(3).unwrap(),
    })
}

//! `mqbroker`: starts the broker, as RocketMQ's script of the same name does.
//!
//! ```text
//! mqbroker [-c broker.conf] [-n 127.0.0.1:9876] [-p] [--standalone] [--<property> <value>]...
//! ```
//! `--standalone` also runs a name server in this process (on 9876 unless
//! `--namesrvPort` says otherwise) and registers with it: one command, ready for a client.

use ramjet_core::BrokerConfig;

/// mimalloc rather than glibc's malloc (docs/architecture.md, "Memory allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: mqbroker [-c <broker.conf>] [-n <namesrv addr;...>] [-p] [--standalone] [--<property> <value>]...
  -c <file>           load RocketMQ broker properties (brokerName, listenPort, storePathRootDir, ...)
  -n <addrs>          name server addresses, ';'-separated (overrides namesrvAddr)
  -p                  print the effective configuration and exit
  --standalone        also run a name server in this process and register with it
  --namesrvPort <n>   the standalone name server's port (default 9876)
  --<key> <value>     override one property, e.g. --listenPort 10911 or --shardCount=2
  -h                  this help";

/// The failure model for bugs: a panic anywhere (a broken storage invariant, a bug) ends the
/// whole process at once with status 70, so a supervisor restarts it and clients fail over
/// to other brokers. Without this a panicking shard thread dies alone and the process keeps
/// its ports open while answering nothing. Client input never reaches a panic: bad input is
/// answered with a RocketMQ code (see docs/architecture.md, "Failure model").
fn exit_on_panic() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        tracing::error!(%info, "panic: the broker exits so that a supervisor restarts it");
        std::process::exit(70);
    }));
}

/// glibc serves allocations above its mmap threshold with a fresh mmap and gives them back
/// with munmap. The store's 1 MiB O_DIRECT buffers that do not fit the registered arena are
/// such allocations, and each munmap flushes the TLB of every core running a thread of the
/// process (an inter-processor interrupt, a VM exit on virtual machines), stalling the
/// other shards once per sealed buffer. Kept on the heap, they are reused instead.
fn keep_large_buffers_on_the_heap() {
    const MMAP_THRESHOLD_BYTES: libc::c_int = 32 * 1024 * 1024;
    // SAFETY: mallopt only tunes the allocator; called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_BYTES);
    }
}

struct Args {
    config: BrokerConfig,
    standalone: bool,
    namesrv_port: u16,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RAMJET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    exit_on_panic();
    keep_large_buffers_on_the_heap();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Args {
        mut config,
        standalone,
        namesrv_port,
    } = match parse_args(&args) {
        Ok(Some(args)) => args,
        Ok(None) => return,
        Err(message) => {
            eprintln!("mqbroker: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if standalone {
        // One shard is plenty for route lookups and leaves the cores to the broker.
        let namesrv = ramjet_namesrv::NamesrvConfig {
            listen_port: namesrv_port,
            bind_address: config.bind_address.clone(),
            shard_count: 1,
            kv_config_path: config
                .store
                .store_path_root_dir
                .join("namesrv")
                .join("kvConfig.json"),
            ..ramjet_namesrv::NamesrvConfig::default()
        };
        std::thread::Builder::new()
            .name("namesrv".into())
            .spawn(move || {
                if let Err(error) = ramjet_namesrv::server::run(namesrv) {
                    eprintln!("mqbroker: standalone name server failed: {error}");
                    std::process::exit(1);
                }
            })
            .expect("spawning the name server thread");
        if config.namesrv_addr.is_empty() {
            config.namesrv_addr = vec![format!("127.0.0.1:{namesrv_port}")];
        }
        // Register with a name server that is already listening, so routes exist as soon
        // as the broker says it booted.
        let host = if config.bind_address == "0.0.0.0" {
            "127.0.0.1"
        } else {
            &config.bind_address
        };
        wait_for_port(
            &format!("{host}:{namesrv_port}"),
            std::time::Duration::from_secs(10),
        );
    }
    if let Err(error) = ramjet_core::broker::run(config) {
        eprintln!("mqbroker: {error}");
        std::process::exit(1);
    }
}

fn wait_for_port(addr: &str, timeout: std::time::Duration) {
    let deadline = std::time::Instant::now() + timeout;
    while std::net::TcpStream::connect(addr).is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Returns `Ok(None)` when the command only printed something.
fn parse_args(args: &[String]) -> Result<Option<Args>, String> {
    let mut line = ramjet_net::properties::CommandLine::parse(args, &["--standalone"])?;
    if line.help {
        println!("{USAGE}");
        return Ok(None);
    }
    let standalone = line.has("--standalone");
    let namesrv_port = match line.take_override("namesrvPort") {
        Some(port) => port
            .parse()
            .map_err(|_| "--namesrvPort needs a port number".to_string())?,
        None => 9876u16,
    };
    let mut config = BrokerConfig::default();
    for path in &line.config_files {
        for key in config.load_file(path).map_err(|e| e.to_string())? {
            tracing::warn!(key, file = path, "unknown property ignored");
        }
    }
    for (key, value) in &line.overrides {
        if !config.set(key, value).map_err(|e| e.to_string())? {
            return Err(format!("unknown property --{key}"));
        }
    }
    if let Some(addrs) = &line.namesrv_addr {
        config
            .set("namesrvAddr", addrs)
            .map_err(|e| e.to_string())?;
    }
    let print = line.print;
    if print {
        for (key, value) in config.to_pairs() {
            println!("{key}={value}");
        }
        return Ok(None);
    }
    Ok(Some(Args {
        config,
        standalone,
        namesrv_port,
    }))
}

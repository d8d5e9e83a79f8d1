//! The Ramjet servers under test, each started as a real process on a free loopback port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{free_port, free_port_pair, ServerProcess};
use crate::workspace;

/// A running `mqnamesrv`, killed when dropped.
pub struct Namesrv {
    pub process: ServerProcess,
    /// "127.0.0.1:<port>", as clients are told.
    pub addr: String,
    /// This test's directory under `target/interop-logs/` (config, kvConfig.json, log).
    pub dir: PathBuf,
}

impl Namesrv {
    /// Starts `mqnamesrv -c <dir>/namesrv.properties` (built first if needed) with
    /// RocketMQ's property names: a free `listenPort` on 127.0.0.1 and a `kvConfigPath` of its
    /// own, plus `extra_properties` (e.g. `("shardCount", "2")`). Returns once the port accepts
    /// connections.
    pub fn start(test_name: &str, extra_properties: &[(&str, &str)]) -> Namesrv {
        let binary = workspace::server_binary("ramjet-namesrv", "mqnamesrv");
        let dir = workspace::scratch_dir(test_name);
        let port = free_port();
        let mut properties = format!(
            "listenPort={port}\nbindAddress=127.0.0.1\nkvConfigPath={}\n",
            dir.join("kvConfig.json").display()
        );
        for (key, value) in extra_properties {
            properties.push_str(&format!("{key}={value}\n"));
        }
        let config_path = dir.join("namesrv.properties");
        std::fs::write(&config_path, properties).expect("write namesrv.properties");
        let args = vec!["-c".to_string(), config_path.display().to_string()];
        let mut process =
            ServerProcess::start("mqnamesrv", &binary, &args, &dir.join("mqnamesrv.log"));
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        process.wait_for_port(addr);
        Namesrv {
            process,
            addr: addr.to_string(),
            dir,
        }
    }
}

/// How long a broker gets to print its boot line, and a SIGTERM'd broker to exit.
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `mqbroker` ("broker-a", 2 shards, 64 MiB CommitLog segments) registered with a
/// [`Namesrv`], with its own store under `target/interop-logs/<test>/store`. Killed (SIGKILL)
/// when dropped.
///
/// ```ignore
/// let namesrv = Namesrv::start("my_test", &[]);
/// let mut broker = Broker::start(&namesrv, "my_test");
/// let addr: &str = broker.addr(); // "127.0.0.1:<port>"; clients find it through namesrv.addr
/// broker.stop();    // SIGTERM: graceful (flush, checkpoint, unregister); waits for the exit
/// broker.restart(); // same ports, same store; returns after the boot line
/// broker.kill();    // SIGKILL: a crash; restart() then recovers the store
/// broker.restart();
/// ```
///
/// Every start writes its own log: `mqbroker.log`, then `mqbroker.1.log`, `mqbroker.2.log`, ...
/// [`Broker::log_tail`] shows the current one. [`Broker::start_with`] adds `--<key> <value>`
/// overrides (e.g. `("flushDiskType", "SYNC_FLUSH")`).
pub struct Broker {
    process: Option<ServerProcess>,
    addr: String,
    /// "127.0.0.1:<httpPort>": the HTTP admin API and console (a free port per broker, so
    /// parallel brokers never meet on the default 8080).
    http_addr: String,
    /// "127.0.0.1:<metricsPromExporterPort>": the Prometheus exporter (a free port per broker,
    /// so parallel brokers never race for 5557).
    metrics_addr: String,
    /// The test's directory (shared with its [`Namesrv`]); the store is `dir/store`
    /// (`dir/store-<brokerName>` for a broker not named "broker-a").
    pub dir: PathBuf,
    /// `brokerName` ("broker-a" unless [`Broker::start_named`] says otherwise).
    name: String,
    store: PathBuf,
    binary: PathBuf,
    args: Vec<String>,
    starts: usize,
}

/// A passing test leaves no store behind (two shards of preallocated 64 MiB segments and
/// their index files add up to gigabytes over a run); a failing one keeps it, with the logs,
/// for diagnosis.
impl Drop for Broker {
    fn drop(&mut self) {
        drop(self.process.take()); // SIGKILL and reap before the files go.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.store);
        }
    }
}

impl Broker {
    /// Starts `mqbroker` against `namesrv` on a free port `p` (with `p - 2` free as well, for
    /// the VIP channel) and returns once it printed `The broker[broker-a, 127.0.0.1:p] boot
    /// success` (it has registered with the name server by then).
    pub fn start(namesrv: &Namesrv, test_name: &str) -> Broker {
        Broker::start_with(namesrv, test_name, &[])
    }

    /// [`Broker::start`] with extra `--<key> <value>` properties.
    pub fn start_with(namesrv: &Namesrv, test_name: &str, extra: &[(&str, &str)]) -> Broker {
        Broker::start_named(&[namesrv], test_name, "broker-a", extra)
    }

    /// A broker called `broker_name` registered with every name server in `namesrvs`
    /// (several masters of one cluster: give each its own name). Its store is
    /// `dir/store-<broker_name>` and its logs `mqbroker-<broker_name>[.<n>].log`, so brokers
    /// of one test do not share files; "broker-a" keeps the plain names.
    pub fn start_named(
        namesrvs: &[&Namesrv],
        test_name: &str,
        broker_name: &str,
        extra: &[(&str, &str)],
    ) -> Broker {
        let binary = workspace::server_binary("ramjet-core", "mqbroker");
        let namesrv = namesrvs.first().expect("at least one name server");
        // The name server's scratch directory is this test's; reuse it if the names match.
        let dir = if namesrv.dir.ends_with(test_name) {
            namesrv.dir.clone()
        } else {
            workspace::scratch_dir(test_name)
        };
        let store = if broker_name == "broker-a" {
            dir.join("store")
        } else {
            dir.join(format!("store-{broker_name}"))
        };
        std::fs::create_dir_all(&store).expect("create the broker's store directory");
        let port = free_port_pair();
        let namesrv_addrs = namesrvs
            .iter()
            .map(|n| n.addr.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let http_port = extra
            .iter()
            .find(|(key, _)| *key == "httpPort")
            .map(|(_, value)| value.to_string())
            .unwrap_or_else(|| free_port().to_string());
        let mut args: Vec<String> = [
            "-n",
            &namesrv_addrs,
            "--listenPort",
            &port.to_string(),
            "--httpPort",
            &http_port,
            "--bindAddress",
            "127.0.0.1",
            "--storePathRootDir",
            &store.display().to_string(),
            "--brokerName",
            broker_name,
            "--shardCount",
            "2",
            "--mapedFileSizeCommitLog",
            "67108864",
            "--maxIndexNum",
            "100000",
            "--maxHashSlotNum",
            "20000",
            // The CI disk is shared with other checkouts; this test is not about a full disk
            // (store/tests/retention.rs is), so refuse puts only when it is really full.
            "--diskSpaceWarningLevelRatio",
            "99",
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
        // Every master listens for slaves on haListenPort, listenPort + 1 by default. That
        // port is even (bind(0) hands out odd ports, so `port` is odd), and Linux gives even
        // ports to outgoing connections: a client's source port there made a broker fail to
        // start. A port of its own from bind(0) does not meet them; a test's own
        // `haListenPort` comes later and wins.
        args.push("--haListenPort".into());
        args.push(free_port().to_string());
        // Each broker gets a free exporter port: parallel brokers must not race for 5557.
        // A test's own `metricsPromExporterPort` (e.g. "0") comes later and wins.
        let metrics_port = free_port();
        args.push("--metricsPromExporterPort".into());
        args.push(metrics_port.to_string());
        let metrics_port = extra
            .iter()
            .rev()
            .find(|(key, _)| *key == "metricsPromExporterPort")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(metrics_port);
        for (key, value) in extra.iter().filter(|(key, _)| *key != "httpPort") {
            args.push(format!("--{key}"));
            args.push(value.to_string());
        }
        let mut broker = Broker {
            process: None,
            metrics_addr: format!("127.0.0.1:{metrics_port}"),
            addr: format!("127.0.0.1:{port}"),
            http_addr: format!("127.0.0.1:{http_port}"),
            dir,
            name: broker_name.to_owned(),
            store,
            binary,
            args,
            starts: 0,
        };
        broker.launch();
        broker
    }

    /// `storePathRootDir`.
    pub fn store_dir(&self) -> &std::path::Path {
        &self.store
    }

    /// "127.0.0.1:<listenPort>".
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// "127.0.0.1:<httpPort>": the HTTP admin API and web console (docs/console.md).
    pub fn http_addr(&self) -> &str {
        &self.http_addr
    }

    /// "127.0.0.1:<metricsPromExporterPort>": where GET /metrics is served.
    pub fn metrics_addr(&self) -> &str {
        &self.metrics_addr
    }

    /// The running process's PID (for signals a test sends itself, e.g. SIGSTOP).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|process| process.pid())
    }

    /// Whether the process is running (false after stop/kill, or if it crashed).
    pub fn is_running(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|process| process.is_running())
    }

    /// The last lines of the current (or last) run's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        format!(
            "--- last lines of {} ---\n{tail}",
            self.log_path().display()
        )
    }

    /// The current (or last) run's log file.
    pub fn log_path(&self) -> PathBuf {
        self.log_of_start(self.starts.saturating_sub(1))
    }

    /// The log of start number `n` (0 = the first).
    fn log_of_start(&self, n: usize) -> PathBuf {
        let stem = if self.name == "broker-a" {
            "mqbroker".to_owned()
        } else {
            format!("mqbroker-{}", self.name)
        };
        match n {
            0 => self.dir.join(format!("{stem}.log")),
            n => self.dir.join(format!("{stem}.{n}.log")),
        }
    }

    /// `brokerName`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Graceful shutdown: SIGTERM, then waits (up to [`BROKER_TIMEOUT`]) for the process to
    /// exit. Panics, with the log's tail, if it does not.
    pub fn stop(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        signal(process.pid(), "TERM");
        let started = Instant::now();
        while process.is_running() {
            if started.elapsed() > BROKER_TIMEOUT {
                let tail = process.log_tail();
                drop(process); // SIGKILL, so the panic leaves nothing running.
                panic!("mqbroker did not exit within {BROKER_TIMEOUT:?} of SIGTERM\n{tail}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("interop: mqbroker stopped (SIGTERM)");
    }

    /// Crash: SIGKILL to the broker's PID (nothing is flushed, no checkpoint, no unregister).
    pub fn kill(&mut self) {
        if let Some(process) = self.process.take() {
            let pid = process.pid();
            drop(process); // Drop sends SIGKILL and reaps the child.
            eprintln!("interop: mqbroker (pid {pid}) killed (SIGKILL)");
        }
    }

    /// SIGSTOP: the process freezes with its sockets open, so peers see no closed channel,
    /// only silence (a hung host). [`Broker::resume`] continues it; SIGKILL on drop still works.
    pub fn pause(&mut self) {
        if let Some(process) = &self.process {
            signal(process.pid(), "STOP");
        }
    }

    /// SIGCONT after [`Broker::pause`].
    pub fn resume(&mut self) {
        if let Some(process) = &self.process {
            signal(process.pid(), "CONT");
        }
    }

    /// Starts the broker again with the same arguments: same ports, same store. Stops it first
    /// (SIGTERM) if it is still running. Returns after the boot line.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// [`Broker::restart`] with more `--<key> <value>` properties, which win over earlier
    /// ones (e.g. a slave's store started again as a master: `("brokerRole",
    /// "ASYNC_MASTER"), ("brokerId", "0")`). Kept for later restarts.
    pub fn restart_with(&mut self, extra: &[(&str, &str)]) {
        self.stop();
        for (key, value) in extra {
            self.args.push(format!("--{key}"));
            self.args.push(value.to_string());
        }
        self.launch();
    }

    fn launch(&mut self) {
        let log_path = self.log_of_start(self.starts);
        self.starts += 1;
        let mut process = ServerProcess::start("mqbroker", &self.binary, &self.args, &log_path);
        let boot_line = format!("The broker[{}, {}] boot success", self.name, self.addr);
        let started = Instant::now();
        loop {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if log.contains(&boot_line) {
                break;
            }
            if !process.is_running() {
                panic!(
                    "mqbroker exited before its boot line\n{}",
                    process.log_tail()
                );
            }
            if started.elapsed() > BROKER_TIMEOUT {
                panic!(
                    "mqbroker printed no boot line within {BROKER_TIMEOUT:?}\n{}\n{}",
                    process.log_tail(),
                    thread_states(process.pid())
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "interop: mqbroker up at {} after {:?}",
            self.addr,
            started.elapsed()
        );
        self.process = Some(process);
    }
}

/// Each thread's name, state and kernel wait channel, for a process that seems stuck.
fn thread_states(pid: u32) -> String {
    let mut out = format!("--- threads of pid {pid} (name, state, wchan) ---");
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let read = |file: &str| std::fs::read_to_string(path.join(file)).unwrap_or_default();
        let status = read("status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        out.push_str(&format!(
            "\n{} {} {}",
            field("Name:"),
            field("State:"),
            read("wchan")
        ));
    }
    out
}

/// `kill -<signal> <pid>`: signals exactly that process (the harness stays std-only).
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

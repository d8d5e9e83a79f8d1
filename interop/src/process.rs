//! Server processes for tests: free loopback ports, start with arguments, wait for the port,
//! keep stdout and stderr in a log file, and kill by PID on drop.

use std::collections::BTreeSet;
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a server gets to open its port before the test gives up.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A loopback port nobody listens on right now, and one this process has not handed out
/// before. Ports come from below the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`): a port inside it can be taken between this
/// probe and the server's bind by the local end of any outgoing connection (a client in a
/// test running beside it), which once failed a broker start with EADDRINUSE on its VIP
/// port. Each process starts at its own offset (from its PID) so test binaries running at
/// once rarely probe the same ports. The registry keeps this process from handing a port out
/// twice (a broker once got one as both haListenPort and metrics port, and a broker down for
/// a restart could find its port given to a server of a test running beside it). Another
/// process could still take a port before the server binds, which is rare enough to accept.
pub fn free_port() -> u16 {
    const LOWEST: u32 = 10_000;
    let below = ephemeral_range_start().max(LOWEST + 1_000);
    let span = below - LOWEST;
    let start = (std::process::id().wrapping_mul(7_919)) % span;
    static NEXT: Mutex<Option<u32>> = Mutex::new(None);
    let mut next = NEXT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let offset = next.get_or_insert(start);
    for _ in 0..span {
        let port = (LOWEST + *offset) as u16;
        *offset = (*offset + 1) % span;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && claim(port) {
            return port;
        }
    }
    panic!("no free loopback port in {LOWEST}..{below}");
}

/// The first port the kernel picks local ports of outgoing connections from (32768 unless
/// configured otherwise).
fn ephemeral_range_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A free loopback port `p` whose `p - 2` is free too (a broker's VIP channel), both handed
/// out by [`free_port`]'s registry.
pub fn free_port_pair() -> u16 {
    for _ in 0..100 {
        // free_port hands out ports in order, so the one two above is usually still free.
        let low = free_port();
        let port = low + 2;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && claim(port) {
            return port;
        }
    }
    panic!("no free loopback port p with p - 2 free after 100 tries");
}

/// Records `port` as handed out; false if it was already. Ports are never given back: a test
/// binary uses a few hundred of the ~28,000 ephemeral ports.
fn claim(port: u16) -> bool {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    HANDED_OUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(port)
}

/// A child process that is killed when this value drops, so a failing assertion never leaves
/// a server running. Only this child's PID is signalled.
pub struct ServerProcess {
    name: String,
    child: Child,
    log_path: PathBuf,
}

impl ServerProcess {
    /// Starts `program args...` with stdout and stderr appended to `log_path`.
    pub fn start(name: &str, program: &Path, args: &[String], log_path: &Path) -> ServerProcess {
        let log = File::create(log_path)
            .unwrap_or_else(|error| panic!("create {}: {error}", log_path.display()));
        let log_err = log.try_clone().expect("clone the log file handle");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", program.display()));
        eprintln!(
            "interop: started {name} (pid {}): {} {}; log {}",
            child.id(),
            program.display(),
            args.join(" "),
            log_path.display()
        );
        ServerProcess {
            name: name.to_string(),
            child,
            log_path: log_path.to_path_buf(),
        }
    }

    /// Waits until `addr` accepts a TCP connection. Panics, with the log's tail, if the
    /// process exits first or the port stays closed past [`STARTUP_TIMEOUT`].
    pub fn wait_for_port(&mut self, addr: SocketAddr) {
        let started = Instant::now();
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before listening on {addr}\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                panic!(
                    "{} did not listen on {addr} within {STARTUP_TIMEOUT:?}\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Whether the process is still running (it may have crashed mid-test).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last 60 lines of the process's output, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        format!("--- last lines of {} ---\n{tail}", self.log_path.display())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this PID only; wait reaps it so no zombie is left.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
    }
}

/// The log without its colour escapes (`ESC [ ... m`).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_never_handed_out_twice() {
        // The OS hands a just-closed ephemeral port out again readily; the registry must not.
        let mut seen = BTreeSet::new();
        for _ in 0..2000 {
            assert!(seen.insert(free_port()), "a port was handed out twice");
        }
        let pair = free_port_pair();
        assert!(seen.insert(pair) && seen.insert(pair - 2));
        let ephemeral = ephemeral_range_start();
        assert!(
            seen.iter()
                .all(|port| u32::from(*port) < ephemeral.max(11_000)),
            "a port inside the ephemeral range, where outgoing connections can take it"
        );
    }
}

//! Finding this user's `mqbroker` / `mqnamesrv` processes through /proc and stopping them
//! with SIGTERM, for `mqshutdown` (RocketMQ's `bin/mqshutdown` does the same with
//! `ps | grep` and `kill`).
//!
//! A process is named by its executable's file name exactly (`/proc/<pid>/exe`), never by
//! a substring of its command line, so `vim mqbroker.rs` or a test binary called
//! `mqbroker_tests` is never signalled. A process is identified by its pid *and* its start
//! time, so a pid reused after the server exited is not mistaken for it.

use std::path::Path;
use std::time::{Duration, Instant};

/// One process found in /proc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: i32,
    /// Clock ticks after boot (`/proc/<pid>/stat` field 22): with the pid, names the process.
    pub start_time: u64,
    pub uid: u32,
    /// The executable's file name (`mqbroker`).
    pub name: String,
    /// The command line, arguments joined by spaces.
    pub command_line: String,
    /// The main thread's state; `Z` is a zombie (exited, waiting for its parent to reap it).
    pub state: char,
    /// Threads of the process still counted by the kernel (`Threads:` in status).
    pub threads: u32,
}

impl ProcessInfo {
    /// A zombie main thread alone is not enough: it turns `Z` as soon as it exits while the
    /// other threads may still be tearing down, sockets open. The process is gone once the
    /// zombie is all that is left of it.
    pub fn is_alive(&self) -> bool {
        let exited = self.state == 'Z' || self.state == 'X';
        !(exited && self.threads <= 1)
    }
}

/// Reads /proc/<pid>; `None` when the process does not exist (or vanished mid-read).
pub fn read_process(proc_root: &Path, pid: i32) -> Option<ProcessInfo> {
    let dir = proc_root.join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // `pid (comm) state ...`: comm may hold spaces and parentheses, so split at the last ')'.
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?; // Field 22 overall; state is field 3.
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|values| values.split_whitespace().next())
            .and_then(|first| first.parse().ok())
    };
    let uid = field("Uid:")?; // The real uid comes first.
    let threads = field("Threads:").unwrap_or(1);
    let arguments: Vec<String> = std::fs::read(dir.join("cmdline"))
        .unwrap_or_default()
        .split(|byte| *byte == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    // The executable's name; a rebuilt binary reads as "mqbroker (deleted)". When exe cannot
    // be read (a zombie has none), argv[0] stands in.
    let name = std::fs::read_link(dir.join("exe"))
        .ok()
        .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .map(|name| name.trim_end_matches(" (deleted)").to_owned())
        .or_else(|| {
            let first = arguments.first()?;
            Path::new(first)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    Some(ProcessInfo {
        pid,
        start_time,
        uid,
        name,
        command_line: arguments.join(" "),
        state,
        threads,
    })
}

/// Every live process of user `uid` whose executable is named exactly `name`, by pid.
pub fn find_processes(proc_root: &Path, name: &str, uid: u32) -> Vec<ProcessInfo> {
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut found: Vec<ProcessInfo> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| read_process(proc_root, pid))
        .filter(|process| process.uid == uid && process.name == name && process.is_alive())
        .collect();
    found.sort_by_key(|process| process.pid);
    found
}

/// Whether `process` (same pid, same start time) still runs.
pub fn still_running(proc_root: &Path, process: &ProcessInfo) -> bool {
    read_process(proc_root, process.pid)
        .is_some_and(|now| now.start_time == process.start_time && now.is_alive())
}

/// Sends SIGTERM to exactly this pid.
pub fn terminate(process: &ProcessInfo) -> std::io::Result<()> {
    // SAFETY: kill takes plain integers; it signals one pid (positive, never 0 or -1,
    // which would reach a whole group).
    assert!(process.pid > 0);
    if unsafe { libc::kill(process.pid, libc::SIGTERM) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Waits until the process is gone, up to `timeout`; returns how long it took, or `None`.
pub fn wait_for_exit(
    proc_root: &Path,
    process: &ProcessInfo,
    timeout: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while still_running(proc_root, process) {
        if started.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(started.elapsed())
}

/// A listening TCP socket of a process: its port and its inode (the kernel's name for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListeningSocket {
    pub port: u16,
    pub inode: u64,
}

/// The TCP sockets `pid` listens on: its socket fds (`/proc/<pid>/fd`) that
/// `/proc/net/tcp{,6}` lists in state LISTEN.
pub fn listening_sockets(proc_root: &Path, pid: i32) -> Vec<ListeningSocket> {
    let Ok(fds) = std::fs::read_dir(proc_root.join(pid.to_string()).join("fd")) else {
        return Vec::new();
    };
    let inodes: Vec<u64> = fds
        .filter_map(Result::ok)
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    listening_in(proc_root)
        .into_iter()
        .filter(|socket| inodes.contains(&socket.inode))
        .collect()
}

/// Every LISTEN socket in this network namespace.
fn listening_in(proc_root: &Path) -> Vec<ListeningSocket> {
    const TCP_LISTEN: &str = "0A";
    let mut found = Vec::new();
    for table in ["net/tcp", "net/tcp6"] {
        let text = std::fs::read_to_string(proc_root.join(table)).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st ... uid timeout inode
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if let (true, Some(port), Ok(inode)) = (*state == TCP_LISTEN, port, inode.parse()) {
                found.push(ListeningSocket { port, inode });
            }
        }
    }
    found
}

/// Waits until none of `sockets` listens any more, up to `timeout`. A process can be gone
/// while its listening sockets are not: io_uring (glommio) closes the files of in-flight
/// requests after the process exits, so the port would still accept, and a broker
/// restarted at once would find its port taken.
pub fn wait_for_sockets_closed(
    proc_root: &Path,
    sockets: &[ListeningSocket],
    timeout: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    loop {
        let listening = listening_in(proc_root);
        if !sockets.iter().any(|socket| listening.contains(socket)) {
            return Some(started.elapsed());
        }
        if started.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The real user id of this process.
pub fn current_uid() -> u32 {
    // SAFETY: getuid cannot fail and has no arguments.
    unsafe { libc::getuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = read_process(Path::new("/proc"), std::process::id() as i32).unwrap();
        assert_eq!(me.uid, current_uid());
        assert!(me.is_alive());
        let exe = std::env::current_exe().unwrap();
        assert_eq!(me.name, exe.file_name().unwrap().to_string_lossy());
        assert!(still_running(Path::new("/proc"), &me));
        // Same pid, other start time: a reused pid is not "still running".
        let reused = ProcessInfo {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert!(!still_running(Path::new("/proc"), &reused));
    }

    #[test]
    fn finds_by_exact_executable_name_only() {
        let me = read_process(Path::new("/proc"), std::process::id() as i32).unwrap();
        let found = find_processes(Path::new("/proc"), &me.name, current_uid());
        assert!(found.iter().any(|p| p.pid == me.pid));
        let prefix = &me.name[..me.name.len() - 1];
        let by_prefix = find_processes(Path::new("/proc"), prefix, current_uid());
        assert!(by_prefix.iter().all(|p| p.pid != me.pid));
    }

    #[test]
    fn finds_this_process_listening_and_sees_the_socket_close() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let proc_root = Path::new("/proc");
        let sockets = listening_sockets(proc_root, std::process::id() as i32);
        let ours: Vec<_> = sockets.into_iter().filter(|s| s.port == port).collect();
        assert_eq!(ours.len(), 1);
        let still = wait_for_sockets_closed(proc_root, &ours, Duration::from_millis(50));
        assert_eq!(still, None, "the listener is open");
        drop(listener);
        assert!(wait_for_sockets_closed(proc_root, &ours, Duration::from_secs(5)).is_some());
    }

    #[test]
    fn a_missing_pid_reads_as_none() {
        assert_eq!(read_process(Path::new("/proc"), i32::MAX), None);
    }
}

//! `mqshutdown broker|namesrv`: graceful stop of this user's local mqbroker or mqnamesrv.
//! Sends SIGTERM (the broker then stops accepting, finishes in-flight requests, flushes,
//! checkpoints and unregisters from its name servers) and waits for the process to exit.

use std::path::Path;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use ramjet_tools::shutdown::{
    current_uid, find_processes, listening_sockets, read_process, terminate, wait_for_exit,
    wait_for_sockets_closed, ListeningSocket, ProcessInfo,
};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Server {
    /// mqbroker (also stops a --standalone broker's built-in name server)
    Broker,
    /// mqnamesrv
    Namesrv,
}

impl Server {
    fn executable(self) -> &'static str {
        match self {
            Server::Broker => "mqbroker",
            Server::Namesrv => "mqnamesrv",
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "mqshutdown",
    version,
    about = "Stop this user's local mqbroker or mqnamesrv gracefully (SIGTERM, then wait)",
    after_help = "Finds processes of the current user whose executable is named exactly \
                  mqbroker or mqnamesrv (/proc/<pid>/exe). Exit status 0 when every one \
                  exited, 1 when none was found or one was still running at the timeout \
                  (nothing is ever SIGKILLed)."
)]
struct Args {
    /// which server to stop
    server: Server,
    /// stop only this process (it must be this user's mqbroker / mqnamesrv)
    #[arg(long)]
    pid: Option<i32>,
    /// seconds to wait for each process to exit
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// list the processes that would be stopped, and stop none
    #[arg(long)]
    dry_run: bool,
}

const PROC: &str = "/proc";

fn main() {
    let args = Args::parse();
    let name = args.server.executable();
    let uid = current_uid();
    let processes = match args.pid {
        Some(pid) => match chosen(pid, name, uid) {
            Ok(process) => vec![process],
            Err(reason) => {
                eprintln!("mqshutdown: {reason}");
                std::process::exit(1);
            }
        },
        None => find_processes(Path::new(PROC), name, uid),
    };
    if processes.is_empty() {
        println!("No {name} running.");
        if matches!(args.server, Server::Namesrv) {
            for broker in find_processes(Path::new(PROC), "mqbroker", uid) {
                if broker.command_line.contains("--standalone") {
                    println!(
                        "mqbroker({}) runs a name server inside (--standalone); \
                         `mqshutdown broker` stops both.",
                        broker.pid
                    );
                }
            }
        }
        std::process::exit(1);
    }
    let mut all_stopped = true;
    for process in &processes {
        println!("The {name}({}) is running...", process.pid);
        if args.dry_run {
            println!("  {}", process.command_line);
            continue;
        }
        // Read before the signal: once the process is gone its fds cannot be listed.
        let sockets = listening_sockets(Path::new(PROC), process.pid);
        if let Err(error) = terminate(process) {
            eprintln!(
                "mqshutdown: SIGTERM to {name}({}) failed: {error}",
                process.pid
            );
            all_stopped = false;
            continue;
        }
        println!("Send shutdown request to {name}({}) OK", process.pid);
        let timeout = Duration::from_secs(args.timeout);
        match wait_for_exit(Path::new(PROC), process, timeout) {
            Some(took) => {
                println!(
                    "{name}({}) exited after {:.1}s",
                    process.pid,
                    took.as_secs_f64()
                );
                if !ports_released(process, &sockets, timeout) {
                    all_stopped = false;
                }
            }
            None => {
                eprintln!(
                    "mqshutdown: {name}({}) still running after {}s; not killed \
                     (kill -9 {} if it must stop now)",
                    process.pid, args.timeout, process.pid
                );
                all_stopped = false;
            }
        }
    }
    if !all_stopped {
        std::process::exit(1);
    }
}

/// Waits for the exited process's listening sockets to close, so that a server restarted
/// right after mqshutdown finds its ports free.
fn ports_released(process: &ProcessInfo, sockets: &[ListeningSocket], timeout: Duration) -> bool {
    if sockets.is_empty() {
        return true;
    }
    // One listener per shard (SO_REUSEPORT), so ports repeat.
    let ports: std::collections::BTreeSet<u16> = sockets.iter().map(|s| s.port).collect();
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    let ports = ports.join(", ");
    if wait_for_sockets_closed(Path::new(PROC), sockets, timeout).is_some() {
        println!("ports {ports} released");
        return true;
    }
    eprintln!(
        "mqshutdown: {}({}) exited but ports {ports} still listen after {}s",
        process.name,
        process.pid,
        timeout.as_secs()
    );
    false
}

/// The process `--pid` names, if it is this user's live `name`.
fn chosen(pid: i32, name: &str, uid: u32) -> Result<ProcessInfo, String> {
    if pid <= 0 {
        return Err(format!("--pid {pid} is not a process id"));
    }
    let process = read_process(Path::new(PROC), pid)
        .filter(ProcessInfo::is_alive)
        .ok_or_else(|| format!("no process {pid}"))?;
    if process.uid != uid {
        return Err(format!(
            "process {pid} belongs to uid {}, not to you; not signalled",
            process.uid
        ));
    }
    if process.name != name {
        return Err(format!(
            "process {pid} is {:?}, not {name}; not signalled",
            process.name
        ));
    }
    Ok(process)
}

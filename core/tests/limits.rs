//! Issue 13, limits: a real `mqbroker` refuses to start on a key of a feature it does not
//! build, caps connections per client address while another address keeps being served,
//! closes idle connections, and answers an address over its request rate (all its
//! connections together) SYSTEM_BUSY, and counts each in GET_BROKER_RUNTIME_INFO.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::FromRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{call, StandaloneBroker};
use ramjet_net::client::BlockingClient;
use ramjet_net::code::{request, response};
use ramjet_net::ExtFields;

/// Runs `mqbroker` with `args` and returns its exit code and everything it printed.
fn mqbroker_exit(name: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("store").display().to_string();
    let port = common::free_port().to_string();
    let ha_port = common::free_port().to_string();
    let mut all = vec![
        "--storePathRootDir",
        &store,
        "--listenPort",
        &port,
        "--httpPort",
        "0",
        "--bindAddress",
        "127.0.0.1",
        // Parallel tests must not race for the exporter's default port 5557.
        "--metricsPromExporterPort",
        "0",
        // Not listenPort + 1 (even: Linux hands even ports to outgoing connections).
        "--haListenPort",
        &ha_port,
    ];
    all.extend_from_slice(args);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mqbroker"))
        .args(&all)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start mqbroker");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            return (status.code(), text);
        }
        if Instant::now() > deadline {
            let _ = child.kill(); // this test's own child, by handle
            let _ = child.wait();
            panic!("mqbroker {args:?} still running after 20 s: it accepted the key");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_key_of_an_unbuilt_feature_stops_the_start_by_name() {
    for (name, args, key) in [
        (
            "unbuilt_dledger",
            &["--enableDLegerCommitLog", "true"][..],
            "enableDLegerCommitLog",
        ),
        (
            "unbuilt_index_path",
            &["--storePathIndex", "/elsewhere/index"][..],
            "storePathIndex",
        ),
        (
            "unbuilt_controller",
            &["--enableControllerMode", "true"][..],
            "enableControllerMode",
        ),
    ] {
        let (code, output) = mqbroker_exit(name, args);
        assert!(
            matches!(code, Some(c) if c != 0),
            "{args:?} exited {code:?}\n{output}"
        );
        assert!(
            output.contains(key),
            "{args:?}: the message does not name {key}\n{output}"
        );
    }
}

/// A connection to `addr` from `source` (any 127/8 address works on loopback).
fn connect_from(source: Ipv4Addr, addr: &str) -> std::io::Result<TcpStream> {
    let target: SocketAddr = addr.parse().unwrap();
    let SocketAddr::V4(target) = target else {
        panic!("IPv4 only")
    };
    // SAFETY: plain socket calls on a descriptor this function owns; on success it moves
    // into the TcpStream, on failure it is closed here.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let sockaddr = |addr: SocketAddrV4| libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: addr.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*addr.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let local = sockaddr(SocketAddrV4::new(source, 0));
        let remote = sockaddr(target);
        if libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) != 0
            || libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) != 0
        {
            let error = std::io::Error::last_os_error();
            libc::close(fd);
            return Err(error);
        }
        Ok(TcpStream::from_raw_fd(fd))
    }
}

/// Whether the broker closed `stream` (EOF or reset) within `wait`.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

fn runtime_info(client: &mut BlockingClient) -> Result<i32, String> {
    call(
        client,
        request::GET_BROKER_RUNTIME_INFO,
        ExtFields::default(),
        &[],
    )
    .map(|answer| answer.code)
}

#[test]
fn a_flood_of_connections_from_one_address_is_capped_while_another_is_served() {
    let broker = StandaloneBroker::start(
        "limits_connections",
        &[("ramjetMaxConnectionsPerClient", "8")],
    );
    let flooder = Ipv4Addr::new(127, 0, 0, 3);
    let mut flood: Vec<TcpStream> = (0..20)
        .map(|_| connect_from(flooder, &broker.addr).expect("the kernel accepts the connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let closed = flood
        .iter_mut()
        .filter_map(|stream| {
            // Each open connection must still answer; a refused one reads EOF.
            let mut client = BlockingClient::from_stream(stream.try_clone().unwrap()).unwrap();
            match runtime_info(&mut client) {
                Ok(code) => {
                    assert_eq!(code, response::SUCCESS);
                    None
                }
                Err(_) => Some(()),
            }
        })
        .count();
    assert_eq!(
        closed,
        12,
        "20 connections from one address, cap 8\n{}",
        broker.log_tail()
    );

    // Another address is served meanwhile.
    let other = connect_from(Ipv4Addr::new(127, 0, 0, 2), &broker.addr).unwrap();
    let mut other = BlockingClient::from_stream(other).unwrap();
    assert_eq!(runtime_info(&mut other), Ok(response::SUCCESS));
    assert!(
        broker.log().contains("connection refused"),
        "{}",
        broker.log_tail()
    );

    // Closing the flood frees the address's places.
    flood.clear();
    std::thread::sleep(Duration::from_millis(500));
    let again = connect_from(flooder, &broker.addr).unwrap();
    let mut again = BlockingClient::from_stream(again).unwrap();
    assert_eq!(
        runtime_info(&mut again),
        Ok(response::SUCCESS),
        "{}",
        broker.log_tail()
    );
    let table = runtime_table(&mut again);
    assert_eq!(
        counter(&table, "ramjetConnectionsRefusedClientCap"),
        12,
        "{table:?}"
    );
}

#[test]
fn idle_connections_are_closed_and_busy_ones_kept() {
    let broker =
        StandaloneBroker::start("limits_idle", &[("serverChannelMaxIdleTimeSeconds", "1")]);
    let mut idle = TcpStream::connect(&broker.addr).unwrap();
    let mut busy = broker.connect();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        assert_eq!(runtime_info(&mut busy), Ok(response::SUCCESS));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        closed_within(&mut idle, Duration::from_secs(2)),
        "idle connection kept open"
    );
    assert_eq!(runtime_info(&mut busy), Ok(response::SUCCESS));
    assert!(
        broker.log().contains("closing idle connection"),
        "{}",
        broker.log_tail()
    );
    let table = runtime_table(&mut busy);
    assert!(
        counter(&table, "ramjetIdleConnectionsClosed") >= 1,
        "{table:?}"
    );
    let _ = idle.write_all(b"x");
}

/// GET_BROKER_RUNTIME_INFO's table.
fn runtime_table(client: &mut BlockingClient) -> std::collections::BTreeMap<String, String> {
    let answer = call(
        client,
        request::GET_BROKER_RUNTIME_INFO,
        ExtFields::default(),
        &[],
    )
    .unwrap();
    assert_eq!(answer.code, response::SUCCESS, "{:?}", answer.remark);
    serde_json::from_slice::<ramjet_net::body::KvTable>(&answer.body)
        .unwrap()
        .table
}

fn counter(table: &std::collections::BTreeMap<String, String>, name: &str) -> u64 {
    table
        .get(name)
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no number {name} in {table:?}"))
}

#[test]
fn the_request_rate_of_one_address_spans_its_connections() {
    const RATE: usize = 20;
    let broker = StandaloneBroker::start(
        "limits_rate",
        &[("ramjetClientRequestsPerSecond", &RATE.to_string())],
    );
    let source = Ipv4Addr::new(127, 0, 0, 4);
    let mut clients: Vec<BlockingClient> = (0..4)
        .map(|_| BlockingClient::from_stream(connect_from(source, &broker.addr).unwrap()).unwrap())
        .collect();
    let mut busy_remark = None;
    let (mut ok, mut busy) = (0, 0);
    let started = Instant::now();
    for round in 0..100 {
        let client = &mut clients[round % 4];
        let answer = call(
            client,
            request::GET_BROKER_RUNTIME_INFO,
            ExtFields::default(),
            &[],
        )
        .unwrap();
        match answer.code {
            response::SUCCESS => ok += 1,
            response::SYSTEM_BUSY => {
                busy += 1;
                busy_remark = answer.remark.clone();
            }
            other => panic!("unexpected code {other}"),
        }
    }
    // One budget for the four connections: the burst plus what the elapsed time earned.
    let earned = (started.elapsed().as_secs_f64() * RATE as f64).ceil() as usize;
    assert!(
        ok >= RATE && ok <= RATE + earned + 1 && busy > 0,
        "ok {ok}, busy {busy}, earned {earned}"
    );
    let remark = busy_remark.unwrap();
    assert!(
        remark.contains("ramjetClientRequestsPerSecond") && remark.contains("127.0.0.4"),
        "{remark}"
    );
    // Another address has its own budget, and sees every refusal counted.
    let other = connect_from(Ipv4Addr::new(127, 0, 0, 5), &broker.addr).unwrap();
    let mut other = BlockingClient::from_stream(other).unwrap();
    let table = runtime_table(&mut other);
    assert_eq!(
        counter(&table, "ramjetRequestsRefusedRateLimit"),
        busy as u64,
        "{table:?}"
    );
}

//! Issue 13, back-pressure and caps, with the third-party `rocketmq-client-rust` 1.0 crate
//! against a real `mqbroker`:
//! - a oneway send that meets a full owner waits for room instead of being refused (a
//!   refusal of a oneway request never reaches its sender, so it was a silent loss): with
//!   `sendQueueCapacity=2` a flood of oneway sends is stored whole, and the broker counts
//!   the puts that waited;
//! - a flood of connections from one address is capped at `ramjetMaxConnectionsPerClient`
//!   while the client, from another address, keeps sending and consuming; the refusals are
//!   counted in GET_BROKER_RUNTIME_INFO;
//! - oneway sends over `ramjetClientRequestsPerSecond` are held back, not dropped.
//!
//! The counters are read with our own client (inspection only).

#![recursion_limit = "512"]

mod common;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::rust_client::{message, ConsumerOptions, QueueAdmin, RustClient};
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_net::body::KvTable;
use ramjet_net::client::blocking::BlockingClient;
use ramjet_net::code::{request, response};
use ramjet_net::RemotingCommand;

const TASKS: usize = 16;
const PER_TASK: usize = 1_000;
/// How long the broker gets to store what the client already wrote to its socket.
const STORE_WAIT: Duration = Duration::from_secs(30);

#[test]
fn a_oneway_flood_on_a_tiny_send_queue_stores_every_message() {
    let test = "broker_back_pressure_oneway";
    let topic = "OnewayFlood";
    let namesrv = Namesrv::start(test, &[]);
    // The disk limit is raised so that a crowded shared test machine does not turn this
    // test into one about DiskFull.
    let broker = Broker::start_with(
        &namesrv,
        test,
        &[
            ("sendQueueCapacity", "2"),
            ("diskSpaceWarningLevelRatio", "99"),
        ],
    );
    let client = RustClient::new("oneway-flood");
    let mut producer = client.start_producer(&namesrv.addr, "oneway_flood_producer");
    // A sync send creates the topic (TBW102: 4 queues) and the client's route.
    producer
        .send(message(topic, "warm", "warm", "warm"))
        .unwrap_or_else(|error| panic!("warm-up send: {error}\n{}", broker.log_tail()));

    let body = "x".repeat(128);
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let shared = producer.shared();
            let (topic, body) = (topic.to_owned(), body.clone());
            client.spawn(async move {
                let mut failed = 0;
                for index in 0..PER_TASK {
                    let key = format!("{task}-{index}");
                    if shared
                        .send_oneway(message(&topic, "flood", &key, &body))
                        .await
                        .is_err()
                    {
                        failed += 1;
                    }
                }
                failed
            })
        })
        .collect();
    let client_failures: usize = tasks.into_iter().map(|task| client.join(task)).sum();
    let written = TASKS * PER_TASK - client_failures;
    eprintln!(
        "{written} oneway sends written in {:?} ({client_failures} failed in the client)",
        started.elapsed()
    );
    assert!(
        written > TASKS * PER_TASK / 2,
        "the client wrote only {written}"
    );

    let expected = written as i64 + 1; // and the warm-up message
    let deadline = Instant::now() + STORE_WAIT;
    let stored = loop {
        let stored: i64 = (0..4)
            .map(|queue| {
                producer
                    .queue_admin(topic, queue, QueueAdmin::MaxOffset)
                    .unwrap_or_else(|error| panic!("max offset of queue {queue}: {error}"))
            })
            .sum();
        if stored >= expected || Instant::now() >= deadline {
            break stored;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        stored,
        expected,
        "oneway messages lost under back-pressure\n{}",
        broker.log_tail()
    );
    assert!(
        !broker.log_tail().contains("oneway request failed"),
        "{}",
        broker.log_tail()
    );
    // The waits are counted where an operator looks (brokerStatus), and no failure.
    let table = runtime_info(&broker, Ipv4Addr::new(127, 0, 0, 1));
    assert!(
        counter(&table, "ramjetOnewayPutsWaitedSendQueue") > 0,
        "a flood on a send queue of 2 never waited: {table:?}"
    );
    assert_eq!(
        counter(&table, "ramjetOnewayRequestsFailed"),
        0,
        "{table:?}"
    );
}

/// GET_BROKER_RUNTIME_INFO's table, asked from `source` (each source address has its own
/// rate budget and connection places).
fn runtime_info(broker: &Broker, source: Ipv4Addr) -> BTreeMap<String, String> {
    let stream = connect_from(source, broker.addr()).expect("connect for runtime info");
    let mut client = BlockingClient::from_stream(stream).unwrap();
    let answer = client
        .invoke(
            RemotingCommand::request(request::GET_BROKER_RUNTIME_INFO),
            Duration::from_secs(5),
        )
        .expect("runtime info answered");
    assert_eq!(answer.code, response::SUCCESS, "{:?}", answer.remark);
    serde_json::from_slice::<KvTable>(&answer.body)
        .expect("runtime info is a KVTable")
        .table
}

fn counter(table: &BTreeMap<String, String>, name: &str) -> u64 {
    table
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in runtime info: {table:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number: {table:?}"))
}

/// A blocking connection to `addr` from `source` (any 127/8 address works on loopback).
fn connect_from(source: Ipv4Addr, addr: &str) -> std::io::Result<TcpStream> {
    let target: SocketAddr = addr.parse().expect("broker address");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source.into(), 0))?;
        let stream = socket.connect(target).await?.into_std()?;
        stream.set_nonblocking(false)?;
        Ok(stream)
    })
}

/// Whether the broker closed `stream` (EOF or reset) within `wait`.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    use std::io::Read;
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

#[test]
fn a_connection_flood_from_one_address_is_capped_while_the_client_sends_and_consumes() {
    const PER_CLIENT: usize = 8;
    const MESSAGES: usize = 200;
    let test = "broker_connection_flood";
    let topic = "FloodSurvivor";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start_with(
        &namesrv,
        test,
        &[("ramjetMaxConnectionsPerClient", &PER_CLIENT.to_string())],
    );
    let client = RustClient::new("flood-survivor");
    let producer = client.start_producer(&namesrv.addr, "flood_survivor_producer");
    producer
        .send(message(topic, "warm", "warm", "warm"))
        .unwrap_or_else(|error| panic!("warm-up send: {error}\n{}", broker.log_tail()));

    // The flood: 127.0.0.2 connects again and again while the client works, holding every
    // connection it gets.
    let stop = Arc::new(AtomicBool::new(false));
    let flood = {
        let (stop, addr) = (stop.clone(), broker.addr().to_owned());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            // Paced so that it lasts while the client works, and bounded in file descriptors.
            while !stop.load(Ordering::Relaxed) && held.len() < 4_000 {
                match connect_from(Ipv4Addr::new(127, 0, 0, 2), &addr) {
                    Ok(stream) => held.push(stream),
                    Err(error) => panic!("flood connect: {error}"),
                }
                if held.len() % 4 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            held
        })
    };

    // The well-behaved client, from 127.0.0.1, sends and consumes meanwhile.
    let started = Instant::now();
    for index in 0..MESSAGES {
        let key = format!("survivor-{index}");
        producer
            .send(message(topic, "ok", &key, &key))
            .unwrap_or_else(|error| {
                panic!(
                    "send #{index} during the flood: {error}\n{}",
                    broker.log_tail()
                )
            });
    }
    let send_time = started.elapsed();
    let consumer = client.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new("flood_survivors", topic),
    );
    let consumed = consumer.wait_for_count(MESSAGES + 1, Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    let mut held = flood.join().expect("flood thread");
    assert!(
        consumed,
        "consumed {} of {} during the flood\n{}",
        consumer.count(),
        MESSAGES + 1,
        broker.log_tail()
    );
    eprintln!(
        "{MESSAGES} sync sends in {send_time:?} while {} connections were attempted",
        held.len()
    );
    assert!(
        held.len() > 2 * PER_CLIENT,
        "the flood made only {}",
        held.len()
    );

    // Exactly PER_CLIENT flood connections are open; the broker closed every other one.
    let refused = held
        .iter_mut()
        .map(|stream| closed_within(stream, Duration::from_millis(300)))
        .filter(|closed| *closed)
        .count();
    assert_eq!(
        refused,
        held.len() - PER_CLIENT,
        "{} flood connections, cap {PER_CLIENT}\n{}",
        held.len(),
        broker.log_tail()
    );
    let table = runtime_info(&broker, Ipv4Addr::new(127, 0, 0, 1));
    assert_eq!(
        counter(&table, "ramjetConnectionsRefusedClientCap"),
        refused as u64,
        "{table:?}"
    );
    assert_eq!(counter(&table, "ramjetConnectionsRefusedBrokerCap"), 0);
    // One line for the first refusal, then one per ten seconds at most.
    let log = std::fs::read_to_string(broker.log_path()).unwrap_or_default();
    let lines = log.matches("connection refused").count();
    let allowed = 1 + started.elapsed().as_secs() as usize / 10 + 1;
    assert!(
        (1..=allowed).contains(&lines),
        "{lines} refusal lines for {refused} refusals"
    );
}

#[test]
fn oneway_sends_over_the_request_rate_are_held_back_not_dropped() {
    const RATE: usize = 100;
    const MESSAGES: usize = 300;
    let test = "broker_rate_oneway";
    let topic = "RateOneway";
    let namesrv = Namesrv::start(test, &[]);
    let broker = Broker::start_with(
        &namesrv,
        test,
        &[("ramjetClientRequestsPerSecond", &RATE.to_string())],
    );
    let client = RustClient::new("rate-oneway");
    let producer = client.start_producer(&namesrv.addr, "rate_oneway_producer");
    producer
        .send(message(topic, "warm", "warm", "warm"))
        .unwrap_or_else(|error| panic!("warm-up send: {error}\n{}", broker.log_tail()));
    let started = Instant::now();
    for index in 0..MESSAGES {
        let key = format!("rate-{index}");
        producer
            .send_oneway(message(topic, "oneway", &key, &key))
            .unwrap_or_else(|error| panic!("oneway #{index}: {error}"));
    }
    // Counted from another address, whose budget is its own.
    let deadline = Instant::now() + STORE_WAIT;
    let table = loop {
        let table = runtime_info(&broker, Ipv4Addr::new(127, 0, 0, 7));
        if counter(&table, "msgPutTotalTodayNow") > MESSAGES as u64 || Instant::now() >= deadline {
            break table;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let elapsed = started.elapsed();
    assert_eq!(
        counter(&table, "msgPutTotalTodayNow"),
        MESSAGES as u64 + 1,
        "oneway sends over the rate were lost: {table:?}\n{}",
        broker.log_tail()
    );
    assert!(
        counter(&table, "ramjetOnewayRequestsDelayedRateLimit") > 0,
        "{table:?}"
    );
    // 300 requests at 100 a second with a burst of 100 take about two seconds.
    assert!(
        elapsed >= Duration::from_millis(1_500),
        "{MESSAGES} oneways at {RATE}/s stored in {elapsed:?}"
    );
    assert_eq!(
        counter(&table, "ramjetOnewayRequestsFailed"),
        0,
        "{table:?}"
    );
}

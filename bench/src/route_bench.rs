//! `mqbench route`: GET_ROUTEINFO_BY_TOPIC load against any RocketMQ name server.
//!
//! Every producer and consumer asks a name server for routes every 30 s, so this is the
//! request a name server answers most. The load is closed-loop and pipelined: `--threads`
//! glommio executors (unpinned, so they do not fight the server for its pinned cores) share
//! `--connections`, and each connection keeps `--pipeline` requests in flight, sending a new
//! one as each answer arrives. Requests are matched to answers by opaque, because a server
//! may answer a connection's requests out of order.
//!
//! Latency is measured from just before a request is written to just after its answer is
//! decoded, into one HDR histogram per thread (merged at the end). Only answers that arrive
//! after `--warmup` and before the end count. The last line printed is
//! `RESULT route rps=.. p50_us=.. p99_us=.. p999_us=.. errors=..`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use hdrhistogram::Histogram;
use ramjet_net::body::{DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigSerializeWrapper};
use ramjet_net::client::requests::{self, as_java_client};
use ramjet_net::client::{resolve, BlockingClient};
use ramjet_net::code::{request, response};
use ramjet_net::header::{CommandHeader, RegisterBrokerRequestHeader};
use ramjet_net::remoting::{decode_frame_split, FRAME_BYTES_MAX_DEFAULT};
use ramjet_net::{RemotingCommand, SerializeType};

use crate::rocketmq_client::push_decimal;

/// Java 5.3.3's version ordinal. Name servers answer version >= 401 with standard JSON.
/// A request without an answer for this long counts as an error and ends its connection.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Latencies above this are clamped into the histogram's top bucket (and still counted).
const LATENCY_US_MAX: u64 = 60_000_000;
/// A Java broker registers every 30 s; re-registering more often keeps the route alive on
/// name servers configured with a short broker timeout.
const REREGISTER_INTERVAL: Duration = Duration::from_secs(10);
const READ_CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, clap::Args)]
pub struct RouteBenchArgs {
    /// Name server address, host:port.
    #[arg(short = 'n', long = "namesrv", default_value = "127.0.0.1:9876")]
    pub namesrv: String,
    /// Topic whose route is asked for.
    #[arg(short = 't', long = "topic", default_value = "BenchRouteTopic")]
    pub topic: String,
    /// TCP connections, spread over the threads.
    #[arg(short = 'c', long = "connections", default_value_t = 64)]
    pub connections: usize,
    /// Seconds measured (after the warm-up).
    #[arg(short = 'd', long = "duration", default_value_t = 10)]
    pub duration_secs: u64,
    /// Seconds of load before measuring starts.
    #[arg(long = "warmup", default_value_t = 2)]
    pub warmup_secs: u64,
    /// Client threads (one glommio executor each); 0 = one per core.
    #[arg(long = "threads", default_value_t = 0)]
    pub threads: usize,
    /// Requests kept in flight on each connection.
    #[arg(short = 'k', long = "pipeline", default_value_t = 4)]
    pub pipeline: usize,
    /// Register a broker serving the topic first, as a Java 5.x broker does, and keep it
    /// registered for the run (a bare name server then has a route to serve).
    #[arg(long = "register-broker")]
    pub register_broker: bool,
    /// Address the registered broker claims (nothing needs to listen there).
    #[arg(long = "broker-addr", default_value = "127.0.0.1:10911")]
    pub broker_addr: String,
    #[arg(long = "broker-name", default_value = "bench-broker-a")]
    pub broker_name: String,
    #[arg(long = "cluster", default_value = "DefaultCluster")]
    pub cluster: String,
    /// Read and write queues of the registered topic.
    #[arg(long = "queues", default_value_t = 8)]
    pub queues: i32,
}

/// What one run measured.
#[derive(Debug)]
pub struct RouteReport {
    pub answers: u64,
    pub errors: u64,
    /// Answers with a code other than SUCCESS, by code (part of `errors`).
    pub error_codes: BTreeMap<i32, u64>,
    pub measured: Duration,
    pub latency_us: Histogram<u64>,
    /// CPU this process used while the load ran (warm-up included), and how long that was.
    pub client_cpu: Duration,
    pub loaded: Duration,
}

impl RouteReport {
    pub fn rps(&self) -> f64 {
        self.answers as f64 / self.measured.as_secs_f64()
    }

    pub fn result_line(&self) -> String {
        format!(
            "RESULT route rps={:.0} p50_us={} p99_us={} p999_us={} errors={}",
            self.rps(),
            self.latency_us.value_at_quantile(0.5),
            self.latency_us.value_at_quantile(0.99),
            self.latency_us.value_at_quantile(0.999),
            self.errors
        )
    }
}

/// `mqbench route`: prints the setup, the details, and the RESULT line last.
pub fn run(args: RouteBenchArgs) -> Result<(), String> {
    let addr = resolve(&args.namesrv)?;
    let _registration = if args.register_broker {
        Some(Registration::start(&args)?)
    } else {
        None
    };
    let route_bytes = check_route(&args)?;
    let threads = if args.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        args.threads
    };
    println!(
        "route: namesrv {} topic {} ({route_bytes} route bytes), {} connections on {threads} \
         threads, {} in flight each, {} s warm-up + {} s",
        args.namesrv,
        args.topic,
        args.connections,
        args.pipeline,
        args.warmup_secs,
        args.duration_secs
    );
    let report = run_load(addr, &args, threads)?;
    println!(
        "answers {} in {:.2} s, max_us={}, mean_us={:.0}, client_cpu={:.2} s ({:.0}% of one core)",
        report.answers,
        report.measured.as_secs_f64(),
        report.latency_us.max(),
        report.latency_us.mean(),
        report.client_cpu.as_secs_f64(),
        100.0 * report.client_cpu.as_secs_f64() / report.loaded.as_secs_f64()
    );
    if !report.error_codes.is_empty() {
        println!("error answers by response code: {:?}", report.error_codes);
    }
    println!("{}", report.result_line());
    Ok(())
}

fn java_request(code: i32) -> RemotingCommand {
    as_java_client(RemotingCommand::request(code), SerializeType::Json)
}

fn route_request(topic: &str) -> RemotingCommand {
    as_java_client(requests::get_route_info(topic), SerializeType::Json)
}

/// Asks for the route once: benchmarking TOPIC_NOT_EXIST answers would measure nothing.
fn check_route(args: &RouteBenchArgs) -> Result<usize, String> {
    let mut client =
        BlockingClient::connect(&args.namesrv, ANSWER_TIMEOUT).map_err(|e| e.to_string())?;
    let answer = client
        .invoke(route_request(&args.topic), ANSWER_TIMEOUT)
        .map_err(|e| e.to_string())?;
    match answer.code {
        response::SUCCESS => Ok(answer.body.len()),
        code => Err(format!(
            "topic {} has no route on {} (code {code}, {:?}); pass --register-broker",
            args.topic, args.namesrv, answer.remark
        )),
    }
}

/// A broker registration kept alive for the run on its own connection (closing the
/// connection unregisters the broker on Java-compatible name servers).
struct Registration {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Registration {
    fn start(args: &RouteBenchArgs) -> Result<Registration, String> {
        let mut client =
            BlockingClient::connect(&args.namesrv, ANSWER_TIMEOUT).map_err(|e| e.to_string())?;
        let register = register_request(args);
        let answer = client
            .invoke(register.clone(), ANSWER_TIMEOUT)
            .map_err(|e| format!("REGISTER_BROKER: {e}"))?;
        if answer.code != response::SUCCESS {
            return Err(format!(
                "REGISTER_BROKER answered code {} {:?}",
                answer.code, answer.remark
            ));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut last = Instant::now();
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() >= REREGISTER_INTERVAL {
                    if let Err(error) = client.invoke(register.clone(), ANSWER_TIMEOUT) {
                        eprintln!("route: re-registering the broker failed: {error}");
                    }
                    last = Instant::now();
                }
            }
        });
        Ok(Registration {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// REGISTER_BROKER as a Java 5.x master sends it: a JSON body in the 5.x shape (mapping
/// fields present, TopicConfig with `attributes`), since some name servers (rocketmq-rust)
/// accept only that shape, and a correct bodyCrc32.
fn register_request(args: &RouteBenchArgs) -> RemotingCommand {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let version = DataVersion {
        counter: 1,
        state_version: 0,
        timestamp: now_ms,
    };
    let empty_map = || serde_json::Value::Object(serde_json::Map::new());
    let mut wrapper = TopicConfigSerializeWrapper {
        data_version: version,
        mapping_data_version: Some(version),
        topic_queue_mapping_detail_map: Some(empty_map()),
        topic_queue_mapping_info_map: Some(empty_map()),
        ..TopicConfigSerializeWrapper::default()
    };
    let config = TopicConfig::new(&args.topic, args.queues, args.queues, 6);
    wrapper
        .topic_config_table
        .insert(args.topic.clone(), config);
    let body = RegisterBrokerBody {
        filter_server_list: Vec::new(),
        topic_config_serialize_wrapper: wrapper,
    }
    .encode(false);
    let (host, port) = args
        .broker_addr
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
        .unwrap_or(("127.0.0.1", 10911));
    let header = RegisterBrokerRequestHeader {
        broker_name: args.broker_name.clone(),
        broker_addr: args.broker_addr.clone(),
        cluster_name: args.cluster.clone(),
        ha_server_addr: format!("{host}:{}", port.wrapping_add(1)),
        broker_id: 0,
        heartbeat_timeout_millis: None,
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: Some((crc32fast::hash(&body) & 0x7fff_ffff) as i32),
    };
    java_request(request::REGISTER_BROKER)
        .with_ext_fields(header.to_ext_fields())
        .with_body(body)
}

/// GET_ROUTEINFO_BY_TOPIC frames differ only in their opaque, so the JSON header is encoded
/// once around a marker and each request splices its opaque's digits in.
struct RequestTemplate {
    before_opaque: Vec<u8>,
    after_opaque: Vec<u8>,
}

impl RequestTemplate {
    fn new(topic: &str) -> RequestTemplate {
        const MARK: i32 = 987_654_321;
        let mut command = route_request(topic);
        command.opaque = MARK;
        let frame = command.encode_to_vec();
        let header = &frame[8..];
        let mark = format!("\"opaque\":{MARK}");
        let at = header
            .windows(mark.len())
            .position(|window| window == mark.as_bytes())
            .expect("the encoded header holds its opaque");
        let digits_at = at + mark.len() - MARK.to_string().len();
        RequestTemplate {
            before_opaque: header[..digits_at].to_vec(),
            after_opaque: header[at + mark.len()..].to_vec(),
        }
    }

    fn write(&self, opaque: i32, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0u8; 8]); // Lengths, filled in below.
        out.extend_from_slice(&self.before_opaque);
        push_decimal(out, i64::from(opaque));
        out.extend_from_slice(&self.after_opaque);
        let header_bytes = (out.len() - start - 8) as u32;
        out[start..start + 4].copy_from_slice(&(4 + header_bytes).to_be_bytes());
        // Serialize type 0 (JSON) in the top byte.
        out[start + 4..start + 8].copy_from_slice(&header_bytes.to_be_bytes());
    }
}

/// The schedule every connection follows.
struct LoadPlan {
    addr: SocketAddr,
    template: RequestTemplate,
    pipeline: usize,
    measure_from: Instant,
    stop_at: Instant,
}

struct Tally {
    answers: u64,
    errors: u64,
    /// Answers with a code other than SUCCESS, by code (part of `errors`).
    error_codes: BTreeMap<i32, u64>,
    latency_us: Histogram<u64>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            answers: 0,
            errors: 0,
            error_codes: BTreeMap::new(),
            latency_us: Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid bounds"),
        }
    }

    fn add(&mut self, other: &Tally) {
        self.answers += other.answers;
        self.errors += other.errors;
        for (code, count) in &other.error_codes {
            *self.error_codes.entry(*code).or_default() += count;
        }
        self.latency_us.add(&other.latency_us).expect("same bounds");
    }
}

fn run_load(
    addr: SocketAddr,
    args: &RouteBenchArgs,
    threads: usize,
) -> Result<RouteReport, String> {
    let connections = args.connections.max(1);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup_secs);
    let stop_at = measure_from + Duration::from_secs(args.duration_secs.max(1));
    let io_memory = ramjet_net::server::ShardConfig::new("route-bench", threads).io_memory_bytes;
    let mut handles = Vec::new();
    for thread in 0..threads {
        // Connections go round-robin over threads.
        let count = (connections + threads - 1 - thread) / threads;
        if count == 0 {
            continue;
        }
        let (topic, pipeline) = (args.topic.clone(), args.pipeline.max(1));
        let handle = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .name("route-bench")
            .io_memory(io_memory)
            .spawn(move || async move {
                let plan = Rc::new(LoadPlan {
                    addr,
                    template: RequestTemplate::new(&topic),
                    pipeline,
                    measure_from,
                    stop_at,
                });
                let tasks: Vec<_> = (0..count)
                    .map(|_| glommio::spawn_local(drive_connection(plan.clone())))
                    .collect();
                let mut tally = Tally::new();
                for task in tasks {
                    tally.add(&task.await);
                }
                tally
            })
            .map_err(|e| format!("cannot start a client thread: {e}"))?;
        handles.push(handle);
    }
    let cpu_before = process_cpu();
    let mut total = Tally::new();
    for handle in handles {
        let tally = handle
            .join()
            .map_err(|e| format!("client thread failed: {e}"))?;
        total.add(&tally);
    }
    let cpu_used = process_cpu().saturating_sub(cpu_before);
    Ok(RouteReport {
        answers: total.answers,
        errors: total.errors,
        error_codes: total.error_codes,
        measured: stop_at - measure_from,
        latency_us: total.latency_us,
        client_cpu: cpu_used,
        loaded: start.elapsed(),
    })
}

/// One connection's closed loop: keep `pipeline` requests in flight until the end, then
/// collect the stragglers. Any transport failure counts every unanswered request as an
/// error and ends this connection only.
async fn drive_connection(plan: Rc<LoadPlan>) -> Tally {
    let mut tally = Tally::new();
    let mut stream = match glommio::net::TcpStream::connect(plan.addr).await {
        Ok(stream) => stream,
        Err(error) => {
            eprintln!("route: connect {}: {error}", plan.addr);
            tally.errors += 1;
            return tally;
        }
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(ANSWER_TIMEOUT));
    let mut sent_at: HashMap<i32, Instant> = HashMap::with_capacity(plan.pipeline * 2);
    let mut next_opaque = 1i32;
    let mut outbound = Vec::with_capacity(plan.pipeline * 256);
    let mut inbound = BytesMut::with_capacity(READ_CHUNK_BYTES * 2);
    let mut chunk = vec![0u8; READ_CHUNK_BYTES];
    let mut send = |outbound: &mut Vec<u8>, sent_at: &mut HashMap<i32, Instant>| {
        plan.template.write(next_opaque, outbound);
        sent_at.insert(next_opaque, Instant::now());
        next_opaque = next_opaque.wrapping_add(1);
    };
    for _ in 0..plan.pipeline {
        send(&mut outbound, &mut sent_at);
    }
    loop {
        if !outbound.is_empty() {
            if let Err(error) = stream.write_all(&outbound).await {
                eprintln!("route: write: {error}");
                tally.errors += sent_at.len() as u64;
                return tally;
            }
            outbound.clear();
        }
        if sent_at.is_empty() {
            return tally;
        }
        let read = match stream.read(&mut chunk).await {
            Ok(0) => Err("closed by the server".to_owned()),
            Ok(read) => Ok(read),
            Err(error) => Err(error.to_string()),
        };
        let read = match read {
            Ok(read) => read,
            Err(error) => {
                eprintln!("route: read: {error}");
                tally.errors += sent_at.len() as u64;
                return tally;
            }
        };
        inbound.extend_from_slice(&chunk[..read]);
        loop {
            let answer = match decode_frame_split(&mut inbound, FRAME_BYTES_MAX_DEFAULT) {
                Ok(Some(answer)) => answer,
                Ok(None) => break,
                Err(error) => {
                    eprintln!("route: bad frame from the server: {error}");
                    tally.errors += sent_at.len() as u64;
                    return tally;
                }
            };
            let now = Instant::now();
            let Some(sent) = sent_at.remove(&answer.opaque) else {
                tally.errors += 1; // An answer to nothing we asked.
                continue;
            };
            if now >= plan.measure_from && now < plan.stop_at {
                if answer.code == response::SUCCESS {
                    tally.answers += 1;
                    let micros = now.duration_since(sent).as_micros() as u64;
                    tally
                        .latency_us
                        .saturating_record(micros.clamp(1, LATENCY_US_MAX));
                } else {
                    tally.errors += 1;
                    *tally.error_codes.entry(answer.code).or_default() += 1;
                }
            }
            if now < plan.stop_at {
                send(&mut outbound, &mut sent_at);
            }
        }
    }
}

/// CPU time (user + system) this process has used so far.
fn process_cpu() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_frames_decode_to_the_route_request() {
        // The spliced frame is exactly what encoding the request with that opaque gives.
        let template = RequestTemplate::new("TopicTest");
        for opaque in [0, 7, -1, i32::MAX, i32::MIN, 123_456] {
            let mut spliced = Vec::new();
            template.write(opaque, &mut spliced);
            let mut expected = route_request("TopicTest");
            expected.opaque = opaque;
            assert_eq!(spliced, expected.encode_to_vec(), "opaque {opaque}");
        }
    }

    #[test]
    fn registration_body_has_the_5x_shape_and_a_correct_crc() {
        // rocketmq-rust's name server rejects bodies without the mapping fields.
        let args = RouteBenchArgs {
            namesrv: "127.0.0.1:9876".into(),
            topic: "T".into(),
            connections: 1,
            duration_secs: 1,
            warmup_secs: 0,
            threads: 1,
            pipeline: 1,
            register_broker: true,
            broker_addr: "127.0.0.1:10911".into(),
            broker_name: "b".into(),
            cluster: "C".into(),
            queues: 4,
        };
        let request = register_request(&args);
        let body = String::from_utf8(request.body.to_vec()).unwrap();
        assert!(body.contains(r#""mappingDataVersion":{"#), "{body}");
        assert!(body.contains(r#""topicQueueMappingInfoMap":{}"#), "{body}");
        assert!(body.contains(r#""attributes":{}"#), "{body}");
        let crc = (crc32fast::hash(&request.body) & 0x7fff_ffff).to_string();
        assert_eq!(request.ext_field("bodyCrc32"), Some(crc.as_str()));
        assert_eq!(request.ext_field("haServerAddr"), Some("127.0.0.1:10912"));
    }
}

//! `mqbench produce`: send load against any RocketMQ name server and broker.
//!
//! The client runs on `--executors` glommio executors (unpinned, so they share the cores
//! with a broker on the same machine instead of fighting its pinned shards), each owning
//! some of the `--connections` per broker. What `-w` means depends on `--mode`:
//! - `sync`: `-w` closed-loop senders in all, spread over the connections; each sends one
//!   request and waits for its answer before the next, like a thread of the Java benchmark
//!   calling `send()`. Requests of different senders are pipelined on a connection and
//!   matched by opaque.
//! - `async`: each connection keeps up to `-w` requests in flight, sending a new one as
//!   each answer arrives (the Java async producer with a window).
//! - `oneway`: each connection sends `-w` oneway requests, then one acknowledged request as
//!   a flow-control barrier; only the barriers have latencies.
//!
//! `--engine os-threads` runs sync mode on `-w` OS threads with one blocking connection
//! each instead, to compare the two ways of driving a broker that shares the machine.
//!
//! Latency is measured per request from its intended send time to its answer: in the
//! default closed loop that is the moment it was built; with `--rate` it is the slot of a
//! fixed schedule, so a stalled broker shows up as latency rather than as fewer samples
//! (no coordinated omission). A batch of `--batch k` messages counts k times with its
//! request's latency. Only requests started after `--warmup` count. The last line is
//! `RESULT produce tps=.. mb_per_s=.. p50_us=.. p99_us=.. p999_us=.. p9999_us=..
//! max_us=.. errors=..` (MB = 10^6 bytes of message bodies).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ramjet_net::client::BlockingClient;
use ramjet_net::code::response;
use ramjet_net::server::InvokeError;
use ramjet_net::SerializeType;

use crate::histogram::{
    self, new_latency_histogram, record_us, LiveStats, Percentiles, ProgressLine,
    LIVE_MERGE_INTERVAL,
};
use crate::produce_lane::{run_lane, LaneSpec};
use ramjet_net::body::MessageQueue;
use ramjet_net::client::queues::broker_addrs;
use ramjet_net::client::{QueueAt, UniqKeyGenerator};

use crate::rocketmq_client::{self as client, HeaderFormat, SendSpec};

/// Run length when neither `--count` nor `--duration` is given.
const DEFAULT_DURATION_SECS: f64 = 10.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SendMode {
    Sync,
    Async,
    Oneway,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// glommio executors with pipelined `ramjet_net` connections.
    Glommio,
    /// Sync mode only: one OS thread with its own blocking connection per sender.
    OsThreads,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ProduceArgs {
    /// Name server address, host:port.
    #[arg(short = 'n', long = "namesrv", default_value = "127.0.0.1:9876")]
    pub namesrv: String,
    #[arg(short = 't', long = "topic", default_value = "BenchmarkTest")]
    pub topic: String,
    /// Message body bytes.
    #[arg(short = 's', long = "size", default_value_t = 128)]
    pub size: usize,
    /// sync: concurrent senders in all; async/oneway: requests in flight per connection.
    #[arg(short = 'w', long = "threads", default_value_t = 64)]
    pub threads: usize,
    #[arg(long = "mode", value_enum, default_value_t = SendMode::Sync)]
    pub mode: SendMode,
    /// Messages to send in all (0: no limit, run for --duration).
    #[arg(long = "count", default_value_t = 0)]
    pub count: u64,
    /// Seconds to send for, warm-up included (default 10 s unless --count is given).
    #[arg(long = "duration")]
    pub duration_secs: Option<f64>,
    /// Seconds at the start whose requests are not counted.
    #[arg(long = "warmup", default_value_t = 0.0)]
    pub warmup_secs: f64,
    /// Messages per request; above 1 sends SEND_BATCH_MESSAGE.
    #[arg(long = "batch", default_value_t = 1)]
    pub batch: usize,
    /// Tag of every message (TAGS property).
    #[arg(short = 'l', long = "tag")]
    pub tag: Option<String>,
    /// Key prefix: each message gets KEYS=<prefix><sequence>.
    #[arg(short = 'k', long = "keys")]
    pub keys: Option<String>,
    /// Fixed rate in messages per second over all senders; latency counts from each
    /// message's scheduled send time.
    #[arg(long = "rate")]
    pub rate: Option<f64>,
    /// TCP connections per broker.
    #[arg(long = "connections", default_value_t = 2)]
    pub connections: usize,
    /// Client glommio executors (threads); connections are spread over them.
    #[arg(long = "executors", default_value_t = 1)]
    pub executors: usize,
    #[arg(long = "engine", value_enum, default_value_t = Engine::Glommio)]
    pub engine: Engine,
    /// glommio engine: microseconds an idle client executor spins before it sleeps.
    #[arg(long = "spin-us", default_value_t = 0)]
    pub spin_us: u64,
    /// Create the topic on every broker first (UPDATE_AND_CREATE_TOPIC) instead of
    /// relying on the broker's auto-creation from TBW102.
    #[arg(long = "create-topic")]
    pub create_topic: bool,
    /// Read and write queues of a topic created with --create-topic.
    #[arg(long = "queues", default_value_t = 8)]
    pub queues: i32,
    /// Send every message to this queue id (on each broker that has it) instead of round
    /// robin over all queues: pins the load to the one shard that owns the queue.
    #[arg(long = "queue-id")]
    pub queue_id: Option<i32>,
    #[arg(long = "group", default_value = "mqbench_producer")]
    pub group: String,
    /// Request header serialization.
    #[arg(long = "serialize", value_enum, default_value_t = HeaderFormat::Json)]
    pub serialize: HeaderFormat,
    /// A request unanswered for this long counts as an error.
    #[arg(long = "timeout-ms", default_value_t = 3000)]
    pub timeout_ms: u64,
    /// Write HdrHistogram's percentile distribution (values in ms) here.
    #[arg(long = "hist-out")]
    pub hist_out: Option<PathBuf>,
    /// Write an SVG plot of latency by percentile here.
    #[arg(long = "svg-out")]
    pub svg_out: Option<PathBuf>,
}

/// What a run measured.
pub struct ProduceReport {
    pub messages: u64,
    pub errors: u64,
    pub error_codes: BTreeMap<String, u64>,
    pub elapsed: Duration,
    pub latency_us: Histogram<u64>,
    pub body_bytes: usize,
    /// CPU this process used while sending (warm-up included), and the wall time that took.
    pub client_cpu: Duration,
    pub loaded: Duration,
}

impl ProduceReport {
    pub fn tps(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn result_line(&self) -> String {
        let p = Percentiles::of(&self.latency_us);
        format!(
            "RESULT produce tps={:.0} mb_per_s={:.2} p50_us={} p99_us={} p999_us={} \
             p9999_us={} max_us={} errors={}",
            self.tps(),
            self.tps() * self.body_bytes as f64 / 1e6,
            p.p50,
            p.p99,
            p.p999,
            p.p9999,
            p.max,
            self.errors
        )
    }
}

/// `mqbench produce`: prints the setup, the details, and the RESULT line last.
pub fn run(args: ProduceArgs) -> Result<(), String> {
    if args.engine == Engine::OsThreads && args.mode != SendMode::Sync {
        return Err("--engine os-threads runs --mode sync only".into());
    }
    let serialize_type = args.serialize.serialize_type();
    let create = args.create_topic.then_some(args.queues);
    let mut queues =
        client::resolve_publish_queues(&args.namesrv, &args.topic, create, serialize_type)?;
    if let Some(queue_id) = args.queue_id {
        queues.retain(|at| at.queue.queue_id == queue_id);
        if queues.is_empty() {
            return Err(format!(
                "topic {} has no writable queue {queue_id}",
                args.topic
            ));
        }
    }
    let brokers = broker_addrs(&queues);
    for addr in &brokers {
        let body = client::heartbeat_body(&client::client_id(), Some(&args.group), None);
        if let Err(error) = client::AdminClient::connect(addr, serialize_type)
            .and_then(|mut admin| admin.heartbeat(body))
        {
            eprintln!("mqbench: producer heartbeat to {addr} failed: {error}");
        }
    }
    let duration = match (args.duration_secs, args.count) {
        (Some(seconds), _) => Some(Duration::from_secs_f64(seconds.max(0.001))),
        (None, 0) => Some(Duration::from_secs_f64(DEFAULT_DURATION_SECS)),
        (None, _) => None,
    };
    println!(
        "produce: {} {:?} -w {} ({}), {} B x {} per request, {} queues on {} broker(s), \
         {} connection(s) per broker on {} executor(s), {}{}",
        args.topic,
        args.mode,
        args.threads,
        match args.mode {
            SendMode::Sync => "senders in all",
            SendMode::Async => "in flight per connection",
            SendMode::Oneway => "oneway per barrier",
        },
        args.size,
        args.batch.max(1),
        queues.len(),
        brokers.len(),
        args.connections.max(1),
        args.executors.max(1),
        match (duration, args.count) {
            (Some(d), 0) => format!("{:.1} s", d.as_secs_f64()),
            (Some(d), n) => format!("{n} messages or {:.1} s", d.as_secs_f64()),
            (None, n) => format!("{n} messages"),
        },
        args.rate.map_or(String::new(), |rate| format!(
            ", fixed rate {rate:.0} msgs/s"
        ))
    );
    let live = LiveStats::new();
    let start = Instant::now();
    let plan = Arc::new(Plan {
        spec: SendSpec::new(
            &args.topic,
            &args.group,
            args.size,
            args.tag.clone(),
            args.keys.clone(),
            args.batch,
        ),
        serialize_type,
        timeout: Duration::from_millis(args.timeout_ms.max(1)),
        measure_from: start + Duration::from_secs_f64(args.warmup_secs.max(0.0)),
        stop_at: duration.map(|d| start + d),
        count: args.count,
        issued: AtomicU64::new(0),
        live: live.clone(),
    });
    let progress = ProgressLine::start(live, "produce");
    let cpu_before = histogram::process_cpu();
    let tallies = match args.engine {
        Engine::Glommio => run_glommio(&plan, &args, &queues)?,
        Engine::OsThreads => run_os_threads(&plan, &args, &queues)?,
    };
    let client_cpu = histogram::process_cpu().saturating_sub(cpu_before);
    let loaded = start.elapsed();
    drop(progress);
    let mut report = merge(tallies, plan.measure_from, args.size, client_cpu);
    report.loaded = loaded;
    print_report(&report, &args)?;
    Ok(())
}

fn print_report(report: &ProduceReport, args: &ProduceArgs) -> Result<(), String> {
    let summary = Percentiles::of(&report.latency_us);
    println!(
        "sent {} messages in {:.2} s; {}",
        report.messages,
        report.elapsed.as_secs_f64(),
        summary.describe()
    );
    println!(
        "client_cpu={:.2} s ({:.0}% of one core)",
        report.client_cpu.as_secs_f64(),
        100.0 * report.client_cpu.as_secs_f64() / report.loaded.as_secs_f64().max(1e-9)
    );
    if !report.error_codes.is_empty() {
        println!("errors by kind: {:?}", report.error_codes);
    }
    let title = format!(
        "mqbench produce {} {:?} -w {} -s {} ({:.0} msgs/s)",
        args.topic,
        args.mode,
        args.threads,
        args.size,
        report.tps()
    );
    histogram::write_outputs(
        &report.latency_us,
        args.hist_out.as_deref(),
        args.svg_out.as_deref(),
        &title,
    )?;
    println!("{}", report.result_line());
    Ok(())
}

/// The schedule every sender follows; shared by all executors.
pub(crate) struct Plan {
    pub(crate) spec: SendSpec,
    pub(crate) serialize_type: SerializeType,
    pub(crate) timeout: Duration,
    measure_from: Instant,
    stop_at: Option<Instant>,
    count: u64,
    /// Messages handed out so far (a ticket per request, `batch` messages each).
    issued: AtomicU64,
    live: Arc<LiveStats>,
}

impl Plan {
    /// The sequence number of the next request's first message, or `None` when the run
    /// is over (time is up or every message has been handed out).
    pub(crate) fn take_ticket(&self) -> Option<u64> {
        if self.stop_at.is_some_and(|stop| Instant::now() >= stop) {
            return None;
        }
        let batch = self.spec.batch as u64;
        let first = self.issued.fetch_add(batch, Ordering::Relaxed);
        (self.count == 0 || first < self.count).then_some(first)
    }
}

/// Paces one sender at a fixed interval; without a rate every send is "now".
pub(crate) struct Schedule {
    interval: Option<Duration>,
    next: Instant,
}

impl Schedule {
    /// `share` is this sender's fraction of the total rate.
    fn new(rate: Option<f64>, share: f64, batch: usize, start: Instant) -> Schedule {
        let interval = rate
            .filter(|rate| *rate > 0.0 && share > 0.0)
            .map(|rate| Duration::from_secs_f64(batch as f64 / (rate * share)));
        Schedule {
            interval,
            next: start,
        }
    }

    pub(crate) fn is_paced(&self) -> bool {
        self.interval.is_some()
    }

    /// The intended send time of the next request, after waiting for it to come.
    pub(crate) async fn next_slot(&mut self) -> Instant {
        let Some(interval) = self.interval else {
            return Instant::now();
        };
        let slot = self.next;
        self.next += interval;
        let now = Instant::now();
        if slot > now {
            glommio::timer::sleep(slot - now).await;
        }
        slot
    }

    fn next_slot_blocking(&mut self) -> Instant {
        let Some(interval) = self.interval else {
            return Instant::now();
        };
        let slot = self.next;
        self.next += interval;
        let now = Instant::now();
        if slot > now {
            std::thread::sleep(slot - now);
        }
        slot
    }
}

/// How a request ended.
pub(crate) enum Outcome {
    /// The broker answered with this response code.
    Code(i32),
    Failed(&'static str),
}

/// One executor's (or thread's) counts.
pub(crate) struct Tally {
    messages: u64,
    errors: u64,
    error_codes: BTreeMap<String, u64>,
    latency_us: Histogram<u64>,
    interval_us: Histogram<u64>,
    last_merge: Instant,
    last_done: Option<Instant>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            messages: 0,
            errors: 0,
            error_codes: BTreeMap::new(),
            latency_us: new_latency_histogram(),
            interval_us: new_latency_histogram(),
            last_merge: Instant::now(),
            last_done: None,
        }
    }

    /// Books one request (of `batch` messages) intended at `intended`.
    pub(crate) fn complete(&mut self, plan: &Plan, intended: Instant, outcome: Outcome) {
        let done = Instant::now();
        let batch = plan.spec.batch as u64;
        let live = &plan.live;
        match outcome {
            Outcome::Code(response::SUCCESS) => {
                live.messages.fetch_add(batch, Ordering::Relaxed);
                live.bytes
                    .fetch_add(batch * plan.spec.body_bytes as u64, Ordering::Relaxed);
                if intended >= plan.measure_from {
                    let latency_us = done.duration_since(intended).as_micros() as u64;
                    self.messages += batch;
                    record_us(&mut self.latency_us, latency_us, batch);
                    if live.watched {
                        record_us(&mut self.interval_us, latency_us, batch);
                    }
                    self.last_done = Some(done);
                }
            }
            Outcome::Code(code) => self.error(plan, format!("code {code}")),
            Outcome::Failed(why) => self.error(plan, why.to_owned()),
        }
        if live.watched && self.last_merge.elapsed() >= LIVE_MERGE_INTERVAL {
            live.merge(&mut self.interval_us);
            self.last_merge = Instant::now();
        }
    }

    /// Messages sent oneway: counted, with no latency of their own.
    pub(crate) fn complete_oneway(&mut self, plan: &Plan, intended: Instant) {
        let batch = plan.spec.batch as u64;
        plan.live.messages.fetch_add(batch, Ordering::Relaxed);
        plan.live
            .bytes
            .fetch_add(batch * plan.spec.body_bytes as u64, Ordering::Relaxed);
        if intended >= plan.measure_from {
            self.messages += batch;
            self.last_done = Some(Instant::now());
        }
    }

    fn error(&mut self, plan: &Plan, kind: String) {
        self.errors += 1;
        plan.live.errors.fetch_add(1, Ordering::Relaxed);
        *self.error_codes.entry(kind).or_insert(0) += 1;
    }
}

fn merge(
    tallies: Vec<Tally>,
    measure_from: Instant,
    body_bytes: usize,
    client_cpu: Duration,
) -> ProduceReport {
    let mut report = ProduceReport {
        messages: 0,
        errors: 0,
        error_codes: BTreeMap::new(),
        elapsed: Duration::ZERO,
        latency_us: new_latency_histogram(),
        body_bytes,
        client_cpu,
        loaded: Duration::ZERO,
    };
    let mut last_done = measure_from;
    for tally in tallies {
        report.messages += tally.messages;
        report.errors += tally.errors;
        for (kind, count) in tally.error_codes {
            *report.error_codes.entry(kind).or_insert(0) += count;
        }
        report
            .latency_us
            .add(&tally.latency_us)
            .expect("same bounds");
        last_done = last_done.max(tally.last_done.unwrap_or(measure_from));
    }
    report.elapsed = last_done.saturating_duration_since(measure_from);
    report
}

/// One connection of the run: its broker, its queues, and how many requests it keeps in
/// flight.
#[derive(Clone)]
struct ConnectionPlan {
    addr: String,
    queues: Vec<MessageQueue>,
    window: usize,
}

/// The queues of `queues` that the broker at `addr` serves.
fn queues_at(queues: &[QueueAt], addr: &str) -> Vec<MessageQueue> {
    queues
        .iter()
        .filter(|at| at.addr == addr)
        .map(|at| at.queue.clone())
        .collect()
}

/// `--connections` per broker. In sync mode the `-w` senders are spread over them (a
/// connection with k senders keeps k requests in flight); otherwise each gets the window.
fn connection_plans(args: &ProduceArgs, queues: &[QueueAt]) -> Vec<ConnectionPlan> {
    let per_broker = args.connections.max(1);
    let mut plans = Vec::new();
    for addr in broker_addrs(queues) {
        let broker_queues = queues_at(queues, &addr);
        for _ in 0..per_broker {
            plans.push(ConnectionPlan {
                addr: addr.clone(),
                queues: broker_queues.clone(),
                window: args.threads.max(1),
            });
        }
    }
    if args.mode == SendMode::Sync {
        let count = plans.len();
        for plan in &mut plans {
            plan.window = 0;
        }
        for sender in 0..args.threads.max(1) {
            plans[sender % count].window += 1;
        }
        plans.retain(|plan| plan.window > 0);
    }
    plans
}

fn run_glommio(
    plan: &Arc<Plan>,
    args: &ProduceArgs,
    queues: &[QueueAt],
) -> Result<Vec<Tally>, String> {
    let connections = connection_plans(args, queues);
    let executors = args.executors.max(1).min(connections.len());
    // Each connection's share of a fixed rate: by senders in sync mode, else equal.
    let window_total: usize = connections.iter().map(|c| c.window).sum();
    let connection_count = connections.len();
    let io_memory = ramjet_net::server::ShardConfig::new("mqbench", executors).io_memory_bytes;
    let start = Instant::now();
    let mut handles = Vec::new();
    for executor in 0..executors {
        let mine: Vec<(usize, ConnectionPlan)> = connections
            .iter()
            .cloned()
            .enumerate()
            .filter(|(index, _)| index % executors == executor)
            .collect();
        let plan = plan.clone();
        let (rate, mode, burst) = (args.rate, args.mode, args.threads.max(1));
        let mut builder = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .name("mqbench-produce")
            .io_memory(io_memory);
        if args.spin_us > 0 {
            builder = builder.spin_before_park(Duration::from_micros(args.spin_us));
        }
        let handle = builder
            .spawn(move || async move {
                let tally = Rc::new(RefCell::new(Tally::new()));
                let mut tasks = Vec::new();
                for (index, connection) in mine {
                    let share = if mode == SendMode::Sync {
                        connection.window as f64 / window_total.max(1) as f64
                    } else {
                        1.0 / connection_count as f64
                    };
                    let lane = LaneSpec {
                        addr: connection.addr,
                        queues: connection.queues,
                        window: if mode == SendMode::Oneway {
                            1
                        } else {
                            connection.window
                        },
                        oneway_burst: (mode == SendMode::Oneway).then_some(burst),
                        schedule: Schedule::new(rate, share, plan.spec.batch, start),
                        salt: index as u32,
                    };
                    tasks.push(glommio::spawn_local(run_lane(
                        plan.clone(),
                        lane,
                        tally.clone(),
                    )));
                }
                let mut failures = Vec::new();
                for task in tasks {
                    if let Err(error) = task.await {
                        failures.push(error);
                    }
                }
                let tally = std::mem::replace(&mut *tally.borrow_mut(), Tally::new());
                (tally, failures)
            })
            .map_err(|e| format!("cannot start a client executor: {e}"))?;
        handles.push(handle);
    }
    let mut tallies = Vec::new();
    for handle in handles {
        let (tally, failures) = handle
            .join()
            .map_err(|e| format!("client executor failed: {e}"))?;
        for failure in failures {
            eprintln!("mqbench: {failure}");
        }
        tallies.push(tally);
    }
    Ok(tallies)
}

/// Sync mode on OS threads: each sender owns a blocking connection to one broker and
/// encodes with the general encoder.
fn run_os_threads(
    plan: &Arc<Plan>,
    args: &ProduceArgs,
    queues: &[QueueAt],
) -> Result<Vec<Tally>, String> {
    let senders = args.threads.max(1);
    let start = Instant::now();
    let mut handles = Vec::new();
    for sender in 0..senders {
        let addr = queues[sender % queues.len()].addr.clone();
        let broker_queues = queues_at(queues, &addr);
        let plan = plan.clone();
        let mut schedule = Schedule::new(args.rate, 1.0 / senders as f64, plan.spec.batch, start);
        handles.push(std::thread::spawn(move || -> Result<Tally, String> {
            let mut connection =
                BlockingClient::connect(&addr, plan.timeout).map_err(|e| e.to_string())?;
            let mut ids = UniqKeyGenerator::new(client::LOOPBACK, sender as u32);
            let mut tally = Tally::new();
            let mut next_queue = sender;
            while let Some(sequence) = plan.take_ticket() {
                let intended = schedule.next_slot_blocking();
                let queue = &broker_queues[next_queue % broker_queues.len()];
                next_queue += 1;
                let request = plan
                    .spec
                    .request(queue, &mut ids, sequence, plan.serialize_type);
                let outcome = match connection.invoke(request, plan.timeout) {
                    Ok(answer) => Outcome::Code(answer.code),
                    Err(InvokeError::Timeout { .. }) => Outcome::Failed("timeout"),
                    Err(_) => Outcome::Failed("connection closed"),
                };
                let closed = matches!(outcome, Outcome::Failed("connection closed"));
                tally.complete(&plan, intended, outcome);
                if closed {
                    break;
                }
            }
            Ok(tally)
        }));
    }
    let mut tallies = Vec::new();
    for handle in handles {
        match handle.join() {
            Ok(Ok(tally)) => tallies.push(tally),
            Ok(Err(error)) => eprintln!("mqbench: sender thread: {error}"),
            Err(_) => return Err("a sender thread panicked".into()),
        }
    }
    Ok(tallies)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed-rate schedule is free of coordinated omission: a sender that fell behind
    /// (here: started 50 ms late) gets the slots it missed, each still stamped with its
    /// planned time, so the wait counts as latency instead of the schedule moving on.
    #[test]
    fn late_sender_keeps_its_planned_slots() {
        let interval = Duration::from_millis(1);
        let start = Instant::now() - Duration::from_millis(50);
        let mut schedule = Schedule::new(Some(1000.0), 1.0, 1, start);
        let began = Instant::now();
        for slot in 0..40u32 {
            assert_eq!(schedule.next_slot_blocking(), start + interval * slot);
        }
        // The missed slots were handed out at once, not paced again from "now".
        assert!(began.elapsed() < Duration::from_millis(30));
    }

    #[test]
    fn batches_and_shares_stretch_the_interval() {
        let start = Instant::now();
        // 1000 msgs/s overall, this sender has a quarter of it, 5 messages per request:
        // one request every 20 ms.
        let mut schedule = Schedule::new(Some(1000.0), 0.25, 5, start);
        assert_eq!(schedule.next_slot_blocking(), start);
        assert_eq!(
            schedule.next_slot_blocking(),
            start + Duration::from_millis(20)
        );
        assert!(!Schedule::new(None, 1.0, 1, start).is_paced());
    }
}

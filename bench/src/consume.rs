//! `mqbench consume`: pull every queue of a topic as fast as the broker answers.
//!
//! A pull consumer the way RocketMQ's are built: HEART_BEAT to each broker (so the broker
//! knows the group), then one PULL_MESSAGE in flight per queue at a time, each carrying its
//! own subscription (`*`, a TAG expression with `--tag`, or an SQL92 expression with `--sql`,
//! which the broker evaluates on every record's properties) and committing the offset reached so far, following
//! `nextBeginOffset` from every answer (FOUND, NO_NEW_MSG, NO_MATCHED_MSG, OFFSET_MOVED).
//! All queues pull at once, spread over `--connections` per broker on one glommio executor,
//! so a topic with Q queues keeps Q pulls in flight. Queues start at offset 0 (`--from
//! first`), at the group's committed offset, or at the end (`--from last`, to follow a live
//! producer).
//!
//! By default it drains a backlog: a queue stops once a pull finds nothing new (pulls do
//! not long-poll), and the run ends when every queue is caught up, after `--count`
//! messages or after `--duration` seconds, whichever comes first. With `--follow` pulls
//! long-poll for new messages until `--count` or `--duration` (or `--idle-secs` without
//! a message). The final offsets are committed with UPDATE_CONSUMER_OFFSET.
//!
//! End-to-end latency per message is receive time minus send time: mqbench's producer
//! stamps microseconds into the body; other messages fall back to the millisecond
//! `bornTimestamp` of the stored record. The last line is `RESULT consume tps=..
//! mb_per_s=.. e2e_p50_us=.. e2e_p99_us=..` (MB = 10^6 bytes of message bodies).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ramjet_net::code::response;
use ramjet_net::server::{Connection, InvokeError};
use ramjet_net::SerializeType;

use crate::histogram::{
    self, new_latency_histogram, record_us, LiveStats, Percentiles, ProgressLine,
    LIVE_MERGE_INTERVAL,
};
use ramjet_net::client::queues::broker_addrs;
use ramjet_net::client::{requests, subscribe_queues, QueueAt};

use crate::rocketmq_client::{self as client, HeaderFormat, PullSpec};

/// Pause after an unexpected answer before pulling that queue again.
const ERROR_BACKOFF: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StartFrom {
    /// Offset 0 of every queue.
    First,
    /// The group's committed offset (0 where it has none).
    Committed,
    /// The current end of every queue: only messages produced from now on.
    Last,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ConsumeArgs {
    /// Name server address, host:port.
    #[arg(short = 'n', long = "namesrv", default_value = "127.0.0.1:9876")]
    pub namesrv: String,
    #[arg(short = 't', long = "topic", default_value = "BenchmarkTest")]
    pub topic: String,
    #[arg(short = 'g', long = "group", default_value = "mqbench_consumer")]
    pub group: String,
    /// Stop after this many messages (0: no limit).
    #[arg(long = "count", default_value_t = 0)]
    pub count: u64,
    /// Stop after this many seconds.
    #[arg(long = "duration")]
    pub duration_secs: Option<f64>,
    /// Keep long-polling for new messages instead of stopping once caught up.
    #[arg(long = "follow")]
    pub follow: bool,
    #[arg(long = "from", value_enum, default_value_t = StartFrom::First)]
    pub from: StartFrom,
    /// Subscribe with this TAG expression (`TagA || TagB`) instead of `*`.
    #[arg(long = "tag", conflicts_with = "sql")]
    pub tag: Option<String>,
    /// Subscribe with this SQL92 expression (`a BETWEEN 1 AND 3`, `TAGS = 'TagA'`); the
    /// broker needs `enablePropertyFilter=true`.
    #[arg(long = "sql")]
    pub sql: Option<String>,
    /// maxMsgNums of each pull (brokers cap it, Java's at 32).
    #[arg(long = "pull-batch", default_value_t = 32)]
    pub pull_batch: i32,
    /// Long-polling hold of a caught-up pull, when the run waits for new messages.
    #[arg(long = "suspend-ms", default_value_t = 1000)]
    pub suspend_ms: u64,
    /// With --follow: give up after this long without a message.
    #[arg(long = "idle-secs", default_value_t = 10.0)]
    pub idle_secs: f64,
    /// TCP connections per broker; queues are spread over them.
    #[arg(long = "connections", default_value_t = 2)]
    pub connections: usize,
    /// Decode every record fully and check its body CRC (slower).
    #[arg(long = "verify")]
    pub verify: bool,
    #[arg(long = "serialize", value_enum, default_value_t = HeaderFormat::Json)]
    pub serialize: HeaderFormat,
    /// A pull unanswered this long past its long-polling hold counts as an error.
    #[arg(long = "timeout-ms", default_value_t = 5000)]
    pub timeout_ms: u64,
    /// Write the end-to-end latency percentile distribution (values in ms) here.
    #[arg(long = "hist-out")]
    pub hist_out: Option<PathBuf>,
    /// Write an SVG plot of end-to-end latency by percentile here.
    #[arg(long = "svg-out")]
    pub svg_out: Option<PathBuf>,
}

/// What a run measured.
pub struct ConsumeReport {
    pub messages: u64,
    pub body_bytes: u64,
    pub errors: u64,
    pub error_codes: BTreeMap<String, u64>,
    pub elapsed: Duration,
    pub e2e_us: Histogram<u64>,
    pub pull_us: Histogram<u64>,
    pub pulls: u64,
    /// CPU this process used while pulling, and the wall time that took.
    pub client_cpu: Duration,
    pub loaded: Duration,
}

impl ConsumeReport {
    pub fn tps(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn result_line(&self) -> String {
        let e2e = Percentiles::of(&self.e2e_us);
        format!(
            "RESULT consume tps={:.0} mb_per_s={:.2} e2e_p50_us={} e2e_p99_us={}",
            self.tps(),
            self.body_bytes as f64 / self.elapsed.as_secs_f64().max(1e-9) / 1e6,
            e2e.p50,
            e2e.p99
        )
    }
}

/// `mqbench consume`: prints the setup, the details, and the RESULT line last.
pub fn run(args: ConsumeArgs) -> Result<(), String> {
    let serialize_type = args.serialize.serialize_type();
    let mut namesrv = client::AdminClient::connect(&args.namesrv, serialize_type)?;
    let route = namesrv
        .route(&args.topic)?
        .ok_or_else(|| format!("topic {} has no route on {}", args.topic, args.namesrv))?;
    let queues = subscribe_queues(&route, &args.topic);
    if queues.is_empty() {
        return Err(format!("topic {} has no readable queue", args.topic));
    }
    let sub_version = client::now_ms();
    let mut starts = Vec::new();
    for addr in broker_addrs(&queues) {
        let mut broker = client::AdminClient::connect(&addr, serialize_type)?;
        let body = client::heartbeat_body(
            &client::client_id(),
            None,
            Some((&args.group, &args.topic, sub_version)),
        );
        broker.heartbeat(body)?;
        for at in queues.iter().filter(|at| at.addr == addr) {
            let offset = match args.from {
                StartFrom::First => 0,
                StartFrom::Committed => {
                    broker.consumer_offset(&args.group, &at.queue)?.unwrap_or(0)
                }
                StartFrom::Last => broker.max_offset(&at.queue)?,
            };
            starts.push((at.clone(), offset));
        }
    }
    let drain = !args.follow;
    let suspend_ms = if drain { 0 } else { args.suspend_ms as i64 };
    let subscription = match (&args.tag, &args.sql) {
        (_, Some(sql)) => Subscription {
            expression_type: "SQL92",
            expression: sql.clone(),
        },
        (Some(tag), None) => Subscription {
            expression_type: "TAG",
            expression: tag.clone(),
        },
        (None, None) => Subscription {
            expression_type: "TAG",
            expression: "*".into(),
        },
    };
    println!(
        "consume: {} group {} ({} {}) from {:?}, {} queues on {} broker(s), {} connection(s) \
         per broker, pull batch {}, {}",
        args.topic,
        args.group,
        subscription.expression_type,
        subscription.expression,
        args.from,
        queues.len(),
        broker_addrs(&queues).len(),
        args.connections.max(1),
        args.pull_batch,
        match (args.follow, args.count, args.duration_secs) {
            (false, 0, None) => "until every queue is caught up".to_owned(),
            (false, n, s) => format!(
                "until caught up{}{}",
                if n > 0 {
                    format!(", {n} messages")
                } else {
                    String::new()
                },
                s.map_or(String::new(), |s| format!(", {s:.1} s"))
            ),
            (true, 0, None) => format!("following, until {} s idle", args.idle_secs),
            (true, n, s) => format!(
                "following{}{}",
                if n > 0 {
                    format!(", {n} messages")
                } else {
                    String::new()
                },
                s.map_or(String::new(), |s| format!(", {s:.1} s"))
            ),
        }
    );
    let live = LiveStats::new();
    let start = Instant::now();
    let plan = Arc::new(ConsumePlan {
        pull: PullSpec {
            group: args.group.clone(),
            max_msg_nums: args.pull_batch.max(1),
            suspend_ms,
            sub_version,
        },
        subscription,
        serialize_type,
        timeout: Duration::from_millis(args.timeout_ms.max(1) + suspend_ms as u64),
        stop_at: args
            .duration_secs
            .map(|s| start + Duration::from_secs_f64(s)),
        count: args.count,
        drain,
        idle: Duration::from_secs_f64(args.idle_secs.max(0.1)),
        verify: args.verify,
        start,
        received: AtomicU64::new(0),
        last_message_us: AtomicU64::new(0),
        stopped: AtomicBool::new(false),
        live: live.clone(),
    });
    let progress = ProgressLine::start(live, "consume");
    let cpu_before = histogram::process_cpu();
    let tally = run_executor(plan.clone(), starts, args.connections.max(1))?;
    let client_cpu = histogram::process_cpu().saturating_sub(cpu_before);
    let loaded = start.elapsed();
    drop(progress);
    let report = ConsumeReport {
        messages: tally.messages,
        body_bytes: tally.body_bytes,
        errors: tally.errors,
        error_codes: tally.error_codes,
        elapsed: tally
            .last_message
            .map_or(Duration::ZERO, |last| last.saturating_duration_since(start)),
        e2e_us: tally.e2e_us,
        pull_us: tally.pull_us,
        pulls: tally.pulls,
        client_cpu,
        loaded,
    };
    print_report(&report, &args)
}

fn print_report(report: &ConsumeReport, args: &ConsumeArgs) -> Result<(), String> {
    println!(
        "received {} messages ({} pulls) in {:.2} s; end-to-end {}",
        report.messages,
        report.pulls,
        report.elapsed.as_secs_f64(),
        Percentiles::of(&report.e2e_us).describe()
    );
    println!(
        "pull round trip {}",
        Percentiles::of(&report.pull_us).describe()
    );
    println!(
        "client_cpu={:.2} s ({:.0}% of one core), errors={}",
        report.client_cpu.as_secs_f64(),
        100.0 * report.client_cpu.as_secs_f64() / report.loaded.as_secs_f64().max(1e-9),
        report.errors
    );
    if !report.error_codes.is_empty() {
        println!("errors by kind: {:?}", report.error_codes);
    }
    let title = format!(
        "mqbench consume {} end-to-end ({:.0} msgs/s)",
        args.topic,
        report.tps()
    );
    histogram::write_outputs(
        &report.e2e_us,
        args.hist_out.as_deref(),
        args.svg_out.as_deref(),
        &title,
    )?;
    println!("{}", report.result_line());
    Ok(())
}

/// What every pull subscribes with (carried in the pull header).
struct Subscription {
    expression_type: &'static str,
    expression: String,
}

struct ConsumePlan {
    pull: PullSpec,
    subscription: Subscription,
    serialize_type: SerializeType,
    timeout: Duration,
    stop_at: Option<Instant>,
    count: u64,
    /// Stop each queue once it is caught up (no `--follow`).
    drain: bool,
    idle: Duration,
    verify: bool,
    start: Instant,
    received: AtomicU64,
    /// Microseconds after `start` of the newest message, for the idle check.
    last_message_us: AtomicU64,
    stopped: AtomicBool,
    live: Arc<LiveStats>,
}

impl ConsumePlan {
    fn done(&self) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return true;
        }
        let over = self.stop_at.is_some_and(|stop| Instant::now() >= stop)
            || (self.count > 0 && self.received.load(Ordering::Relaxed) >= self.count)
            || (!self.drain && self.stop_at.is_none() && self.idle_too_long());
        if over {
            self.stopped.store(true, Ordering::Relaxed);
        }
        over
    }

    fn idle_too_long(&self) -> bool {
        let last = Duration::from_micros(self.last_message_us.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last) > self.idle
    }
}

struct Tally {
    messages: u64,
    body_bytes: u64,
    pulls: u64,
    errors: u64,
    error_codes: BTreeMap<String, u64>,
    e2e_us: Histogram<u64>,
    interval_us: Histogram<u64>,
    pull_us: Histogram<u64>,
    last_merge: Instant,
    last_message: Option<Instant>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            messages: 0,
            body_bytes: 0,
            pulls: 0,
            errors: 0,
            error_codes: BTreeMap::new(),
            e2e_us: new_latency_histogram(),
            interval_us: new_latency_histogram(),
            pull_us: new_latency_histogram(),
            last_merge: Instant::now(),
            last_message: None,
        }
    }

    fn error(&mut self, plan: &ConsumePlan, kind: String) {
        self.errors += 1;
        plan.live.errors.fetch_add(1, Ordering::Relaxed);
        *self.error_codes.entry(kind).or_insert(0) += 1;
    }
}

fn run_executor(
    plan: Arc<ConsumePlan>,
    starts: Vec<(QueueAt, i64)>,
    connections_per_broker: usize,
) -> Result<Tally, String> {
    let io_memory = ramjet_net::server::ShardConfig::new("mqbench", 1).io_memory_bytes;
    let handle = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .name("mqbench-consume")
        .io_memory(io_memory)
        .spawn(move || async move {
            let tally = Rc::new(RefCell::new(Tally::new()));
            let mut connections: BTreeMap<(String, usize), Rc<Connection>> = BTreeMap::new();
            let mut tasks = Vec::new();
            for (index, (at, offset)) in starts.into_iter().enumerate() {
                let key = (at.addr.clone(), index % connections_per_broker);
                let connection = match connections.get(&key) {
                    Some(connection) => connection.clone(),
                    None => {
                        let connection = ramjet_net::client::connect(&key.0, plan.timeout)
                            .await
                            .map_err(|e| e.to_string())?;
                        connections.insert(key, connection.clone());
                        connection
                    }
                };
                tasks.push(glommio::spawn_local(pull_queue(
                    plan.clone(),
                    connection,
                    at.queue,
                    offset,
                    tally.clone(),
                )));
            }
            for task in tasks {
                task.await;
            }
            for connection in connections.values() {
                connection.close();
            }
            Ok::<Tally, String>(
                Rc::try_unwrap(tally)
                    .ok()
                    .expect("every queue task has finished")
                    .into_inner(),
            )
        })
        .map_err(|e| format!("cannot start the consumer executor: {e}"))?;
    handle
        .join()
        .map_err(|e| format!("consumer executor failed: {e}"))?
}

/// Pulls one queue until the plan says stop, then commits the offset reached.
async fn pull_queue(
    plan: Arc<ConsumePlan>,
    connection: Rc<Connection>,
    queue: ramjet_net::body::MessageQueue,
    mut offset: i64,
    tally: Rc<RefCell<Tally>>,
) {
    while !plan.done() {
        let mut request = plan.pull.request(&queue, offset, plan.serialize_type);
        let fields = request.ext_fields_mut();
        fields.insert("subscription", plan.subscription.expression.as_str());
        fields.insert("expressionType", plan.subscription.expression_type);
        let sent = Instant::now();
        let answer = match connection.invoke(request, plan.timeout).await {
            Ok(answer) => answer,
            Err(InvokeError::Timeout { .. }) => {
                tally.borrow_mut().error(&plan, "timeout".into());
                continue;
            }
            Err(error) => {
                tally.borrow_mut().error(&plan, error.to_string());
                return;
            }
        };
        let pull_us = sent.elapsed().as_micros() as u64;
        let header = match answer.code {
            response::SUCCESS
            | response::PULL_NOT_FOUND
            | response::PULL_RETRY_IMMEDIATELY
            | response::PULL_OFFSET_MOVED => match requests::read_pull_header(&answer) {
                Ok(header) => header,
                Err(error) => {
                    tally
                        .borrow_mut()
                        .error(&plan, format!("bad pull header: {error}"));
                    glommio::timer::sleep(ERROR_BACKOFF).await;
                    continue;
                }
            },
            code if refused(&answer) => {
                // The subscription is refused (a bad expression, or SQL92 switched off):
                // every further pull would be too.
                let remark = answer.remark.clone().unwrap_or_default();
                tally
                    .borrow_mut()
                    .error(&plan, format!("code {code}: {remark}"));
                plan.stopped.store(true, Ordering::Relaxed);
                break;
            }
            code => {
                tally.borrow_mut().error(&plan, format!("code {code}"));
                glommio::timer::sleep(ERROR_BACKOFF).await;
                continue;
            }
        };
        let caught_up = answer.code == response::PULL_NOT_FOUND;
        offset = book_answer(
            &plan,
            &mut tally.borrow_mut(),
            &answer,
            &header,
            offset,
            pull_us,
        );
        if caught_up && plan.drain {
            break;
        }
        // A long run of answers ready at once must not starve the other queues' tasks.
        glommio::yield_if_needed().await;
    }
    let commit = requests::as_java_client(
        requests::update_consumer_offset(&plan.pull.group, &queue, offset),
        plan.serialize_type,
    );
    match connection.invoke(commit, plan.timeout).await {
        Ok(answer) if answer.code == response::SUCCESS => {}
        Ok(answer) => eprintln!(
            "mqbench: committing offset {offset} of queue {}: code {}",
            queue.queue_id, answer.code
        ),
        Err(error) => eprintln!(
            "mqbench: committing offset of queue {}: {error}",
            queue.queue_id
        ),
    }
}

/// A pull answer that refuses the subscription itself, so retrying is pointless.
fn refused(answer: &ramjet_net::RemotingCommand) -> bool {
    answer.code == response::SUBSCRIPTION_PARSE_FAILED
        || (answer.code == response::SYSTEM_ERROR
            && answer
                .remark
                .as_deref()
                .is_some_and(|r| r.contains("does not support consumer to filter")))
}

/// Books one pull answer with a header (codes 0, 19, 20, 21) and returns the next offset.
fn book_answer(
    plan: &ConsumePlan,
    tally: &mut Tally,
    answer: &ramjet_net::RemotingCommand,
    header: &ramjet_net::header::PullMessageResponseHeader,
    offset: i64,
    pull_us: u64,
) -> i64 {
    tally.pulls += 1;
    record_us(&mut tally.pull_us, pull_us, 1);
    let next = match answer.code {
        response::SUCCESS => {
            if let Err(error) = take_records(plan, tally, &answer.body) {
                tally.error(plan, format!("bad pull body: {error}"));
            }
            header.next_begin_offset
        }
        // Caught up: never step backwards on a stale answer.
        response::PULL_NOT_FOUND => header.next_begin_offset.max(offset),
        _ => header.next_begin_offset,
    };
    if plan.live.watched && tally.last_merge.elapsed() >= LIVE_MERGE_INTERVAL {
        plan.live.merge(&mut tally.interval_us);
        tally.last_merge = Instant::now();
    }
    next
}

/// Counts the records of one pull body and their end-to-end latencies.
fn take_records(plan: &ConsumePlan, tally: &mut Tally, body: &[u8]) -> Result<(), String> {
    if plan.verify {
        verify_records(body)?;
    }
    let now_us = client::now_us();
    let (mut messages, mut bytes) = (0u64, 0u64);
    client::scan_records(body, |record| {
        let sent_us = record
            .body_stamp_us
            .unwrap_or((record.born_timestamp_ms.max(0) as u64) * 1000);
        let latency_us = now_us.saturating_sub(sent_us);
        record_us(&mut tally.e2e_us, latency_us, 1);
        if plan.live.watched {
            record_us(&mut tally.interval_us, latency_us, 1);
        }
        messages += 1;
        bytes += record.body_bytes as u64;
    })?;
    tally.messages += messages;
    tally.body_bytes += bytes;
    tally.last_message = Some(Instant::now());
    plan.received.fetch_add(messages, Ordering::Relaxed);
    plan.last_message_us
        .store(plan.start.elapsed().as_micros() as u64, Ordering::Relaxed);
    plan.live.messages.fetch_add(messages, Ordering::Relaxed);
    plan.live.bytes.fetch_add(bytes, Ordering::Relaxed);
    Ok(())
}

/// Full decode of every record, body CRC included, with the store's own decoder.
fn verify_records(mut body: &[u8]) -> Result<(), String> {
    while !body.is_empty() {
        let record = ramjet_store::message::decode_record(body, true).map_err(|e| e.to_string())?;
        body = &body[record.total_size..];
    }
    Ok(())
}

//! `mqbench delay`: how late delay-level messages are delivered.
//!
//! Sends `--count` messages with `DELAY=<level>` as fast as one synchronous producer can
//! (so many come due together), waits until the broker has moved all of them to their real
//! queues, then reads both sides back with pulls: the parked copy in
//! `SCHEDULE_TOPIC_XXXX` (queue level - 1) gives each message's due time (its store
//! timestamp + the level's delay, `--delay-ms`), the delivered copy on the topic gives the
//! time it was stored there. Lateness = delivered store time - due time, in the broker's
//! milliseconds (both stamps come from the same clock). The last line is
//! `RESULT delay count=.. lateness_p50_ms=.. lateness_p99_ms=.. lateness_max_ms=.. early=..`
//! (`early` counts deliveries before their due time: must be 0).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ramjet_net::body::MessageQueue;
use ramjet_net::client::requests::{
    self, properties_text, read_pull_header, PullRequest, PullStatus, SendRequest,
};
use ramjet_net::client::UniqKeyGenerator;
use ramjet_net::code::response;
use ramjet_net::SerializeType;
use ramjet_store::message::record::decode_record;

use crate::rocketmq_client::{self as client, AdminClient, LOOPBACK};

const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
const PULL_BATCH: i32 = 256;

#[derive(Debug, Clone, clap::Args)]
pub struct DelayArgs {
    /// Name server address, host:port.
    #[arg(short = 'n', long = "namesrv", default_value = "127.0.0.1:9876")]
    namesrv: String,
    #[arg(short = 't', long, default_value = "DelayBench")]
    topic: String,
    /// Messages to send.
    #[arg(short = 'c', long, default_value_t = 3000)]
    count: usize,
    /// Delay level of every message.
    #[arg(short = 'l', long, default_value_t = 1)]
    level: i32,
    /// The level's delay in the broker's messageDelayLevel (level 1 of the default: 1 s).
    #[arg(long, default_value_t = 1000)]
    delay_ms: i64,
    /// Body bytes per message.
    #[arg(short = 's', long, default_value_t = 128)]
    size: usize,
    /// Give up waiting for deliveries this long after the last send.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
}

pub fn run(args: DelayArgs) -> Result<(), String> {
    let serialize = SerializeType::Json;
    let queues = client::resolve_publish_queues(&args.namesrv, &args.topic, Some(4), serialize)?;
    let broker = queues[0].clone();
    let mut admin = AdminClient::connect(&broker.addr, serialize)?;
    let broker_name = broker.queue.broker_name.clone();
    let schedule = MessageQueue::new(SCHEDULE_TOPIC, &broker_name, args.level - 1);
    let topic_queues: Vec<MessageQueue> = queues
        .iter()
        .filter(|at| at.addr == broker.addr)
        .map(|at| at.queue.clone())
        .collect();
    let schedule_start = admin.max_offset(&schedule)?;
    let mut topic_start = Vec::new();
    for queue in &topic_queues {
        topic_start.push(admin.max_offset(queue)?);
    }

    let mut ids = UniqKeyGenerator::new(LOOPBACK, std::process::id());
    let body = vec![b'd'; args.size];
    let level = args.level.to_string();
    let started = Instant::now();
    for index in 0..args.count {
        let queue = &topic_queues[index % topic_queues.len()];
        let id = ids.next_id();
        let properties = properties_text(&[
            ("DELAY", level.as_str()),
            ("UNIQ_KEY", id.as_str()),
            ("WAIT", "true"),
        ]);
        let request = requests::send_message(SendRequest {
            producer_group: "mqbench_delay",
            queue,
            properties,
            body: body.clone(),
            batch: false,
            born_timestamp_ms: client::now_ms(),
        });
        let answer = admin.invoke(requests::as_java_client(request, serialize))?;
        if answer.code != response::SUCCESS {
            return Err(format!(
                "send #{index}: code {} {:?}",
                answer.code,
                answer.remark.unwrap_or_default()
            ));
        }
    }
    let send_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "mqbench: sent {} level-{} messages in {send_secs:.2} s ({:.0}/s)",
        args.count,
        args.level,
        args.count as f64 / send_secs
    );

    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    loop {
        let mut delivered = 0;
        for (queue, start) in topic_queues.iter().zip(&topic_start) {
            delivered += admin.max_offset(queue)? - start;
        }
        if delivered as usize >= args.count {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "only {delivered} of {} delivered in time",
                args.count
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let parked = store_times(&mut admin, &schedule, schedule_start)?;
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000, 3).expect("bounds");
    let (mut early, mut matched) = (0u64, 0u64);
    for (queue, start) in topic_queues.iter().zip(&topic_start) {
        for (id, delivered_at) in store_times(&mut admin, queue, *start)? {
            let Some(parked_at) = parked.get(&id) else {
                continue;
            };
            matched += 1;
            let lateness = delivered_at - (parked_at + args.delay_ms);
            if lateness < 0 {
                early += 1;
            }
            // 1 ms floor: the histogram's lowest bucket (stamps are whole milliseconds).
            histogram
                .record(lateness.clamp(1, 3_600_000) as u64)
                .expect("clamped");
        }
    }
    let q = |quantile: f64| histogram.value_at_quantile(quantile);
    eprintln!(
        "mqbench: lateness over {matched} deliveries (ms, 1 = on time to the ms): p50={} p90={} p99={} p99.9={} max={} early={early}",
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        histogram.max()
    );
    println!(
        "RESULT delay count={matched} level={} delay_ms={} lateness_p50_ms={} lateness_p90_ms={} lateness_p99_ms={} lateness_max_ms={} early={early}",
        args.level,
        args.delay_ms,
        q(0.5),
        q(0.9),
        q(0.99),
        histogram.max()
    );
    if matched as usize != args.count {
        return Err(format!("matched {matched} of {} messages", args.count));
    }
    Ok(())
}

/// UNIQ_KEY -> store timestamp of every record of `queue` from `start` to its end.
fn store_times(
    admin: &mut AdminClient,
    queue: &MessageQueue,
    start: i64,
) -> Result<HashMap<String, i64>, String> {
    let mut times = HashMap::new();
    let mut offset = start;
    loop {
        let request = requests::pull_message(&PullRequest {
            group: "mqbench_delay_reader",
            queue,
            queue_offset: offset,
            max_msg_nums: PULL_BATCH,
            suspend_ms: 0,
            commit_offset: None,
            subscription: "*",
            sub_version: 0,
        });
        let answer = admin.invoke(requests::as_java_client(request, SerializeType::Json))?;
        match PullStatus::of(answer.code) {
            Some(PullStatus::Found) => {}
            Some(_) => return Ok(times),
            None => {
                return Err(format!(
                    "pull {}:{}: code {} {:?}",
                    queue.topic,
                    queue.queue_id,
                    answer.code,
                    answer.remark.unwrap_or_default()
                ))
            }
        }
        let header = read_pull_header(&answer)?;
        let mut bytes = &answer.body[..];
        while !bytes.is_empty() {
            let record = decode_record(bytes, false).map_err(|e| e.to_string())?;
            if let Some(id) = record.message.properties.get("UNIQ_KEY") {
                times.insert(id.to_owned(), record.stamp.store_timestamp);
            }
            bytes = &bytes[record.total_size..];
        }
        if header.next_begin_offset <= offset {
            return Ok(times);
        }
        offset = header.next_begin_offset;
    }
}

//! `mqbench timer`: timer messages (docs/timer.md) with a million pending.
//!
//! 1. The wheel alone (`ramjet_core::timer::wheel::TimerWheel`, the structure the broker
//!    uses): insert `--count` entries due over `--window-secs`, measure the cost of a tick
//!    while all are pending and nothing fires, then advance through the window in 10 ms
//!    ticks firing them all. Reports entries scheduled and fired per second and the
//!    process's RSS growth.
//! 2. With `--broker host:port`, end to end through a real broker: `--threads` blocking
//!    connections send `--count` messages with TIMER_DELIVER_MS, all due at one instant
//!    after the sends; then GET_MAX_OFFSET on the real topic's queues counts deliveries.
//!    Reports timer messages accepted per second, delivered per second, and the broker's
//!    RSS (`--broker-pid`) with all of them pending and after delivery.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ramjet_core::timer::wheel::{TimerEntry, TimerWheel};
use ramjet_net::body::MessageQueue;
use ramjet_net::client::blocking::BlockingClient;
use ramjet_net::client::requests::{
    get_max_offset, properties_text, read_offset, send_message, SendRequest,
};
use ramjet_net::code::response;

#[derive(Debug, Clone, clap::Args)]
pub struct TimerBenchArgs {
    /// Timer messages pending at once.
    #[arg(long = "count", default_value_t = 1_000_000)]
    pub count: u64,
    /// Wheel benchmark: deliver times spread over this many seconds.
    #[arg(long = "window-secs", default_value_t = 60)]
    pub window_secs: u64,
    /// End to end: the broker to send to (skipped when absent).
    #[arg(long = "broker")]
    pub broker: Option<String>,
    #[arg(long = "broker-name", default_value = "broker-a")]
    pub broker_name: String,
    /// End to end: the broker's process id, for its RSS.
    #[arg(long = "broker-pid")]
    pub broker_pid: Option<u32>,
    #[arg(short = 't', long = "topic", default_value = "TimerBench")]
    pub topic: String,
    /// Queues of the topic (auto-creation from TBW102 makes 4).
    #[arg(long = "queues", default_value_t = 4)]
    pub queues: i32,
    #[arg(short = 'w', long = "threads", default_value_t = 16)]
    pub threads: usize,
    #[arg(short = 's', long = "size", default_value_t = 128)]
    pub size: usize,
    /// End to end: seconds after the start at which every message is due (must exceed the
    /// time the sends take, so all are pending at once).
    #[arg(long = "deliver-after-secs", default_value_t = 60)]
    pub deliver_after_secs: u64,
}

pub fn run(args: TimerBenchArgs) -> Result<(), String> {
    let wheel = wheel_bench(&args);
    let mut result = format!(
        "RESULT timer wheel_count={} wheel_schedule_per_s={:.0} wheel_idle_tick_us={:.2} wheel_fire_per_s={:.0} wheel_rss_mib={:.1}",
        args.count, wheel.schedule_per_s, wheel.idle_tick_us, wheel.fire_per_s, wheel.rss_mib
    );
    if let Some(broker) = &args.broker {
        let e2e = broker_bench(&args, broker)?;
        result.push_str(&format!(
            " e2e_count={} e2e_schedule_per_s={:.0} e2e_deliver_per_s={:.0} e2e_first_delivery_late_ms={} broker_rss_pending_mib={} broker_rss_after_mib={}",
            e2e.count,
            e2e.schedule_per_s,
            e2e.deliver_per_s,
            e2e.first_late_ms,
            e2e.rss_pending.map_or("-".into(), |r| format!("{r:.0}")),
            e2e.rss_after.map_or("-".into(), |r| format!("{r:.0}")),
        ));
    }
    println!("{result}");
    Ok(())
}

struct WheelReport {
    schedule_per_s: f64,
    idle_tick_us: f64,
    fire_per_s: f64,
    rss_mib: f64,
}

fn rss_mib(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn wheel_bench(args: &TimerBenchArgs) -> WheelReport {
    let start_ms = 1_800_000_000_000i64;
    let window_ms = (args.window_secs.max(1) * 1000) as i64;
    let rss_before = rss_mib("self").unwrap_or(0.0);
    let mut wheel = TimerWheel::new(10, start_ms);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let began = Instant::now();
    for index in 0..args.count {
        // xorshift: deliver times spread over the window, starting 1 s ahead.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        wheel.insert(TimerEntry {
            deliver_ms: start_ms + 1000 + (seed % window_ms as u64) as i64,
            commit_log_offset: index as i64 * 300,
            size: 300,
            queue_offset_low: index as u32,
        });
    }
    let insert = began.elapsed();
    let rss_mib = rss_mib("self").unwrap_or(0.0) - rss_before;
    // Ticks with every entry pending and none due.
    let mut fired = Vec::new();
    let began = Instant::now();
    let idle_ticks = 90;
    for tick in 1..=idle_ticks {
        wheel.advance(start_ms + tick * 10, &mut fired);
    }
    let idle_tick_us = began.elapsed().as_secs_f64() * 1e6 / idle_ticks as f64;
    assert!(fired.is_empty());
    let began = Instant::now();
    let mut now = start_ms + idle_ticks * 10;
    let mut total = 0u64;
    while now <= start_ms + 1000 + window_ms {
        now += 10;
        wheel.advance(now, &mut fired);
        total += fired.len() as u64;
        fired.clear();
    }
    let fire = began.elapsed();
    assert_eq!(total, args.count, "every entry fires once");
    let report = WheelReport {
        schedule_per_s: args.count as f64 / insert.as_secs_f64(),
        idle_tick_us,
        fire_per_s: args.count as f64 / fire.as_secs_f64(),
        rss_mib,
    };
    eprintln!(
        "timer wheel: {} entries scheduled in {:.3} s, a tick with all pending and none due {:.2} us, all fired over {} s of 10 ms ticks in {:.3} s, RSS +{:.1} MiB",
        args.count,
        insert.as_secs_f64(),
        report.idle_tick_us,
        args.window_secs,
        fire.as_secs_f64(),
        report.rss_mib
    );
    report
}

struct E2eReport {
    count: u64,
    schedule_per_s: f64,
    deliver_per_s: f64,
    first_late_ms: i64,
    rss_pending: Option<f64>,
    rss_after: Option<f64>,
}

fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn delivered(client: &mut BlockingClient, args: &TimerBenchArgs) -> Result<i64, String> {
    let mut sum = 0;
    for queue_id in 0..args.queues {
        let queue = MessageQueue::new(&args.topic, &args.broker_name, queue_id);
        let answer = client
            .invoke(get_max_offset(&queue), Duration::from_secs(3))
            .map_err(|e| e.to_string())?;
        if answer.code == response::SUCCESS {
            sum += read_offset(&answer)?;
        }
    }
    Ok(sum)
}

fn broker_bench(args: &TimerBenchArgs, broker: &str) -> Result<E2eReport, String> {
    let start = Instant::now();
    let deliver_at = epoch_ms() + (args.deliver_after_secs * 1000) as i64;
    let mut probe =
        BlockingClient::connect(broker, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    let before = delivered(&mut probe, args)?;
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..args.threads.max(1))
        .map(|_| {
            let (next, failures, args) = (next.clone(), failures.clone(), args.clone());
            let broker = broker.to_owned();
            std::thread::spawn(move || -> Result<(), String> {
                let mut client = BlockingClient::connect(&broker, Duration::from_secs(3))
                    .map_err(|e| e.to_string())?;
                let deliver = deliver_at.to_string();
                let properties = properties_text(&[("TIMER_DELIVER_MS", &deliver)]);
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= args.count {
                        return Ok(());
                    }
                    let queue = MessageQueue::new(
                        &args.topic,
                        &args.broker_name,
                        (index % args.queues.max(1) as u64) as i32,
                    );
                    let request = send_message(SendRequest {
                        producer_group: "mqbench_timer",
                        queue: &queue,
                        properties: properties.clone(),
                        body: vec![b'x'; args.size],
                        batch: false,
                        born_timestamp_ms: epoch_ms(),
                    });
                    match client.invoke(request, Duration::from_secs(5)) {
                        Ok(answer) if answer.code == response::SUCCESS => {}
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "a sender panicked")??;
    }
    let send_elapsed = start.elapsed();
    let failed = failures.load(Ordering::Relaxed);
    let accepted = args.count - failed;
    if epoch_ms() >= deliver_at {
        eprintln!("timer e2e: the sends outlasted --deliver-after-secs; raise it");
    }
    let pending_now = delivered(&mut probe, args)? - before;
    let rss_pending = args.broker_pid.and_then(|pid| rss_mib(&pid.to_string()));
    eprintln!(
        "timer e2e: {accepted} timer messages accepted in {:.1} s ({failed} failed), {pending_now} delivered early (must be 0), broker RSS {rss_pending:?} MiB",
        send_elapsed.as_secs_f64()
    );
    // Wait for the first and the last delivery.
    let mut first_at = None;
    let deadline = Instant::now() + Duration::from_secs(args.deliver_after_secs + 600);
    loop {
        let done = delivered(&mut probe, args)? - before;
        let now = epoch_ms();
        if done > 0 && first_at.is_none() {
            first_at = Some(now);
        }
        if done as u64 >= accepted || Instant::now() > deadline {
            let first = first_at.unwrap_or(now);
            let deliver_secs = ((now - first).max(1)) as f64 / 1000.0;
            eprintln!(
                "timer e2e: {done} delivered, first {} ms after its time, all within {deliver_secs:.2} s",
                first - deliver_at
            );
            return Ok(E2eReport {
                count: accepted,
                schedule_per_s: accepted as f64 / send_elapsed.as_secs_f64(),
                deliver_per_s: done as f64 / deliver_secs,
                first_late_ms: first - deliver_at,
                rss_pending,
                rss_after: args.broker_pid.and_then(|pid| rss_mib(&pid.to_string())),
            });
        }
        std::thread::sleep(Duration::from_millis(if first_at.is_some() {
            20
        } else {
            5
        }));
    }
}

//! `mqbench hop`: what a send costs when its queue is owned by another shard than the one
//! holding the connection (the cross-shard hop of a Ramjet broker with several shards).
//!
//! Each connection in turn sends single messages synchronously, alternating between two
//! one-queue topics: one whose queue the broker's shard 0 owns and one owned by shard 1
//! (`ramjet_core::placement::owner_shard`). Because the two alternate message by message,
//! both see the machine in the same state, so the difference of their medians is not the
//! machine's drift (which moves a single-sender p50 by tens of microseconds between runs
//! seconds apart on a shared VM).
//!
//! A client cannot see which shard accepted its connection (the kernel's SO_REUSEPORT hash
//! chooses). Each connection's difference d = p50(shard 0's topic) - p50(shard 1's topic)
//! is `skew - hop` when shard 0 accepted it and `skew + hop` when shard 1 did, where `skew`
//! is what differs between the shards themselves (which core takes the disk's interrupts,
//! the leader's housekeeping). So the differences fall into two clusters, and the summary
//! splits them in two (the split with the least spread within each side): the hop is half
//! the distance between the two clusters' means, the skew their midpoint. With all
//! connections on one shard (1 in 2^(connections-1)) the split is noise, which only the
//! per-connection lines show (differences that do not fall into two groups); the RESULT
//! line says `clusters=1` only when a single connection ran.
//!
//! `RESULT hop hop_us=.. skew_us=.. local_p50_us=.. cross_p50_us=.. connections=..`, where
//! local and cross are medians over connections once each is assigned its shard.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ramjet_core::placement::owner_shard;
use ramjet_net::client::queues::QueueAt;
use ramjet_net::client::uniq_key::UniqKeyGenerator;
use ramjet_net::client::BlockingClient;
use ramjet_net::code::response;
use ramjet_net::SerializeType;

use crate::histogram::{new_latency_histogram, record_us};
use crate::rocketmq_client::{resolve_publish_queues, SendSpec, LOOPBACK};

const SEND_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, clap::Args)]
pub struct HopBenchArgs {
    /// Name server address, host:port.
    #[arg(short = 'n', long = "namesrv", default_value = "127.0.0.1:9876")]
    pub namesrv: String,
    /// The broker's shardCount (the topics are picked for it).
    #[arg(long = "shards", default_value_t = 2)]
    pub shards: usize,
    /// Message body size in bytes.
    #[arg(short = 's', long = "size", default_value_t = 1024)]
    pub body_bytes: usize,
    /// Connections, one after another (each lands on a shard of the kernel's choosing).
    #[arg(short = 'c', long = "connections", default_value_t = 8)]
    pub connections: usize,
    /// Seconds measured per connection (after its warm-up).
    #[arg(short = 'd', long = "duration", default_value_t = 4)]
    pub duration_secs: u64,
    /// Seconds of sends per connection before measuring starts.
    #[arg(long = "warmup", default_value_t = 1)]
    pub warmup_secs: u64,
    /// Topic name prefix; the topics are `<prefix><n>` for the first n whose queue 0 each
    /// shard owns.
    #[arg(long = "topic-prefix", default_value = "ShardHop")]
    pub topic_prefix: String,
}

/// The first `<prefix><n>` whose queue 0 is owned by `shard` of `shards`.
pub fn topic_owned_by(prefix: &str, shard: usize, shards: usize) -> String {
    (0u32..)
        .map(|n| format!("{prefix}{n}"))
        .find(|topic| owner_shard(topic, 0, shards) == shard)
        .expect("some topic name hashes to every shard")
}

/// One connection's medians: the topic owned by shard 0, and by shard 1.
#[derive(Debug, Clone, Copy)]
struct ConnectionMedians {
    shard0_us: u64,
    shard1_us: u64,
}

impl ConnectionMedians {
    /// p50(shard 0's topic) - p50(shard 1's topic).
    fn difference_us(self) -> f64 {
        self.shard0_us as f64 - self.shard1_us as f64
    }
}

/// The connections split by the shard that accepted them (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Summary {
    hop_us: f64,
    skew_us: f64,
    local_p50_us: u64,
    cross_p50_us: u64,
    /// 2 when both shards accepted at least one connection as far as the split can tell.
    clusters: usize,
}

impl Summary {
    fn of(connections: &[ConnectionMedians]) -> Summary {
        let mut sorted = connections.to_vec();
        sorted.sort_by(|a, b| a.difference_us().total_cmp(&b.difference_us()));
        let differences: Vec<f64> = sorted.iter().map(|c| c.difference_us()).collect();
        // One-dimensional two-means: the split point with the least squared spread.
        let split = (1..differences.len())
            .min_by(|&a, &b| spread(&differences, a).total_cmp(&spread(&differences, b)))
            .unwrap_or(differences.len());
        let (lower, upper) = sorted.split_at(split);
        if lower.is_empty() || upper.is_empty() {
            let only = mean(&differences);
            return Summary {
                hop_us: 0.0,
                skew_us: only,
                local_p50_us: median(
                    sorted
                        .iter()
                        .map(|c| c.shard0_us.min(c.shard1_us))
                        .collect(),
                ),
                cross_p50_us: median(
                    sorted
                        .iter()
                        .map(|c| c.shard0_us.max(c.shard1_us))
                        .collect(),
                ),
                clusters: 1,
            };
        }
        let (low, high) = (mean(&differences[..split]), mean(&differences[split..]));
        // The lower cluster is shard 0's connections: its own topic is the local one.
        let local = lower
            .iter()
            .map(|c| c.shard0_us)
            .chain(upper.iter().map(|c| c.shard1_us));
        let cross = lower
            .iter()
            .map(|c| c.shard1_us)
            .chain(upper.iter().map(|c| c.shard0_us));
        Summary {
            hop_us: (high - low) / 2.0,
            skew_us: (high + low) / 2.0,
            local_p50_us: median(local.collect()),
            cross_p50_us: median(cross.collect()),
            clusters: 2,
        }
    }
}

/// Squared distance of each value from its side's mean, split before `at`.
fn spread(values: &[f64], at: usize) -> f64 {
    let side = |part: &[f64]| {
        let m = mean(part);
        part.iter().map(|v| (v - m) * (v - m)).sum::<f64>()
    };
    side(&values[..at]) + side(&values[at..])
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

pub fn run(args: HopBenchArgs) -> Result<(), String> {
    if args.shards < 2 {
        return Err("--shards must be at least 2: with one shard there is no hop".into());
    }
    if args.connections == 0 || args.duration_secs == 0 {
        return Err("--connections and --duration must be at least 1".into());
    }
    let mut targets: Vec<QueueAt> = Vec::new();
    for shard in 0..2 {
        let topic = topic_owned_by(&args.topic_prefix, shard, args.shards);
        let queues = resolve_publish_queues(&args.namesrv, &topic, Some(1), SerializeType::Json)?;
        let queue = queues
            .into_iter()
            .find(|at| at.queue.queue_id == 0)
            .ok_or_else(|| format!("topic {topic} has no queue 0 in its route"))?;
        targets.push(queue);
    }
    if targets[0].addr != targets[1].addr {
        return Err("the two topics are on different brokers: run against one broker".into());
    }
    let specs: Vec<SendSpec> = targets
        .iter()
        .map(|target| {
            SendSpec::new(
                &target.queue.topic,
                "mqbench_hop",
                args.body_bytes,
                None,
                None,
                1,
            )
        })
        .collect();
    let mut medians = Vec::new();
    for connection in 0..args.connections {
        let histograms = measure_connection(&args, &targets, &specs, connection as u32)?;
        let found = ConnectionMedians {
            shard0_us: histograms[0].value_at_quantile(0.5),
            shard1_us: histograms[1].value_at_quantile(0.5),
        };
        println!(
            "connection {connection}: p50 topic on shard 0 {} us, on shard 1 {} us, \
             difference {} us ({} sends each)",
            found.shard0_us,
            found.shard1_us,
            found.shard0_us as i64 - found.shard1_us as i64,
            histograms[0].len()
        );
        medians.push(found);
    }
    let summary = Summary::of(&medians);
    println!(
        "RESULT hop hop_us={:.1} skew_us={:.1} local_p50_us={} cross_p50_us={} connections={} clusters={}",
        summary.hop_us,
        summary.skew_us,
        summary.local_p50_us,
        summary.cross_p50_us,
        medians.len(),
        summary.clusters
    );
    Ok(())
}

/// Alternates single sync sends between the two targets on one new connection.
fn measure_connection(
    args: &HopBenchArgs,
    targets: &[QueueAt],
    specs: &[SendSpec],
    salt: u32,
) -> Result<[Histogram<u64>; 2], String> {
    let mut connection =
        BlockingClient::connect(&targets[0].addr, SEND_TIMEOUT).map_err(|e| e.to_string())?;
    let mut ids = UniqKeyGenerator::new(LOOPBACK, salt);
    let mut histograms = [new_latency_histogram(), new_latency_histogram()];
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup_secs);
    let end = measure_from + Duration::from_secs(args.duration_secs);
    let mut sequence = 0u64;
    loop {
        for (index, target) in targets.iter().enumerate() {
            let request =
                specs[index].request(&target.queue, &mut ids, sequence, SerializeType::Json);
            sequence += 1;
            let sent = Instant::now();
            let answer = connection
                .invoke(request, SEND_TIMEOUT)
                .map_err(|e| format!("send to {}: {e}", target.queue.topic))?;
            let latency = sent.elapsed();
            if answer.code != response::SUCCESS {
                return Err(format!(
                    "send to {}: code {} {:?}",
                    target.queue.topic, answer.code, answer.remark
                ));
            }
            if sent >= measure_from {
                record_us(&mut histograms[index], latency.as_micros() as u64, 1);
            }
        }
        if Instant::now() >= end {
            return Ok(histograms);
        }
    }
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_topic_is_owned_by_the_shard_it_was_picked_for() {
        for shards in 2..5 {
            for shard in 0..shards {
                let topic = topic_owned_by("ShardHop", shard, shards);
                assert_eq!(owner_shard(&topic, 0, shards), shard);
            }
        }
        // The names the shard-scaling script's python picks too (crc32 of the name).
        assert_eq!(topic_owned_by("ShardHop", 0, 2), "ShardHop0");
    }

    fn connection(shard0_us: u64, shard1_us: u64) -> ConnectionMedians {
        ConnectionMedians {
            shard0_us,
            shard1_us,
        }
    }

    #[test]
    fn the_hop_is_half_the_gap_between_the_two_clusters() {
        // Shard 1 is 4 us slower by itself (skew), and a forwarded send costs 20 us more:
        // connections on shard 0 see 100 / 124, those on shard 1 see 120 / 104.
        let runs = [
            connection(100, 124),
            connection(121, 104),
            connection(101, 123),
            connection(120, 105),
            connection(99, 124),
        ];
        let summary = Summary::of(&runs);
        assert_eq!(summary.clusters, 2);
        assert!((summary.hop_us - 20.0).abs() < 1.0, "{summary:?}");
        assert!((summary.skew_us + 3.5).abs() < 1.0, "{summary:?}");
        assert_eq!((summary.local_p50_us, summary.cross_p50_us), (101, 123));
    }

    #[test]
    fn one_connection_has_no_second_cluster() {
        let summary = Summary::of(&[connection(100, 110)]);
        assert_eq!(summary.clusters, 1);
        assert_eq!((summary.local_p50_us, summary.cross_p50_us), (100, 110));
        assert_eq!(median(vec![5, 1, 3]), 3);
    }
}

//! A topic's send latency (p50, p99) over the interval between two polls of the console,
//! from this broker's own Prometheus endpoint: the buckets of
//! `ramjet_send_latency_seconds{topic=T}` now, minus the buckets seen at the previous
//! poll, interpolated within the bucket as Prometheus' `histogram_quantile` does.
//!
//! Why /metrics and not a remoting request: the exporter already serves these counts to
//! Prometheus, in a documented format. Reading it needs no new request code (the console
//! speaks only RocketMQ's remoting otherwise) and no dependency on `ramjet-core`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const FAMILY: &str = "ramjet_send_latency_seconds";
/// Most bytes read of one /metrics answer: a broker with thousands of topics and groups
/// stays far below; a runaway answer costs the console no more than this.
const SCRAPE_MAX_BYTES: u64 = 32 * 1024 * 1024;
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
/// Topics remembered between polls. Only topics the broker reports are remembered, so
/// this bounds nothing but a broker with more topics than this being watched at once.
const REMEMBERED_MAX: usize = 1024;

/// One topic's cumulative bucket counts: `(le, count)`, ascending, ending with +Inf.
pub type Buckets = Vec<(f64, u64)>;

/// The buckets each topic showed at its previous poll, shared by the console's workers.
#[derive(Default)]
pub struct LatencyMemory {
    seen: Mutex<HashMap<String, (Instant, Buckets)>>,
}

impl LatencyMemory {
    /// Remembers `now` for `topic` and answers what it was before (with when).
    fn swap(&self, topic: &str, now: Buckets) -> Option<(Instant, Buckets)> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= REMEMBERED_MAX && !seen.contains_key(topic) {
            seen.clear();
        }
        seen.insert(topic.to_owned(), (Instant::now(), now))
    }
}

/// `GET /api/topic/latency?topic=T`: p50 and p99 in milliseconds over the interval since
/// the previous poll of T (since the broker started, on the first poll), and how many puts
/// the interval saw. `null` quantiles when it saw none.
pub fn topic_latency(memory: &LatencyMemory, metrics_addr: Option<&str>, topic: &str) -> Value {
    let Some(addr) = metrics_addr else {
        return json!({
            "topic": topic,
            "available": false,
            "reason": "the Prometheus exporter is off (metricsExporterType, metricsPromExporterPort): \
                       the console reads send latency from it",
        });
    };
    match scrape(addr) {
        Ok(text) => answer(memory, &text, topic),
        Err(error) => json!({
            "topic": topic,
            "available": false,
            "reason": format!("cannot read http://{addr}/metrics: {error}"),
        }),
    }
}

fn answer(memory: &LatencyMemory, text: &str, topic: &str) -> Value {
    let now = topic_buckets(text, topic);
    if now.is_empty() {
        // No put to T since the broker started (or T was deleted): nothing to remember.
        return json!({
            "topic": topic, "available": true, "count": 0,
            "p50Ms": Value::Null, "p99Ms": Value::Null, "intervalMs": Value::Null,
        });
    }
    let before = memory.swap(topic, now.clone());
    let (delta, interval_ms) = match &before {
        Some((at, previous)) => match subtract(&now, previous) {
            Some(delta) => (delta, Some(at.elapsed().as_millis() as u64)),
            // The counts went down (the broker restarted, or T was deleted and made
            // again): the interval is everything since.
            None => (now.clone(), None),
        },
        None => (now.clone(), None),
    };
    let count = delta.last().map_or(0, |(_, c)| *c);
    let ms = |q| quantile(q, &delta).map(|seconds| seconds * 1000.0);
    json!({
        "topic": topic,
        "available": true,
        "count": count,
        "p50Ms": ms(0.5),
        "p99Ms": ms(0.99),
        "intervalMs": interval_ms,
    })
}

/// `now - before`, bucket by bucket; `None` when the bounds differ or a count decreased.
pub fn subtract(now: &Buckets, before: &Buckets) -> Option<Buckets> {
    if now.len() != before.len() {
        return None;
    }
    now.iter()
        .zip(before)
        .map(|((le, n), (le_before, b))| {
            let delta = n.checked_sub(*b)?;
            (le == le_before).then_some((*le, delta))
        })
        .collect()
}

/// The `q` quantile of cumulative buckets, as Prometheus' `histogram_quantile`: find the
/// bucket holding rank `q * count`, interpolate linearly between its lower bound (the
/// previous bound, 0 for the first) and its upper bound. A rank in the +Inf bucket answers
/// the highest finite bound. `None` without observations.
pub fn quantile(q: f64, buckets: &Buckets) -> Option<f64> {
    let total = buckets.last()?.1;
    if total == 0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = q * total as f64;
    let mut lower = 0.0;
    let mut below = 0u64;
    for (le, cumulative) in buckets {
        if *cumulative as f64 >= rank && *cumulative > below {
            if le.is_infinite() {
                return Some(lower);
            }
            let in_bucket = (*cumulative - below) as f64;
            return Some(lower + (le - lower) * (rank - below as f64) / in_bucket);
        }
        if le.is_finite() {
            lower = *le;
        }
        below = *cumulative;
    }
    Some(lower)
}

/// The cumulative buckets of `ramjet_send_latency_seconds{topic=T}` in an exposition.
pub fn topic_buckets(text: &str, topic: &str) -> Buckets {
    let prefix = format!("{FAMILY}_bucket{{");
    let mut buckets = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let Some((labels, value)) = parse_labels(rest) else {
            continue;
        };
        if !labels.iter().any(|(k, v)| k == "topic" && v == topic) {
            continue;
        }
        let le = labels.iter().find(|(k, _)| k == "le").and_then(|(_, v)| {
            if v == "+Inf" {
                Some(f64::INFINITY)
            } else {
                v.parse::<f64>().ok()
            }
        });
        let count = value.trim().parse::<f64>().ok();
        if let (Some(le), Some(count)) = (le, count) {
            buckets.push((le, count as u64));
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// Parses `k="v",...}` (the text after `{`) into unescaped pairs and the rest of the line.
fn parse_labels(text: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    let mut rest = text;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim_start_matches(',').to_owned(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
}

/// One GET of `http://addr/metrics`, its body.
fn scrape(addr: &str) -> Result<String, String> {
    let fail = |what: String| what;
    let target = addr
        .to_socket_addrs()
        .map_err(|e| fail(format!("bad address: {e}")))?
        .next()
        .ok_or_else(|| fail("no address".into()))?;
    let mut stream = TcpStream::connect_timeout(&target, SCRAPE_TIMEOUT)
        .map_err(|e| fail(format!("connect: {e}")))?;
    stream
        .set_read_timeout(Some(SCRAPE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(SCRAPE_TIMEOUT)))
        .map_err(|e| fail(e.to_string()))?;
    stream
        .write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .map_err(|e| fail(format!("write: {e}")))?;
    let mut raw = Vec::new();
    stream
        .take(SCRAPE_MAX_BYTES)
        .read_to_end(&mut raw)
        .map_err(|e| fail(format!("read: {e}")))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| fail("answer without a complete head".into()))?;
    let status = head.split(' ').nth(1).unwrap_or("");
    if status != "200" {
        return Err(fail(format!("answered HTTP {status}")));
    }
    Ok(body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    #[test]
    fn quantiles_interpolate_within_the_bucket() {
        // 10 puts: 4 in (0, 1 ms], 4 in (1, 2 ms], 2 in (2, 4 ms].
        let buckets = vec![(0.001, 4), (0.002, 8), (0.004, 10), (INF, 10)];
        // Rank 5 is the 1st of 4 in (1, 2]: 1 + 1 * 1/4 ms.
        assert!((quantile(0.5, &buckets).unwrap() - 0.001_25).abs() < 1e-12);
        // Rank 9.9 is 1.9 of 2 into (2, 4]: 2 + 2 * 0.95 ms.
        assert!((quantile(0.99, &buckets).unwrap() - 0.003_9).abs() < 1e-12);
        // Rank 2 of the first bucket interpolates from 0.
        assert!((quantile(0.2, &buckets).unwrap() - 0.000_5).abs() < 1e-12);
    }

    #[test]
    fn empty_buckets_are_skipped_and_inf_answers_the_last_bound() {
        let buckets = vec![(0.001, 0), (0.002, 0), (0.004, 1), (INF, 1)];
        assert!((quantile(0.5, &buckets).unwrap() - 0.003).abs() < 1e-12);
        let slow = vec![(0.001, 0), (0.002, 0), (INF, 3)];
        assert_eq!(quantile(0.99, &slow), Some(0.002));
        assert_eq!(quantile(0.5, &vec![(0.001, 0), (INF, 0)]), None);
        assert_eq!(quantile(0.5, &Vec::new()), None);
        assert_eq!(quantile(1.5, &buckets), None);
    }

    #[test]
    fn quantiles_come_from_the_deltas_between_two_polls() {
        // Before: 100 fast puts. Since: 10 slow ones. The interval's p50 is slow.
        let before = vec![(0.001, 100), (0.01, 100), (0.1, 100), (INF, 100)];
        let now = vec![(0.001, 100), (0.01, 100), (0.1, 110), (INF, 110)];
        let delta = subtract(&now, &before).unwrap();
        assert_eq!(delta, vec![(0.001, 0), (0.01, 0), (0.1, 10), (INF, 10)]);
        let p50 = quantile(0.5, &delta).unwrap();
        assert!((p50 - 0.055).abs() < 1e-12, "{p50}");
        // Over everything since start it would be fast: the delta matters.
        assert!(quantile(0.5, &now).unwrap() < 0.001);
        // Counts going down (a restart) or other bounds are no interval.
        assert_eq!(subtract(&before, &now), None);
        assert_eq!(subtract(&now, &now[..3].to_vec()), None);
    }

    #[test]
    fn buckets_are_read_for_one_topic_with_escaped_labels() {
        let text = "# HELP ramjet_send_latency_seconds x\n\
            # TYPE ramjet_send_latency_seconds histogram\n\
            ramjet_send_latency_seconds_bucket{cluster=\"C\",node_type=\"broker\",node_id=\"b\",topic=\"T\",le=\"0.001\"} 2\n\
            ramjet_send_latency_seconds_bucket{cluster=\"C\",node_type=\"broker\",node_id=\"b\",topic=\"T\",le=\"+Inf\"} 3\n\
            ramjet_send_latency_seconds_bucket{cluster=\"C\",node_type=\"broker\",node_id=\"b\",topic=\"T2\",le=\"0.001\"} 7\n\
            ramjet_send_latency_seconds_bucket{cluster=\"C\",node_type=\"broker\",node_id=\"b\",topic=\"a\\\"b\",le=\"0.001\"} 9\n\
            ramjet_send_latency_seconds_sum{cluster=\"C\",topic=\"T\"} 0.5\n\
            ramjet_send_latency_seconds_count{cluster=\"C\",topic=\"T\"} 3\n";
        assert_eq!(topic_buckets(text, "T"), vec![(0.001, 2), (INF, 3)]);
        assert_eq!(topic_buckets(text, "a\"b"), vec![(0.001, 9)]);
        assert!(topic_buckets(text, "U").is_empty());
    }

    #[test]
    fn the_first_poll_covers_everything_and_the_next_only_the_interval() {
        let memory = LatencyMemory::default();
        let line = |le: &str, n: u64| {
            format!("ramjet_send_latency_seconds_bucket{{topic=\"T\",le=\"{le}\"}} {n}\n")
        };
        let first = format!("{}{}", line("0.001", 4), line("+Inf", 4));
        let answer1 = answer(&memory, &first, "T");
        assert_eq!(answer1["count"], 4);
        assert!(answer1["p50Ms"].as_f64().unwrap() > 0.0);
        assert!(answer1["intervalMs"].is_null());
        let second = format!("{}{}", line("0.001", 4), line("+Inf", 4));
        let answer2 = answer(&memory, &second, "T");
        assert_eq!(answer2["count"], 0);
        assert!(answer2["p50Ms"].is_null());
        assert!(answer2["intervalMs"].is_u64());
    }
}

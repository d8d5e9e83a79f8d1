//! A fixed-bucket histogram for one shard (plain integers, no atomics: only its shard
//! writes it) and the bucket bounds RocketMQ 5 and Ramjet use.

/// `rocketmq_message_size` (bytes): RocketMQ 5.1's view, 1 KiB .. 4 MiB.
pub const MESSAGE_SIZE_BOUNDS: &[f64] = &[
    1024.0,
    4096.0,
    524_288.0,
    1_048_576.0,
    2_097_152.0,
    4_194_304.0,
];

/// `rocketmq_rpc_latency` (milliseconds): RocketMQ 5.1's RemotingMetricsManager view.
pub const RPC_LATENCY_MS_BOUNDS: &[f64] =
    &[1.0, 3.0, 5.0, 7.0, 10.0, 100.0, 1000.0, 2000.0, 3000.0];

/// Ramjet's store append and flush latencies (seconds), 10 us .. 1 s.
pub const STORE_LATENCY_SECONDS_BOUNDS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0,
];

/// `ramjet_send_latency_seconds`: a put from its arrival at the queue's owner until the
/// store answered, so the store latencies plus the send queue, the SYNC_FLUSH wait (up to
/// `syncFlushTimeout`, 5 s by default): 10 us .. 5 s.
pub const SEND_LATENCY_SECONDS_BOUNDS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Counts per bucket (not cumulative; the exposition accumulates), sum and count.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub bounds: &'static [f64],
    /// `bounds.len() + 1` counts: observations `<= bounds[i]` and not in an earlier bucket;
    /// the last counts what exceeds every bound (+Inf).
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket] += 1;
        self.sum += value;
        self.count += 1;
    }

    /// Adds another shard's histogram of the same bounds.
    pub fn merge(&mut self, other: &Histogram) {
        debug_assert_eq!(self.bounds, other.bounds);
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.sum += other.sum;
        self.count += other.count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let mut histogram = Histogram::new(&[1.0, 10.0]);
        histogram.observe(0.5);
        histogram.observe(1.0);
        histogram.observe(5.0);
        histogram.observe(11.0);
        assert_eq!(histogram.counts, vec![2, 1, 1]);
        assert_eq!(histogram.count, 4);
        assert_eq!(histogram.sum, 17.5);
        let copy = histogram.clone();
        histogram.merge(&copy);
        assert_eq!(histogram.counts, vec![4, 2, 2]);
    }
}

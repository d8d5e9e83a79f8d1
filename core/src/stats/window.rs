//! Moving-window rates from periodic samples of a running total, as RocketMQ computes its
//! TPS triples: `StoreStatsService` samples every second and answers the rate over the
//! last 10 s, 1 min and 10 min; `StatsItem` samples every 10 s for its per-minute rates.

/// The last `N` samples of a running total, oldest overwritten first.
#[derive(Debug, Clone)]
pub struct Window<const N: usize> {
    samples: [u64; N],
    /// Samples taken so far, at most `N`.
    len: usize,
    /// Where the next sample goes.
    head: usize,
}

impl<const N: usize> Default for Window<N> {
    fn default() -> Self {
        Window {
            samples: [0; N],
            len: 0,
            head: 0,
        }
    }
}

impl<const N: usize> Window<N> {
    pub fn push(&mut self, total: u64) {
        self.samples[self.head] = total;
        self.head = (self.head + 1) % N;
        self.len = (self.len + 1).min(N);
    }

    /// The sample `back` samples before the newest (0: the newest).
    fn at(&self, back: usize) -> u64 {
        self.samples[(self.head + N - 1 - back) % N]
    }

    /// Per second over the last `steps` sample intervals of `interval_secs` each. With fewer
    /// samples (just after start) the oldest one is used, rather than RocketMQ's empty
    /// string, which mqadmin clusterList cannot parse; 0 with fewer than two.
    pub fn rate(&self, steps: usize, interval_secs: f64) -> f64 {
        if self.len < 2 {
            return 0.0;
        }
        let steps = steps.min(self.len - 1);
        let delta = self.at(0).saturating_sub(self.at(steps));
        delta as f64 / (steps as f64 * interval_secs)
    }
}

/// A rate as Java's `Double.toString` prints it for the values TPS takes ("0.0", "12.5",
/// "1234.5678"): mqadmin parses these strings.
pub fn java_double(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e7 {
        format!("{value:.1}")
    } else {
        let rounded = (value * 10_000.0).round() / 10_000.0;
        format!("{rounded}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_use_the_requested_span_or_what_is_there() {
        let mut window: Window<4> = Window::default();
        assert_eq!(window.rate(1, 1.0), 0.0);
        window.push(0);
        assert_eq!(window.rate(1, 1.0), 0.0);
        window.push(10);
        window.push(30);
        assert_eq!(window.rate(1, 1.0), 20.0);
        assert_eq!(window.rate(10, 1.0), 15.0); // only 2 intervals known
        window.push(60);
        window.push(100); // overwrites the 0
        assert_eq!(window.rate(3, 1.0), 30.0); // (100 - 10) / 3
        assert_eq!(window.rate(1, 10.0), 4.0);
    }

    #[test]
    fn java_double_prints_like_java() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(12.0), "12.0");
        assert_eq!(java_double(12.5), "12.5");
        assert_eq!(java_double(1.0 / 3.0), "0.3333");
    }
}

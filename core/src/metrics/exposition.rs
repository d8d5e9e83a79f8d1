//! Prometheus text exposition format 0.0.4: `# HELP`, `# TYPE`, then one line per sample,
//! `name{label="value",...} value`. Families are written whole, one after another, as the
//! format requires. Written here rather than with a crate: the format is a few lines, and
//! the broker's counters already live in its own plain per-shard structures, which a
//! registry crate would make us copy into its types on every scrape anyway.

use std::fmt::Write;

use crate::stats::Histogram;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family; its samples follow.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        write_labels(&mut self.out, labels, None);
        self.out.push(' ');
        self.out.push_str(&number(value));
        self.out.push('\n');
    }

    /// A histogram's `_bucket` (cumulative, ending with `le="+Inf"`), `_sum` and `_count`.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], histogram: &Histogram) {
        let mut cumulative = 0u64;
        let bucket = format!("{name}_bucket");
        for (i, count) in histogram.counts.iter().enumerate() {
            cumulative += count;
            let le = histogram
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |bound| number(*bound));
            self.out.push_str(&bucket);
            write_labels(&mut self.out, labels, Some(&le));
            let _ = writeln!(self.out, " {cumulative}");
        }
        self.sample(&format!("{name}_sum"), labels, histogram.sum);
        self.sample(&format!("{name}_count"), labels, histogram.count as f64);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn write_labels(out: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (name, value) in labels.iter().copied().chain(le.map(|le| ("le", le))) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

/// Integers without a fraction, other values as Rust prints them (never an exponent),
/// and the format's spellings of infinities and NaN.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if value.fract() == 0.0 && value.abs() < 9.0e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_families_samples_and_histograms() {
        let mut out = Exposition::default();
        out.family(
            "rocketmq_messages_in_total",
            "counter",
            "Total number of incoming messages",
        );
        out.sample(
            "rocketmq_messages_in_total",
            &[("topic", "T\"1\\\n"), ("cluster", "c")],
            3.0,
        );
        out.family(
            "rocketmq_message_size",
            "histogram",
            "Incoming messages size",
        );
        let mut histogram = Histogram::new(&[1024.0, 4096.0]);
        histogram.observe(10.0);
        histogram.observe(5000.0);
        out.histogram("rocketmq_message_size", &[("topic", "T")], &histogram);
        out.family("g", "gauge", "a\nb");
        out.sample("g", &[], 0.25);
        assert_eq!(
            out.finish(),
            "# HELP rocketmq_messages_in_total Total number of incoming messages\n\
             # TYPE rocketmq_messages_in_total counter\n\
             rocketmq_messages_in_total{topic=\"T\\\"1\\\\\\n\",cluster=\"c\"} 3\n\
             # HELP rocketmq_message_size Incoming messages size\n\
             # TYPE rocketmq_message_size histogram\n\
             rocketmq_message_size_bucket{topic=\"T\",le=\"1024\"} 1\n\
             rocketmq_message_size_bucket{topic=\"T\",le=\"4096\"} 1\n\
             rocketmq_message_size_bucket{topic=\"T\",le=\"+Inf\"} 2\n\
             rocketmq_message_size_sum{topic=\"T\"} 5010\n\
             rocketmq_message_size_count{topic=\"T\"} 2\n\
             # HELP g a\\nb\n\
             # TYPE g gauge\n\
             g 0.25\n"
        );
    }
}

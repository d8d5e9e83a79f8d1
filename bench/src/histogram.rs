//! Latency histograms for the load generators: HDR histograms in microseconds, the
//! percentile summary, HdrHistogram's percentile-distribution text (`.hgrm`, readable by
//! the HdrHistogram plotter), a hand-written SVG of latency by percentile, and the live
//! progress line a terminal shows while a run is going.
//!
//! Threads: each load executor records into its own histogram and merges it at the end;
//! only the progress line is shared (atomics plus one mutex taken twice a second).

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Latencies above this are clamped into the top bucket (and still counted).
pub const LATENCY_US_MAX: u64 = 60_000_000;
/// `.hgrm` files list values in milliseconds, as the HdrHistogram plotter labels them.
const HGRM_SCALE_US_PER_MS: f64 = 1000.0;
/// Quantile steps per halving of the distance to 100% (Java's default in its examples).
const HGRM_TICKS_PER_HALF: u32 = 5;

pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid histogram bounds")
}

/// Records `count` events of `latency_us`, clamped into the histogram's range.
pub fn record_us(histogram: &mut Histogram<u64>, latency_us: u64, count: u64) {
    let value = latency_us.clamp(1, LATENCY_US_MAX);
    histogram
        .record_n(value, count)
        .expect("value clamped into range");
}

/// The percentiles every report prints.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
    pub mean: f64,
    pub count: u64,
}

impl Percentiles {
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        if histogram.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            p50: histogram.value_at_quantile(0.5),
            p90: histogram.value_at_quantile(0.9),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            p9999: histogram.value_at_quantile(0.9999),
            max: histogram.max(),
            mean: histogram.mean(),
            count: histogram.len(),
        }
    }

    /// One human-readable line (`p90` included, which the RESULT line leaves out).
    pub fn describe(&self) -> String {
        format!(
            "latency_us: count={} mean={:.0} p50={} p90={} p99={} p99.9={} p99.99={} max={}",
            self.count, self.mean, self.p50, self.p90, self.p99, self.p999, self.p9999, self.max
        )
    }
}

/// HdrHistogram's `outputPercentileDistribution` text, values in milliseconds.
pub fn percentile_distribution(histogram: &Histogram<u64>) -> String {
    let scale = HGRM_SCALE_US_PER_MS;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    if !histogram.is_empty() {
        for step in histogram.iter_quantiles(HGRM_TICKS_PER_HALF) {
            total += step.count_since_last_iteration();
            let value = step.value_iterated_to() as f64 / scale;
            let quantile = step.quantile_iterated_to();
            if quantile < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:12.3} {quantile:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - quantile)
                );
            } else {
                let _ = writeln!(out, "{value:12.3} {quantile:2.12} {total:10}");
            }
        }
    }
    let (mean, stdev, max) = if histogram.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            histogram.mean() / scale,
            histogram.stdev() / scale,
            histogram.max() as f64 / scale,
        )
    };
    let _ = writeln!(
        out,
        "#[Mean    = {mean:12.3}, StdDeviation   = {stdev:12.3}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {max:12.3}, Total count    = {:12}]",
        histogram.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        histogram.buckets(),
        sub_bucket_count(histogram.sigfig())
    );
    out
}

/// Java's `subBucketCount`: the power of two that holds `2 * 10^sigfig` values.
fn sub_bucket_count(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

/// Latency (ms, linear) against percentile (log scale of 1/(1-p), as the HdrHistogram
/// plotter draws it, so the tail gets as much room as the median).
pub fn latency_svg(histogram: &Histogram<u64>, title: &str) -> String {
    const WIDTH: f64 = 800.0;
    const HEIGHT: f64 = 480.0;
    const LEFT: f64 = 70.0;
    const RIGHT: f64 = 20.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 60.0;
    /// The x axis ends at 99.999%: five nines.
    const NINES_MAX: f64 = 5.0;
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let points: Vec<(f64, f64)> = if histogram.is_empty() {
        Vec::new()
    } else {
        histogram
            .iter_quantiles(HGRM_TICKS_PER_HALF)
            .map(|step| {
                let quantile = step
                    .quantile_iterated_to()
                    .min(1.0 - 10f64.powf(-NINES_MAX));
                let nines = -(1.0 - quantile).log10();
                (
                    nines,
                    step.value_iterated_to() as f64 / HGRM_SCALE_US_PER_MS,
                )
            })
            .collect()
    };
    let y_max = nice_ceiling(points.iter().map(|p| p.1).fold(0.0, f64::max).max(0.001));
    let x_of = |nines: f64| LEFT + plot_width * (nines / NINES_MAX).clamp(0.0, 1.0);
    let y_of = |ms: f64| TOP + plot_height * (1.0 - ms / y_max);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        xml_escape(title)
    );
    for (index, label) in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
        .iter()
        .enumerate()
    {
        let x = x_of(index as f64);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            TOP + plot_height,
            TOP + plot_height + 18.0
        );
    }
    for tick in 0..=5 {
        let ms = y_max * f64::from(tick) / 5.0;
        let y = y_of(ms);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_width,
            LEFT - 6.0,
            y + 4.0,
            format_ms(ms)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"#,
        LEFT + plot_width / 2.0,
        HEIGHT - 15.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">latency (ms)</text>"#,
        TOP + plot_height / 2.0,
        TOP + plot_height / 2.0
    );
    let path: Vec<String> = points
        .iter()
        .map(|(nines, ms)| format!("{:.1},{:.1}", x_of(*nines), y_of(*ms)))
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{}"/>"##,
        path.join(" ")
    );
    let summary = Percentiles::of(histogram);
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}">p50 {} us, p99 {} us, p99.9 {} us, max {} us, n={}</text>"#,
        LEFT + 8.0,
        TOP + 16.0,
        summary.p50,
        summary.p99,
        summary.p999,
        summary.max,
        summary.count
    );
    svg.push_str("</svg>\n");
    svg
}

/// 1, 2 or 5 times a power of ten, at least `value`.
fn nice_ceiling(value: f64) -> f64 {
    let power = 10f64.powf(value.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * power >= value {
            return step * power;
        }
    }
    10.0 * power
}

fn format_ms(ms: f64) -> String {
    if ms >= 10.0 || ms == 0.0 {
        format!("{ms:.0}")
    } else if ms >= 1.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.3}")
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes the `.hgrm` and SVG files a run was asked for.
pub fn write_outputs(
    histogram: &Histogram<u64>,
    hist_out: Option<&std::path::Path>,
    svg_out: Option<&std::path::Path>,
    title: &str,
) -> Result<(), String> {
    if let Some(path) = hist_out {
        std::fs::write(path, percentile_distribution(histogram))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    if let Some(path) = svg_out {
        std::fs::write(path, latency_svg(histogram, title))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Counters the load executors bump and the progress line reads.
pub struct LiveStats {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
    /// Interval histograms merged in by the executors while a terminal watches.
    recent: Mutex<Histogram<u64>>,
    /// Whether anybody reads `recent`; executors skip merging when not.
    pub watched: bool,
    /// Progress as one line per second (for a log file) rather than one rewritten line.
    pub lines: bool,
}

/// Set (to anything) to print the progress line once a second as separate lines even when
/// stderr is not a terminal: scripts that sample a long run (bench/scripts/backlog_scale.sh)
/// read them from a log file.
pub const PROGRESS_LINES_ENV: &str = "MQBENCH_PROGRESS_LINES";

impl LiveStats {
    pub fn new() -> Arc<LiveStats> {
        Arc::new(LiveStats {
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            recent: Mutex::new(new_latency_histogram()),
            watched: std::io::stderr().is_terminal()
                || std::env::var_os(PROGRESS_LINES_ENV).is_some(),
            lines: std::env::var_os(PROGRESS_LINES_ENV).is_some(),
        })
    }

    /// Adds an executor's interval histogram and clears it.
    pub fn merge(&self, interval: &mut Histogram<u64>) {
        if self.watched && !interval.is_empty() {
            if let Ok(mut recent) = self.recent.lock() {
                let _ = recent.add(&*interval);
            }
        }
        interval.reset();
    }
}

/// How often executors hand their interval histograms to the progress line.
pub const LIVE_MERGE_INTERVAL: Duration = Duration::from_millis(500);

/// The once-a-second progress line on stderr, when stderr is a terminal.
pub struct ProgressLine {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProgressLine {
    pub fn start(stats: Arc<LiveStats>, what: &'static str) -> ProgressLine {
        let stop = Arc::new(AtomicBool::new(false));
        if !stats.watched {
            return ProgressLine { stop, thread: None };
        }
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let (mut last_messages, mut last_bytes, mut last) = (0u64, 0u64, Instant::now());
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() < Duration::from_secs(1) {
                    continue;
                }
                let seconds = last.elapsed().as_secs_f64();
                last = Instant::now();
                let messages = stats.messages.load(Ordering::Relaxed);
                let bytes = stats.bytes.load(Ordering::Relaxed);
                let p99 = stats.recent.lock().map_or(0, |mut recent| {
                    let p99 = recent.value_at_quantile(0.99);
                    recent.reset();
                    p99
                });
                let (start_of_line, end_of_line) = if stats.lines {
                    ("", "\n")
                } else {
                    ("\r", "   ")
                };
                eprint!(
                    "{start_of_line}{what} [{:4.0} s] tps={:.0} MB/s={:.1} p99_us={} errors={}{end_of_line}",
                    start.elapsed().as_secs_f64(),
                    (messages - last_messages) as f64 / seconds,
                    (bytes - last_bytes) as f64 / seconds / 1e6,
                    p99,
                    stats.errors.load(Ordering::Relaxed)
                );
                (last_messages, last_bytes) = (messages, bytes);
            }
            eprintln!();
        });
        ProgressLine {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// CPU seconds (user + system) this process has used so far.
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct we pass and has no other effect.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_distribution_has_java_layout() {
        // The HdrHistogram plotter reads the header, one line per step, and the footer.
        let mut histogram = new_latency_histogram();
        for us in 1..=1000 {
            record_us(&mut histogram, us, 1);
        }
        let text = percentile_distribution(&histogram);
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
        assert!(text.contains("#[Max     =        1.000, Total count    =         1000]"));
        assert!(text.contains("SubBuckets     =         2048]"), "{text}");
        let last_step = text.lines().rfind(|l| !l.starts_with('#')).unwrap();
        assert!(last_step.contains("1.000000000000"), "{last_step}");
    }

    #[test]
    fn svg_is_well_formed_even_when_empty() {
        // A run with no successful sends still writes a plot file rather than failing.
        let empty = latency_svg(&new_latency_histogram(), "a <b>");
        assert!(empty.starts_with("<svg") && empty.ends_with("</svg>\n"));
        assert!(empty.contains("a &lt;b&gt;"));
        let mut histogram = new_latency_histogram();
        record_us(&mut histogram, 250, 10);
        assert!(latency_svg(&histogram, "t").contains("<polyline"));
    }

    #[test]
    fn record_clamps_out_of_range_values() {
        // Zero and absurd latencies are still counted, at the edges.
        let mut histogram = new_latency_histogram();
        record_us(&mut histogram, 0, 1);
        record_us(&mut histogram, u64::MAX, 2);
        assert_eq!(histogram.len(), 3);
    }
}

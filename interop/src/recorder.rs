//! `interop/python/record_frames.py` as a fake name server and/or broker: it saves every frame
//! a client sends and answers just enough for the client to go on. Tests use it as a broker
//! stand-in (a route from the real `mqnamesrv` points clients at it) and then read what
//! arrived.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::python::scripts_dir;

/// Which fake servers to run and what the fake name server knows.
#[derive(Debug, Clone, Default)]
pub struct RecorderConfig {
    /// Fake name server port; `Some(0)` lets the OS pick one.
    pub namesrv_port: Option<u16>,
    /// Fake broker port; `Some(0)` lets the OS pick one.
    pub broker_port: Option<u16>,
    /// Topics the fake name server has a route for (4 queues on the fake broker).
    pub route_topics: Vec<String>,
    /// Also answer routes for every `%RETRY%` topic (push consumers ask for one).
    pub route_retry_topics: bool,
}

/// One frame the recorder saved, as described in its `frames.jsonl`.
#[derive(Debug, Clone)]
pub struct RecordedFrame {
    pub seq: u64,
    /// "namesrv" or "broker".
    pub role: String,
    pub code: i64,
    /// The decoded header (JSON, or the ROCKETMQ binary form mapped to JSON names).
    pub header: Value,
    pub body_text: Option<String>,
    /// The complete frame, length prefix included.
    pub path: PathBuf,
}

impl RecordedFrame {
    /// An extFields value as a string, whether the client sent a string or a number.
    pub fn ext_field(&self, key: &str) -> Option<String> {
        match self.header.get("extFields")?.get(key)? {
            Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        }
    }
}

pub struct Recorder {
    child: Child,
    out_dir: PathBuf,
    pub namesrv_addr: Option<String>,
    pub broker_addr: Option<String>,
}

impl Recorder {
    /// Starts the recorder writing into `out_dir` and waits for its READY line.
    pub fn start(out_dir: &Path, config: &RecorderConfig) -> Recorder {
        let mut args = vec![
            scripts_dir().join("record_frames.py").display().to_string(),
            "--out".into(),
            out_dir.display().to_string(),
        ];
        if let Some(port) = config.namesrv_port {
            args.extend(["--namesrv-port".into(), port.to_string()]);
        }
        if let Some(port) = config.broker_port {
            args.extend(["--broker-port".into(), port.to_string()]);
        }
        for topic in &config.route_topics {
            args.extend(["--route-topic".into(), topic.clone()]);
        }
        if config.route_retry_topics {
            args.push("--route-retry-topics".into());
        }
        let log = std::fs::File::create(out_dir.join("recorder.log")).expect("create recorder.log");
        // Plain python3: the recorder needs only the standard library, not the venv.
        let mut child = Command::new("python3")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start record_frames.py with python3");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut ready = String::new();
        // EOF here means the script died; its stderr is in recorder.log.
        let _ = BufReader::new(stdout).read_line(&mut ready);
        assert!(
            ready.starts_with("READY"),
            "record_frames.py did not start (see {}): {ready:?}",
            out_dir.join("recorder.log").display()
        );
        let addr_of = |role: &str| {
            ready
                .split_whitespace()
                .find_map(|word| word.strip_prefix(&format!("{role}=")).map(str::to_string))
        };
        Recorder {
            namesrv_addr: addr_of("namesrv"),
            broker_addr: addr_of("broker"),
            child,
            out_dir: out_dir.to_path_buf(),
        }
    }

    /// Every frame received so far, in arrival order.
    pub fn frames(&self) -> Vec<RecordedFrame> {
        let index = std::fs::read_to_string(self.out_dir.join("frames.jsonl")).unwrap_or_default();
        index
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .map(|record| RecordedFrame {
                seq: record["seq"].as_u64().unwrap_or_default(),
                role: record["role"].as_str().unwrap_or_default().to_string(),
                code: record["code"].as_i64().unwrap_or(-1),
                header: record["header"].clone(),
                body_text: record["body_text"].as_str().map(str::to_string),
                path: self
                    .out_dir
                    .join(record["file"].as_str().unwrap_or_default()),
            })
            .collect()
    }

    /// Polls until a frame matching `predicate` has arrived, or `timeout` passes.
    pub fn wait_for_frame(
        &self,
        timeout: Duration,
        predicate: impl Fn(&RecordedFrame) -> bool,
    ) -> Option<RecordedFrame> {
        let started = Instant::now();
        loop {
            if let Some(frame) = self.frames().into_iter().find(|frame| predicate(frame)) {
                return Some(frame);
            }
            if started.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

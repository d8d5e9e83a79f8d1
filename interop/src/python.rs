//! The Python virtualenv that holds PyPI's `rocketmq-python-cvs` (the Apache C++ client 2.1
//! as `librocketmq.so`), and running the scripts in `interop/python/` inside it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::workspace;

/// What a finished script printed, and how it ended.
#[derive(Debug)]
pub struct ScriptOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// True when the script was killed for running past its timeout.
    pub timed_out: bool,
}

impl ScriptOutput {
    /// The last stdout line parsed as JSON: the drivers print their result that way.
    pub fn json(&self) -> serde_json::Value {
        let line = self.stdout.lines().rev().find(|line| line.starts_with('{'));
        let line = line.unwrap_or_else(|| panic!("no JSON line in the script's output\n{self}"));
        serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"))
    }
}

impl std::fmt::Display for ScriptOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status {} (timed out: {})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.timed_out, self.stdout, self.stderr
        )
    }
}

/// `interop/python/`.
pub fn scripts_dir() -> PathBuf {
    workspace::root().join("interop").join("python")
}

/// The venv's python, creating the venv with `setup_venv.sh` on first use in this process.
/// The script is idempotent and returns in a fraction of a second once the venv exists.
pub fn venv_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let script = scripts_dir().join("setup_venv.sh");
        let output = Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|error| panic!("run {}: {error}", script.display()));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{} failed:\n{stdout}\n{}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let python = stdout
            .lines()
            .last()
            .expect("setup_venv.sh prints the python path");
        PathBuf::from(python.trim())
    })
}

/// Runs `interop/python/<script> args...` with the venv's python, in `work_dir`, and kills it
/// (by PID) if it runs past `timeout`.
pub fn run_script(
    script: &str,
    args: &[String],
    work_dir: &Path,
    timeout: Duration,
) -> ScriptOutput {
    let mut child = Command::new(venv_python())
        .arg(scripts_dir().join(script))
        .args(args)
        .current_dir(work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("start {script}: {error}"));
    // Drain both pipes on threads so a chatty script can't block on a full pipe.
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the script") {
            break status;
        }
        if started.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("reap the killed script");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    ScriptOutput {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        timed_out,
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

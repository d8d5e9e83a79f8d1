//! Paths inside the workspace, and finding (or building) the server binaries under test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

/// The workspace root: the parent of this crate's directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("interop/ sits inside the workspace")
        .to_path_buf()
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR` as cargo itself does.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        }
        None => root().join("target"),
    }
}

/// A directory under `target/` for one test's logs and data, created empty.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = target_dir().join("interop-logs").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory under target/");
    dir
}

/// Path of binary `bin` from workspace package `package` (e.g. `mqnamesrv` from
/// `ramjet-namesrv`), built if needed.
///
/// `env!("CARGO_BIN_EXE_…")` only exists for binaries of the package under test, and this
/// crate has none. So unless `$RAMJET_BIN_DIR` names a directory holding the binary, this runs
/// `cargo build -p <package> --bin <bin>` (in the profile the tests were built with) once per
/// test process: a no-op when the binary is up to date, and never a stale binary. Cargo has
/// released the target directory's lock by the time tests run, so the nested build is safe.
pub fn server_binary(package: &str, bin: &str) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    if let Some(dir) = std::env::var_os("RAMJET_BIN_DIR") {
        let path = PathBuf::from(dir).join(bin);
        assert!(
            path.is_file(),
            "RAMJET_BIN_DIR has no {bin}: {}",
            path.display()
        );
        return path;
    }
    // Held across the build so parallel tests wait for one build instead of racing.
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, path)) = built.iter().find(|(name, _)| name == bin) {
        return path.clone();
    }
    let (profile, profile_flag) = if cfg!(debug_assertions) {
        ("debug", None)
    } else {
        ("release", Some("--release"))
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let status = Command::new(cargo)
        .current_dir(root())
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .args(profile_flag)
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "cargo build -p {package} --bin {bin} failed"
    );
    let path = target_dir().join(profile).join(bin);
    assert!(
        path.is_file(),
        "cargo build did not produce {}",
        path.display()
    );
    eprintln!(
        "interop: {bin} is {} (cargo build took {:?})",
        path.display(),
        started.elapsed()
    );
    built.push((bin.to_string(), path.clone()));
    path
}

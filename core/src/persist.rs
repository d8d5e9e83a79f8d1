//! Atomic writes of the broker's small JSON state files (topics, groups, offsets): temp
//! file, fsync, rename, fsync the directory. A crash leaves the old file or the new one,
//! never a torn mix, so metadata survives kill -9.

use std::io::Write;
use std::path::{Path, PathBuf};

pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = path.with_extension("tmp");
    {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temp, path)?;
    // The rename itself is durable only once the directory entry is.
    std::fs::File::open(dir)?.sync_all()
}

/// `write_atomically` on glommio's blocking thread pool: the fsyncs take milliseconds and
/// must not stall the shard's reactor (every other connection of the shard waits on it).
pub async fn write_atomically_off_reactor(path: PathBuf, bytes: Vec<u8>) -> Result<(), String> {
    glommio::executor()
        .spawn_blocking(move || {
            write_atomically(&path, &bytes)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        })
        .await
}

/// Reads a state file written by `write_atomically` (or by a Java broker: fastjson with
/// unquoted number keys). A missing file is `Ok(None)`; a corrupt one is an error naming
/// the file, so the broker refuses to start rather than silently forgetting state.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(None),
        Ok(bytes) => ramjet_net::body::fastjson::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} is corrupt: {e}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

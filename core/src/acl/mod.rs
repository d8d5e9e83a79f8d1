//! RocketMQ ACL 1.0 ("plain" ACL, docs/acl.md): with `aclEnable=true` every request is
//! checked against `$ROCKETMQ_HOME/conf/plain_acl.yml` before any processor sees it.
//!
//! The file is read and parsed on a plain thread (`acl-watcher`), never on a shard
//! reactor; it re-reads the file every second and publishes a new `PlainAcl` when the
//! text changed and parses. Shards read the current one through a `RwLock` held only to
//! clone an `Arc`.

mod address;
mod plain;
mod resource;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ramjet_net::RemotingCommand;

pub use plain::PlainAcl;
pub use resource::AccessRequest;

/// How often the watcher re-reads plain_acl.yml.
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// The ACL file under rocketmqHome, where RocketMQ 4.x's PlainPermissionManager reads it.
pub fn acl_file(rocketmq_home: &Path) -> PathBuf {
    rocketmq_home.join("conf").join("plain_acl.yml")
}

/// The current ACL, shared by every shard.
pub struct AclState {
    path: PathBuf,
    current: RwLock<Arc<PlainAcl>>,
}

impl AclState {
    /// Loads `path` (startup, before any reactor runs). A missing file is an empty ACL
    /// (everything refused but whitelisted addresses, as Java's empty default file); a bad
    /// one is an error.
    pub fn load(path: PathBuf) -> Result<Arc<AclState>, String> {
        let acl = match std::fs::read_to_string(&path) {
            Ok(text) => {
                PlainAcl::parse(&text).map_err(|e| format!("ACL file {}: {e}", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(path = %path.display(), "ACL file missing: every request is refused until it exists");
                PlainAcl::default()
            }
            Err(e) => return Err(format!("cannot read ACL file {}: {e}", path.display())),
        };
        Ok(Arc::new(AclState {
            path,
            current: RwLock::new(Arc::new(acl)),
        }))
    }

    pub fn current(&self) -> Arc<PlainAcl> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn publish(&self, acl: PlainAcl) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(acl);
    }

    /// Starts the thread that reloads the file when its text changes. A file that does not
    /// parse is logged and the last good ACL stays.
    pub fn watch(self: &Arc<AclState>) {
        let state = self.clone();
        let mut last = std::fs::read(&state.path).ok();
        let spawned = std::thread::Builder::new()
            .name("acl-watcher".into())
            .spawn(move || loop {
                std::thread::sleep(RELOAD_INTERVAL);
                let text = std::fs::read(&state.path).ok();
                if text == last {
                    continue;
                }
                let parsed = match &text {
                    Some(bytes) => std::str::from_utf8(bytes)
                        .map_err(|e| e.to_string())
                        .and_then(PlainAcl::parse),
                    None => Ok(PlainAcl::default()),
                };
                last = text;
                match parsed {
                    Ok(acl) => {
                        tracing::info!(path = %state.path.display(), "ACL file reloaded");
                        state.publish(acl);
                    }
                    Err(error) => tracing::error!(
                        path = %state.path.display(),
                        %error,
                        "ACL file does not parse; keeping the last good one"
                    ),
                }
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the ACL watcher; the ACL will not reload");
        }
    }

    /// Ok, or why `command` from `peer` is refused (Java's AclException message).
    pub fn check(&self, command: &RemotingCommand, peer: IpAddr) -> Result<(), String> {
        let access = AccessRequest::parse(command)?;
        self.current().validate(&access, peer)
    }
}

#[cfg(test)]
mod tests;

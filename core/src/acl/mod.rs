//! RocketMQ ACL 1.0 ("plain" ACL, docs/acl.md): with `aclEnable=true` every request is
//! checked against `$ROCKETMQ_HOME/conf/plain_acl.yml` before any processor sees it.
//!
//! The file is read and parsed on a plain thread (`acl-watcher`), never on a shard
//! reactor; it re-reads the file every second and publishes a new `PlainAcl` when the
//! text changed and parses. Shards read the current one through a `RwLock` held only to
//! clone an `Arc`.
//!
//! The ACL admin codes (50-54, `processor/acl_admin.rs`) edit the file through
//! `AclState::edit` (`edit.rs`) on glommio's blocking pool: the edited file is checked,
//! written atomically and published before the request is answered.

mod address;
mod edit;
mod plain;
mod resource;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use ramjet_net::RemotingCommand;

pub use edit::{check_global_white, split_list, AccessConfig, Edit};
pub use plain::{AclDataVersion, PlainAcl};
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
    /// The file's bytes as last loaded or written. Held by the watcher from reading the
    /// file to publishing it, and by an admin edit from reading to publishing, so an edit
    /// is never overwritten by a reload of the text before it.
    file: Mutex<Option<Vec<u8>>>,
}

impl AclState {
    /// Loads `path` (startup, before any reactor runs). A missing file is an empty ACL
    /// (everything refused but whitelisted addresses, as Java's empty default file); a bad
    /// one is an error.
    pub fn load(path: PathBuf) -> Result<Arc<AclState>, String> {
        let (acl, bytes) = match std::fs::read_to_string(&path) {
            Ok(text) => (
                PlainAcl::parse(&text).map_err(|e| format!("ACL file {}: {e}", path.display()))?,
                Some(text.into_bytes()),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(path = %path.display(), "ACL file missing: every request is refused until it exists");
                (PlainAcl::empty(), None)
            }
            Err(e) => return Err(format!("cannot read ACL file {}: {e}", path.display())),
        };
        Ok(Arc::new(AclState {
            path,
            current: RwLock::new(Arc::new(acl)),
            file: Mutex::new(bytes),
        }))
    }

    /// The file's full path, as GET_BROKER_CLUSTER_ACL_INFO names it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_file(&self) -> MutexGuard<'_, Option<Vec<u8>>> {
        self.file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
        let spawned = std::thread::Builder::new()
            .name("acl-watcher".into())
            .spawn(move || loop {
                std::thread::sleep(RELOAD_INTERVAL);
                let mut last = state.lock_file();
                let text = std::fs::read(&state.path).ok();
                if text == *last {
                    continue;
                }
                let parsed = match &text {
                    Some(bytes) => std::str::from_utf8(bytes)
                        .map_err(|e| e.to_string())
                        .and_then(PlainAcl::parse),
                    None => Ok(PlainAcl::empty()),
                };
                *last = text;
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

    /// Applies an admin edit to the file and makes it the current ACL before returning:
    /// read, edit, check that the result loads, write atomically (temp file, fsync,
    /// rename), publish. Blocking file I/O: call it on a blocking thread, never a reactor.
    /// Err says why nothing was changed.
    pub fn edit(&self, edit: &Edit) -> Result<AclDataVersion, String> {
        let mut last = self.lock_file();
        let text = match std::fs::read(&self.path) {
            Ok(bytes) => String::from_utf8(bytes)
                .map_err(|_| format!("{} is not UTF-8", self.path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", self.path.display())),
        };
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let new_text = edit::apply(&text, edit, now_ms)?;
        let acl = PlainAcl::parse(&new_text)
            .map_err(|e| format!("the edited ACL file would not load: {e}"))?;
        crate::persist::write_atomically(&self.path, new_text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        *last = Some(new_text.into_bytes());
        let version = acl.data_version;
        self.publish(acl);
        tracing::info!(path = %self.path.display(), counter = version.counter, "ACL file edited by an admin request");
        Ok(version)
    }

    /// The file's text now, for GET_BROKER_CLUSTER_ACL_CONFIG (blocking, like `edit`).
    pub fn read_file(&self) -> Result<String, String> {
        let _guard = self.lock_file();
        match std::fs::read(&self.path) {
            Ok(bytes) => String::from_utf8(bytes)
                .map_err(|_| format!("{} is not UTF-8", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(format!("cannot read {}: {e}", self.path.display())),
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

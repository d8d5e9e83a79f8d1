//! `KVConfigManager`: namespaced key/value settings kept by the name server, persisted as
//! RocketMQ's `kvConfig.json` (`{"configTable":{ns:{k:v}}}`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The namespace whose values become `orderTopicConf` in routes.
pub const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

pub type KvTables = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KvConfigFile {
    config_table: KvTables,
}

#[derive(Debug)]
pub struct KvConfigManager {
    path: PathBuf,
    tables: KvTables,
}

impl KvConfigManager {
    /// Loads the file if it exists. A corrupt file is reported and left in place (not
    /// overwritten until the next change), so an operator can still recover it.
    pub fn load(path: PathBuf) -> KvConfigManager {
        let tables = match std::fs::read(&path) {
            Ok(bytes) => match ramjet_net::body::fastjson::from_slice::<KvConfigFile>(&bytes) {
                Ok(file) => file.config_table,
                Err(error) => {
                    tracing::error!(path = %path.display(), %error, "kvConfig file is unreadable; starting empty");
                    KvTables::new()
                }
            },
            Err(_) => KvTables::new(),
        };
        KvConfigManager { path, tables }
    }

    pub fn tables(&self) -> &KvTables {
        &self.tables
    }

    pub fn put(&mut self, namespace: &str, key: &str, value: &str) {
        self.tables
            .entry(namespace.to_owned())
            .or_default()
            .insert(key.to_owned(), value.to_owned());
        self.persist();
    }

    pub fn delete(&mut self, namespace: &str, key: &str) {
        if let Some(table) = self.tables.get_mut(namespace) {
            table.remove(key);
            if table.is_empty() {
                self.tables.remove(namespace);
            }
        }
        self.persist();
    }

    /// Temp file, fsync, rename: a crash leaves the old or the new file, never half of one.
    fn persist(&self) {
        let file = KvConfigFile {
            config_table: self.tables.clone(),
        };
        let bytes = serde_json::to_vec(&file).expect("kv config serializes");
        let result = (|| -> std::io::Result<()> {
            if let Some(parent) = self.path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let temp = self.path.with_extension("json.tmp");
            let mut out = std::fs::File::create(&temp)?;
            out.write_all(&bytes)?;
            out.sync_all()?;
            std::fs::rename(&temp, &self.path)
        })();
        if let Err(error) = result {
            tracing::error!(path = %self.path.display(), %error, "cannot persist kvConfig");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_reload() {
        let dir = std::env::temp_dir().join(format!("ramjet-kv-{}", std::process::id()));
        let path = dir.join("kvConfig.json");
        let mut kv = KvConfigManager::load(path.clone());
        kv.put(ORDER_TOPIC_CONFIG, "T", "broker-a:4");
        kv.put("ns", "k", "v");
        kv.delete("ns", "k");
        let reloaded = KvConfigManager::load(path);
        assert_eq!(reloaded.tables()[ORDER_TOPIC_CONFIG]["T"], "broker-a:4");
        assert!(!reloaded.tables().contains_key("ns"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}

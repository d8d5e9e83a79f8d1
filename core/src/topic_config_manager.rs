//! `TopicConfigManager`: the broker's topic table, RocketMQ's system topics, auto-creation
//! from TBW102, and `topics.json` persistence (store-format.md section 7.1).
//! Owned by the leader shard; other shards read snapshots.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ramjet_net::body::{perm, DataVersion, TopicConfig, TopicConfigSerializeWrapper};

use crate::config::BrokerConfig;
use crate::persist;
use crate::topic_validator;

pub const AUTO_CREATE_TOPIC_KEY: &str = "TBW102";
pub const SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
pub const BENCHMARK_TOPIC: &str = "BenchmarkTest";
pub const OFFSET_MOVED_EVENT: &str = "OFFSET_MOVED_EVENT";
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";

pub struct TopicConfigManager {
    path: PathBuf,
    table: BTreeMap<String, TopicConfig>,
    data_version: DataVersion,
}

impl TopicConfigManager {
    /// Loads `topics.json` and adds the system topics a Java broker creates at startup.
    pub fn load(config: &BrokerConfig, path: PathBuf) -> Result<TopicConfigManager, String> {
        let wrapper: TopicConfigSerializeWrapper = persist::read_json(&path)?.unwrap_or_default();
        let mut manager = TopicConfigManager {
            path,
            table: wrapper.topic_config_table,
            data_version: wrapper.data_version,
        };
        let system =
            |name: &str, queues: i32, perm: i32| TopicConfig::new(name, queues, queues, perm);
        let rw = perm::READ | perm::WRITE;
        let mut defaults = vec![
            system(SELF_TEST_TOPIC, 1, rw),
            system(BENCHMARK_TOPIC, 1024, rw),
            system(OFFSET_MOVED_EVENT, 1, rw),
            system(SCHEDULE_TOPIC, 18, rw),
            system(TRANS_HALF_TOPIC, 1, rw),
            system(TRANS_OP_HALF_TOPIC, 1, rw),
            system(
                &format!("{}_REPLY_TOPIC", config.broker_cluster_name),
                1,
                rw,
            ),
        ];
        if config.auto_create_topic_enable {
            let queues = config.default_topic_queue_nums;
            defaults.push(system(AUTO_CREATE_TOPIC_KEY, queues, perm::INHERIT | rw));
        } else {
            manager.table.remove(AUTO_CREATE_TOPIC_KEY);
        }
        if config.cluster_topic_enable {
            defaults.push(system(&config.broker_cluster_name, 16, perm::INHERIT | rw));
        }
        if config.broker_topic_enable {
            defaults.push(system(&config.broker_name, 1, perm::INHERIT | rw));
        }
        for topic in defaults {
            manager
                .table
                .entry(topic.topic_name.clone())
                .or_insert(topic);
        }
        let (path, bytes) = manager.encoded();
        persist::write_atomically(&path, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(manager)
    }

    pub fn get(&self, topic: &str) -> Option<&TopicConfig> {
        self.table.get(topic)
    }

    pub fn table(&self) -> &BTreeMap<String, TopicConfig> {
        &self.table
    }

    pub fn data_version(&self) -> DataVersion {
        self.data_version
    }

    pub fn wrapper(&self) -> TopicConfigSerializeWrapper {
        TopicConfigSerializeWrapper {
            data_version: self.data_version,
            topic_config_table: self.table.clone(),
            ..TopicConfigSerializeWrapper::default()
        }
    }

    /// A slave takes its master's table whole when the master's data version differs
    /// (RocketMQ's SlaveSynchronize). Returns whether anything changed.
    pub fn replace_from_master(&mut self, master: TopicConfigSerializeWrapper) -> bool {
        if master.data_version == self.data_version && master.topic_config_table == self.table {
            return false;
        }
        self.table = master.topic_config_table;
        self.data_version = master.data_version;
        true
    }

    /// Creates or replaces a topic (UPDATE_AND_CREATE_TOPIC, auto-creation).
    pub fn put(&mut self, config: TopicConfig) -> Result<(), String> {
        topic_validator::validate(&config.topic_name)?;
        if config.read_queue_nums <= 0 || config.write_queue_nums <= 0 {
            return Err(format!(
                "topic {} needs at least one queue",
                config.topic_name
            ));
        }
        self.table.insert(config.topic_name.clone(), config);
        self.bump();
        Ok(())
    }

    pub fn delete(&mut self, topic: &str) -> Result<bool, String> {
        let existed = self.table.remove(topic).is_some();
        if existed {
            self.bump();
        }
        Ok(existed)
    }

    /// Auto-creation on send (`createTopicInSendMessageMethod`): the default topic must
    /// exist with PERM_INHERIT; the new topic gets min(requested, default's) queues and the
    /// default's permission without INHERIT.
    /// With autoCreateTopicEnable off, TBW102 creates nothing even if it is still listed
    /// (the flag is read per send, so turning it off at runtime takes effect at once).
    pub fn create_for_send(
        &mut self,
        topic: &str,
        default_topic: &str,
        requested_queue_nums: i32,
        topic_sys_flag: i32,
        auto_create_topic_enable: bool,
    ) -> Result<Option<TopicConfig>, String> {
        if let Some(existing) = self.table.get(topic) {
            return Ok(Some(existing.clone()));
        }
        if default_topic == AUTO_CREATE_TOPIC_KEY && !auto_create_topic_enable {
            return Ok(None);
        }
        let Some(default) = self.table.get(default_topic) else {
            return Ok(None);
        };
        if default.perm & perm::INHERIT == 0 {
            return Ok(None);
        }
        let queues = requested_queue_nums.clamp(1, default.write_queue_nums.max(1));
        let mut config = TopicConfig::new(topic, queues, queues, default.perm & !perm::INHERIT);
        config.topic_sys_flag = topic_sys_flag;
        self.put(config.clone())?;
        tracing::info!(topic, queues, "topic auto-created from {default_topic}");
        Ok(Some(config))
    }

    /// Brings TBW102 in line with a changed autoCreateTopicEnable / defaultTopicQueueNums:
    /// listed (with that many queues) exactly when auto-creation is on, as at startup.
    /// Returns whether the table changed.
    pub fn apply_auto_create(&mut self, enabled: bool, queue_nums: i32) -> bool {
        let current = self.table.get(AUTO_CREATE_TOPIC_KEY).cloned();
        let wanted = enabled.then(|| {
            let rw = perm::READ | perm::WRITE;
            TopicConfig::new(
                AUTO_CREATE_TOPIC_KEY,
                queue_nums,
                queue_nums,
                perm::INHERIT | rw,
            )
        });
        let same = match (&current, &wanted) {
            (Some(current), Some(wanted)) => {
                current.read_queue_nums == wanted.read_queue_nums
                    && current.write_queue_nums == wanted.write_queue_nums
            }
            (None, None) => true,
            _ => false,
        };
        if same {
            return false;
        }
        match wanted {
            Some(config) => self.table.insert(config.topic_name.clone(), config),
            None => self.table.remove(AUTO_CREATE_TOPIC_KEY),
        };
        self.bump();
        true
    }

    /// `%RETRY%<group>` and `%DLQ%<group>` are created on demand with their group's queue
    /// count (1 by default) and read+write permission.
    pub fn create_system_group_topic(
        &mut self,
        topic: &str,
        queues: i32,
    ) -> Result<TopicConfig, String> {
        if let Some(existing) = self.table.get(topic) {
            return Ok(existing.clone());
        }
        let config = TopicConfig::new(topic, queues, queues, perm::READ | perm::WRITE);
        self.put(config.clone())?;
        Ok(config)
    }

    fn bump(&mut self) {
        self.data_version.counter += 1;
        self.data_version.timestamp = now_ms();
    }

    /// The state file's path and contents. Changes are kept in memory by the mutators;
    /// the leader writes this off the reactor before it answers the change.
    pub fn encoded(&self) -> (PathBuf, Vec<u8>) {
        (
            self.path.clone(),
            serde_json::to_vec_pretty(&self.wrapper()).expect("topics serialize"),
        )
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(dir: &std::path::Path) -> TopicConfigManager {
        let config = BrokerConfig {
            broker_name: "broker-a".into(),
            ..BrokerConfig::default()
        };
        TopicConfigManager::load(&config, dir.join("topics.json")).unwrap()
    }

    #[test]
    fn auto_creates_from_tbw102_and_survives_reload() {
        let dir = std::env::temp_dir().join(format!("ramjet-topics-{}", std::process::id()));
        let mut topics = manager(&dir);
        assert_eq!(topics.get(AUTO_CREATE_TOPIC_KEY).unwrap().perm, 7);
        let created = topics
            .create_for_send("NewTopic", AUTO_CREATE_TOPIC_KEY, 4, 0, true)
            .unwrap()
            .unwrap();
        assert_eq!((created.read_queue_nums, created.perm), (4, 6));
        assert!(topics
            .create_for_send("Other", "NoSuchDefault", 4, 0, true)
            .unwrap()
            .is_none());
        let version = topics.data_version();
        // Mutations stay in memory until the leader writes `encoded()` (off the reactor).
        let (path, bytes) = topics.encoded();
        persist::write_atomically(&path, &bytes).unwrap();
        let reloaded = manager(&dir);
        assert_eq!(reloaded.get("NewTopic"), Some(&created));
        assert_eq!(reloaded.data_version(), version);
        assert!(topics.put(TopicConfig::new("bad topic", 1, 1, 6)).is_err());
        // autoCreateTopicEnable=false at runtime: TBW102 creates nothing, and goes away.
        assert!(topics
            .create_for_send("Third", AUTO_CREATE_TOPIC_KEY, 4, 0, false)
            .unwrap()
            .is_none());
        assert!(topics.apply_auto_create(false, 8));
        assert!(topics.get(AUTO_CREATE_TOPIC_KEY).is_none());
        assert!(!topics.apply_auto_create(false, 8));
        assert!(topics.apply_auto_create(true, 3));
        assert_eq!(
            topics.get(AUTO_CREATE_TOPIC_KEY).unwrap().write_queue_nums,
            3
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}

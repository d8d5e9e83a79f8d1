//! `SubscriptionGroupManager`: consumer group settings and `subscriptionGroup.json`
//! (store-format.md section 7.4). Owned by the leader shard.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ramjet_net::body::DataVersion;
use serde::{Deserialize, Serialize};

use crate::persist;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    pub broker_id: i64,
    pub consume_broadcast_enable: bool,
    pub consume_enable: bool,
    pub consume_from_min_enable: bool,
    pub consume_message_orderly: bool,
    pub consume_timeout_minute: i32,
    pub group_name: String,
    pub group_sys_flag: i32,
    pub notify_consumer_ids_changed_enable: bool,
    pub retry_max_times: i32,
    pub retry_queue_nums: i32,
    pub which_broker_when_consume_slowly: i64,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> SubscriptionGroupConfig {
        SubscriptionGroupConfig {
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            consume_message_orderly: false,
            consume_timeout_minute: 15,
            group_name: String::new(),
            group_sys_flag: 0,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            which_broker_when_consume_slowly: 1,
        }
    }
}

impl SubscriptionGroupConfig {
    pub fn named(group: &str) -> SubscriptionGroupConfig {
        SubscriptionGroupConfig {
            group_name: group.to_owned(),
            ..SubscriptionGroupConfig::default()
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupWrapper {
    pub data_version: DataVersion,
    pub forbidden_table: BTreeMap<String, serde_json::Value>,
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

/// Groups a Java broker creates at startup.
const BUILT_IN_GROUPS: &[&str] = &[
    "TOOLS_CONSUMER",
    "FILTERSRV_CONSUMER",
    "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY",
    "CID_ONSAPI_PULL",
    "CID_ONSAPI_PERMISSION",
    "CID_ONSAPI_OWNER",
    "CID_RMQ_SYS_TRANS",
];

pub struct SubscriptionGroupManager {
    path: PathBuf,
    wrapper: SubscriptionGroupWrapper,
}

impl SubscriptionGroupManager {
    pub fn load(path: PathBuf) -> Result<SubscriptionGroupManager, String> {
        let wrapper = persist::read_json(&path)?.unwrap_or_default();
        let mut manager = SubscriptionGroupManager { path, wrapper };
        for group in BUILT_IN_GROUPS {
            manager
                .wrapper
                .subscription_group_table
                .entry(group.to_string())
                .or_insert_with(|| SubscriptionGroupConfig::named(group));
        }
        let (path, bytes) = manager.encoded();
        persist::write_atomically(&path, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(manager)
    }

    pub fn get(&self, group: &str) -> Option<&SubscriptionGroupConfig> {
        self.wrapper.subscription_group_table.get(group)
    }

    pub fn table(&self) -> &BTreeMap<String, SubscriptionGroupConfig> {
        &self.wrapper.subscription_group_table
    }

    pub fn wrapper(&self) -> &SubscriptionGroupWrapper {
        &self.wrapper
    }

    /// Finds a group, creating it with defaults when `auto_create` allows.
    pub fn find_or_create(
        &mut self,
        group: &str,
        auto_create: bool,
    ) -> Result<Option<SubscriptionGroupConfig>, String> {
        if let Some(config) = self.get(group) {
            return Ok(Some(config.clone()));
        }
        if !auto_create {
            return Ok(None);
        }
        crate::topic_validator::validate_group(group)?;
        let config = SubscriptionGroupConfig::named(group);
        self.put(config.clone())?;
        Ok(Some(config))
    }

    pub fn put(&mut self, config: SubscriptionGroupConfig) -> Result<(), String> {
        crate::topic_validator::validate_group(&config.group_name)?;
        self.wrapper
            .subscription_group_table
            .insert(config.group_name.clone(), config);
        self.bump();
        Ok(())
    }

    pub fn delete(&mut self, group: &str) -> Result<bool, String> {
        let existed = self
            .wrapper
            .subscription_group_table
            .remove(group)
            .is_some();
        if existed {
            self.bump();
        }
        Ok(existed)
    }

    fn bump(&mut self) {
        self.wrapper.data_version.counter += 1;
        self.wrapper.data_version.timestamp = crate::topic_config_manager::now_ms();
    }

    /// The state file's path and contents. Changes are kept in memory by the mutators;
    /// the leader writes this off the reactor before it answers the change.
    pub fn encoded(&self) -> (PathBuf, Vec<u8>) {
        (
            self.path.clone(),
            serde_json::to_vec_pretty(&self.wrapper).expect("groups serialize"),
        )
    }
}

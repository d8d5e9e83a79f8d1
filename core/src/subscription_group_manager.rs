//! `SubscriptionGroupManager`: consumer group settings and `subscriptionGroup.json`
//! (store-format.md section 7.4). Owned by the leader shard.

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use ramjet_net::body::{SubscriptionGroupConfig, SubscriptionGroupWrapper};

use crate::persist;

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

    /// A slave takes its master's groups whole (RocketMQ's SlaveSynchronize). Returns
    /// whether anything changed.
    pub fn replace_from_master(&mut self, master: SubscriptionGroupWrapper) -> bool {
        if master == self.wrapper {
            return false;
        }
        self.wrapper = master;
        true
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

//! Consumer group settings: `SubscriptionGroupConfig` (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP's
//! body, one row of GET_ALL_SUBSCRIPTIONGROUP_CONFIG) and `SubscriptionGroupWrapper`, which is
//! also the broker's `subscriptionGroup.json`.
//!
//! Fields are declared in fastjson's alphabetical order so what we write is byte-for-byte what
//! a Java broker writes; missing fields read as Java's field initializers, unknown ones are
//! ignored (a newer broker's extra fields must not break an older tool).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::topic_config::DataVersion;

/// The retry backoff of a group (5.x). 4.x brokers neither write nor read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupRetryPolicy {
    /// Java writes a null policy by leaving it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customized_retry_policy: Option<CustomizedRetryPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exponential_retry_policy: Option<ExponentialRetryPolicy>,
    /// `CUSTOMIZED` or `EXPONENTIAL`; kept as text so a new kind survives a round trip.
    #[serde(rename = "type")]
    pub policy_type: String,
}

impl Default for GroupRetryPolicy {
    fn default() -> GroupRetryPolicy {
        GroupRetryPolicy {
            customized_retry_policy: None,
            exponential_retry_policy: None,
            policy_type: "CUSTOMIZED".to_owned(),
        }
    }
}

impl std::fmt::Display for GroupRetryPolicy {
    /// Guava's `toStringHelper` form of `GroupRetryPolicy.toString()`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let exponential = self.exponential_retry_policy.as_ref().map_or_else(
            || "null".to_owned(),
            |p| {
                format!(
                    "ExponentialRetryPolicy{{initial={}, max={}, multiplier={}}}",
                    p.initial, p.max, p.multiplier
                )
            },
        );
        let customized = self.customized_retry_policy.as_ref().map_or_else(
            || "null".to_owned(),
            |p| format!("CustomizedRetryPolicy{{next={:?}}}", p.next),
        );
        write!(
            f,
            "GroupRetryPolicy{{type={}, exponentialRetryPolicy={exponential}, \
             customizedRetryPolicy={customized}}}",
            self.policy_type
        )
    }
}

/// Delay = min(initial * multiplier^(reconsumeTimes), max), in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExponentialRetryPolicy {
    pub initial: i64,
    pub max: i64,
    pub multiplier: i64,
}

impl Default for ExponentialRetryPolicy {
    fn default() -> ExponentialRetryPolicy {
        ExponentialRetryPolicy {
            initial: 5_000,
            max: 2 * 3_600_000,
            multiplier: 2,
        }
    }
}

/// Delay of the n-th retry taken from a table, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomizedRetryPolicy {
    pub next: Vec<i64>,
}

impl Default for CustomizedRetryPolicy {
    /// The delay levels 3 to 18 of `messageDelayLevel` plus two short ones in front, as Java has.
    fn default() -> CustomizedRetryPolicy {
        const SECOND: i64 = 1_000;
        const MINUTE: i64 = 60 * SECOND;
        CustomizedRetryPolicy {
            next: vec![
                SECOND,
                5 * SECOND,
                10 * SECOND,
                30 * SECOND,
                MINUTE,
                2 * MINUTE,
                3 * MINUTE,
                4 * MINUTE,
                5 * MINUTE,
                6 * MINUTE,
                7 * MINUTE,
                8 * MINUTE,
                9 * MINUTE,
                10 * MINUTE,
                20 * MINUTE,
                30 * MINUTE,
                60 * MINUTE,
                120 * MINUTE,
            ],
        }
    }
}

/// A subscription stored with the group (5.x `SimpleSubscriptionData`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SimpleSubscriptionData {
    pub expression: String,
    pub expression_type: String,
    pub topic: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    /// 5.x only: `+key=value` pairs set by `updateSubGroup -a`.
    pub attributes: BTreeMap<String, String>,
    pub broker_id: i64,
    pub consume_broadcast_enable: bool,
    pub consume_enable: bool,
    pub consume_from_min_enable: bool,
    pub consume_message_orderly: bool,
    pub consume_timeout_minute: i32,
    pub group_name: String,
    /// 5.x only; a 4.x body leaves it out and reads as the default policy.
    pub group_retry_policy: GroupRetryPolicy,
    pub group_sys_flag: i32,
    pub notify_consumer_ids_changed_enable: bool,
    pub retry_max_times: i32,
    pub retry_queue_nums: i32,
    /// Java's default is null, which it writes by leaving the field out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data_set: Option<Vec<SimpleSubscriptionData>>,
    pub which_broker_when_consume_slowly: i64,
}

impl Default for SubscriptionGroupConfig {
    /// Java's field initializers.
    fn default() -> SubscriptionGroupConfig {
        SubscriptionGroupConfig {
            attributes: BTreeMap::new(),
            broker_id: super::route::MASTER_ID,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            consume_message_orderly: false,
            consume_timeout_minute: 15,
            group_name: String::new(),
            group_retry_policy: GroupRetryPolicy::default(),
            group_sys_flag: 0,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            subscription_data_set: None,
            which_broker_when_consume_slowly: 1,
        }
    }
}

impl SubscriptionGroupConfig {
    /// A group with Java's defaults, as a broker auto-creates it.
    pub fn named(group_name: &str) -> SubscriptionGroupConfig {
        SubscriptionGroupConfig {
            group_name: group_name.to_owned(),
            ..SubscriptionGroupConfig::default()
        }
    }
}

impl std::fmt::Display for SubscriptionGroupConfig {
    /// Guava's `toStringHelper` form of `SubscriptionGroupConfig.toString()`, which
    /// `mqadmin updateSubGroup` prints for the config it sent.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let subscriptions = match &self.subscription_data_set {
            None => "null".to_owned(),
            Some(set) => {
                let items: Vec<String> = set
                    .iter()
                    .map(|s| {
                        format!(
                            "SimpleSubscriptionData{{topic={}, expressionType={}, \
                             expression={}, version={}}}",
                            s.topic, s.expression_type, s.expression, s.version
                        )
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            }
        };
        let attributes: Vec<String> = self
            .attributes
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        write!(
            f,
            "SubscriptionGroupConfig{{groupName={}, consumeEnable={}, consumeFromMinEnable={}, \
             consumeBroadcastEnable={}, consumeMessageOrderly={}, retryQueueNums={}, \
             retryMaxTimes={}, groupRetryPolicy={}, brokerId={}, whichBrokerWhenConsumeSlowly={}, \
             notifyConsumerIdsChangedEnable={}, groupSysFlag={}, consumeTimeoutMinute={}, \
             subscriptionDataSet={subscriptions}, attributes={{{}}}}}",
            self.group_name,
            self.consume_enable,
            self.consume_from_min_enable,
            self.consume_broadcast_enable,
            self.consume_message_orderly,
            self.retry_queue_nums,
            self.retry_max_times,
            self.group_retry_policy,
            self.broker_id,
            self.which_broker_when_consume_slowly,
            self.notify_consumer_ids_changed_enable,
            self.group_sys_flag,
            self.consume_timeout_minute,
            attributes.join(", ")
        )
    }
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG's body and the broker's `subscriptionGroup.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupWrapper {
    pub data_version: DataVersion,
    /// 5.x: group -> topic -> forbidden permission bits.
    pub forbidden_table: BTreeMap<String, BTreeMap<String, i32>>,
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::WireBody;

    /// fastjson 1.2.83 `JSON.toJSONString` of a `new SubscriptionGroupConfig()` named G1
    /// (RocketMQ 5.x: every field at its initializer).
    const JAVA_DEFAULT_CONFIG: &str = r#"{"attributes":{},"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,"consumeMessageOrderly":false,"consumeTimeoutMinute":15,"groupName":"G1","groupRetryPolicy":{"type":"CUSTOMIZED"},"groupSysFlag":0,"notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,"retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}"#;

    #[test]
    fn default_config_matches_java_bytes_both_ways() {
        let config = SubscriptionGroupConfig::named("G1");
        assert_eq!(
            SubscriptionGroupConfig::decode(JAVA_DEFAULT_CONFIG.as_bytes()).unwrap(),
            config
        );
        assert_eq!(config.encode(), JAVA_DEFAULT_CONFIG.as_bytes());
    }

    #[test]
    fn wrapper_matches_java_bytes_both_ways() {
        // The same config inside a SubscriptionGroupWrapper with dataVersion {counter 3}.
        let java = format!(
            r#"{{"dataVersion":{{"counter":3,"stateVersion":0,"timestamp":1700000000000}},"forbiddenTable":{{}},"subscriptionGroupTable":{{"G1":{JAVA_DEFAULT_CONFIG}}}}}"#
        );
        let wrapper = SubscriptionGroupWrapper::decode(java.as_bytes()).unwrap();
        assert_eq!(wrapper.data_version.counter, 3);
        assert_eq!(
            wrapper.subscription_group_table["G1"],
            SubscriptionGroupConfig::named("G1")
        );
        assert_eq!(wrapper.encode(), java.as_bytes());
    }

    #[test]
    fn reads_a_4x_config_with_5x_defaults() {
        // A 4.9 broker writes neither attributes nor groupRetryPolicy.
        let java = br#"{"brokerId":0,"consumeBroadcastEnable":false,"consumeEnable":true,"consumeFromMinEnable":false,"consumeMessageOrderly":true,"consumeTimeoutMinute":15,"groupName":"G","groupSysFlag":0,"notifyConsumerIdsChangedEnable":true,"retryMaxTimes":3,"retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}"#;
        let config = SubscriptionGroupConfig::decode(java).unwrap();
        assert!(config.consume_message_orderly);
        assert!(!config.consume_broadcast_enable);
        assert_eq!(config.retry_max_times, 3);
        assert_eq!(config.group_retry_policy, GroupRetryPolicy::default());
        assert!(config.attributes.is_empty());
    }

    #[test]
    fn keeps_a_typed_retry_policy_and_subscriptions() {
        // What a 5.x broker writes after `updateSubGroup` with an exponential policy.
        let text = br#"{"attributes":{"+k":"v"},"groupName":"G","groupRetryPolicy":{"exponentialRetryPolicy":{"initial":1000,"max":60000,"multiplier":3},"type":"EXPONENTIAL"},"subscriptionDataSet":[{"expression":"*","expressionType":"TAG","topic":"T","version":0}]}"#;
        let config = SubscriptionGroupConfig::decode(text).unwrap();
        let policy = config.group_retry_policy.exponential_retry_policy.clone();
        assert_eq!(policy.unwrap().multiplier, 3);
        assert_eq!(config.subscription_data_set.as_ref().unwrap()[0].topic, "T");
        assert_eq!(
            SubscriptionGroupConfig::decode(&config.encode()).unwrap(),
            config
        );
        assert!(config.to_string().contains("type=EXPONENTIAL"));
        assert!(config.to_string().ends_with("attributes={+k=v}}"));
    }
}

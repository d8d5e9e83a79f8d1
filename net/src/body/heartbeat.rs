//! HeartbeatData, the body of HEART_BEAT (docs/remoting-protocol.md sections 3.4 and 11).
//!
//! Read from a generic JSON value rather than derived, because clients disagree on the
//! shape: the C++ client sends enum ordinals instead of names, `subVersion` as a string, no
//! `tagsSet`/`codeSet`, and pull consumers without `subscriptionDataSet`; Go may send `null`
//! sets. Tags and their hash codes are always derived from `subString` (never trusted from
//! `codeSet`: rocketmq-client-rust hashes untrimmed tags).

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeartbeatData {
    pub client_id: String,
    pub producer_groups: Vec<String>,
    pub consumers: Vec<ConsumerData>,
    /// 5.x heartbeat V2: 0 means V1.
    pub heartbeat_fingerprint: i64,
    /// 5.x: the subscription set is omitted; keep the previously registered one.
    pub without_sub: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerData {
    pub group_name: String,
    /// `CONSUME_ACTIVELY`, `CONSUME_PASSIVELY` or `CONSUME_POP`.
    pub consume_type: String,
    /// `CLUSTERING` or `BROADCASTING`.
    pub message_model: String,
    pub consume_from_where: String,
    pub subscriptions: Vec<SubscriptionData>,
    pub unit_mode: bool,
}

/// One topic subscription, written back exactly as Java names it (ConsumerConnection).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionData {
    pub class_filter_mode: bool,
    pub code_set: Vec<i32>,
    pub expression_type: String,
    pub sub_string: String,
    pub sub_version: i64,
    pub tags_set: Vec<String>,
    pub topic: String,
}

pub const SUB_ALL: &str = "*";

impl SubscriptionData {
    /// Builds a subscription the way the broker's `FilterAPI.buildSubscriptionData` does:
    /// empty or `*` means all; otherwise split on `||`, trim, drop empties, hash each tag.
    pub fn build(topic: &str, sub_string: &str, expression_type: &str) -> SubscriptionData {
        let mut data = SubscriptionData {
            topic: topic.to_owned(),
            expression_type: expression_type.to_owned(),
            ..SubscriptionData::default()
        };
        let trimmed = sub_string.trim();
        if !expression_type.eq_ignore_ascii_case("TAG") {
            data.sub_string = sub_string.to_owned();
            return data;
        }
        if trimmed.is_empty() || trimmed == SUB_ALL {
            data.sub_string = SUB_ALL.to_owned();
            return data;
        }
        data.sub_string = sub_string.to_owned();
        for tag in trimmed
            .split("||")
            .map(str::trim)
            .filter(|tag| !tag.is_empty())
        {
            if !data.tags_set.iter().any(|known| known == tag) {
                data.tags_set.push(tag.to_owned());
                data.code_set.push(java_string_hash(tag));
            }
        }
        data
    }

    pub fn matches_all(&self) -> bool {
        self.sub_string == SUB_ALL
    }
}

/// Java's `String.hashCode` over UTF-16 code units, wrapping.
pub fn java_string_hash(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

const CONSUME_TYPES: [&str; 3] = ["CONSUME_ACTIVELY", "CONSUME_PASSIVELY", "CONSUME_POP"];
const MESSAGE_MODELS: [&str; 2] = ["BROADCASTING", "CLUSTERING"];
const CONSUME_FROM: [&str; 6] = [
    "CONSUME_FROM_LAST_OFFSET",
    "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
    "CONSUME_FROM_MIN_OFFSET",
    "CONSUME_FROM_MAX_OFFSET",
    "CONSUME_FROM_FIRST_OFFSET",
    "CONSUME_FROM_TIMESTAMP",
];

/// An enum sent by name (Java, Go) or by ordinal (C++).
fn enum_name(value: Option<&Value>, names: &[&str], default: &str) -> String {
    match value {
        Some(Value::String(name)) if name.parse::<usize>().is_err() => name.clone(),
        Some(Value::String(text)) => names
            .get(text.parse::<usize>().unwrap_or(usize::MAX))
            .unwrap_or(&default)
            .to_string(),
        Some(Value::Number(n)) => names
            .get(n.as_u64().unwrap_or(u64::MAX) as usize)
            .unwrap_or(&default)
            .to_string(),
        _ => default.to_owned(),
    }
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn int(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(text)) => text.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn boolean(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(text)) => text.eq_ignore_ascii_case("true") || text == "1",
        _ => false,
    }
}

fn items(value: Option<&Value>) -> &[Value] {
    match value {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

impl HeartbeatData {
    pub fn decode(body: &[u8]) -> Result<HeartbeatData, String> {
        let root = super::fastjson::parse(body).map_err(|e| e.to_string())?;
        if !root.is_object() {
            return Err("heartbeat body is not a JSON object".into());
        }
        let producer_groups = items(root.get("producerDataSet"))
            .iter()
            .map(|producer| text(producer.get("groupName")))
            .filter(|group| !group.is_empty())
            .collect();
        let consumers = items(root.get("consumerDataSet"))
            .iter()
            .map(|consumer| ConsumerData {
                group_name: text(consumer.get("groupName")),
                consume_type: enum_name(
                    consumer.get("consumeType"),
                    &CONSUME_TYPES,
                    "CONSUME_PASSIVELY",
                ),
                message_model: enum_name(
                    consumer.get("messageModel"),
                    &MESSAGE_MODELS,
                    "CLUSTERING",
                ),
                consume_from_where: enum_name(
                    consumer.get("consumeFromWhere"),
                    &CONSUME_FROM,
                    "CONSUME_FROM_LAST_OFFSET",
                ),
                unit_mode: boolean(consumer.get("unitMode")),
                subscriptions: items(consumer.get("subscriptionDataSet"))
                    .iter()
                    .map(|sub| {
                        let expression_type = text(sub.get("expressionType"));
                        let expression_type = if expression_type.is_empty() {
                            "TAG".to_owned()
                        } else {
                            expression_type
                        };
                        let mut data = SubscriptionData::build(
                            &text(sub.get("topic")),
                            &text(sub.get("subString")),
                            &expression_type,
                        );
                        data.sub_version = int(sub.get("subVersion"));
                        data.class_filter_mode = boolean(sub.get("classFilterMode"));
                        data
                    })
                    .collect(),
            })
            .filter(|consumer| !consumer.group_name.is_empty())
            .collect();
        Ok(HeartbeatData {
            client_id: text(root.get("clientID")),
            producer_groups,
            consumers,
            heartbeat_fingerprint: int(root.get("heartbeatFingerprint")),
            without_sub: boolean(root.get("withoutSub")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_hash_matches_java() {
        assert_eq!(java_string_hash("TagA"), 2598919);
        assert_eq!(java_string_hash(""), 0);
        // "é" is one UTF-16 unit (233); a non-BMP char counts as two surrogates.
        assert_eq!(java_string_hash("é"), 233);
        assert_eq!(java_string_hash("😀"), 0xD83D * 31 + 0xDE00);
    }

    #[test]
    fn derives_tags_from_sub_string_not_code_set() {
        // rocketmq-client-rust sends codeSet hashed before trimming.
        let body = br#"{"clientID":"c1","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"g1","messageModel":"CLUSTERING","subscriptionDataSet":[{"codeSet":[1,2],"expressionType":"TAG","subString":"TagA || TagB","subVersion":17,"tagsSet":["TagA ","TagB"],"topic":"T"}],"unitMode":false}],"producerDataSet":[]}"#;
        let data = HeartbeatData::decode(body).unwrap();
        let sub = &data.consumers[0].subscriptions[0];
        assert_eq!(sub.tags_set, ["TagA", "TagB"]);
        assert_eq!(sub.code_set, [2598919, 2598920]);
        assert_eq!(sub.sub_version, 17);
    }

    #[test]
    fn reads_cpp_ordinals_and_missing_sets() {
        let body = br#"{"clientID":"127.0.0.1@1","consumerDataSet":[{"consumeFromWhere":0,"consumeType":1,"groupName":"g","messageModel":1,"subscriptionDataSet":[{"subString":"*","subVersion":"1700","topic":"T"}]},{"groupName":"pull","consumeType":0,"messageModel":1}],"producerDataSet":[{"groupName":"PG"}]}
"#;
        let data = HeartbeatData::decode(body).unwrap();
        assert_eq!(data.consumers[0].consume_type, "CONSUME_PASSIVELY");
        assert_eq!(data.consumers[0].message_model, "CLUSTERING");
        assert_eq!(
            data.consumers[0].consume_from_where,
            "CONSUME_FROM_LAST_OFFSET"
        );
        assert!(data.consumers[0].subscriptions[0].matches_all());
        assert_eq!(data.consumers[0].subscriptions[0].sub_version, 1700);
        assert!(data.consumers[1].subscriptions.is_empty());
        assert_eq!(data.producer_groups, ["PG"]);
    }
}

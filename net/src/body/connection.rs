//! Who is connected: GET_CONSUMER_CONNECTION_LIST, GET_PRODUCER_CONNECTION_LIST and
//! QUERY_TOPIC_CONSUME_BY_WHO's answers. Fields in fastjson's alphabetical order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::heartbeat::SubscriptionData;

/// One client channel (`Connection`). `language` is `LanguageCode`'s name (`JAVA`, `CPP`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Connection {
    pub client_addr: String,
    pub client_id: String,
    pub language: String,
    pub version: i32,
}

/// GET_CONSUMER_CONNECTION_LIST's answer. The three enums are null in Java until a heartbeat
/// sets them, and Java writes null by leaving the field out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerConnection {
    pub connection_set: Vec<Connection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_from_where: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_model: Option<String>,
    /// Topic -> subscription.
    pub subscription_table: BTreeMap<String, SubscriptionData>,
}

impl ConsumerConnection {
    /// `ConsumerConnection.computeMinVersion`.
    pub fn min_version(&self) -> i32 {
        self.connection_set
            .iter()
            .map(|c| c.version)
            .min()
            .unwrap_or(i32::MAX)
    }
}

/// GET_PRODUCER_CONNECTION_LIST's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerConnection {
    pub connection_set: Vec<Connection>,
}

/// QUERY_TOPIC_CONSUME_BY_WHO's answer (and other lists of group names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupList {
    pub group_list: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::WireBody;

    fn connection() -> Connection {
        Connection {
            client_addr: "127.0.0.1:5000".into(),
            client_id: "127.0.0.1@1".into(),
            language: "JAVA".into(),
            version: 453,
        }
    }

    #[test]
    fn consumer_connection_matches_java_bytes_both_ways() {
        // fastjson 1.2.83 `JSON.toJSONString` of a ConsumerConnection with one channel and a
        // TAG subscription to T (filterClassSource null, so left out).
        let java = br#"{"connectionSet":[{"clientAddr":"127.0.0.1:5000","clientId":"127.0.0.1@1","language":"JAVA","version":453}],"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","subscriptionTable":{"T":{"classFilterMode":false,"codeSet":[2598919,2598920],"expressionType":"TAG","subString":"TagA || TagB","subVersion":1700000000000,"tagsSet":["TagA","TagB"],"topic":"T"}}}"#;
        let subscription = SubscriptionData {
            code_set: vec![2598919, 2598920],
            expression_type: "TAG".into(),
            sub_string: "TagA || TagB".into(),
            sub_version: 1_700_000_000_000,
            tags_set: vec!["TagA".into(), "TagB".into()],
            topic: "T".into(),
            ..SubscriptionData::default()
        };
        let body = ConsumerConnection {
            connection_set: vec![connection()],
            consume_from_where: Some("CONSUME_FROM_LAST_OFFSET".into()),
            consume_type: Some("CONSUME_PASSIVELY".into()),
            message_model: Some("CLUSTERING".into()),
            subscription_table: BTreeMap::from([("T".to_owned(), subscription)]),
        };
        assert_eq!(ConsumerConnection::decode(java).unwrap(), body);
        assert_eq!(body.encode(), java);
        assert_eq!(body.min_version(), 453);
    }

    #[test]
    fn consumer_connection_without_a_heartbeat_leaves_enums_out() {
        let body = ConsumerConnection::default();
        assert_eq!(
            body.encode(),
            br#"{"connectionSet":[],"subscriptionTable":{}}"#
        );
        assert_eq!(ConsumerConnection::decode(&body.encode()).unwrap(), body);
    }

    #[test]
    fn producer_connection_matches_java_bytes_both_ways() {
        let java = br#"{"connectionSet":[{"clientAddr":"127.0.0.1:5000","clientId":"127.0.0.1@1","language":"JAVA","version":453}]}"#;
        let body = ProducerConnection {
            connection_set: vec![connection()],
        };
        assert_eq!(ProducerConnection::decode(java).unwrap(), body);
        assert_eq!(body.encode(), java);
    }

    #[test]
    fn group_list_matches_java_bytes_both_ways() {
        let java = br#"{"groupList":["G1"]}"#;
        let body = GroupList {
            group_list: vec!["G1".into()],
        };
        assert_eq!(GroupList::decode(java).unwrap(), body);
        assert_eq!(body.encode(), java);
    }
}

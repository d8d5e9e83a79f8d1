//! Bodies of the rebalance requests: LOCK_BATCH_MQ, UNLOCK_BATCH_MQ and the answer of
//! GET_CONSUMER_LIST_BY_GROUP. Fields in fastjson's alphabetical order, so we write Java's bytes.

use serde::{Deserialize, Serialize};

use super::message_queue::MessageQueue;

/// LOCK_BATCH_MQ's body. 4.x clients leave `onlyThisBroker` out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct LockBatchRequestBody {
    pub client_id: String,
    pub consumer_group: String,
    pub mq_set: Vec<MessageQueue>,
    pub only_this_broker: bool,
}

/// UNLOCK_BATCH_MQ's body: the same fields as a lock request.
pub type UnlockBatchRequestBody = LockBatchRequestBody;

/// LOCK_BATCH_MQ's answer: the queues now locked by the asking client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct LockBatchResponseBody {
    /// Java's getter is `getLockOKMQSet`, which fastjson names with the capitals kept.
    #[serde(rename = "lockOKMQSet")]
    pub lock_ok_mq_set: Vec<MessageQueue>,
}

/// GET_CONSUMER_LIST_BY_GROUP's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GetConsumerListByGroupResponseBody {
    pub consumer_id_list: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::WireBody;

    fn queue() -> MessageQueue {
        MessageQueue::new("T", "broker-a", 0)
    }

    #[test]
    fn lock_request_matches_java_bytes_both_ways() {
        // fastjson 1.2.83 `JSON.toJSONString` of a LockBatchRequestBody with one queue.
        let java = br#"{"clientId":"127.0.0.1@1","consumerGroup":"G1","mqSet":[{"brokerName":"broker-a","queueId":0,"topic":"T"}],"onlyThisBroker":false}"#;
        let body = LockBatchRequestBody {
            client_id: "127.0.0.1@1".into(),
            consumer_group: "G1".into(),
            mq_set: vec![queue()],
            only_this_broker: false,
        };
        assert_eq!(LockBatchRequestBody::decode(java).unwrap(), body);
        assert_eq!(body.encode(), java);
    }

    #[test]
    fn reads_a_4x_lock_request_without_only_this_broker() {
        let text = br#"{"clientId":"c","consumerGroup":"G","mqSet":[]}"#;
        let body = UnlockBatchRequestBody::decode(text).unwrap();
        assert!(!body.only_this_broker);
        assert_eq!(body.consumer_group, "G");
    }

    #[test]
    fn lock_response_matches_java_bytes_both_ways() {
        // fastjson keeps the capitals of `getLockOKMQSet`.
        let java = br#"{"lockOKMQSet":[{"brokerName":"broker-a","queueId":0,"topic":"T"}]}"#;
        let body = LockBatchResponseBody {
            lock_ok_mq_set: vec![queue()],
        };
        assert_eq!(LockBatchResponseBody::decode(java).unwrap(), body);
        assert_eq!(body.encode(), java);
    }

    #[test]
    fn consumer_list_matches_java_bytes_both_ways() {
        let java = br#"{"consumerIdList":["127.0.0.1@1","127.0.0.1@2"]}"#;
        let body = GetConsumerListByGroupResponseBody {
            consumer_id_list: vec!["127.0.0.1@1".into(), "127.0.0.1@2".into()],
        };
        assert_eq!(
            GetConsumerListByGroupResponseBody::decode(java).unwrap(),
            body
        );
        assert_eq!(body.encode(), java);
    }
}

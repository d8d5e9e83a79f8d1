//! ResetOffsetBody: the offsets of a reset by time. The broker answers
//! INVOKE_BROKER_TO_RESET_OFFSET with it and sends it to every online consumer of the group
//! in RESET_CONSUMER_CLIENT_OFFSET. Java keys it by `MessageQueue` objects, which fastjson
//! writes as object keys (`{"offsetTable":{{"brokerName":..}:5}}`); Java's tools and
//! clients read only that form. When the admin request came from a C++ client
//! (language CPP), 4.9.x sends the clients `ResetOffsetBodyForC` instead: a list.

use std::collections::BTreeMap;

use serde::Serialize;

use super::fastjson;
use super::message_queue::MessageQueue;
use super::stats::object_keyed;
use super::{BodyError, WireBody};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResetOffsetBody {
    pub offset_table: BTreeMap<MessageQueue, i64>,
}

impl WireBody for ResetOffsetBody {
    fn encode(&self) -> Vec<u8> {
        let mut out = b"{\"offsetTable\":".to_vec();
        fastjson::write_object_keyed(&self.offset_table, &mut out);
        out.push(b'}');
        out
    }

    fn decode(bytes: &[u8]) -> Result<ResetOffsetBody, BodyError> {
        let value = fastjson::parse(bytes)?;
        Ok(ResetOffsetBody {
            offset_table: object_keyed(value.get("offsetTable"))?,
        })
    }
}

/// One entry of `ResetOffsetBodyForC` (`MessageQueueForC`), fields in fastjson's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageQueueForC<'a> {
    broker_name: &'a str,
    offset: i64,
    queue_id: i32,
    topic: &'a str,
}

impl ResetOffsetBody {
    /// `ResetOffsetBodyForC`: `{"offsetTable":[{"brokerName":..,"offset":..,"queueId":..,"topic":..}]}`.
    pub fn encode_for_c(&self) -> Vec<u8> {
        let list: Vec<MessageQueueForC<'_>> = self
            .offset_table
            .iter()
            .map(|(queue, offset)| MessageQueueForC {
                broker_name: &queue.broker_name,
                offset: *offset,
                queue_id: queue.queue_id,
                topic: &queue.topic,
            })
            .collect();
        let mut out = b"{\"offsetTable\":".to_vec();
        serde_json::to_writer(&mut out, &list).expect("writing to a Vec cannot fail");
        out.push(b'}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> ResetOffsetBody {
        let mut body = ResetOffsetBody::default();
        body.offset_table
            .insert(MessageQueue::new("T", "broker-a", 1), 7);
        body.offset_table
            .insert(MessageQueue::new("T", "broker-a", 0), 0);
        body
    }

    #[test]
    fn writes_message_queue_keys_as_fastjson_objects() {
        assert_eq!(
            String::from_utf8(body().encode()).unwrap(),
            r#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:0,{"brokerName":"broker-a","queueId":1,"topic":"T"}:7}}"#
        );
    }

    #[test]
    fn reads_what_java_writes_and_its_own_output() {
        let java = br#"{"offsetTable":{{"brokerName":"broker-a","queueId":1,"topic":"T"}:7,{"brokerName":"broker-a","queueId":0,"topic":"T"}:0}}"#;
        assert_eq!(ResetOffsetBody::decode(java).unwrap(), body());
        assert_eq!(ResetOffsetBody::decode(&body().encode()).unwrap(), body());
        assert_eq!(
            ResetOffsetBody::decode(br#"{"offsetTable":{}}"#).unwrap(),
            ResetOffsetBody::default()
        );
        assert!(ResetOffsetBody::decode(br#"{"offsetTable":{"x":1}}"#).is_err());
        assert!(ResetOffsetBody::decode(b"{").is_err());
    }

    #[test]
    fn writes_the_c_form_as_a_list() {
        assert_eq!(
            String::from_utf8(body().encode_for_c()).unwrap(),
            r#"{"offsetTable":[{"brokerName":"broker-a","offset":0,"queueId":0,"topic":"T"},{"brokerName":"broker-a","offset":7,"queueId":1,"topic":"T"}]}"#
        );
    }
}

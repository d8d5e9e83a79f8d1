//! Send headers: SEND_MESSAGE (10) with Java's long names, SEND_MESSAGE_V2 (310) and
//! SEND_BATCH_MESSAGE (320) with one-letter names (remoting-protocol.md section 6.2).

use super::macros::command_header;
use super::{CommandHeader, HeaderError};
use crate::remoting::ExtFields;

command_header! {
    /// SEND_MESSAGE (10): what the Go client and Java with `sendSmartMsg=false` send.
    pub struct SendMessageRequestHeader {
        producer_group: String = "producerGroup",
        topic: String = "topic",
        default_topic: String = "defaultTopic",
        default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        queue_id: i32 = "queueId",
        sys_flag: i32 = "sysFlag",
        born_timestamp: i64 = "bornTimestamp",
        flag: i32 = "flag",
        properties: Option<String> = "properties",
        reconsume_times: Option<i32> = "reconsumeTimes",
        unit_mode: Option<bool> = "unitMode",
        batch: Option<bool> = "batch",
        max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// SEND_MESSAGE_V2 (310) / SEND_BATCH_MESSAGE (320): the same fields, one letter each,
    /// to save bytes on every send.
    pub struct SendMessageRequestHeaderV2 {
        a: String = "a",
        b: String = "b",
        c: String = "c",
        d: i32 = "d",
        e: i32 = "e",
        f: i32 = "f",
        g: i64 = "g",
        h: i32 = "h",
        i: Option<String> = "i",
        j: Option<i32> = "j",
        k: Option<bool> = "k",
        l: Option<i32> = "l",
        m: Option<bool> = "m",
        n: Option<String> = "n",
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v2: SendMessageRequestHeaderV2) -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: v2.a,
            topic: v2.b,
            default_topic: v2.c,
            default_topic_queue_nums: v2.d,
            queue_id: v2.e,
            sys_flag: v2.f,
            born_timestamp: v2.g,
            flag: v2.h,
            properties: v2.i,
            reconsume_times: v2.j,
            unit_mode: v2.k,
            max_reconsume_times: v2.l,
            batch: v2.m,
            broker_name: v2.n,
        }
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v1: SendMessageRequestHeader) -> SendMessageRequestHeaderV2 {
        SendMessageRequestHeaderV2 {
            a: v1.producer_group,
            b: v1.topic,
            c: v1.default_topic,
            d: v1.default_topic_queue_nums,
            e: v1.queue_id,
            f: v1.sys_flag,
            g: v1.born_timestamp,
            h: v1.flag,
            i: v1.properties,
            j: v1.reconsume_times,
            k: v1.unit_mode,
            l: v1.max_reconsume_times,
            m: v1.batch,
            n: v1.broker_name,
        }
    }
}

impl SendMessageRequestHeader {
    /// Reads the header of any of the three send codes into the long-name form.
    pub fn decode_for_code(code: i32, fields: &ExtFields) -> Result<Self, HeaderError> {
        use crate::code::request::{SEND_BATCH_MESSAGE, SEND_MESSAGE_V2};
        match code {
            SEND_MESSAGE_V2 | SEND_BATCH_MESSAGE => {
                SendMessageRequestHeaderV2::decode(fields).map(SendMessageRequestHeader::from)
            }
            _ => SendMessageRequestHeader::decode(fields),
        }
    }
}

command_header! {
    /// Response to every send code. Java reads `MSG_REGION` and `TRACE_ON` from the
    /// response's extFields without a null check, so they are part of the header here.
    pub struct SendMessageResponseHeader {
        msg_id: String = "msgId",
        queue_id: i32 = "queueId",
        queue_offset: i64 = "queueOffset",
        transaction_id: Option<String> = "transactionId",
        batch_uniq_id: Option<String> = "batchUniqId",
        msg_region: Option<String> = "MSG_REGION",
        trace_on: Option<String> = "TRACE_ON",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_maps_to_long_names() {
        let mut fields = ExtFields::new();
        for (key, value) in [
            ("a", "PG"),
            ("b", "TopicTest"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "3"),
            ("f", "0"),
            ("g", "1700000000000"),
            ("h", "0"),
            ("k", "0"),
            ("m", "1"),
            ("Signature", ""),
            ("AccessKey", ""),
        ] {
            fields.insert(key, value);
        }
        let header = SendMessageRequestHeader::decode_for_code(310, &fields).unwrap();
        assert_eq!(header.topic, "TopicTest");
        assert_eq!(header.queue_id, 3);
        assert_eq!(header.unit_mode, Some(false));
        assert_eq!(header.batch, Some(true));
        let back = SendMessageRequestHeaderV2::from(header.clone());
        assert_eq!(SendMessageRequestHeader::from(back), header);
    }
}

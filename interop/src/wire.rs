//! Hand-built remoting frames (remoting-protocol.md section 1), written with std only so that
//! what a test sends does not depend on `ramjet-net` being right.
//!
//! The main user is [`BrokerRegistration`]: REGISTER_BROKER exactly as an Apache RocketMQ 5.3
//! broker sends it (`BrokerOuterAPI#registerBrokerAll`), so a name server test needs no broker.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// REGISTER_BROKER (103), B -> N.
pub const REGISTER_BROKER: i32 = 103;
/// GET_ROUTEINFO_BY_TOPIC (105), C -> N.
pub const GET_ROUTEINFO_BY_TOPIC: i32 = 105;
/// SUCCESS (0).
pub const SUCCESS: i64 = 0;
/// TOPIC_NOT_EXIST (17).
pub const TOPIC_NOT_EXIST: i64 = 17;
/// `MQVersion.CURRENT_VERSION` of Apache RocketMQ 5.3.3 (`V5_3_3`).
pub const JAVA_VERSION_5_3_3: i32 = 479;

/// A decoded response frame.
#[derive(Debug, Clone)]
pub struct Response {
    pub header: Value,
    pub body: Vec<u8>,
}

impl Response {
    pub fn code(&self) -> i64 {
        self.header["code"]
            .as_i64()
            .expect("a response header has a numeric code")
    }

    pub fn remark(&self) -> Option<&str> {
        self.header["remark"].as_str()
    }

    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!("{error}: body {:?}", String::from_utf8_lossy(&self.body))
        })
    }
}

/// A frame as the Java remoting layer builds it: JSON header (serialize type 0) with fields in
/// fastjson's alphabetical order, every extFields value a string.
pub fn encode_java_request(
    code: i32,
    opaque: i32,
    ext_fields: &Map<String, Value>,
    body: &[u8],
) -> Vec<u8> {
    // serde_json's default Map is ordered by key, which is also fastjson's property order.
    let header = json!({
        "code": code,
        "extFields": ext_fields,
        "flag": 0,
        "language": "JAVA",
        "opaque": opaque,
        "serializeTypeCurrentRPC": "JSON",
        "version": JAVA_VERSION_5_3_3,
    });
    let header = serde_json::to_vec(&header).expect("a JSON value serializes");
    let frame_length = 4 + header.len() + body.len();
    let mut frame = Vec::with_capacity(4 + frame_length);
    frame.extend_from_slice(&(frame_length as u32).to_be_bytes());
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes()); // Serialize type 0 = JSON.
    frame.extend_from_slice(&header);
    frame.extend_from_slice(body);
    frame
}

/// One blocking connection that sends requests and reads their responses in order.
pub struct RawConnection {
    stream: TcpStream,
    opaque_next: i32,
}

impl RawConnection {
    pub fn connect(addr: &str) -> RawConnection {
        let stream =
            TcpStream::connect(addr).unwrap_or_else(|error| panic!("connect {addr}: {error}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set a read timeout");
        RawConnection {
            stream,
            opaque_next: 1,
        }
    }

    /// Sends a Java-style request and returns the response with the same opaque.
    pub fn request(&mut self, code: i32, ext_fields: &Map<String, Value>, body: &[u8]) -> Response {
        let opaque = self.opaque_next;
        self.opaque_next += 1;
        self.stream
            .write_all(&encode_java_request(code, opaque, ext_fields, body))
            .expect("write the request");
        let response = self.read_frame();
        assert_eq!(
            response.header["opaque"].as_i64(),
            Some(i64::from(opaque)),
            "{response:?}"
        );
        assert_eq!(
            response.header["flag"].as_i64().map(|flag| flag & 1),
            Some(1),
            "{response:?}"
        );
        response
    }

    /// Reads one frame. Only JSON headers are expected: we only ever send JSON.
    pub fn read_frame(&mut self) -> Response {
        let mut word = [0u8; 4];
        self.stream
            .read_exact(&mut word)
            .expect("read the frame length");
        let frame_length = u32::from_be_bytes(word) as usize;
        let mut frame = vec![0u8; frame_length];
        self.stream.read_exact(&mut frame).expect("read the frame");
        let header_word = u32::from_be_bytes(frame[..4].try_into().unwrap());
        assert_eq!(
            header_word >> 24,
            0,
            "expected a JSON header in reply to a JSON request"
        );
        let header_length = (header_word & 0x00FF_FFFF) as usize;
        assert!(
            4 + header_length <= frame_length,
            "header longer than its frame"
        );
        let header = serde_json::from_slice(&frame[4..4 + header_length]).expect("a JSON header");
        Response {
            header,
            body: frame[4 + header_length..].to_vec(),
        }
    }
}

/// One topic in a broker's registration.
#[derive(Debug, Clone)]
pub struct TopicConfig {
    pub topic: String,
    pub read_queue_nums: u32,
    pub write_queue_nums: u32,
    pub perm: u32,
}

impl TopicConfig {
    /// `TBW102`, which an Apache broker with autoCreateTopicEnable=true (the default) registers:
    /// clients fall back on its route for topics the name server does not know.
    pub fn auto_create_key() -> TopicConfig {
        TopicConfig {
            topic: "TBW102".into(),
            read_queue_nums: 8,
            write_queue_nums: 8,
            perm: 7,
        }
    }

    /// A readable and writable (perm 6) topic with `queue_nums` read and write queues.
    pub fn read_write(topic: &str, queue_nums: u32) -> TopicConfig {
        TopicConfig {
            topic: topic.to_string(),
            read_queue_nums: queue_nums,
            write_queue_nums: queue_nums,
            perm: 6,
        }
    }

    /// `TopicConfig` as fastjson writes it in 5.x (with `attributes`).
    fn to_json(&self) -> Value {
        json!({
            "attributes": {},
            "order": false,
            "perm": self.perm,
            "readQueueNums": self.read_queue_nums,
            "topicFilterType": "SINGLE_TAG",
            "topicName": self.topic,
            "topicSysFlag": 0,
            "writeQueueNums": self.write_queue_nums,
        })
    }
}

/// What a master broker tells the name server about itself.
#[derive(Debug, Clone)]
pub struct BrokerRegistration {
    pub cluster_name: String,
    pub broker_name: String,
    /// "ip:port" clients should use.
    pub broker_addr: String,
    pub broker_id: u64,
    pub topics: Vec<TopicConfig>,
}

impl BrokerRegistration {
    /// A master (brokerId 0) "broker-a" in "DefaultCluster" at `broker_addr` holding `topics`.
    pub fn master(broker_addr: &str, topics: Vec<TopicConfig>) -> BrokerRegistration {
        BrokerRegistration {
            cluster_name: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            broker_addr: broker_addr.to_string(),
            broker_id: 0,
            topics,
        }
    }

    /// `RegisterBrokerBody` (5.x form, uncompressed): `{"filterServerList":[],
    /// "topicConfigSerializeWrapper":{TopicConfigAndMappingSerializeWrapper}}`.
    pub fn body(&self) -> Vec<u8> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_millis() as u64;
        let topic_config_table: Map<String, Value> = self
            .topics
            .iter()
            .map(|topic| (topic.topic.clone(), topic.to_json()))
            .collect();
        let body = json!({
            "filterServerList": [],
            "topicConfigSerializeWrapper": {
                "dataVersion": {"counter": 1, "stateVersion": 0, "timestamp": now_ms},
                "mappingDataVersion": {"counter": 0, "stateVersion": 0, "timestamp": now_ms},
                "topicConfigTable": topic_config_table,
                "topicQueueMappingDetailMap": {},
                "topicQueueMappingInfoMap": {},
            },
        });
        serde_json::to_vec(&body).expect("a JSON value serializes")
    }

    /// `RegisterBrokerRequestHeader` as extFields. `heartbeatTimeoutMillis` is left out, as a
    /// broker without slave-acting-master sends it (null fields are omitted).
    pub fn ext_fields(&self, body: &[u8]) -> Map<String, Value> {
        // UtilAll.crc32: CRC-32 (IEEE) of the body, masked to a non-negative int.
        let body_crc32 = crc32fast::hash(body) & 0x7FFF_FFFF;
        let host = self
            .broker_addr
            .rsplit_once(':')
            .map_or("127.0.0.1", |(host, _)| host);
        let fields = [
            ("bodyCrc32", body_crc32.to_string()),
            ("brokerAddr", self.broker_addr.clone()),
            ("brokerId", self.broker_id.to_string()),
            ("brokerName", self.broker_name.clone()),
            ("clusterName", self.cluster_name.clone()),
            ("compressed", "false".to_string()),
            ("enableActingMaster", "false".to_string()),
            // The HA port is listenPort + 1; nothing connects to it in these tests.
            ("haServerAddr", format!("{host}:10912")),
        ];
        fields
            .into_iter()
            .map(|(key, value)| (key.to_string(), Value::String(value)))
            .collect()
    }

    /// The whole REGISTER_BROKER frame with the given opaque.
    pub fn request_frame(&self, opaque: i32) -> Vec<u8> {
        let body = self.body();
        encode_java_request(REGISTER_BROKER, opaque, &self.ext_fields(&body), &body)
    }

    /// Registers with the name server at `namesrv_addr`. Keep the returned connection open for
    /// as long as the broker should stay registered: like Apache's, our name server drops a
    /// broker's routes as soon as the connection it registered on closes.
    pub fn register(&self, namesrv_addr: &str) -> (RawConnection, Response) {
        let mut connection = RawConnection::connect(namesrv_addr);
        let response = self.register_on(&mut connection);
        (connection, response)
    }

    /// Registers (again) on an open connection, as the broker does every 30 s.
    pub fn register_on(&self, connection: &mut RawConnection) -> Response {
        let body = self.body();
        connection.request(REGISTER_BROKER, &self.ext_fields(&body), &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_broker_frame_is_length_prefixed_json_with_a_matching_body_crc() {
        // Proves the hand-built REGISTER_BROKER is a well-formed frame whose bodyCrc32 is
        // UtilAll.crc32 of the exact body bytes sent, so a CRC-checking name server accepts it.
        let registration =
            BrokerRegistration::master("127.0.0.1:10911", vec![TopicConfig::read_write("T", 4)]);
        let frame = registration.request_frame(7);
        let frame_length = u32::from_be_bytes(frame[0..4].try_into().unwrap()) as usize;
        assert_eq!(frame_length, frame.len() - 4);
        let header_word = u32::from_be_bytes(frame[4..8].try_into().unwrap());
        assert_eq!(header_word >> 24, 0, "serialize type JSON");
        let header_length = (header_word & 0x00FF_FFFF) as usize;
        let header: Value = serde_json::from_slice(&frame[8..8 + header_length]).unwrap();
        let body = &frame[8 + header_length..];
        assert_eq!(header["code"], REGISTER_BROKER);
        assert_eq!(header["opaque"], 7);
        let crc = header["extFields"]["bodyCrc32"].as_str().unwrap();
        assert_eq!(crc, (crc32fast::hash(body) & 0x7FFF_FFFF).to_string());
        let body: Value = serde_json::from_slice(body).unwrap();
        let topic = &body["topicConfigSerializeWrapper"]["topicConfigTable"]["T"];
        assert_eq!(topic["readQueueNums"], 4);
        assert_eq!(topic["perm"], 6);
    }
}

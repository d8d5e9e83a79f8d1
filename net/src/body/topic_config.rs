//! Topic configuration bodies: TopicConfig, DataVersion, TopicConfigSerializeWrapper and
//! RegisterBrokerBody in its JSON and zlib-compressed forms (remoting-protocol.md 3.5).

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

/// `DataVersion`: brokers bump it on every topic change; the name server compares it to
/// decide whether a registration carries news.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVersion {
    pub counter: i64,
    pub state_version: i64,
    pub timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    /// 5.x only; 4.x brokers omit it.
    pub attributes: BTreeMap<String, String>,
    pub order: bool,
    pub perm: i32,
    pub read_queue_nums: i32,
    pub topic_filter_type: String,
    pub topic_name: String,
    pub topic_sys_flag: i32,
    pub write_queue_nums: i32,
}

impl Default for TopicConfig {
    /// Java's defaults: 16 queues each way, read+write, single tag.
    fn default() -> TopicConfig {
        TopicConfig {
            attributes: BTreeMap::new(),
            order: false,
            perm: super::route::perm::READ | super::route::perm::WRITE,
            read_queue_nums: 16,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: 16,
        }
    }
}

impl TopicConfig {
    pub fn new(topic_name: &str, read: i32, write: i32, perm: i32) -> TopicConfig {
        TopicConfig {
            topic_name: topic_name.to_owned(),
            read_queue_nums: read,
            write_queue_nums: write,
            perm,
            ..TopicConfig::default()
        }
    }

    /// `TopicConfig.encode()`: `name read write perm filterType [attributesJSON]`, the form
    /// used inside compressed registrations. 4.x writes five fields, 5.x a sixth.
    pub fn encode_text(&self) -> String {
        let attributes = serde_json::to_string(&self.attributes).expect("map serializes");
        format!(
            "{} {} {} {} {} {}",
            self.topic_name,
            self.read_queue_nums,
            self.write_queue_nums,
            self.perm,
            self.topic_filter_type,
            attributes
        )
    }

    pub fn decode_text(text: &str) -> Result<TopicConfig, String> {
        let mut parts = text.splitn(6, ' ');
        let mut next = |what: &str| {
            parts
                .next()
                .ok_or_else(|| format!("topic config lacks {what}"))
        };
        let topic_name = next("a name")?.to_owned();
        let number = |text: &str| {
            text.parse::<i32>()
                .map_err(|_| format!("bad number {text:?}"))
        };
        let read_queue_nums = number(next("readQueueNums")?)?;
        let write_queue_nums = number(next("writeQueueNums")?)?;
        let perm = number(next("perm")?)?;
        let topic_filter_type = next("topicFilterType")?.to_owned();
        let attributes = match parts.next().map(str::trim).filter(|t| !t.is_empty()) {
            Some(json) => super::fastjson::from_slice(json.as_bytes())?,
            None => BTreeMap::new(),
        };
        Ok(TopicConfig {
            attributes,
            topic_name,
            read_queue_nums,
            write_queue_nums,
            perm,
            topic_filter_type,
            ..TopicConfig::default()
        })
    }
}

/// GET_ALL_TOPIC_CONFIG's body and the core of a registration. The 5.x mapping fields are
/// kept as opaque JSON: Ramjet has no static topics, but must accept brokers that send them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    pub data_version: DataVersion,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_data_version: Option<DataVersion>,
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_detail_map: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_info_map: Option<serde_json::Value>,
}

/// REGISTER_BROKER's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    pub filter_server_list: Vec<String>,
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

impl RegisterBrokerBody {
    /// Reads a registration body, JSON or (when the header says `compressed`) zlib.
    pub fn decode(body: &[u8], compressed: bool) -> Result<RegisterBrokerBody, String> {
        if compressed {
            Self::decode_compressed(body)
        } else {
            super::fastjson::from_slice(body)
        }
    }

    pub fn encode(&self, compressed: bool) -> Vec<u8> {
        if compressed {
            self.encode_compressed()
        } else {
            serde_json::to_vec(self).expect("registration serializes")
        }
    }

    /// `RegisterBrokerBody.encode(true)`: a zlib stream of length-prefixed parts.
    fn encode_compressed(&self) -> Vec<u8> {
        fn push_part(plain: &mut Vec<u8>, bytes: &[u8]) {
            plain.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
            plain.extend_from_slice(bytes);
        }
        let wrapper = &self.topic_config_serialize_wrapper;
        let mut plain = Vec::new();
        push_part(
            &mut plain,
            &serde_json::to_vec(&wrapper.data_version).expect("serializes"),
        );
        plain.extend_from_slice(&(wrapper.topic_config_table.len() as i32).to_be_bytes());
        for config in wrapper.topic_config_table.values() {
            push_part(&mut plain, config.encode_text().as_bytes());
        }
        let filters = serde_json::to_vec(&self.filter_server_list).expect("serializes");
        push_part(&mut plain, &filters);
        plain.extend_from_slice(&0i32.to_be_bytes()); // No static-topic mappings.
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        encoder
            .write_all(&plain)
            .expect("writing to a Vec cannot fail");
        encoder.finish().expect("writing to a Vec cannot fail")
    }

    fn decode_compressed(body: &[u8]) -> Result<RegisterBrokerBody, String> {
        // A registration of 10,000 topics inflates to about 1 MiB; the cap stops a zip bomb.
        const INFLATED_BYTES_MAX: u64 = 64 * 1024 * 1024;
        let mut plain = Vec::new();
        flate2::read::ZlibDecoder::new(body)
            .take(INFLATED_BYTES_MAX)
            .read_to_end(&mut plain)
            .map_err(|e| format!("bad zlib stream: {e}"))?;
        let mut reader = PartReader {
            bytes: &plain,
            at: 0,
        };
        let data_version: DataVersion = super::fastjson::from_slice(reader.part()?)?;
        let topic_count = reader.int()?;
        let mut wrapper = TopicConfigSerializeWrapper {
            data_version,
            ..Default::default()
        };
        for _ in 0..topic_count {
            let text = std::str::from_utf8(reader.part()?).map_err(|_| "topic config not UTF-8")?;
            let config = TopicConfig::decode_text(text)?;
            wrapper
                .topic_config_table
                .insert(config.topic_name.clone(), config);
        }
        let filter_server_list = super::fastjson::from_slice(reader.part()?)?;
        // 4.x stops here; 5.x adds a count of static-topic mappings, which Ramjet ignores.
        Ok(RegisterBrokerBody {
            filter_server_list,
            topic_config_serialize_wrapper: wrapper,
        })
    }
}

struct PartReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> PartReader<'a> {
    fn int(&mut self) -> Result<i32, String> {
        let bytes = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or("compressed body ends early")?;
        self.at += 4;
        Ok(i32::from_be_bytes(bytes.try_into().expect("4 bytes")))
    }

    fn part(&mut self) -> Result<&'a [u8], String> {
        let length = usize::try_from(self.int()?).map_err(|_| "negative part length")?;
        let bytes = self
            .bytes
            .get(self.at..self.at + length)
            .ok_or("part runs past the end")?;
        self.at += length;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> RegisterBrokerBody {
        let mut wrapper = TopicConfigSerializeWrapper {
            data_version: DataVersion {
                counter: 3,
                state_version: 0,
                timestamp: 1_700_000_000_000,
            },
            ..Default::default()
        };
        let mut config = TopicConfig::new("TopicTest", 4, 4, 6);
        config
            .attributes
            .insert("+message.type".into(), "NORMAL".into());
        wrapper
            .topic_config_table
            .insert("TopicTest".into(), config);
        wrapper
            .topic_config_table
            .insert("TBW102".into(), TopicConfig::new("TBW102", 8, 8, 7));
        RegisterBrokerBody {
            filter_server_list: vec![],
            topic_config_serialize_wrapper: wrapper,
        }
    }

    #[test]
    fn compressed_form_roundtrips() {
        let body = body();
        assert_eq!(
            RegisterBrokerBody::decode(&body.encode(true), true).unwrap(),
            body
        );
    }

    #[test]
    fn reads_a_4x_body_without_mapping_fields_or_attributes() {
        let text = br#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":1,"timestamp":1700000000000},"topicConfigTable":{"T":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":4}}}}"#;
        let body = RegisterBrokerBody::decode(text, false).unwrap();
        assert_eq!(
            body.topic_config_serialize_wrapper.topic_config_table["T"].read_queue_nums,
            4
        );
    }

    #[test]
    fn reads_a_4x_compressed_body_that_ends_after_the_filter_list() {
        // 4.x's encode(true): five-field topic text and no mapping count.
        let mut plain = Vec::new();
        let version = br#"{"counter":1,"timestamp":5}"#;
        plain.extend_from_slice(&(version.len() as i32).to_be_bytes());
        plain.extend_from_slice(version);
        plain.extend_from_slice(&1i32.to_be_bytes());
        for part in [&b"T 4 4 6 SINGLE_TAG"[..], b"[]"] {
            plain.extend_from_slice(&(part.len() as i32).to_be_bytes());
            plain.extend_from_slice(part);
        }
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&plain).unwrap();
        let body = RegisterBrokerBody::decode(&encoder.finish().unwrap(), true).unwrap();
        assert_eq!(
            body.topic_config_serialize_wrapper.topic_config_table["T"].perm,
            6
        );
    }

    #[test]
    fn garbage_compressed_body_is_an_error() {
        assert!(RegisterBrokerBody::decode(b"not zlib", true).is_err());
    }
}

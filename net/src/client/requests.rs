//! Typed builders for the requests `mqadmin` and `mqbench` send, and readers of their
//! answers. Each builder fills the header the way Java's client does; callers choose the
//! header serialization and client identity with [`as_java_client`] when they need to.

use crate::body::{fastjson, perm, MessageQueue, TopicConfig, TopicRouteData};
use crate::code::{request, response, version};
use crate::header::{
    CommandHeader, CreateTopicRequestHeader, GetMaxOffsetRequestHeader, GetRouteInfoRequestHeader,
    OffsetResponseHeader, PullMessageRequestHeader, PullMessageResponseHeader,
    QueryConsumerOffsetRequestHeader, SearchOffsetRequestHeader, SendMessageRequestHeaderV2,
    UpdateConsumerOffsetRequestHeader,
};
use crate::{LanguageCode, RemotingCommand, SerializeType};

/// `TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC`: the route that stands in for a topic that
/// does not exist yet; a broker with autoCreateTopicEnable creates the real one from it.
pub const DEFAULT_TOPIC: &str = "TBW102";
/// Queues a producer asks for when a topic is auto-created (`defaultTopicQueueNums`).
pub const DEFAULT_TOPIC_QUEUE_NUMS: i32 = 4;
/// `MixAll.TOOLS_CONSUMER_GROUP`: every broker has it, so one-shot pulls need no group.
pub const TOOLS_CONSUMER_GROUP: &str = "TOOLS_CONSUMER";

/// `PullSysFlag` bits (remoting-protocol.md section 6.3).
pub const PULL_FLAG_COMMIT_OFFSET: i32 = 0x1;
pub const PULL_FLAG_SUSPEND: i32 = 0x2;
pub const PULL_FLAG_SUBSCRIPTION: i32 = 0x4;

/// Makes `command` look like the Java 5.3 client's, the client every server is tested
/// against (name servers then answer with standard JSON), with headers in `serialize_type`.
pub fn as_java_client(
    mut command: RemotingCommand,
    serialize_type: SerializeType,
) -> RemotingCommand {
    command.language = LanguageCode::Java;
    command.version = version::V5_3_3;
    command.serialize_type = serialize_type;
    command
}

fn with_header(code: i32, header: &impl CommandHeader) -> RemotingCommand {
    RemotingCommand::request(code).with_ext_fields(header.to_ext_fields())
}

/// GET_ROUTEINFO_BY_TOPIC to a name server.
pub fn get_route_info(topic: &str) -> RemotingCommand {
    let header = GetRouteInfoRequestHeader {
        topic: topic.to_owned(),
        accept_standard_json_only: None,
    };
    with_header(request::GET_ROUTEINFO_BY_TOPIC, &header)
}

/// GET_ROUTEINFO_BY_TOPIC's answer: `None` for TOPIC_NOT_EXIST, or for a route whose
/// brokers all left (an Apache name server keeps those; nothing serves them).
pub fn read_route(topic: &str, answer: &RemotingCommand) -> Result<Option<TopicRouteData>, String> {
    match answer.code {
        response::SUCCESS => {
            let route = TopicRouteData::from_json(&answer.body)
                .map_err(|e| format!("route of {topic}: {e}"))?;
            Ok(Some(route).filter(|route| !route.broker_datas.is_empty()))
        }
        response::TOPIC_NOT_EXIST => Ok(None),
        code => Err(format!(
            "route of {topic}: code {code} {:?}",
            answer.remark.clone().unwrap_or_default()
        )),
    }
}

/// GET_BROKER_CLUSTER_INFO to a name server; the answer is a `body::ClusterInfo`.
pub fn get_broker_cluster_info() -> RemotingCommand {
    RemotingCommand::request(request::GET_BROKER_CLUSTER_INFO)
}

/// UPDATE_AND_CREATE_TOPIC to one broker, as `mqadmin updateTopic` sends it.
/// `attributes` is the `+key=value,-key` text, sent only when not empty.
pub fn create_topic(config: &TopicConfig, attributes: Option<&str>) -> RemotingCommand {
    let header = CreateTopicRequestHeader {
        topic: config.topic_name.clone(),
        default_topic: DEFAULT_TOPIC.to_owned(),
        read_queue_nums: config.read_queue_nums,
        write_queue_nums: config.write_queue_nums,
        perm: config.perm,
        topic_filter_type: config.topic_filter_type.clone(),
        topic_sys_flag: Some(config.topic_sys_flag),
        order: config.order,
        attributes: attributes
            .filter(|text| !text.is_empty())
            .map(str::to_owned),
        force: None,
    };
    with_header(request::UPDATE_AND_CREATE_TOPIC, &header)
}

/// A read-write topic with `queues` queues each way.
pub fn topic_config(topic: &str, queues: i32) -> TopicConfig {
    TopicConfig::new(topic, queues, queues, perm::READ | perm::WRITE)
}

fn queue_bounds(code: i32, queue: &MessageQueue) -> RemotingCommand {
    let header = GetMaxOffsetRequestHeader {
        topic: queue.topic.clone(),
        queue_id: queue.queue_id,
        committed: None,
    };
    with_header(code, &header)
}

/// GET_MAX_OFFSET: the next queue offset to be written.
pub fn get_max_offset(queue: &MessageQueue) -> RemotingCommand {
    queue_bounds(request::GET_MAX_OFFSET, queue)
}

/// GET_MIN_OFFSET: the oldest queue offset still stored.
pub fn get_min_offset(queue: &MessageQueue) -> RemotingCommand {
    queue_bounds(request::GET_MIN_OFFSET, queue)
}

/// SEARCH_OFFSET_BY_TIMESTAMP: the first queue offset stored at or after `timestamp_ms`.
pub fn search_offset(queue: &MessageQueue, timestamp_ms: i64) -> RemotingCommand {
    let header = SearchOffsetRequestHeader {
        topic: queue.topic.clone(),
        queue_id: queue.queue_id,
        timestamp: timestamp_ms,
        boundary_type: None,
    };
    with_header(request::SEARCH_OFFSET_BY_TIMESTAMP, &header)
}

/// QUERY_CONSUMER_OFFSET; QUERY_NOT_FOUND answers a group with no offset for the queue.
pub fn query_consumer_offset(group: &str, queue: &MessageQueue) -> RemotingCommand {
    let header = QueryConsumerOffsetRequestHeader {
        consumer_group: group.to_owned(),
        topic: queue.topic.clone(),
        queue_id: queue.queue_id,
        set_zero_if_not_found: Some(false),
    };
    with_header(request::QUERY_CONSUMER_OFFSET, &header)
}

/// UPDATE_CONSUMER_OFFSET; send it as an ordinary request (not oneway) to see a refusal.
pub fn update_consumer_offset(group: &str, queue: &MessageQueue, offset: i64) -> RemotingCommand {
    let header = UpdateConsumerOffsetRequestHeader {
        consumer_group: group.to_owned(),
        topic: queue.topic.clone(),
        queue_id: queue.queue_id,
        commit_offset: offset,
    };
    with_header(request::UPDATE_CONSUMER_OFFSET, &header)
}

/// The `offset` of a SUCCESS answer to any of the four offset requests above.
pub fn read_offset(answer: &RemotingCommand) -> Result<i64, String> {
    OffsetResponseHeader::decode(answer.fields())
        .map(|header| header.offset)
        .map_err(|e| e.to_string())
}

/// HEART_BEAT carrying an encoded `HeartbeatData`.
pub fn heart_beat(body: Vec<u8>) -> RemotingCommand {
    RemotingCommand::request(request::HEART_BEAT).with_body(body)
}

/// What one PULL_MESSAGE asks for.
#[derive(Debug, Clone)]
pub struct PullRequest<'a> {
    pub group: &'a str,
    pub queue: &'a MessageQueue,
    pub queue_offset: i64,
    pub max_msg_nums: i32,
    /// Long-polling hold when the queue is caught up; 0 asks for an immediate answer.
    pub suspend_ms: i64,
    /// The offset to commit with this pull, if any.
    pub commit_offset: Option<i64>,
    /// A TAG expression (`*`, `TagA || TagB`), carried in the request so the broker need
    /// not have seen a heartbeat.
    pub subscription: &'a str,
    pub sub_version: i64,
}

/// PULL_MESSAGE, with the sysFlag bits the request's fields call for.
pub fn pull_message(pull: &PullRequest<'_>) -> RemotingCommand {
    let mut sys_flag = PULL_FLAG_SUBSCRIPTION;
    if pull.commit_offset.is_some() {
        sys_flag |= PULL_FLAG_COMMIT_OFFSET;
    }
    if pull.suspend_ms > 0 {
        sys_flag |= PULL_FLAG_SUSPEND;
    }
    let header = PullMessageRequestHeader {
        consumer_group: pull.group.to_owned(),
        topic: pull.queue.topic.clone(),
        queue_id: pull.queue.queue_id,
        queue_offset: pull.queue_offset,
        max_msg_nums: pull.max_msg_nums,
        sys_flag,
        commit_offset: pull.commit_offset.unwrap_or(0),
        suspend_timeout_millis: pull.suspend_ms,
        subscription: Some(pull.subscription.to_owned()),
        sub_version: pull.sub_version,
        expression_type: Some("TAG".to_owned()),
        max_msg_bytes: None,
        request_source: None,
    };
    with_header(request::PULL_MESSAGE, &header)
}

/// `PullStatus`: what a pull answer's code means to a consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullStatus {
    Found,
    NoNewMsg,
    NoMatchedMsg,
    OffsetIllegal,
}

impl PullStatus {
    /// `None` for a code that is an error rather than a pull result.
    pub fn of(code: i32) -> Option<PullStatus> {
        match code {
            response::SUCCESS => Some(PullStatus::Found),
            response::PULL_NOT_FOUND => Some(PullStatus::NoNewMsg),
            response::PULL_RETRY_IMMEDIATELY => Some(PullStatus::NoMatchedMsg),
            response::PULL_OFFSET_MOVED => Some(PullStatus::OffsetIllegal),
            _ => None,
        }
    }
}

impl std::fmt::Display for PullStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PullStatus::Found => "FOUND",
            PullStatus::NoNewMsg => "NO_NEW_MSG",
            PullStatus::NoMatchedMsg => "NO_MATCHED_MSG",
            PullStatus::OffsetIllegal => "OFFSET_ILLEGAL",
        })
    }
}

/// The header of a pull answer (any of the four pull result codes).
pub fn read_pull_header(answer: &RemotingCommand) -> Result<PullMessageResponseHeader, String> {
    PullMessageResponseHeader::decode(answer.fields()).map_err(|e| e.to_string())
}

/// `FilterAPI.buildSubscriptionData`'s tag set: empty means every tag.
pub fn subscribed_tags(sub_expression: &str) -> Vec<&str> {
    let trimmed = sub_expression.trim();
    if trimmed.is_empty() || trimmed == "*" {
        return Vec::new();
    }
    trimmed
        .split("||")
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .collect()
}

/// One message (or a batch) to send with SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE.
#[derive(Debug, Clone)]
pub struct SendRequest<'a> {
    pub producer_group: &'a str,
    pub queue: &'a MessageQueue,
    /// [`properties_text`] of the message, or of the batch as a whole.
    pub properties: String,
    /// The body, or a batch body of encoded inner messages.
    pub body: Vec<u8>,
    pub batch: bool,
    pub born_timestamp_ms: i64,
}

/// SEND_MESSAGE_V2 (or SEND_BATCH_MESSAGE), with the short header names Java's producer
/// uses and TBW102 as the topic to auto-create from.
pub fn send_message(send: SendRequest<'_>) -> RemotingCommand {
    let header = SendMessageRequestHeaderV2 {
        a: send.producer_group.to_owned(),
        b: send.queue.topic.clone(),
        c: DEFAULT_TOPIC.to_owned(),
        d: DEFAULT_TOPIC_QUEUE_NUMS,
        e: send.queue.queue_id,
        f: 0,
        g: send.born_timestamp_ms,
        h: 0,
        i: Some(send.properties),
        j: Some(0),
        k: Some(false),
        l: None,
        m: Some(send.batch),
        n: Some(send.queue.broker_name.clone()),
    };
    let code = if send.batch {
        request::SEND_BATCH_MESSAGE
    } else {
        request::SEND_MESSAGE_V2
    };
    with_header(code, &header).with_body(send.body)
}

/// Message properties as a send header carries them: `name 0x01 value 0x02` per pair.
pub fn properties_text(pairs: &[(&str, &str)]) -> String {
    let mut text = String::new();
    for (name, value) in pairs {
        text.push_str(name);
        text.push('\u{1}');
        text.push_str(value);
        text.push('\u{2}');
    }
    text
}

/// Parses a body that may use fastjson's extensions into a typed value.
pub fn read_body<T: serde::de::DeserializeOwned>(
    what: &str,
    answer: &RemotingCommand,
) -> Result<T, String> {
    fastjson::from_slice(&answer.body).map_err(|e| format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_request_sets_flags_from_its_fields() {
        // A consumer that commits and long-polls sets all three bits; a one-shot pull only
        // carries its subscription.
        let queue = MessageQueue::new("T", "b", 2);
        let mut pull = PullRequest {
            group: "G",
            queue: &queue,
            queue_offset: 5,
            max_msg_nums: 32,
            suspend_ms: 1000,
            commit_offset: Some(5),
            subscription: "*",
            sub_version: 0,
        };
        let header = PullMessageRequestHeader::decode(pull_message(&pull).fields()).unwrap();
        assert_eq!(header.sys_flag, 0x7);
        assert_eq!((header.queue_id, header.commit_offset), (2, 5));
        pull.suspend_ms = 0;
        pull.commit_offset = None;
        let header = PullMessageRequestHeader::decode(pull_message(&pull).fields()).unwrap();
        assert_eq!(header.sys_flag, PULL_FLAG_SUBSCRIPTION);
        assert_eq!(subscribed_tags("TagA || TagB"), ["TagA", "TagB"]);
        assert!(subscribed_tags(" * ").is_empty());
    }

    #[test]
    fn send_request_uses_java_short_names() {
        // Brokers find the queue in `e` and the broker name in `n`.
        let queue = MessageQueue::new("T", "broker-a", 3);
        let command = send_message(SendRequest {
            producer_group: "G",
            queue: &queue,
            properties: properties_text(&[("TAGS", "A")]),
            body: b"x".to_vec(),
            batch: false,
            born_timestamp_ms: 7,
        });
        assert_eq!(command.code, request::SEND_MESSAGE_V2);
        let header = SendMessageRequestHeaderV2::decode(command.fields()).unwrap();
        assert_eq!((header.b.as_str(), header.e, header.g), ("T", 3, 7));
        assert_eq!(header.n.as_deref(), Some("broker-a"));
        assert_eq!(header.i.as_deref(), Some("TAGS\u{1}A\u{2}"));
    }

    #[test]
    fn route_answers_read_as_java_does() {
        // TOPIC_NOT_EXIST and a route without brokers both mean "no route".
        let missing = RemotingCommand::request(0);
        let mut missing = missing;
        missing.code = response::TOPIC_NOT_EXIST;
        assert_eq!(read_route("T", &missing), Ok(None));
        let mut empty = RemotingCommand::request(0);
        empty.code = response::SUCCESS;
        empty.body = br#"{"brokerDatas":[],"queueDatas":[]}"#.to_vec().into();
        assert_eq!(read_route("T", &empty), Ok(None));
        let mut refused = RemotingCommand::request(0);
        refused.code = response::SYSTEM_ERROR;
        assert!(read_route("T", &refused).is_err());
    }
}

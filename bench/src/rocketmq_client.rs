//! A small RocketMQ client for `mqbench produce` and `mqbench consume`: just what a
//! producer and a pull consumer send, built so that it works against any RocketMQ name
//! server and broker (Ramjet, Apache, rocketmq-rust), not only ours.
//!
//! Control-plane calls (routes, topic creation, offsets before the run) use the blocking
//! client from the main thread; the data path (SEND_MESSAGE_V2, PULL_MESSAGE) builds its
//! commands here and sends them on `ramjet_net` connections owned by glommio executors.
//! Every command identifies itself as a Java 5.3 client (language JAVA, version 479), the
//! client every server is tested against; name servers then answer with standard JSON.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ramjet_net::body::{ClusterInfo, MessageQueue, TopicRouteData};
use ramjet_net::client::requests::{
    self, as_java_client, PullRequest, SendRequest, DEFAULT_TOPIC, DEFAULT_TOPIC_QUEUE_NUMS,
};
use ramjet_net::client::{publish_queues, BlockingClient, QueueAt, UniqKeyGenerator};
use ramjet_net::code::{request, response, version};
use ramjet_net::{RemotingCommand, SerializeType};
use ramjet_store::message::{encode_batch_body, InnerMessage, Properties};
use ramjet_store::message::{PROPERTY_KEYS, PROPERTY_TAGS, PROPERTY_UNIQ_KEY};

/// Control-plane calls (route, create topic, offsets) give up after this long.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a created or auto-created topic may take to show up in the name server.
const ROUTE_WAIT: Duration = Duration::from_secs(35);
const PROPERTY_WAIT: &str = "WAIT";
/// Every message body mqbench produces starts with this marker and the send time in
/// microseconds since the epoch, so that `consume` measures end-to-end latency in
/// microseconds rather than from the millisecond `bornTimestamp`.
pub const BODY_STAMP_MAGIC: &[u8; 4] = b"RJB1";
pub const BODY_STAMP_BYTES: usize = 12;
/// A new request that looks like the Java 5.3 client's.
pub fn java_request(code: i32, serialize_type: SerializeType) -> RemotingCommand {
    as_java_client(RemotingCommand::request(code), serialize_type)
}

/// mqbench runs on the broker's machine; ids only need Java's layout.
pub const LOOPBACK: [u8; 4] = [127, 0, 0, 1];

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// `--serialize`: how request headers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HeaderFormat {
    /// JSON headers, what Java clients send by default.
    Json,
    /// RocketMQ's binary header (`rocketmq.serialize.type=ROCKETMQ`).
    Rocketmq,
}

impl HeaderFormat {
    pub fn serialize_type(self) -> SerializeType {
        match self {
            HeaderFormat::Json => SerializeType::Json,
            HeaderFormat::Rocketmq => SerializeType::RocketMq,
        }
    }
}

/// Blocking calls to one server, for setup and teardown.
pub struct AdminClient {
    client: BlockingClient,
    serialize_type: SerializeType,
}

impl AdminClient {
    pub fn connect(addr: &str, serialize_type: SerializeType) -> Result<AdminClient, String> {
        let client = BlockingClient::connect(addr, ADMIN_TIMEOUT)
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        Ok(AdminClient {
            client,
            serialize_type,
        })
    }

    pub fn invoke(&mut self, command: RemotingCommand) -> Result<RemotingCommand, String> {
        let code = command.code;
        self.client
            .invoke(command, ADMIN_TIMEOUT)
            .map_err(|e| format!("request code {code} to {}: {e}", self.client.peer()))
    }

    /// Sends `command` as the Java client would.
    fn call(&mut self, command: RemotingCommand) -> Result<RemotingCommand, String> {
        self.invoke(as_java_client(command, self.serialize_type))
    }

    /// GET_ROUTEINFO_BY_TOPIC; `None` when the name server knows no such topic.
    pub fn route(&mut self, topic: &str) -> Result<Option<TopicRouteData>, String> {
        let answer = self.call(requests::get_route_info(topic))?;
        requests::read_route(topic, &answer)
    }

    /// Master addresses of every broker the name server knows (GET_BROKER_CLUSTER_INFO).
    pub fn master_addrs(&mut self) -> Result<Vec<String>, String> {
        let answer = self.call(requests::get_broker_cluster_info())?;
        if answer.code != response::SUCCESS {
            return Err(format!("cluster info: code {}", answer.code));
        }
        let info: ClusterInfo = requests::read_body("cluster info", &answer)?;
        let addrs: Vec<String> = info
            .broker_addr_table
            .values()
            .filter_map(|broker| broker.master_addr().map(str::to_owned))
            .collect();
        if addrs.is_empty() {
            return Err("the name server knows no broker master".into());
        }
        Ok(addrs)
    }

    /// UPDATE_AND_CREATE_TOPIC on this broker, as `mqadmin updateTopic` sends it.
    pub fn create_topic(&mut self, topic: &str, queues: i32) -> Result<(), String> {
        let config = requests::topic_config(topic, queues);
        let answer = self.call(requests::create_topic(&config, None))?;
        match answer.code {
            response::SUCCESS => Ok(()),
            code => Err(format!(
                "create topic {topic}: code {code} {:?}",
                answer.remark.unwrap_or_default()
            )),
        }
    }

    /// QUERY_CONSUMER_OFFSET; `None` when the group has no offset for the queue.
    pub fn consumer_offset(
        &mut self,
        group: &str,
        queue: &MessageQueue,
    ) -> Result<Option<i64>, String> {
        let answer = self.call(requests::query_consumer_offset(group, queue))?;
        match answer.code {
            response::SUCCESS => requests::read_offset(&answer).map(Some),
            response::QUERY_NOT_FOUND => Ok(None),
            code => Err(format!("consumer offset: code {code}")),
        }
    }

    /// GET_MAX_OFFSET: the queue's next free offset.
    pub fn max_offset(&mut self, queue: &MessageQueue) -> Result<i64, String> {
        let answer = self.call(requests::get_max_offset(queue))?;
        match answer.code {
            response::SUCCESS => requests::read_offset(&answer),
            code => Err(format!("max offset: code {code}")),
        }
    }

    /// HEART_BEAT with `body` (see `heartbeat_body`).
    pub fn heartbeat(&mut self, body: Vec<u8>) -> Result<(), String> {
        let answer = self.call(requests::heart_beat(body))?;
        match answer.code {
            response::SUCCESS => Ok(()),
            code => Err(format!(
                "heartbeat: code {code} {:?}",
                answer.remark.unwrap_or_default()
            )),
        }
    }
}

/// Finds where to send: creates the topic when asked (`create_queues`), otherwise uses its
/// route, and when the name server has none, lets the broker auto-create it from TBW102
/// the way Java producers do (first sends carry `defaultTopic=TBW102`).
pub fn resolve_publish_queues(
    namesrv: &str,
    topic: &str,
    create_queues: Option<i32>,
    serialize_type: SerializeType,
) -> Result<Vec<QueueAt>, String> {
    let mut namesrv_client = AdminClient::connect(namesrv, serialize_type)?;
    if let Some(queues) = create_queues {
        for addr in wait_for_masters(&mut namesrv_client)? {
            AdminClient::connect(&addr, serialize_type)?.create_topic(topic, queues)?;
            eprintln!("mqbench: created topic {topic} with {queues} queues on {addr}");
        }
        return wait_for_route(&mut namesrv_client, topic, |route| {
            let queues_known: i32 = route.queue_datas.iter().map(|q| q.write_queue_nums).sum();
            queues_known >= queues
        });
    }
    if let Some(route) = namesrv_client.route(topic)? {
        let queues = publish_queues(&route, topic);
        if !queues.is_empty() {
            return Ok(queues);
        }
    }
    // A broker that has just started may not have registered yet.
    wait_for_masters(&mut namesrv_client)?;
    let Some(default_route) = namesrv_client.route(DEFAULT_TOPIC)? else {
        return Err(format!(
            "topic {topic} has no route and the name server has no {DEFAULT_TOPIC} route \
             (autoCreateTopicEnable off?); pass --create-topic"
        ));
    };
    let mut first_sent = BTreeSet::new();
    for at in publish_queues(&default_route, DEFAULT_TOPIC) {
        if !first_sent.insert(at.addr.clone()) {
            continue;
        }
        let spec = SendSpec::new(topic, "mqbench_auto_create", 16, None, None, 1);
        let mut ids = UniqKeyGenerator::new(LOOPBACK, 0);
        // Auto-creation sends to queue 0 of the new topic.
        let queue = MessageQueue::new(topic, &at.queue.broker_name, 0);
        let command = spec.request(&queue, &mut ids, 0, serialize_type);
        let answer = AdminClient::connect(&at.addr, serialize_type)?.invoke(command)?;
        if answer.code != response::SUCCESS {
            return Err(format!(
                "auto-creating {topic} on {}: send answered code {} {:?}",
                at.addr,
                answer.code,
                answer.remark.unwrap_or_default()
            ));
        }
        eprintln!(
            "mqbench: {topic} auto-created on {} from {DEFAULT_TOPIC}",
            at.addr
        );
    }
    wait_for_route(&mut namesrv_client, topic, |_| true)
}

/// Master addresses, waiting for a broker to register if the name server knows none yet.
fn wait_for_masters(namesrv: &mut AdminClient) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + ROUTE_WAIT;
    loop {
        match namesrv.master_addrs() {
            Ok(addrs) => return Ok(addrs),
            Err(error) if Instant::now() > deadline => return Err(error),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

fn wait_for_route(
    namesrv: &mut AdminClient,
    topic: &str,
    ready: impl Fn(&TopicRouteData) -> bool,
) -> Result<Vec<QueueAt>, String> {
    let deadline = Instant::now() + ROUTE_WAIT;
    loop {
        if let Some(route) = namesrv.route(topic)? {
            let queues = publish_queues(&route, topic);
            if !queues.is_empty() && ready(&route) {
                return Ok(queues);
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "topic {topic} did not appear in the name server within {} s",
                ROUTE_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Appends `value` in decimal without allocating.
pub fn push_decimal(out: &mut Vec<u8>, value: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// What every produced message looks like.
#[derive(Debug, Clone)]
pub struct SendSpec {
    pub topic: String,
    pub producer_group: String,
    pub body_bytes: usize,
    pub tag: Option<String>,
    /// Each message gets `KEYS = <prefix><sequence>` (indexed by the broker).
    pub keys_prefix: Option<String>,
    /// Messages per request: 1 sends SEND_MESSAGE_V2, more sends SEND_BATCH_MESSAGE.
    pub batch: usize,
    body_template: Vec<u8>,
}

impl SendSpec {
    pub fn new(
        topic: &str,
        producer_group: &str,
        body_bytes: usize,
        tag: Option<String>,
        keys_prefix: Option<String>,
        batch: usize,
    ) -> SendSpec {
        // Printable filler, like the Java benchmark's body; compresses about as badly.
        let body_template = (0..body_bytes).map(|i| b'a' + (i % 26) as u8).collect();
        SendSpec {
            topic: topic.to_owned(),
            producer_group: producer_group.to_owned(),
            body_bytes,
            tag,
            keys_prefix,
            batch: batch.max(1),
            body_template,
        }
    }

    /// A body stamped with the current time (when it is long enough to hold a stamp).
    fn body(&self) -> Vec<u8> {
        let mut body = self.body_template.clone();
        if body.len() >= BODY_STAMP_BYTES {
            body[..4].copy_from_slice(BODY_STAMP_MAGIC);
            body[4..BODY_STAMP_BYTES].copy_from_slice(&now_us().to_be_bytes());
        }
        body
    }

    fn properties(&self, ids: &mut UniqKeyGenerator, sequence: u64) -> Properties {
        let mut properties = Properties::new();
        if let Some(prefix) = &self.keys_prefix {
            properties.set(PROPERTY_KEYS, &format!("{prefix}{sequence}"));
        }
        properties.set(PROPERTY_UNIQ_KEY, &ids.next_id());
        properties.set(PROPERTY_WAIT, "true");
        if let Some(tag) = &self.tag {
            properties.set(PROPERTY_TAGS, tag);
        }
        properties
    }

    /// SEND_MESSAGE_V2 (or SEND_BATCH_MESSAGE) of the next message(s) to `queue`.
    /// `sequence` numbers the first message (for keys).
    pub fn request(
        &self,
        queue: &MessageQueue,
        ids: &mut UniqKeyGenerator,
        sequence: u64,
        serialize_type: SerializeType,
    ) -> RemotingCommand {
        let batch = self.batch > 1;
        let (properties, body) = if batch {
            let messages: Vec<InnerMessage> = (0..self.batch as u64)
                .map(|index| InnerMessage {
                    flag: 0,
                    body: self.body(),
                    properties: self.properties(ids, sequence + index),
                })
                .collect();
            let mut batch_properties = Properties::new();
            batch_properties.set(PROPERTY_WAIT, "true");
            (batch_properties, encode_batch_body(&messages))
        } else {
            (self.properties(ids, sequence), self.body())
        };
        let command = requests::send_message(SendRequest {
            producer_group: &self.producer_group,
            queue,
            // Separators 0x01/0x02 are ASCII, so the properties are valid UTF-8 text.
            properties: String::from_utf8_lossy(&properties.to_bytes()).into_owned(),
            body,
            batch,
            born_timestamp_ms: now_ms(),
        });
        as_java_client(command, serialize_type)
    }
}

/// SEND_MESSAGE_V2 frames with JSON headers, written straight into a send buffer: the
/// same bytes `SendSpec::request(..).encode_into(..)` produces for a single message, but
/// with the constant parts of the header encoded once, so a client that shares the cores
/// with the broker spends as little of them as it can per message.
pub struct SendFrameTemplate {
    /// From `{"code":310,"extFields":{` up to the opening quote of `e` (queueId).
    head: Vec<u8>,
    /// After the queue id, up to the opening quote of `g` (bornTimestamp).
    after_queue_id: Vec<u8>,
    /// After the timestamp, up to where the properties' variable parts begin.
    before_properties: Vec<u8>,
    /// `KEYS\u0001<prefix>`, when messages carry keys (the sequence number follows).
    keys_prefix: Option<Vec<u8>>,
    /// `UNIQ_KEY\u0001` (preceded by the keys' separator if any).
    uniq_key_prefix: Vec<u8>,
    /// From the separator after the id to `"flag":`.
    after_uniq_key: Vec<u8>,
    /// From after the flag to `"opaque":`.
    after_flag: Vec<u8>,
    tail: Vec<u8>,
    body: Vec<u8>,
}

impl SendFrameTemplate {
    /// `None` when the spec needs the general encoder (batches).
    pub fn new(spec: &SendSpec, broker_name: &str) -> Option<SendFrameTemplate> {
        use ramjet_net::remoting::json_header::push_json_string;
        if spec.batch > 1 {
            return None;
        }
        let text = |out: &mut Vec<u8>, value: &str| push_json_string(out, value);
        let mut head = format!(
            "{{\"code\":{},\"extFields\":{{\"a\":",
            request::SEND_MESSAGE_V2
        )
        .into_bytes();
        text(&mut head, &spec.producer_group);
        head.extend_from_slice(b",\"b\":");
        text(&mut head, &spec.topic);
        head.extend_from_slice(b",\"c\":");
        text(&mut head, DEFAULT_TOPIC);
        head.extend_from_slice(
            format!(",\"d\":\"{DEFAULT_TOPIC_QUEUE_NUMS}\",\"e\":\"").as_bytes(),
        );
        let after_queue_id = b"\",\"f\":\"0\",\"g\":\"".to_vec();
        let before_properties = b"\",\"h\":\"0\",\"i\":\"".to_vec();
        // Property text inside a JSON string: separators 0x01/0x02 escaped as fastjson does.
        let escaped = |value: &str| {
            let mut out = Vec::new();
            push_json_string(&mut out, value);
            out[1..out.len() - 1].to_vec()
        };
        let keys_prefix = spec
            .keys_prefix
            .as_ref()
            .map(|prefix| escaped(&format!("{PROPERTY_KEYS}\u{1}{prefix}")));
        let mut uniq_key_prefix = Vec::new();
        if keys_prefix.is_some() {
            uniq_key_prefix.extend_from_slice(&escaped("\u{2}"));
        }
        uniq_key_prefix.extend_from_slice(&escaped(&format!("{PROPERTY_UNIQ_KEY}\u{1}")));
        let mut after_uniq_key = escaped(&format!("\u{2}{PROPERTY_WAIT}\u{1}true\u{2}"));
        if let Some(tag) = &spec.tag {
            after_uniq_key.extend_from_slice(&escaped(&format!("{PROPERTY_TAGS}\u{1}{tag}\u{2}")));
        }
        after_uniq_key.extend_from_slice(b"\",\"j\":\"0\",\"k\":\"false\",\"m\":\"false\",\"n\":");
        text(&mut after_uniq_key, broker_name);
        after_uniq_key.extend_from_slice(b"},\"flag\":");
        let after_flag = b",\"language\":\"JAVA\",\"opaque\":".to_vec();
        let tail = format!(
            ",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":{}}}",
            version::V5_3_3
        )
        .into_bytes();
        let mut body = spec.body_template.clone();
        if body.len() >= BODY_STAMP_BYTES {
            body[..4].copy_from_slice(BODY_STAMP_MAGIC);
        }
        Some(SendFrameTemplate {
            head,
            after_queue_id,
            before_properties,
            keys_prefix,
            uniq_key_prefix,
            after_uniq_key,
            after_flag,
            tail,
            body,
        })
    }

    /// Appends one whole frame: the message numbered `sequence` to `queue_id`.
    pub fn write(
        &self,
        out: &mut Vec<u8>,
        queue_id: i32,
        opaque: i32,
        oneway: bool,
        sequence: u64,
        ids: &mut UniqKeyGenerator,
    ) {
        let start = out.len();
        out.extend_from_slice(&[0u8; 8]);
        out.extend_from_slice(&self.head);
        push_decimal(out, i64::from(queue_id));
        out.extend_from_slice(&self.after_queue_id);
        push_decimal(out, now_ms());
        out.extend_from_slice(&self.before_properties);
        if let Some(keys_prefix) = &self.keys_prefix {
            out.extend_from_slice(keys_prefix);
            push_decimal(out, sequence as i64);
        }
        out.extend_from_slice(&self.uniq_key_prefix);
        ids.write_next_id(out);
        out.extend_from_slice(&self.after_uniq_key);
        let flag = if oneway {
            ramjet_net::remoting::command::FLAG_ONEWAY
        } else {
            0
        };
        push_decimal(out, i64::from(flag));
        out.extend_from_slice(&self.after_flag);
        push_decimal(out, i64::from(opaque));
        out.extend_from_slice(&self.tail);
        let header_bytes = out.len() - start - 8;
        let body_at = out.len();
        out.extend_from_slice(&self.body);
        if self.body.len() >= BODY_STAMP_BYTES {
            out[body_at + 4..body_at + BODY_STAMP_BYTES].copy_from_slice(&now_us().to_be_bytes());
        }
        let frame_bytes = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&frame_bytes.to_be_bytes());
        // Serialize type 0 (JSON) in the top byte.
        out[start + 4..start + 8].copy_from_slice(&(header_bytes as u32).to_be_bytes());
    }
}

/// The response code and opaque of a whole frame, read without decoding the rest of the
/// header. In JSON, `"code":` and `"opaque":` cannot occur inside a string value (a quote
/// there is always escaped), so the first match is the top-level key.
pub fn peek_code_and_opaque(frame: &[u8]) -> Option<(i32, i32, bool)> {
    let word = u32::from_be_bytes(frame.get(4..8)?.try_into().ok()?);
    let header = frame.get(8..8 + (word & 0x00ff_ffff) as usize)?;
    if word >> 24 == SerializeType::RocketMq as u32 {
        let code = i32::from(i16::from_be_bytes(header.get(0..2)?.try_into().ok()?));
        let opaque = i32::from_be_bytes(header.get(5..9)?.try_into().ok()?);
        let flag = i32::from_be_bytes(header.get(9..13)?.try_into().ok()?);
        return Some((
            code,
            opaque,
            flag & ramjet_net::remoting::command::FLAG_RESPONSE != 0,
        ));
    }
    let number_after = |key: &[u8]| -> Option<i32> {
        let at = header.windows(key.len()).position(|w| w == key)? + key.len();
        let rest = &header[at..];
        let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
        let end = rest
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'-'))
            .unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
    };
    let flag = number_after(b"\"flag\":")?;
    Some((
        number_after(b"\"code\":")?,
        number_after(b"\"opaque\":")?,
        flag & ramjet_net::remoting::command::FLAG_RESPONSE != 0,
    ))
}

/// HEART_BEAT body of a producer (`consumer_group` `None`) or of a pull consumer of
/// `topic` subscribed to everything, in the 5.x shape Java sends.
pub fn heartbeat_body(
    client_id: &str,
    producer_group: Option<&str>,
    consumer: Option<(&str, &str, i64)>,
) -> Vec<u8> {
    let mut producers = vec![serde_json::json!({"groupName": "CLIENT_INNER_PRODUCER"})];
    if let Some(group) = producer_group {
        producers.push(serde_json::json!({ "groupName": group }));
    }
    let consumers: Vec<serde_json::Value> = consumer
        .map(|(group, topic, sub_version)| {
            serde_json::json!({
                "consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET",
                "consumeType": "CONSUME_ACTIVELY",
                "groupName": group,
                "messageModel": "CLUSTERING",
                "subscriptionDataSet": [{
                    "classFilterMode": false,
                    "codeSet": [],
                    "expressionType": "TAG",
                    "subString": "*",
                    "subVersion": sub_version,
                    "tagsSet": [],
                    "topic": topic,
                }],
                "unitMode": false,
            })
        })
        .into_iter()
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "clientID": client_id,
        "consumerDataSet": consumers,
        "heartbeatFingerprint": 0,
        "producerDataSet": producers,
        "withoutSub": false,
    }))
    .expect("heartbeat JSON always serializes")
}

/// `ip@instance`, as Java's `ClientConfig.buildMQClientId`.
pub fn client_id() -> String {
    format!("127.0.0.1@mqbench-{}", std::process::id())
}

/// What a pull asks for.
#[derive(Debug, Clone)]
pub struct PullSpec {
    pub group: String,
    pub max_msg_nums: i32,
    /// Long-polling hold when the queue is caught up; 0 asks for an immediate answer.
    pub suspend_ms: i64,
    pub sub_version: i64,
}

impl PullSpec {
    /// PULL_MESSAGE at `queue_offset`, carrying its own subscription (`*`) so the broker
    /// need not have seen our heartbeat, and committing the offset reached so far.
    pub fn request(
        &self,
        queue: &MessageQueue,
        queue_offset: i64,
        serialize_type: SerializeType,
    ) -> RemotingCommand {
        let pull = PullRequest {
            group: &self.group,
            queue,
            queue_offset,
            max_msg_nums: self.max_msg_nums,
            suspend_ms: self.suspend_ms,
            commit_offset: (queue_offset > 0).then_some(queue_offset),
            subscription: "*",
            sub_version: self.sub_version,
        };
        as_java_client(requests::pull_message(&pull), serialize_type)
    }
}

/// The fields of one stored record that a consumer benchmark needs, read in place
/// (store-format.md section 2.1) without copying the body or parsing properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    pub total_size: usize,
    pub queue_offset: i64,
    pub born_timestamp_ms: i64,
    pub body_bytes: usize,
    /// The producer's microsecond stamp, when the body carries mqbench's marker.
    pub body_stamp_us: Option<u64>,
}

/// Walks the records of a pull body. Fails on anything that is not a whole record.
pub fn scan_records(mut bytes: &[u8], mut each: impl FnMut(RecordMeta)) -> Result<(), String> {
    use ramjet_store::message::{MESSAGE_MAGIC_CODE_V1, MESSAGE_MAGIC_CODE_V2};
    const BORNHOST_V6_FLAG: i32 = 1 << 4;
    const STOREHOST_V6_FLAG: i32 = 1 << 5;
    let i32_at = |b: &[u8], at: usize| i32::from_be_bytes(b[at..at + 4].try_into().unwrap());
    let i64_at = |b: &[u8], at: usize| i64::from_be_bytes(b[at..at + 8].try_into().unwrap());
    while !bytes.is_empty() {
        if bytes.len() < 8 {
            return Err(format!("{} stray bytes after the last record", bytes.len()));
        }
        let total_size = i32_at(bytes, 0);
        let magic = i32_at(bytes, 4);
        if magic != MESSAGE_MAGIC_CODE_V1 && magic != MESSAGE_MAGIC_CODE_V2 {
            return Err(format!("bad record magic {magic:#x}"));
        }
        if total_size < 92 || total_size as usize > bytes.len() {
            return Err(format!(
                "record size {total_size} with {} bytes left",
                bytes.len()
            ));
        }
        let record = &bytes[..total_size as usize];
        let sys_flag = i32_at(record, 36);
        let born_host_bytes = if sys_flag & BORNHOST_V6_FLAG != 0 {
            20
        } else {
            8
        };
        let store_host_bytes = if sys_flag & STOREHOST_V6_FLAG != 0 {
            20
        } else {
            8
        };
        let body_len_at = 68 + born_host_bytes + store_host_bytes;
        let body_at = body_len_at + 4;
        if body_at > record.len() {
            return Err("record too short for its hosts".into());
        }
        let body_bytes = i32_at(record, body_len_at);
        if body_bytes < 0 || body_at + body_bytes as usize > record.len() {
            return Err(format!("record body of {body_bytes} bytes overflows it"));
        }
        let body = &record[body_at..body_at + body_bytes as usize];
        let body_stamp_us = (body.len() >= BODY_STAMP_BYTES && &body[..4] == BODY_STAMP_MAGIC)
            .then(|| u64::from_be_bytes(body[4..BODY_STAMP_BYTES].try_into().unwrap()));
        each(RecordMeta {
            total_size: total_size as usize,
            queue_offset: i64_at(record, 20),
            born_timestamp_ms: i64_at(record, 40),
            body_bytes: body_bytes as usize,
            body_stamp_us,
        });
        bytes = &bytes[total_size as usize..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ramjet_net::header::{CommandHeader, SendMessageRequestHeaderV2};
    use ramjet_store::message::{decode_record, AppendStamp, MessageRecord};

    #[test]
    fn send_request_carries_uniq_key_tag_and_keys() {
        // The broker indexes UNIQ_KEY and KEYS and hashes TAGS; all three must be present.
        let spec = SendSpec::new("T", "G", 64, Some("TagA".into()), Some("k".into()), 1);
        let queue = MessageQueue::new("T", "b", 3);
        let mut ids = UniqKeyGenerator::new(LOOPBACK, 0);
        let command = spec.request(&queue, &mut ids, 7, SerializeType::Json);
        assert_eq!(command.code, request::SEND_MESSAGE_V2);
        assert_eq!(command.body.len(), 64);
        let header = SendMessageRequestHeaderV2::decode(command.ext_fields.as_ref().unwrap());
        let header = header.unwrap();
        assert_eq!((header.b.as_str(), header.e), ("T", 3));
        let properties = Properties::from_bytes(header.i.unwrap().as_bytes());
        assert_eq!(properties.get(PROPERTY_UNIQ_KEY).map(str::len), Some(32));
        assert_eq!(properties.get(PROPERTY_TAGS), Some("TagA"));
        assert_eq!(properties.get(PROPERTY_KEYS), Some("k7"));
    }

    #[test]
    fn template_frames_match_the_general_encoder() {
        // The fast path must put the same header fields on the wire as the general one.
        let spec = SendSpec::new("T\"x", "G", 40, Some("TagA".into()), Some("k-".into()), 1);
        let queue = MessageQueue::new("T\"x", "broker-a", 5);
        let template = SendFrameTemplate::new(&spec, &queue.broker_name).unwrap();
        let mut ids = UniqKeyGenerator::new(LOOPBACK, 3);
        for oneway in [false, true] {
            let mut frame = Vec::new();
            template.write(&mut frame, 5, 77, oneway, 12, &mut ids);
            let (fast, used) = ramjet_net::remoting::decode_frame(&frame, 1 << 20)
                .unwrap()
                .unwrap();
            assert_eq!(used, frame.len());
            let mut general = spec.request(&queue, &mut ids, 12, SerializeType::Json);
            general.opaque = 77;
            if oneway {
                general.mark_oneway();
            }
            let (general, _) =
                ramjet_net::remoting::decode_frame(&general.encode_to_vec(), 1 << 20)
                    .unwrap()
                    .unwrap();
            assert_eq!(
                (fast.code, fast.opaque, fast.flag),
                (general.code, 77, general.flag)
            );
            assert_eq!(fast.body.len(), 40);
            assert_eq!(&fast.body[..4], BODY_STAMP_MAGIC);
            let field_names = ["a", "b", "c", "d", "e", "f", "h", "j", "k", "m", "n"];
            for name in field_names {
                assert_eq!(
                    fast.ext_field(name),
                    general.ext_field(name),
                    "field {name}"
                );
            }
            let properties = |command: &RemotingCommand| {
                let mut properties =
                    Properties::from_bytes(command.ext_field("i").unwrap().as_bytes());
                properties
                    .remove(PROPERTY_UNIQ_KEY)
                    .map(|id| id.len())
                    .map(|len| (len, properties))
            };
            assert_eq!(properties(&fast), properties(&general));
            assert_eq!(peek_code_and_opaque(&frame), Some((310, 77, false)));
        }
    }

    #[test]
    fn peek_reads_code_and_opaque_of_both_header_kinds() {
        // Answers are matched by opaque without decoding their extFields.
        for serialize_type in [SerializeType::Json, SerializeType::RocketMq] {
            let mut answer = java_request(17, serialize_type);
            answer.flag = 1;
            answer.opaque = -5;
            answer.remark = Some("\"code\":3 \"opaque\":9".into());
            answer.ext_fields_mut().insert("msgId", "\"opaque\":1");
            let frame = answer.encode_to_vec();
            assert_eq!(peek_code_and_opaque(&frame), Some((17, -5, true)));
        }
    }

    #[test]
    fn batch_request_encodes_each_message() {
        // SEND_BATCH_MESSAGE bodies hold one inner message (with its own UNIQ_KEY) each.
        let spec = SendSpec::new("T", "G", 20, None, None, 3);
        let queue = MessageQueue::new("T", "b", 0);
        let command = spec.request(
            &queue,
            &mut UniqKeyGenerator::new(LOOPBACK, 0),
            0,
            SerializeType::Json,
        );
        assert_eq!(command.code, request::SEND_BATCH_MESSAGE);
        let inner = ramjet_store::message::decode_batch_body(&command.body).unwrap();
        assert_eq!(inner.len(), 3);
        assert!(inner
            .iter()
            .all(|m| m.properties.get(PROPERTY_UNIQ_KEY).is_some()));
    }

    #[test]
    fn scan_records_agrees_with_the_store_decoder() {
        // The light scanner must read the same fields as the store's full decoder.
        let mut bytes = Vec::new();
        for (offset, body) in [
            (5i64, b"RJB1\0\0\0\0\0\0\0\x2aabc".to_vec()),
            (6, b"xy".to_vec()),
        ] {
            let record = MessageRecord {
                topic: "T".into(),
                queue_id: 1,
                flag: 0,
                body: body.clone().into(),
                properties: Properties::new(),
                sys_flag: 0,
                born_timestamp: 1_700_000_000_123,
                born_host: "127.0.0.1:5555".parse().unwrap(),
                store_host: "127.0.0.1:10911".parse().unwrap(),
                reconsume_times: 0,
                prepared_transaction_offset: 0,
            };
            let stamp = AppendStamp {
                queue_offset: offset,
                physical_offset: 0,
                store_timestamp: 1_700_000_000_124,
            };
            bytes.extend_from_slice(&record.prepare().unwrap().encode_to_vec(stamp));
        }
        let mut seen = Vec::new();
        scan_records(&bytes, |meta| seen.push(meta)).unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].queue_offset, 5);
        assert_eq!(seen[0].body_stamp_us, Some(42));
        assert_eq!(seen[1].body_stamp_us, None);
        assert_eq!(seen[1].born_timestamp_ms, 1_700_000_000_123);
        let decoded = decode_record(&bytes[seen[0].total_size..], true).unwrap();
        assert_eq!(decoded.message.body.len(), seen[1].body_bytes);
        assert!(scan_records(&bytes[..bytes.len() - 1], |_| {}).is_err());
    }
}

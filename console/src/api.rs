//! The admin API's routes. Each one is a few remoting requests sent with mqadmin's code
//! (`ramjet_tools`), answered as JSON. Names (topic, group, key, id) travel in the query
//! string, as rocketmq-dashboard's API does, so names with `%` (retry and DLQ topics) need
//! only ordinary URL encoding.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ramjet_net::body::{perm, ConsumeStats, TopicConfig};
use ramjet_net::client::subscribe_queues;
use ramjet_net::code::{request, response};
use ramjet_net::header::{CommandHeader, DeleteTopicFromNamesrvRequestHeader, TopicRequestHeader};
use ramjet_net::{properties, RemotingCommand};
use ramjet_tools::commands::{client_call, cluster, consumer, dlq, offset, query, topic};
use ramjet_tools::message::StoredMessage;
use ramjet_tools::queues::{pull, search_offset, PullStatus, QueueAt, TOOLS_CONSUMER_GROUP};
use ramjet_tools::remote::Remote;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::latency::LatencyMemory;
use crate::ConsoleConfig;

type ApiResult = Result<Value, ApiError>;

/// Most messages one list answer carries (time range, key): bounds the work one HTTP
/// request can ask of the broker.
const MESSAGES_MAX: usize = 2000;
const MESSAGES_DEFAULT: usize = 64;
/// Most bytes of a body shown as text in a message view (the base64 form is complete).
const BODY_TEXT_MAX: usize = 64 * 1024;

/// One parsed HTTP request, as the routes see it.
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ApiRequest {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.param(name)
            .ok_or_else(|| ApiError::invalid(format!("query parameter {name} is required")))
    }

    fn json(&self) -> Result<Value, ApiError> {
        let value: Value = serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::invalid(format!("request body is not JSON: {e}")))?;
        if !value.is_object() {
            return Err(ApiError::invalid("request body must be a JSON object"));
        }
        Ok(value)
    }
}

fn body_str<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    body.get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ApiError::invalid(format!("body field {name} (a string) is required")))
}

fn body_i32(body: &Value, name: &str, default: i32) -> Result<i32, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| {
                ApiError::invalid(format!("body field {name} must be a 32-bit integer"))
            }),
    }
}

fn body_bool(body: &Value, name: &str, default: bool) -> Result<bool, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(ApiError::invalid(format!(
            "body field {name} must be true or false"
        ))),
    }
}

/// A timestamp: milliseconds, `now`, or `yyyy-MM-dd#HH:mm:ss:SSS` (mqadmin's forms).
fn timestamp(text: &str, name: &str) -> Result<i64, ApiError> {
    ramjet_tools::time::parse_timestamp(text).map_err(|e| ApiError::invalid(format!("{name}: {e}")))
}

fn count(text: Option<&str>, name: &str) -> Result<usize, ApiError> {
    match text {
        None => Ok(MESSAGES_DEFAULT),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MESSAGES_MAX).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("{name} must be 1..={MESSAGES_MAX}"))),
    }
}

/// Connections idle this long are dropped before the next request: brokers and name
/// servers close idle channels (serverChannelMaxIdleTimeSeconds, 120 s by default), and a
/// request on a closed one would fail.
const IDLE_RECONNECT: Duration = Duration::from_secs(60);

pub struct Api {
    remote: Remote,
    config: ConsoleConfig,
    last_used: Instant,
    latency: Arc<LatencyMemory>,
}

impl Api {
    pub fn new(config: &ConsoleConfig, latency: Arc<LatencyMemory>) -> Api {
        Api {
            remote: fresh_remote(config),
            config: config.clone(),
            last_used: Instant::now(),
            latency,
        }
    }

    /// Serves one request. A read (GET) that failed to reach a peer is tried once more on
    /// new connections: the peer may have closed an idle one. Writes are not repeated.
    pub fn handle(&mut self, req: &ApiRequest) -> ApiResult {
        if self.last_used.elapsed() > IDLE_RECONNECT {
            self.remote = fresh_remote(&self.config);
        }
        let mut result = self.route(req);
        if matches!(&result, Err(error) if error.status == 502) && req.method == "GET" {
            self.remote = fresh_remote(&self.config);
            result = self.route(req);
        }
        self.last_used = Instant::now();
        result
    }

    fn route(&mut self, req: &ApiRequest) -> ApiResult {
        let path = req.path.trim_end_matches('/');
        match (req.method.as_str(), path) {
            ("GET", "/api/cluster") => self.cluster(),
            ("GET", "/api/topics") => self.topics(),
            ("POST", "/api/topics") | ("PUT", "/api/topics") => self.update_topic(&req.json()?),
            ("DELETE", "/api/topics") => self.delete_topic(req.required("topic")?),
            ("GET", "/api/topic/status") => self.topic_status(req.required("topic")?),
            ("GET", "/api/topic/latency") => Ok(crate::latency::topic_latency(
                &self.latency,
                self.config.metrics_addr.as_deref(),
                req.required("topic")?,
            )),
            ("GET", "/api/topic/route") => self.topic_route(req.required("topic")?),
            ("GET", "/api/topic/consumers") => self.topic_consumers(req.required("topic")?),
            ("GET", "/api/groups") => self.groups(),
            ("GET", "/api/group/progress") => {
                self.group_progress(req.required("group")?, req.param("topic"))
            }
            ("GET", "/api/group/connections") => self.group_connections(req.required("group")?),
            ("POST", "/api/group/reset") => self.reset_offset(&req.json()?),
            ("GET", "/api/messages") => self.messages_by_time(req),
            ("GET", "/api/messages/by-key") => self.messages_by_key(req),
            ("GET", "/api/message") => self.message(req.required("topic")?, req.required("id")?),
            ("POST", "/api/message/resend") => self.resend_to_group(&req.json()?),
            ("GET", "/api/dlq") => self.dlq(req.required("group")?),
            ("POST", "/api/dlq/resend") => self.dlq_resend(&req.json()?),
            ("GET", "/api/producers") => {
                self.producers(req.required("topic")?, req.required("group")?)
            }
            ("GET", "/api/broker/config") => self.broker_config(),
            ("POST", "/api/broker/config") => self.update_broker_config(&req.json()?),
            ("GET", "/api/broker/stats") => self.broker_stats(),
            (_, _) => Err(ApiError {
                status: 404,
                code: response::REQUEST_CODE_NOT_SUPPORTED,
                remark: format!("no API {} {}", req.method, req.path),
            }),
        }
    }

    fn broker(&self) -> String {
        self.config.broker_addr.clone()
    }

    /// Cluster info from the name server, each broker with its runtime stats.
    fn cluster(&mut self) -> ApiResult {
        let info = self.remote.cluster_info()?;
        let mut brokers = Vec::new();
        for (name, data) in &info.broker_addr_table {
            for (id, addr) in &data.broker_addrs {
                let stats = cluster::runtime_stats(&mut self.remote, addr);
                let (stats, error) = match stats {
                    Ok(stats) => (json!(stats), Value::Null),
                    Err(error) => (Value::Null, json!(error.to_string())),
                };
                brokers.push(json!({
                    "cluster": data.cluster, "brokerName": name, "brokerId": id,
                    "addr": addr, "stats": stats, "error": error,
                }));
            }
        }
        Ok(json!({
            "clusters": info.cluster_addr_table,
            "brokers": brokers,
            "self": {"addr": self.config.broker_addr, "cluster": self.config.cluster_name,
                     "brokerName": self.config.broker_name},
        }))
    }

    fn topics(&mut self) -> ApiResult {
        let topics = topic::all_topics(&mut self.remote)?;
        // Brokers register topics named after their cluster and broker name
        // (clusterTopicEnable, brokerTopicEnable); they are the broker's, not a user's.
        let names: Vec<String> = match self.remote.cluster_info() {
            Ok(info) => info
                .cluster_addr_table
                .keys()
                .chain(info.broker_addr_table.keys())
                .cloned()
                .collect(),
            Err(_) => Vec::new(),
        };
        let rows: Vec<Value> = topics
            .iter()
            .map(|name| json!({"topic": name, "kind": topic_kind(name, &names)}))
            .collect();
        Ok(json!({ "topics": rows }))
    }

    /// UPDATE_AND_CREATE_TOPIC on every master of `clusterName` (default: this broker's
    /// cluster), or on `brokerAddr` alone. Creates or updates, as mqadmin updateTopic.
    fn update_topic(&mut self, body: &Value) -> ApiResult {
        let name = body_str(body, "topic")?;
        let read = body_i32(body, "readQueueNums", 8)?;
        let write = body_i32(body, "writeQueueNums", 8)?;
        let perm = body_i32(body, "perm", perm::READ | perm::WRITE)?;
        let mut config = TopicConfig::new(name, read, write, perm);
        config.order = body_bool(body, "order", false)?;
        let addrs = match body.get("brokerAddr").and_then(Value::as_str) {
            Some(addr) => vec![addr.trim().to_owned()],
            None => {
                let cluster = body
                    .get("clusterName")
                    .and_then(Value::as_str)
                    .unwrap_or(&self.config.cluster_name)
                    .trim()
                    .to_owned();
                self.remote.master_addrs_of_cluster(&cluster)?
            }
        };
        for addr in &addrs {
            let request = ramjet_net::client::requests::create_topic(&config, None);
            self.remote
                .call_broker("UPDATE_AND_CREATE_TOPIC", addr, request)?;
        }
        Ok(
            json!({"topic": name, "brokers": addrs, "readQueueNums": read,
                  "writeQueueNums": write, "perm": perm, "order": config.order}),
        )
    }

    /// DELETE_TOPIC_IN_BROKER on the masters of this broker's cluster, then
    /// DELETE_TOPIC_IN_NAMESRV on every name server (mqadmin deleteTopic).
    fn delete_topic(&mut self, name: &str) -> ApiResult {
        let cluster = self.config.cluster_name.clone();
        let masters = self.remote.master_addrs_of_cluster(&cluster)?;
        let header = TopicRequestHeader {
            topic: name.to_owned(),
        };
        for addr in &masters {
            let request = RemotingCommand::request(request::DELETE_TOPIC_IN_BROKER)
                .with_ext_fields(header.to_ext_fields());
            self.remote
                .call_broker("DELETE_TOPIC_IN_BROKER", addr, request)?;
        }
        let header = DeleteTopicFromNamesrvRequestHeader {
            topic: name.to_owned(),
            cluster_name: Some(cluster.clone()),
        };
        let request = RemotingCommand::request(request::DELETE_TOPIC_IN_NAMESRV)
            .with_ext_fields(header.to_ext_fields());
        self.remote
            .call_every_namesrv("DELETE_TOPIC_IN_NAMESRV", request)?;
        Ok(json!({"topic": name, "deleted": true, "cluster": cluster, "brokers": masters}))
    }

    fn topic_status(&mut self, name: &str) -> ApiResult {
        let stats = topic::topic_stats(&mut self.remote, name, None)?;
        let mut total = 0i64;
        let queues: Vec<Value> = stats
            .offset_table
            .iter()
            .map(|(queue, offset)| {
                total += offset.max_offset - offset.min_offset;
                json!({"brokerName": queue.broker_name, "queueId": queue.queue_id,
                       "minOffset": offset.min_offset, "maxOffset": offset.max_offset,
                       "lastUpdateTimestamp": offset.last_update_timestamp})
            })
            .collect();
        let max_offset_sum: i64 = stats.offset_table.values().map(|o| o.max_offset).sum();
        Ok(json!({"topic": name, "queues": queues, "messages": total,
                  "maxOffsetSum": max_offset_sum, "topicPutTps": stats.topic_put_tps}))
    }

    fn topic_route(&mut self, name: &str) -> ApiResult {
        let route = self.remote.route(name)?;
        Ok(serde_json::to_value(route).unwrap_or(Value::Null))
    }

    fn topic_consumers(&mut self, name: &str) -> ApiResult {
        let route = self.remote.route(name)?;
        let groups = topic::consumer_groups_of(&mut self.remote, &route, name)?;
        Ok(json!({"topic": name, "groups": groups}))
    }

    /// Every group with a retry topic (one is made when its first consumer connects), with
    /// its consumer count and total lag, as the dashboard's consumer page lists them.
    fn groups(&mut self) -> ApiResult {
        let mut rows = Vec::new();
        for name in topic::all_topics(&mut self.remote)? {
            let Some(group) = name.strip_prefix(topic::RETRY_GROUP_TOPIC_PREFIX) else {
                continue;
            };
            let stats = consumer::consume_stats(&mut self.remote, group, None, None).ok();
            let connection = consumer::consumer_connection_of(&mut self.remote, group, None).ok();
            rows.push(json!({
                "group": group,
                "consumers": connection.as_ref().map_or(0, |c| c.connection_set.len()),
                "consumeType": connection.as_ref().and_then(|c| c.consume_type.clone()),
                "messageModel": connection.as_ref().and_then(|c| c.message_model.clone()),
                "consumeTps": stats.as_ref().map_or(0.0, |s| s.consume_tps),
                "diffTotal": stats.as_ref().map_or(0, ConsumeStats::total_diff),
            }));
        }
        Ok(json!({ "groups": rows }))
    }

    /// GET_CONSUME_STATS merged over the group's brokers: per queue offsets and lag.
    fn group_progress(&mut self, group: &str, topic: Option<&str>) -> ApiResult {
        let stats = consumer::consume_stats(&mut self.remote, group, topic, None)?;
        let queues: Vec<Value> = stats
            .offset_table
            .iter()
            .map(|(queue, offset)| {
                json!({"topic": queue.topic, "brokerName": queue.broker_name,
                       "queueId": queue.queue_id, "brokerOffset": offset.broker_offset,
                       "consumerOffset": offset.consumer_offset,
                       "lag": offset.broker_offset - offset.consumer_offset,
                       "lastTimestamp": offset.last_timestamp})
            })
            .collect();
        Ok(json!({"group": group, "consumeTps": stats.consume_tps,
                  "diffTotal": stats.total_diff(), "queues": queues}))
    }

    fn group_connections(&mut self, group: &str) -> ApiResult {
        let connection = consumer::consumer_connection_of(&mut self.remote, group, None)?;
        Ok(serde_json::to_value(connection).unwrap_or(Value::Null))
    }

    /// resetOffsetByTime: INVOKE_BROKER_TO_RESET_OFFSET on every broker of the topic (the
    /// brokers tell online consumers to move); for a group with no consumer online, the
    /// offsets are committed here as mqadmin does (UPDATE_CONSUMER_OFFSET).
    fn reset_offset(&mut self, body: &Value) -> ApiResult {
        let group = body_str(body, "group")?;
        let topic_name = body_str(body, "topic")?;
        let when = match body.get("timestamp") {
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                ApiError::invalid("timestamp must be milliseconds since the epoch")
            })?,
            Some(Value::String(text)) => timestamp(text, "timestamp")?,
            _ => {
                return Err(ApiError::invalid(
                    "body field timestamp (ms or \"now\") is required",
                ))
            }
        };
        let force = body_bool(body, "force", true)?;
        let brokers = self.remote.topic_brokers(topic_name, None)?;
        let mut online = BTreeMap::new();
        let mut offline = false;
        for (_, addr) in &brokers {
            match offset::invoke_broker_to_reset(
                &mut self.remote,
                addr,
                topic_name,
                group,
                when,
                force,
            )? {
                Some(body) => online.extend(body.offset_table),
                None => {
                    offline = true;
                    break;
                }
            }
        }
        if !offline {
            let rows: Vec<Value> = online
                .iter()
                .map(|(queue, offset)| {
                    json!({"brokerName": queue.broker_name, "queueId": queue.queue_id, "offset": offset})
                })
                .collect();
            return Ok(
                json!({"group": group, "topic": topic_name, "timestamp": when,
                             "mode": "online", "offsets": rows}),
            );
        }
        let mut rows = Vec::new();
        for (broker_name, addr) in &brokers {
            for (queue, current) in
                offset::queue_offsets(&mut self.remote, addr, broker_name, group, topic_name)?
            {
                let at = QueueAt {
                    queue,
                    addr: addr.clone(),
                };
                let target = search_offset(&mut self.remote, &at, when)?;
                // Without force a queue only moves back, as mqadmin's offline reset.
                let reset = if force || target <= current.consumer_offset {
                    offset::commit(&mut self.remote, &at, group, target)?;
                    target
                } else {
                    current.consumer_offset
                };
                rows.push(
                    json!({"brokerName": at.queue.broker_name, "queueId": at.queue.queue_id,
                                 "previousOffset": current.consumer_offset,
                                 "timestampOffset": target, "offset": reset}),
                );
            }
        }
        Ok(
            json!({"group": group, "topic": topic_name, "timestamp": when,
                  "mode": "offline", "offsets": rows}),
        )
    }

    /// Messages stored in [begin, end] (ms), queue by queue, oldest first, at most `max`.
    fn messages_by_time(&mut self, req: &ApiRequest) -> ApiResult {
        let topic_name = req.required("topic")?;
        let begin = timestamp(req.param("begin").unwrap_or("0"), "begin")?;
        let end = match req.param("end") {
            Some(text) => timestamp(text, "end")?,
            None => i64::MAX,
        };
        if begin > end {
            return Err(ApiError::invalid("begin is after end"));
        }
        let max = count(req.param("max"), "max")?;
        let route = self.remote.route(topic_name)?;
        let mut found: Vec<StoredMessage> = Vec::new();
        'queues: for at in subscribe_queues(&route, topic_name) {
            let mut offset = search_offset(&mut self.remote, &at, begin)?;
            let stop = if end == i64::MAX {
                ramjet_tools::queues::max_offset(&mut self.remote, &at)?
            } else {
                // The first offset at or after `end`, plus one for a message stored at `end`.
                search_offset(&mut self.remote, &at, end)?.saturating_add(1)
            };
            while offset < stop {
                let batch = (stop - offset).min(32) as i32;
                let result = pull(
                    &mut self.remote,
                    &at,
                    TOOLS_CONSUMER_GROUP,
                    "*",
                    offset,
                    batch,
                )?;
                if result.status != PullStatus::Found || result.next_begin_offset <= offset {
                    break;
                }
                offset = result.next_begin_offset;
                for message in result.messages {
                    let stored = message.store_timestamp();
                    if stored >= begin && stored <= end {
                        found.push(message);
                        if found.len() >= max {
                            break 'queues;
                        }
                    }
                }
            }
        }
        found.sort_by_key(StoredMessage::store_timestamp);
        let rows: Vec<Value> = found.iter().map(|m| message_json(m, false)).collect();
        Ok(json!({"topic": topic_name, "begin": begin, "end": end, "messages": rows}))
    }

    fn messages_by_key(&mut self, req: &ApiRequest) -> ApiResult {
        let topic_name = req.required("topic")?;
        let key = req.required("key")?;
        let max = count(req.param("max"), "max")? as i32;
        let found = query::query_messages(
            &mut self.remote,
            topic_name,
            key,
            max,
            0,
            i64::MAX,
            false,
            None,
        )?;
        let rows: Vec<Value> = found.iter().map(|m| message_json(m, false)).collect();
        Ok(json!({"topic": topic_name, "key": key, "messages": rows}))
    }

    /// One message by the client's msgId (UNIQ_KEY) or the broker's offsetMsgId, with its
    /// properties and body, and whether each group subscribed to the topic consumed it.
    fn message(&mut self, topic_name: &str, id: &str) -> ApiResult {
        let message = query::view_message(&mut self.remote, topic_name, id, None)?;
        let mut value = message_json(&message, true);
        let mut tracks = Vec::new();
        if let Ok(route) = self.remote.route(topic_name) {
            for group in
                topic::consumer_groups_of(&mut self.remote, &route, topic_name).unwrap_or_default()
            {
                let consumed =
                    consumer::consume_stats(&mut self.remote, &group, Some(topic_name), None)
                        .map(|stats| {
                            stats.offset_table.iter().any(|(queue, offset)| {
                                queue.topic == message.topic()
                                    && queue.queue_id == message.queue_id()
                                    && queue.broker_name == message.broker_name
                                    && offset.consumer_offset > message.queue_offset()
                            })
                        })
                        .unwrap_or(false);
                tracks.push(json!({"group": group, "consumed": consumed}));
            }
        }
        value["tracks"] = Value::Array(tracks);
        Ok(value)
    }

    /// CONSUME_MESSAGE_DIRECTLY to one client of the group, through the broker that stores
    /// the message (tools' `client_call`), as the dashboard's "resend message" does: without
    /// a clientId the group's first online client. The broker's refusals (not online,
    /// CONSUME_MSG_TIMEOUT) come back as JSON errors; the client's result is passed on.
    fn resend_to_group(&mut self, body: &Value) -> ApiResult {
        let group = body_str(body, "group")?;
        let topic_name = body_str(body, "topic")?;
        let id = body_str(body, "id")?;
        let client_id = body.get("clientId").and_then(Value::as_str).unwrap_or("");
        let result = client_call::consume_message_directly(
            &mut self.remote,
            group,
            client_id,
            topic_name,
            id,
        )?;
        Ok(json!({"group": group, "msgId": id, "result": result}))
    }

    fn dlq(&mut self, group: &str) -> ApiResult {
        let messages = dlq::dead_letters(&mut self.remote, group)?;
        let rows: Vec<Value> = messages.iter().map(|m| message_json(m, false)).collect();
        Ok(json!({"group": group, "messages": rows}))
    }

    fn dlq_resend(&mut self, body: &Value) -> ApiResult {
        let group = body_str(body, "group")?;
        let id = body_str(body, "id")?;
        let to_retry = body_bool(body, "toRetry", false)?;
        let resent = dlq::resend_dead_letter(&mut self.remote, group, id, to_retry)?;
        Ok(
            json!({"topic": resent.topic, "brokerName": resent.broker_name,
                  "queueId": resent.queue_id, "msgId": resent.msg_id,
                  "offsetMsgId": resent.offset_msg_id, "sendStatus": "SEND_OK"}),
        )
    }

    fn producers(&mut self, topic_name: &str, group: &str) -> ApiResult {
        let connections = consumer::producer_connections(&mut self.remote, topic_name, group)?;
        Ok(json!({"topic": topic_name, "group": group, "connections": connections}))
    }

    fn broker_config(&mut self) -> ApiResult {
        let broker = self.broker();
        let request = RemotingCommand::request(request::GET_BROKER_CONFIG);
        let answer = self
            .remote
            .call_broker("GET_BROKER_CONFIG", &broker, request)?;
        let pairs = properties::parse(&String::from_utf8_lossy(&answer.body));
        let map: BTreeMap<String, String> = pairs.into_iter().collect();
        Ok(json!({"broker": broker, "config": map}))
    }

    /// UPDATE_BROKER_CONFIG with the body's `{"key": "value", ...}`; the broker validates
    /// every key and refuses what it cannot change at run time.
    fn update_broker_config(&mut self, body: &Value) -> ApiResult {
        let object = body.as_object().expect("json() returns objects only");
        if object.is_empty() {
            return Err(ApiError::invalid("body has no key to update"));
        }
        let mut pairs = Vec::new();
        for (key, value) in object {
            let value = match value {
                Value::String(text) => text.clone(),
                Value::Number(_) | Value::Bool(_) => value.to_string(),
                _ => {
                    return Err(ApiError::invalid(format!(
                        "value of {key} must be a string, number or boolean"
                    )))
                }
            };
            pairs.push((key.clone(), value));
        }
        let text = properties::to_text(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let broker = self.broker();
        let request =
            RemotingCommand::request(request::UPDATE_BROKER_CONFIG).with_body(text.into_bytes());
        self.remote
            .call_broker("UPDATE_BROKER_CONFIG", &broker, request)?;
        Ok(json!({"broker": broker, "updated": pairs.iter().map(|(k, _)| k).collect::<Vec<_>>()}))
    }

    fn broker_stats(&mut self) -> ApiResult {
        let broker = self.broker();
        let stats = cluster::runtime_stats(&mut self.remote, &broker)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Ok(json!({"broker": broker, "time": now, "stats": stats}))
    }
}

fn fresh_remote(config: &ConsoleConfig) -> Remote {
    Remote::new(Some(config.namesrv_addr.as_str()).filter(|addr| !addr.is_empty()))
}

/// NORMAL, RETRY, DLQ or SYSTEM (RocketMQ's own topics, and those named after a cluster
/// or broker in `cluster_and_broker_names`).
fn topic_kind(name: &str, cluster_and_broker_names: &[String]) -> &'static str {
    const SYSTEM: &[&str] = &[
        "TBW102",
        "SCHEDULE_TOPIC_XXXX",
        "BenchmarkTest",
        "OFFSET_MOVED_EVENT",
        "SELF_TEST_TOPIC",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "RMQ_SYS_TRANS_OP_HALF_TOPIC",
        "TRANS_CHECK_MAX_TIME_TOPIC",
        "RMQ_SYS_TRACE_TOPIC",
    ];
    if name.starts_with(topic::RETRY_GROUP_TOPIC_PREFIX) {
        "RETRY"
    } else if name.starts_with(topic::DLQ_GROUP_TOPIC_PREFIX) {
        "DLQ"
    } else if SYSTEM.contains(&name)
        || name.starts_with("rmq_sys_")
        || name.starts_with("RMQ_SYS_")
        || name.ends_with("_REPLY_TOPIC")
        || cluster_and_broker_names.iter().any(|n| n == name)
    {
        "SYSTEM"
    } else {
        "NORMAL"
    }
}

/// A message as JSON; `full` adds the body (text, cut at [`BODY_TEXT_MAX`], and base64).
fn message_json(message: &StoredMessage, full: bool) -> Value {
    let record = &message.record.message;
    let properties: BTreeMap<&str, &str> = record.properties.iter().collect();
    let mut value = json!({
        "msgId": message.msg_id(),
        "offsetMsgId": message.offset_msg_id(),
        "topic": message.topic(),
        "brokerName": message.broker_name,
        "queueId": message.queue_id(),
        "queueOffset": message.queue_offset(),
        "commitLogOffset": message.record.stamp.physical_offset,
        "tags": message.property(ramjet_tools::message::PROPERTY_TAGS),
        "keys": message.property(ramjet_tools::message::PROPERTY_KEYS),
        "storeTimestamp": message.store_timestamp(),
        "bornTimestamp": record.born_timestamp,
        "bornHost": record.born_host.to_string(),
        "storeHost": record.store_host.to_string(),
        "reconsumeTimes": record.reconsume_times,
        "sysFlag": record.sys_flag,
        "flag": record.flag,
        "bodySize": record.body.len(),
        "properties": properties,
    });
    if full {
        let body = message.body();
        let shown = &body[..body.len().min(BODY_TEXT_MAX)];
        value["body"] = json!(String::from_utf8_lossy(shown));
        value["bodyBase64"] = json!(base64::engine::general_purpose::STANDARD.encode(&body));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(query: &[(&str, &str)]) -> ApiRequest {
        ApiRequest {
            method: "GET".into(),
            path: "/api/x".into(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn topics_are_classified_as_the_dashboard_does() {
        let names = vec!["DefaultCluster".to_owned(), "broker-a".to_owned()];
        assert_eq!(topic_kind("Orders", &names), "NORMAL");
        assert_eq!(topic_kind("%RETRY%g", &names), "RETRY");
        assert_eq!(topic_kind("%DLQ%g", &names), "DLQ");
        for system in [
            "TBW102",
            "broker-a",
            "DefaultCluster",
            "DefaultCluster_REPLY_TOPIC",
            "rmq_sys_x",
        ] {
            assert_eq!(topic_kind(system, &names), "SYSTEM", "{system}");
        }
    }

    #[test]
    fn parameters_are_checked_before_any_request() {
        // Blank counts as missing; values are trimmed.
        let req = get(&[("topic", "  T "), ("group", "  ")]);
        assert_eq!(req.required("topic").unwrap(), "T");
        let missing = req.required("group").unwrap_err();
        assert_eq!(
            (missing.status, missing.code),
            (400, response::INVALID_PARAMETER)
        );
        assert_eq!(count(None, "max").unwrap(), MESSAGES_DEFAULT);
        assert_eq!(count(Some("2000"), "max").unwrap(), 2000);
        for bad in ["0", "2001", "-1", "x", "99999999999999999999"] {
            assert!(count(Some(bad), "max").is_err(), "{bad}");
        }
        assert!(timestamp("yesterday", "begin").is_err());
        assert_eq!(
            timestamp("1700000000000", "begin").unwrap(),
            1_700_000_000_000
        );
    }

    #[test]
    fn bodies_must_be_json_objects_with_typed_fields() {
        let mut req = get(&[]);
        for bad in [&b"{oops"[..], b"[1]", b"", b"\"\\u0000\""] {
            req.body = bad.to_vec();
            assert_eq!(req.json().unwrap_err().code, response::INVALID_PARAMETER);
        }
        let body = json!({"topic": "T", "readQueueNums": 4_000_000_000i64, "force": "yes"});
        assert_eq!(body_str(&body, "topic").unwrap(), "T");
        assert!(body_str(&body, "group").is_err());
        assert!(body_i32(&body, "readQueueNums", 8).is_err());
        assert_eq!(body_i32(&body, "writeQueueNums", 8).unwrap(), 8);
        assert!(body_bool(&body, "force", true).is_err());
        assert!(body_bool(&body, "order", false).is_ok());
    }
}

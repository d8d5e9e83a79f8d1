//! sendMessage, consumeMessage and printMsg (Java's `SendMessageCommand`,
//! `ConsumeMessageCommand`, `PrintMessageSubCommand`): one SEND_MESSAGE_V2, and
//! PULL_MESSAGE loops as `DefaultMQPullConsumer` does them.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};

use clap::Args;
use ramjet_net::body::MessageQueue;
use ramjet_net::client::requests::{self, properties_text, SendRequest, DEFAULT_TOPIC_QUEUE_NUMS};
use ramjet_net::client::UniqKeyGenerator;
use ramjet_net::code::response;
use ramjet_net::header::{CommandHeader, SendMessageResponseHeader};

use super::topic::AUTO_CREATE_TOPIC;
use crate::error::{AdminError, AdminResult};
use crate::format::java_bool;
use crate::message::{
    StoredMessage, PROPERTY_KEYS, PROPERTY_TAGS, PROPERTY_UNIQ_KEY, PROPERTY_WAIT,
};
use crate::queues::{
    max_offset, min_offset, publish_queues, pull, search_offset, subscribe_queues, PullResult,
    PullStatus, QueueAt, TOOLS_CONSUMER_GROUP,
};
use crate::remote::{expect_success, Remote};
use crate::time::{now_ms, parse_timestamp};

/// `DefaultMQPullConsumer.pull`'s batch in printMsg.
const PRINT_BATCH: i32 = 32;

#[derive(Args, Debug)]
pub struct SendMessage {
    /// Topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// UTF-8 string format of the message body
    #[arg(short = 'p', long = "body")]
    body: String,
    /// Message keys (space-separated)
    #[arg(short = 'k', long = "key")]
    keys: Option<String>,
    /// Message tags
    #[arg(short = 'c', long = "tags")]
    tags: Option<String>,
    /// Send message to target broker (name)
    #[arg(short = 'b', long = "broker")]
    broker_name: Option<String>,
    /// Send message to target queue (needs -b)
    #[arg(short = 'i', long = "qid")]
    queue_id: Option<i32>,
}

/// The queues to send to: the topic's, or (for a topic the name server does not know) the
/// auto-create topic's, as the Java producer falls back to TBW102.
fn send_queues(remote: &mut Remote, topic: &str) -> AdminResult<Vec<QueueAt>> {
    match remote.route(topic) {
        Ok(route) => Ok(publish_queues(&route, topic)),
        Err(AdminError::TopicNotExist(_)) => {
            let route = remote
                .route(AUTO_CREATE_TOPIC)
                .map_err(|_| AdminError::TopicNotExist(topic.to_owned()))?;
            let mut queues = publish_queues(&route, topic);
            queues.retain(|at| at.queue.queue_id < DEFAULT_TOPIC_QUEUE_NUMS);
            Ok(queues)
        }
        Err(other) => Err(other),
    }
}

pub fn send_message(remote: &mut Remote, args: &SendMessage) -> AdminResult<()> {
    let topic = args.topic.trim();
    if args.queue_id.is_some() && args.broker_name.is_none() {
        return Err(AdminError::Usage(
            "Broker name must be set if the queue is chosen!".into(),
        ));
    }
    let mut queues = send_queues(remote, topic)?;
    if let Some(name) = &args.broker_name {
        queues.retain(|at| at.queue.broker_name == name.trim());
    }
    if let Some(queue_id) = args.queue_id {
        queues.retain(|at| at.queue.queue_id == queue_id);
    }
    if queues.is_empty() {
        return Err(AdminError::NotFound(format!(
            "topic {topic} has no writable queue matching the given broker and queue"
        )));
    }
    // Round robin from a time-based start, as a fresh producer's counter would spread sends.
    let at = queues[(now_ms() as usize) % queues.len()].clone();
    let uniq_key = UniqKeyGenerator::new(local_ipv4(&at.addr), 0).next_id();
    let mut properties = Vec::new();
    if let Some(tags) = &args.tags {
        properties.push((PROPERTY_TAGS, tags.trim()));
    }
    if let Some(keys) = &args.keys {
        properties.push((PROPERTY_KEYS, keys.trim()));
    }
    properties.push((PROPERTY_WAIT, "true"));
    properties.push((PROPERTY_UNIQ_KEY, uniq_key.as_str()));
    let request = requests::send_message(SendRequest {
        // Java's tool names its producer group after the time.
        producer_group: &now_ms().to_string(),
        queue: &at.queue,
        properties: properties_text(&properties),
        body: args.body.trim().as_bytes().to_vec(),
        batch: false,
        born_timestamp_ms: now_ms(),
    });
    let response = remote.invoke_broker(&at.addr, request)?;
    let status = match response.code {
        response::SUCCESS => "SEND_OK",
        response::FLUSH_DISK_TIMEOUT => "FLUSH_DISK_TIMEOUT",
        response::FLUSH_SLAVE_TIMEOUT => "FLUSH_SLAVE_TIMEOUT",
        response::SLAVE_NOT_AVAILABLE => "SLAVE_NOT_AVAILABLE",
        _ => {
            expect_success("SEND_MESSAGE_V2", &at.addr, response)?;
            unreachable!("expect_success refuses every code but SUCCESS");
        }
    };
    let sent = SendMessageResponseHeader::decode(response.fields()).map_err(|e| {
        AdminError::BadAnswer {
            what: "SEND_MESSAGE_V2",
            addr: at.addr.clone(),
            reason: e.to_string(),
        }
    })?;
    // Java's four columns, plus the broker's id of the message (offsetMsgId), which is
    // what queryMsgById takes.
    let row = |name: &str, queue: &str, result: &str, msg_id: &str, offset_id: &str| {
        println!("{name:<32}  {queue:<4}  {result:<20}    {msg_id:<32}    {offset_id}");
    };
    row(
        "#Broker Name",
        "#QID",
        "#Send Result",
        "#MsgId",
        "#OffsetMsgId",
    );
    row(
        &at.queue.broker_name,
        &sent.queue_id.to_string(),
        status,
        &uniq_key,
        &sent.msg_id,
    );
    Ok(())
}

/// This host's IPv4 address toward `addr` (no packet is sent), for the client message id.
fn local_ipv4(addr: &str) -> [u8; 4] {
    let local = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .and_then(|peer| {
            let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
            socket.connect(peer).ok()?;
            socket.local_addr().ok()
        });
    match local {
        Some(SocketAddr::V4(local)) => local.ip().octets(),
        _ => [127, 0, 0, 1],
    }
}

/// `PrintMessageByQueueCommand.printMessage` / `PrintMessageSubCommand.printMessage`.
fn print_messages(messages: &[StoredMessage], print_body: bool) {
    for message in messages {
        let body = if print_body {
            String::from_utf8_lossy(&message.body()).into_owned()
        } else {
            "NOT PRINT BODY".to_owned()
        };
        println!(
            "MSGID: {} {} BODY: {body}",
            message.msg_id(),
            message.java_to_string()
        );
    }
}

#[derive(Args, Debug)]
pub struct ConsumeMessage {
    /// Topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Broker name
    #[arg(short = 'b', long = "brokerName")]
    broker_name: Option<String>,
    /// Queue Id (needs -b)
    #[arg(short = 'i', long = "queueId")]
    queue_id: Option<i32>,
    /// Queue offset (needs -i)
    #[arg(short = 'o', long = "offset")]
    offset: Option<i64>,
    /// Consumer group name
    #[arg(short = 'g', long = "consumerGroup", default_value = TOOLS_CONSUMER_GROUP)]
    group: String,
    /// Begin timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]
    #[arg(short = 's', long = "beginTimestamp")]
    begin: Option<String>,
    /// End timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]
    #[arg(short = 'e', long = "endTimestamp")]
    end: Option<String>,
    /// Number of message to be consumed
    #[arg(short = 'c', long = "MessageNumber", default_value_t = 128)]
    count: i64,
}

pub fn consume_message(remote: &mut Remote, args: &ConsumeMessage) -> AdminResult<()> {
    if args.count <= 0 {
        return Err(AdminError::Usage(
            "Please input a positive messageNumber!".into(),
        ));
    }
    if args.queue_id.is_some() && args.broker_name.is_none() {
        return Err(AdminError::Usage(
            "Please set the brokerName before queueId!".into(),
        ));
    }
    if args.offset.is_some() && args.queue_id.is_none() {
        return Err(AdminError::Usage(
            "Please set queueId before offset!".into(),
        ));
    }
    let now = now_ms();
    let parse = |text: &Option<String>| -> AdminResult<i64> {
        text.as_deref()
            .map_or(Ok(0), |t| parse_timestamp(t).map_err(AdminError::Usage))
    };
    let (begin, end) = (parse(&args.begin)?, parse(&args.end)?);
    if begin > now {
        return Err(AdminError::Usage(
            "Please set the beginTimestamp before now!".into(),
        ));
    }
    if end > now {
        return Err(AdminError::Usage(
            "Please set the endTimestamp before now!".into(),
        ));
    }
    if args.end.is_some() && begin > end {
        return Err(AdminError::Usage(
            "Please make sure that the beginTimestamp is less than or equal to the endTimestamp"
                .into(),
        ));
    }
    let topic = args.topic.trim();
    let group = args.group.trim();
    let route = remote.route(topic)?;
    let Some(queue_id) = args.queue_id else {
        // Every queue, oldest first, until `count` messages.
        let mut left = args.count;
        for at in subscribe_queues(&route, topic) {
            if left == 0 {
                break;
            }
            let (min, mut max) = bounds(remote, &at, begin, end)?;
            if max - min > left {
                println!(
                    "The older {left} message of the {} queue will be provided",
                    at.queue.queue_id
                );
                max = min + left - 1;
                left = 0;
            } else {
                left = (left - (max - min) - 1).max(0);
            }
            pull_range(remote, &at, group, min, max)?;
        }
        return Ok(());
    };
    let broker_name = args.broker_name.as_deref().expect("checked above").trim();
    let at = QueueAt {
        queue: MessageQueue::new(topic, broker_name, queue_id),
        addr: remote.master_addr_of_broker(Some(&route), broker_name)?,
    };
    let (min, mut max) = bounds(remote, &at, begin, end)?;
    let offset = args.offset.unwrap_or(0);
    if offset > max {
        println!("{} no matched msg, offset={offset}", at.queue);
        return Ok(());
    }
    let min = min.max(offset);
    if max - min > args.count {
        println!("The oldler {} message will be provided", args.count);
        max = min + args.count - 1;
    }
    pull_range(remote, &at, group, min, max)
}

/// A queue's offsets to read: its bounds, narrowed by the begin and end times when set.
fn bounds(remote: &mut Remote, at: &QueueAt, begin: i64, end: i64) -> AdminResult<(i64, i64)> {
    let min = if begin > 0 {
        search_offset(remote, at, begin)?
    } else {
        min_offset(remote, at)?
    };
    let max = if end > 0 {
        search_offset(remote, at, end)?
    } else {
        max_offset(remote, at)?
    };
    Ok((min, max))
}

/// `ConsumeMessageCommand.pullMessageByQueue`: pull from `min` through `max`.
fn pull_range(
    remote: &mut Remote,
    at: &QueueAt,
    group: &str,
    min: i64,
    max: i64,
) -> AdminResult<()> {
    let mut offset = min;
    while offset <= max {
        let wanted = i32::try_from(max - offset + 1).unwrap_or(i32::MAX);
        let result = pull(remote, at, group, "*", offset, wanted)?;
        offset = result.next_begin_offset;
        if !report_pull(at, &result, offset, Some("Consume ok"), true) {
            break;
        }
    }
    Ok(())
}

/// Prints what a pull found, as `pullMessageByQueue` does; false when the queue is done.
/// `found_line` is printed before found messages (consumeMessage's "Consume ok").
fn report_pull(
    at: &QueueAt,
    result: &PullResult,
    next_offset: i64,
    found_line: Option<&str>,
    print_body: bool,
) -> bool {
    let queue = &at.queue;
    let status = result.status;
    match status {
        PullStatus::Found => {
            if let Some(line) = found_line {
                println!("{line}");
            }
            print_messages(&result.messages, print_body);
            true
        }
        PullStatus::NoMatchedMsg => {
            println!("{queue} no matched msg. status={status}, offset={next_offset}");
            true
        }
        PullStatus::NoNewMsg | PullStatus::OffsetIllegal => {
            println!("{queue} print msg finished. status={status}, offset={next_offset}");
            false
        }
    }
}

#[derive(Args, Debug)]
pub struct PrintMsg {
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// CharsetName(eg: UTF-8,GBK); bodies are printed as UTF-8
    #[arg(short = 'c', long = "charsetName", default_value = "UTF-8")]
    charset: String,
    /// Subscribe Expression(eg: TagA || TagB)
    #[arg(short = 's', long = "subExpression", default_value = "*")]
    sub_expression: String,
    /// Begin timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]
    #[arg(short = 'b', long = "beginTimestamp")]
    begin: Option<String>,
    /// End timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]
    #[arg(short = 'e', long = "endTimestamp")]
    end: Option<String>,
    /// print body (true|false)
    #[arg(short = 'd', long = "printBody", default_value = "true")]
    print_body: String,
}

pub fn print_msg(remote: &mut Remote, args: &PrintMsg) -> AdminResult<()> {
    let topic = args.topic.trim();
    if !args.charset.eq_ignore_ascii_case("UTF-8") {
        eprintln!(
            "mqadmin: note: bodies are printed as UTF-8, not {}",
            args.charset
        );
    }
    let print_body = java_bool(&args.print_body);
    let parse = |text: &Option<String>| -> AdminResult<i64> {
        text.as_deref()
            .map_or(Ok(0), |t| parse_timestamp(t).map_err(AdminError::Usage))
    };
    let (begin, end) = (parse(&args.begin)?, parse(&args.end)?);
    let route = remote.route(topic)?;
    for at in subscribe_queues(&route, topic) {
        let (min, max) = bounds(remote, &at, begin, end)?;
        println!("minOffset={min}, maxOffset={max}, {}", at.queue);
        let mut offset = min;
        while offset < max {
            let result = pull(
                remote,
                &at,
                TOOLS_CONSUMER_GROUP,
                args.sub_expression.trim(),
                offset,
                PRINT_BATCH,
            )?;
            offset = result.next_begin_offset;
            if !report_pull(&at, &result, offset, None, print_body) {
                break;
            }
        }
        println!("--------------------------------------------------------");
    }
    Ok(())
}

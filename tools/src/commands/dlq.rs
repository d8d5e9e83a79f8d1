//! Dead-letter queues: `printDlqMsg` lists what a consumer group gave up on (`%DLQ%<group>`),
//! `resendDlqMsg` sends one of those messages again, to the topic it first failed on
//! (RETRY_TOPIC) or to the group's retry topic. RocketMQ's own tools read a DLQ through
//! printMsg / queryMsgByOffset / queryMsgByUniqueKey on `%DLQ%<group>` (DLQ topics are
//! created readable and writable, perm 6) and resend with `queryMsgById -s true`, which
//! sends to the stored topic; these two commands do what the dashboard's DLQ page does.

use clap::Args;
use ramjet_net::body::MessageQueue;
use ramjet_net::code::{request, response};
use ramjet_net::header::{CommandHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader};
use ramjet_net::RemotingCommand;
use ramjet_store::message::sys_flag::COMPRESSED_FLAG;

use crate::error::{AdminError, AdminResult};
use crate::message::{StoredMessage, PROPERTY_KEYS};
use crate::queues::{
    max_offset, min_offset, publish_queues, pull, subscribe_queues, PullStatus, QueueAt,
    TOOLS_CONSUMER_GROUP,
};
use crate::remote::{expect_success, Remote};
use crate::time::{date_time, now_ms};

pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
const PROPERTY_RETRY_TOPIC: &str = "RETRY_TOPIC";
/// Properties that describe where the message was parked, not the message: they are not
/// carried into a resend.
const PARKING_PROPERTIES: &[&str] = &["DELAY", "REAL_TOPIC", "REAL_QID", "CLUSTER", "WAIT"];
/// Compression bits (4.x COMPRESSED, 5.x compression type) a resend must keep, so that
/// consumers inflate the stored body.
const COMPRESSION_BITS: i32 = COMPRESSED_FLAG | 0x700;
const PULL_BATCH: i32 = 32;

#[derive(Args, Debug)]
pub struct PrintDlqMsg {
    /// Consumer group whose dead letters to list
    #[arg(short = 'g', long = "consumerGroup")]
    group: String,
    /// Print the message bodies (UTF-8)
    #[arg(short = 'd', long = "printBody", default_value = "false")]
    print_body: String,
}

#[derive(Args, Debug)]
pub struct ResendDlqMsg {
    /// Consumer group whose dead letter to resend
    #[arg(short = 'g', long = "consumerGroup")]
    group: String,
    /// Message id (the client's msgId / UNIQ_KEY, or the broker's offsetMsgId)
    #[arg(short = 'i', long = "msgId")]
    msg_id: String,
    /// Send to the group's retry topic %RETRY%<group> instead of the original topic
    #[arg(short = 'r', long = "toRetry", default_value_t = false)]
    to_retry: bool,
}

/// Every message of `%DLQ%<group>`, queue by queue, oldest first.
pub fn dead_letters(remote: &mut Remote, group: &str) -> AdminResult<Vec<StoredMessage>> {
    let topic = format!("{DLQ_GROUP_TOPIC_PREFIX}{group}");
    let route = remote.route(&topic)?;
    let mut all = Vec::new();
    for at in subscribe_queues(&route, &topic) {
        let (mut offset, max) = (min_offset(remote, &at)?, max_offset(remote, &at)?);
        while offset < max {
            let result = pull(remote, &at, TOOLS_CONSUMER_GROUP, "*", offset, PULL_BATCH)?;
            if result.status != PullStatus::Found || result.next_begin_offset <= offset {
                break;
            }
            offset = result.next_begin_offset;
            all.extend(result.messages);
        }
    }
    Ok(all)
}

pub fn print_dlq_msg(remote: &mut Remote, args: &PrintDlqMsg) -> AdminResult<()> {
    let print_body = crate::format::java_bool(&args.print_body);
    let messages = dead_letters(remote, args.group.trim())?;
    let row = |cells: [&str; 9]| {
        println!(
            "{:<20}  {:<4}  {:<8}  {:<32}  {:<32}  {:<24}  {:<9}  {:<23}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[6],
            cells[7],
            cells[8]
        );
    };
    row([
        "#Broker Name",
        "#QID",
        "#Offset",
        "#MsgId",
        "#OffsetMsgId",
        "#Origin Topic",
        "#Reconsume",
        "#Store Time",
        "#Keys",
    ]);
    for message in &messages {
        row([
            &message.broker_name,
            &message.queue_id().to_string(),
            &message.queue_offset().to_string(),
            &message.msg_id(),
            &message.offset_msg_id(),
            message.property(PROPERTY_RETRY_TOPIC).unwrap_or("-"),
            &message.record.message.reconsume_times.to_string(),
            &date_time(message.store_timestamp()),
            message.property(PROPERTY_KEYS).unwrap_or(""),
        ]);
        if print_body {
            println!("BODY: {}", String::from_utf8_lossy(&message.body()));
        }
    }
    println!(
        "{} dead letter(s) in %DLQ%{}",
        messages.len(),
        args.group.trim()
    );
    Ok(())
}

/// What one dead-letter resend did: where the message went and the ids it has now.
#[derive(Debug, Clone)]
pub struct Resent {
    pub topic: String,
    pub broker_name: String,
    pub queue_id: i32,
    pub msg_id: String,
    pub offset_msg_id: String,
}

pub fn resend_dlq_msg(remote: &mut Remote, args: &ResendDlqMsg) -> AdminResult<()> {
    let resent = resend_dead_letter(remote, args.group.trim(), args.msg_id.trim(), args.to_retry)?;
    println!(
        "{:<32}  {:<24}  {:<4}  {:<20}    {:<32}    #OffsetMsgId",
        "#Topic", "#Broker Name", "#QID", "#Send Result", "#MsgId"
    );
    println!(
        "{:<32}  {:<24}  {:<4}  {:<20}    {:<32}    {}",
        resent.topic,
        resent.broker_name,
        resent.queue_id,
        "SEND_OK",
        resent.msg_id,
        resent.offset_msg_id
    );
    Ok(())
}

/// Finds message `id` in `%DLQ%<group>` and sends it again to its original topic (or the
/// group's retry topic with `to_retry`). Shared by mqadmin and the broker's HTTP console.
pub fn resend_dead_letter(
    remote: &mut Remote,
    group: &str,
    id: &str,
    to_retry: bool,
) -> AdminResult<Resent> {
    let messages = dead_letters(remote, group)?;
    let message = messages
        .iter()
        .find(|m| m.msg_id() == id || m.offset_msg_id() == id)
        .ok_or_else(|| AdminError::NotFound(format!("no message {id} in %DLQ%{group}")))?;
    let topic = if to_retry {
        format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
    } else {
        message
            .property(PROPERTY_RETRY_TOPIC)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                AdminError::Usage(format!(
                    "message {id} has no RETRY_TOPIC property; resend it with --toRetry"
                ))
            })?
    };
    let route = remote.route(&topic)?;
    let queues: Vec<QueueAt> = publish_queues(&route, &topic);
    if queues.is_empty() {
        return Err(AdminError::NotFound(format!(
            "topic {topic} has no writable queue"
        )));
    }
    let at = &queues[(now_ms() as usize) % queues.len()];
    let request = resend_request(message, &at.queue);
    let response = remote.invoke_broker(&at.addr, request)?;
    if response.code != response::SUCCESS {
        expect_success("SEND_MESSAGE_V2", &at.addr, response)?;
        unreachable!("expect_success refuses every code but SUCCESS");
    }
    let sent = SendMessageResponseHeader::decode(response.fields()).map_err(|e| {
        AdminError::BadAnswer {
            what: "SEND_MESSAGE_V2",
            addr: at.addr.clone(),
            reason: e.to_string(),
        }
    })?;
    Ok(Resent {
        topic,
        broker_name: at.queue.broker_name.clone(),
        queue_id: sent.queue_id,
        msg_id: message.msg_id(),
        offset_msg_id: sent.msg_id,
    })
}

/// SEND_MESSAGE_V2 carrying the dead letter as a new first delivery: same body, flag,
/// compression and properties (keys, tags, msgId = UNIQ_KEY, RETRY_TOPIC,
/// ORIGIN_MESSAGE_ID), reconsume times 0, without the parking
/// properties (DELAY, REAL_TOPIC/REAL_QID).
fn resend_request(message: &StoredMessage, queue: &MessageQueue) -> RemotingCommand {
    let record = &message.record.message;
    let mut properties = String::new();
    for (name, value) in record.properties.iter() {
        if PARKING_PROPERTIES.contains(&name) {
            continue;
        }
        properties.push_str(name);
        properties.push('\u{1}');
        properties.push_str(value);
        properties.push('\u{2}');
    }
    let header = SendMessageRequestHeaderV2 {
        a: format!("resendDlqMsg-{}", now_ms()),
        b: queue.topic.clone(),
        c: "TBW102".to_owned(),
        d: 4,
        e: queue.queue_id,
        f: record.sys_flag & COMPRESSION_BITS,
        g: now_ms(),
        h: record.flag,
        i: Some(properties),
        j: Some(0),
        k: Some(false),
        l: None,
        m: Some(false),
        n: Some(queue.broker_name.clone()),
    };
    RemotingCommand::request(request::SEND_MESSAGE_V2)
        .with_ext_fields(header.to_ext_fields())
        .with_body(record.body.clone())
}

//! queryMsgById, queryMsgByKey, queryMsgByUniqueKey and queryMsgByOffset (Java's
//! `tools/command/message/QueryMsgBy*SubCommand`): VIEW_MESSAGE_BY_ID, QUERY_MESSAGE and
//! PULL_MESSAGE, printed with the message's consumption track.

use std::collections::BTreeSet;

use clap::Args;
use ramjet_net::code::{request, response};
use ramjet_net::header::{CommandHeader, QueryMessageRequestHeader, ViewMessageRequestHeader};
use ramjet_net::RemotingCommand;
use ramjet_store::message::decode_offset_msg_id;

use super::consumer::{consume_stats, consumer_connection_of};
use super::topic::consumer_groups_of;
use crate::error::{AdminError, AdminResult};
use crate::message::{
    decode_records, detail_text, write_body_file, StoredMessage, PROPERTY_KEYS, PROPERTY_TAGS,
    PROPERTY_UNIQ_KEY,
};
use crate::queues::{pull, PullStatus, QueueAt, TOOLS_CONSUMER_GROUP};
use crate::remote::{expect_success, Remote};

/// `defaultQueryMaxNum`: what a broker returns at most for a unique-key query.
const UNIQUE_KEY_QUERY_MAX: i32 = 32;

#[derive(Args, Debug)]
pub struct QueryMsgById {
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Message Id: the broker's offsetMsgId or the client's msgId; several, comma-separated
    #[arg(short = 'i', long = "msgId")]
    msg_id: String,
    /// print message body by the specified format (printed as UTF-8)
    #[arg(short = 'f', long = "bodyFormat")]
    body_format: Option<String>,
    /// Cluster name: look the id up on its masters
    #[arg(short = 'c', long = "cluster")]
    cluster: Option<String>,
    /// consumer group name: with -d, the client consumes the message again (push consumers)
    #[arg(short = 'g', long = "consumerGroup")]
    group: Option<String>,
    /// The consumer's client id
    #[arg(short = 'd', long = "clientId")]
    client_id: Option<String>,
}

pub fn query_msg_by_id(remote: &mut Remote, args: &QueryMsgById) -> AdminResult<()> {
    let topic = args.topic.trim();
    let cluster = args.cluster.as_deref().map(str::trim);
    if let (Some(group), Some(client_id)) = (&args.group, &args.client_id) {
        // QueryMsgByIdSubCommand.pushMsg: each id's failure is printed and the rest go on.
        let mut failed = 0;
        for msg_id in args
            .msg_id
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
        {
            let pushed =
                super::client_call::push_msg(remote, group.trim(), client_id.trim(), topic, msg_id);
            if let Err(error) = pushed {
                eprintln!("{error}");
                failed += 1;
            }
        }
        return match failed {
            0 => Ok(()),
            n => Err(AdminError::Failed(format!(
                "{n} message(s) not consumed directly"
            ))),
        };
    }
    for msg_id in args
        .msg_id
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
    {
        let message = view_message(remote, topic, msg_id, cluster)?;
        print_message(remote, &message, true, 0, args.body_format.is_some())?;
    }
    Ok(())
}

/// `DefaultMQAdminExtImpl.queryMessage`: an id that decodes to a known broker's address is
/// an offsetMsgId (VIEW_MESSAGE_BY_ID); anything else is a client id, found through
/// the index (QUERY_MESSAGE by unique key).
pub fn view_message(
    remote: &mut Remote,
    topic: &str,
    msg_id: &str,
    cluster: Option<&str>,
) -> AdminResult<StoredMessage> {
    if let Some((store_host, commit_log_offset)) = decode_offset_msg_id(msg_id) {
        let addr = store_host.to_string();
        // Client ids are 32 hex digits too; only ask a broker the name server knows, so
        // that a client id never sends us connecting to whatever address it spells.
        if let Some(broker_name) = broker_name_of(remote, &addr)? {
            let header = ViewMessageRequestHeader {
                topic: Some(topic.to_owned()),
                offset: commit_log_offset,
            };
            let request = RemotingCommand::request(request::VIEW_MESSAGE_BY_ID)
                .with_ext_fields(header.to_ext_fields());
            let response = remote.call_broker("VIEW_MESSAGE_BY_ID", &addr, request)?;
            let mut messages = decode_records(&response.body, &broker_name).map_err(|reason| {
                AdminError::BadAnswer {
                    what: "VIEW_MESSAGE_BY_ID",
                    addr: addr.clone(),
                    reason,
                }
            })?;
            if messages.is_empty() {
                return Err(AdminError::NotFound(format!("message {msg_id} not found")));
            }
            return Ok(messages.swap_remove(0));
        }
    }
    let mut messages = query_messages(
        remote,
        topic,
        msg_id,
        UNIQUE_KEY_QUERY_MAX,
        0,
        i64::MAX,
        true,
        cluster,
    )?;
    Ok(messages.swap_remove(0))
}

/// The name of the broker at `addr`, if the name server knows it.
fn broker_name_of(remote: &mut Remote, addr: &str) -> AdminResult<Option<String>> {
    let info = remote.cluster_info()?;
    Ok(info
        .broker_addr_table
        .values()
        .find(|data| data.broker_addrs.values().any(|a| a == addr))
        .map(|data| data.broker_name.clone()))
}

/// QUERY_MESSAGE on every broker of the topic (or master of `cluster`), keeping only exact
/// matches as `MQAdminImpl.queryMessage` does; by store time, oldest first. No match is
/// [`AdminError::NotFound`].
#[allow(clippy::too_many_arguments)]
pub fn query_messages(
    remote: &mut Remote,
    topic: &str,
    key: &str,
    max_num: i32,
    begin_ms: i64,
    end_ms: i64,
    unique_key: bool,
    cluster: Option<&str>,
) -> AdminResult<Vec<StoredMessage>> {
    let brokers = remote.topic_brokers(topic, cluster)?;
    let mut found = Vec::new();
    let mut refusal = None;
    for (broker_name, addr) in brokers {
        let header = QueryMessageRequestHeader {
            topic: topic.to_owned(),
            key: key.to_owned(),
            max_num,
            begin_timestamp: begin_ms,
            end_timestamp: end_ms,
            unique_key_query: unique_key.then_some(true),
        };
        let request = RemotingCommand::request(request::QUERY_MESSAGE)
            .with_ext_fields(header.to_ext_fields());
        let response = remote.invoke_broker(&addr, request)?;
        if response.code == response::QUERY_NOT_FOUND {
            continue;
        }
        let response = match expect_success("QUERY_MESSAGE", &addr, response) {
            Ok(response) => response,
            Err(error) => {
                refusal = Some(error);
                continue;
            }
        };
        let messages = decode_records(&response.body, &broker_name).map_err(|reason| {
            AdminError::BadAnswer {
                what: "QUERY_MESSAGE",
                addr: addr.clone(),
                reason,
            }
        })?;
        found.extend(messages);
    }
    // The index matches by hash; keep only the messages that really carry the key.
    found.retain(|message| {
        if unique_key {
            message.property(PROPERTY_UNIQ_KEY) == Some(key)
        } else {
            message
                .property(PROPERTY_KEYS)
                .unwrap_or("")
                .split(' ')
                .any(|k| k == key)
                && message.topic() == topic
        }
    });
    if found.is_empty() {
        if let Some(error) = refusal {
            return Err(error);
        }
        let what = if unique_key { "unique key" } else { "key" };
        return Err(AdminError::NotFound(format!(
            "no message with {what} {key} in topic {topic}"
        )));
    }
    found.sort_by_key(StoredMessage::store_timestamp);
    Ok(found)
}

/// `printMsg`: the detail lines, the body file, then how each consumer group stands.
fn print_message(
    remote: &mut Remote,
    message: &StoredMessage,
    offset_id: bool,
    index: usize,
    body_text: bool,
) -> AdminResult<()> {
    let path = write_body_file(message, index).map_err(|source| AdminError::Io {
        what: format!("write the message body under {}", crate::message::BODY_DIR),
        source,
    })?;
    print!("{}", detail_text(message, offset_id, &path, body_text));
    let tracks = message_tracks(remote, message)?;
    if tracks.is_empty() {
        println!("\n\nWARN: No Consumer");
    } else {
        println!("\n");
        for track in tracks {
            println!("{track}");
        }
    }
    Ok(())
}

/// `messageTrackDetail`: for each group consuming the topic, whether it has consumed the
/// message, as `MessageTrack [consumerGroup=..., trackType=..., exceptionDesc=...]`.
fn message_tracks(remote: &mut Remote, message: &StoredMessage) -> AdminResult<Vec<String>> {
    let route = match remote.route(message.topic()) {
        Ok(route) => route,
        Err(AdminError::TopicNotExist(_)) => return Ok(Vec::new()),
        Err(other) => return Err(other),
    };
    let groups: BTreeSet<String> = consumer_groups_of(remote, &route, message.topic())?
        .into_iter()
        .collect();
    let mut tracks = Vec::new();
    for group in groups {
        let (track_type, exception) = match consumer_connection_of(remote, &group, None) {
            Err(AdminError::ConsumerNotOnline(_)) => (
                "NOT_ONLINE",
                format!(
                    "CODE:{} DESC:the consumer group[{group}] not online",
                    response::CONSUMER_NOT_ONLINE
                ),
            ),
            Err(error) => ("UNKNOWN", error.to_string()),
            Ok(connection) if connection.consume_type.as_deref() == Some("CONSUME_ACTIVELY") => {
                ("PULL", "null".to_owned())
            }
            Ok(connection) => match consumed(remote, message, &group) {
                Ok(true) => {
                    let tags = message.property(PROPERTY_TAGS).unwrap_or("");
                    let filtered = connection
                        .subscription_table
                        .get(message.topic())
                        .is_some_and(|s| {
                            !s.tags_set.is_empty()
                                && !s.tags_set.iter().any(|t| t == "*" || t == tags)
                        });
                    let kind = if filtered {
                        "CONSUMED_BUT_FILTERED"
                    } else {
                        "CONSUMED"
                    };
                    (kind, "null".to_owned())
                }
                Ok(false) => ("NOT_CONSUME_YET", "null".to_owned()),
                Err(error) => ("UNKNOWN", error.to_string()),
            },
        };
        tracks.push(format!(
            "MessageTrack [consumerGroup={group}, trackType={track_type}, exceptionDesc={exception}]"
        ));
    }
    Ok(tracks)
}

/// `DefaultMQAdminExtImpl.consumed`: the group's committed offset on the message's queue is
/// past the message.
fn consumed(remote: &mut Remote, message: &StoredMessage, group: &str) -> AdminResult<bool> {
    let stats = consume_stats(remote, group, Some(message.topic()), None)?;
    Ok(stats.offset_table.iter().any(|(queue, offset)| {
        queue.topic == message.topic()
            && queue.queue_id == message.queue_id()
            && queue.broker_name == message.broker_name
            && offset.consumer_offset > message.queue_offset()
    }))
}

#[derive(Args, Debug)]
pub struct QueryMsgByKey {
    /// Topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Message Key
    #[arg(short = 'k', long = "msgKey")]
    key: String,
    /// Begin timestamp(ms). default:0, eg:1676730526212
    #[arg(short = 'b', long = "beginTimestamp", default_value_t = 0)]
    begin: i64,
    /// End timestamp(ms). default:Long.MAX_VALUE, eg:1676730526212
    #[arg(short = 'e', long = "endTimestamp", default_value_t = i64::MAX)]
    end: i64,
    /// The maximum number of messages returned by the query, default:64
    #[arg(short = 'm', long = "maxNum", default_value_t = 64)]
    max_num: i32,
    /// Cluster name: query its masters instead of the topic's route
    #[arg(short = 'c', long = "cluster")]
    cluster: Option<String>,
}

pub fn query_msg_by_key(remote: &mut Remote, args: &QueryMsgByKey) -> AdminResult<()> {
    let messages = query_messages(
        remote,
        args.topic.trim(),
        args.key.trim(),
        args.max_num,
        args.begin,
        args.end,
        false,
        args.cluster.as_deref().map(str::trim),
    )?;
    println!("{:<50} {:>4} {:>40}", "#Message ID", "#QID", "#Offset");
    for message in &messages {
        println!(
            "{:<50} {:>4} {:>40}",
            message.msg_id(),
            message.queue_id(),
            message.queue_offset()
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct QueryMsgByUniqueKey {
    /// Message Id (the client's msgId, UNIQ_KEY)
    #[arg(short = 'i', long = "msgId")]
    msg_id: String,
    /// The topic of msg
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Print all message, the limit is 32
    #[arg(short = 'a', long = "showAll")]
    show_all: bool,
    /// Cluster name: query its masters instead of the topic's route
    #[arg(short = 'c', long = "cluster")]
    cluster: Option<String>,
}

pub fn query_msg_by_unique_key(remote: &mut Remote, args: &QueryMsgByUniqueKey) -> AdminResult<()> {
    let messages = query_messages(
        remote,
        args.topic.trim(),
        args.msg_id.trim(),
        UNIQUE_KEY_QUERY_MAX,
        0,
        i64::MAX,
        true,
        args.cluster.as_deref().map(str::trim),
    )?;
    let shown = if args.show_all { messages.len() } else { 1 };
    for (index, message) in messages.iter().take(shown).enumerate() {
        print_message(remote, message, false, index, false)?;
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct QueryMsgByOffset {
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Broker Name
    #[arg(short = 'b', long = "brokerName")]
    broker_name: String,
    /// Queue Id
    #[arg(short = 'i', long = "queueId")]
    queue_id: i32,
    /// Queue Offset
    #[arg(short = 'o', long = "offset")]
    offset: i64,
    /// print message body by the specified format (printed as UTF-8)
    #[arg(short = 'f', long = "bodyFormat")]
    body_format: Option<String>,
}

pub fn query_msg_by_offset(remote: &mut Remote, args: &QueryMsgByOffset) -> AdminResult<()> {
    let topic = args.topic.trim();
    let broker_name = args.broker_name.trim();
    let route = remote.route(topic)?;
    let addr = remote.master_addr_of_broker(Some(&route), broker_name)?;
    let at = QueueAt {
        queue: ramjet_net::body::MessageQueue::new(topic, broker_name, args.queue_id),
        addr,
    };
    let result = pull(remote, &at, TOOLS_CONSUMER_GROUP, "*", args.offset, 1)?;
    match result.messages.first() {
        Some(message) if result.status == PullStatus::Found => {
            print_message(remote, message, true, 0, args.body_format.is_some())
        }
        _ => Err(AdminError::NotFound(format!(
            "no message at offset {} of {}: {}",
            args.offset, at.queue, result.status
        ))),
    }
}

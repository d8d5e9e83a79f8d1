//! Requests a broker relays to one consumer client: GET_CONSUMER_RUNNING_INFO (307,
//! `consumerStatus`, and the push-type check of `queryMsgById -g -d`) and
//! CONSUME_MESSAGE_DIRECTLY (309, `queryMsgById -g -d`, the console's "resend to group").
//! As Java's DefaultMQAdminExtImpl: 307 goes to a broker of the group's retry topic, 309
//! to the broker that stores the message, with its offsetMsgId.

use std::time::Duration;

use clap::Args;
use ramjet_net::body::fastjson;
use ramjet_net::code::request;
use ramjet_net::header::{
    CommandHeader, ConsumeMessageDirectlyResultRequestHeader, GetConsumerRunningInfoRequestHeader,
};
use ramjet_net::RemotingCommand;
use serde_json::Value;

use super::consumer::{consumer_connection_of, group_brokers};
use super::query::view_message;
use crate::error::{AdminError, AdminResult};
use crate::format::version_desc;
use crate::remote::{expect_success, Remote};

/// The broker waits up to 10 s for the client (Broker2Client.callClient); wait a little
/// longer, so its CONSUME_MSG_TIMEOUT reaches us rather than our own timeout.
pub const CLIENT_CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// `ConsumerRunningInfo.PROP_CONSUME_TYPE`.
const PROP_CONSUME_TYPE: &str = "PROP_CONSUME_TYPE";

/// GET_CONSUMER_RUNNING_INFO through the group's brokers: the first that answers SUCCESS.
/// The body is fastjson (its mqTable is keyed by MessageQueue objects), read leniently.
pub fn consumer_running_info(
    remote: &mut Remote,
    group: &str,
    client_id: &str,
    jstack: bool,
) -> AdminResult<Value> {
    let header = GetConsumerRunningInfoRequestHeader {
        consumer_group: group.to_owned(),
        client_id: client_id.to_owned(),
        jstack_enable: Some(jstack),
    };
    let mut last = None;
    for addr in group_brokers(remote, group, None)? {
        let request = RemotingCommand::request(request::GET_CONSUMER_RUNNING_INFO)
            .with_ext_fields(header.to_ext_fields());
        let response = remote.invoke_broker_within(&addr, request, CLIENT_CALL_TIMEOUT)?;
        match expect_success("GET_CONSUMER_RUNNING_INFO", &addr, response) {
            Ok(response) => {
                return fastjson::parse(&response.body).map_err(|error| AdminError::BadAnswer {
                    what: "GET_CONSUMER_RUNNING_INFO",
                    addr,
                    reason: error.to_string(),
                })
            }
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| AdminError::ConsumerNotOnline(group.to_owned())))
}

/// `ConsumerRunningInfo.isPushType`: PROP_CONSUME_TYPE is CONSUME_PASSIVELY.
pub fn is_push_type(info: &Value) -> bool {
    info.pointer(&format!("/properties/{PROP_CONSUME_TYPE}"))
        .and_then(Value::as_str)
        == Some("CONSUME_PASSIVELY")
}

/// CONSUME_MESSAGE_DIRECTLY: the client consumes the message now; its
/// ConsumeMessageDirectlyResult. `client_id` empty picks the group's first connection, as
/// RocketMQ's dashboard does (the broker itself needs an exact clientId).
pub fn consume_message_directly(
    remote: &mut Remote,
    group: &str,
    client_id: &str,
    topic: &str,
    msg_id: &str,
) -> AdminResult<Value> {
    let client_id = if client_id.is_empty() {
        consumer_connection_of(remote, group, None)?
            .connection_set
            .iter()
            .map(|connection| connection.client_id.clone())
            .min()
            .ok_or_else(|| AdminError::ConsumerNotOnline(group.to_owned()))?
    } else {
        client_id.to_owned()
    };
    let message = view_message(remote, topic, msg_id, None)?;
    let addr = message.record.message.store_host.to_string();
    let header = ConsumeMessageDirectlyResultRequestHeader {
        consumer_group: group.to_owned(),
        client_id: Some(client_id),
        msg_id: Some(message.offset_msg_id()),
        topic: Some(topic.to_owned()),
        ..Default::default()
    };
    let request = RemotingCommand::request(request::CONSUME_MESSAGE_DIRECTLY)
        .with_ext_fields(header.to_ext_fields());
    let response = remote.invoke_broker_within(&addr, request, CLIENT_CALL_TIMEOUT)?;
    let response = expect_success("CONSUME_MESSAGE_DIRECTLY", &addr, response)?;
    fastjson::parse(&response.body).map_err(|error| AdminError::BadAnswer {
        what: "CONSUME_MESSAGE_DIRECTLY",
        addr,
        reason: error.to_string(),
    })
}

/// A field of a client's answer by its Java name, or in snake case: rocketmq-client-rust
/// 1.0 writes ConsumeMessageDirectlyResult with Rust's field names (`consume_result`,
/// `auto_commit`, `spent_time_mills`), which Java's tool would read as nulls.
pub fn result_field<'a>(result: &'a Value, java_name: &str) -> Option<&'a Value> {
    result.get(java_name).or_else(|| {
        let mut snake = String::with_capacity(java_name.len() + 4);
        for c in java_name.chars() {
            if c.is_ascii_uppercase() {
                snake.push('_');
                snake.push(c.to_ascii_lowercase());
            } else {
                snake.push(c);
            }
        }
        result.get(&snake)
    })
}

/// `ConsumeMessageDirectlyResult.toString()`.
pub fn format_direct_result(result: &Value) -> String {
    let text = |key: &str| match result_field(result, key) {
        None | Some(Value::Null) => "null".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    let flag = |key: &str, default: bool| {
        result_field(result, key)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    };
    format!(
        "ConsumeMessageDirectlyResult [order={}, autoCommit={}, consumeResult={}, remark={}, spentTimeMills={}]",
        flag("order", false),
        flag("autoCommit", true),
        text("consumeResult"),
        text("remark"),
        result_field(result, "spentTimeMills")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    )
}

/// `queryMsgById -g -d`: QueryMsgByIdSubCommand.pushMsg.
pub fn push_msg(
    remote: &mut Remote,
    group: &str,
    client_id: &str,
    topic: &str,
    msg_id: &str,
) -> AdminResult<()> {
    let info = consumer_running_info(remote, group, client_id, false)?;
    if !is_push_type(&info) {
        println!("this {client_id} client is not push consumer ,not support direct push ");
        return Ok(());
    }
    let result = consume_message_directly(remote, group, client_id, topic, msg_id)?;
    print!("{}", format_direct_result(&result));
    Ok(())
}

#[derive(Args, Debug)]
pub struct ConsumerStatus {
    /// consumer group name
    #[arg(short = 'g', long = "consumerGroup")]
    group: String,
    /// The consumer's client id
    #[arg(short = 'i', long = "clientId")]
    client_id: Option<String>,
    /// broker address
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// Run jstack command in the consumer progress
    #[arg(short = 's', long = "jstack")]
    jstack: bool,
}

/// `consumerStatus`: every client's running info saved to `<now>/<clientId>` (as Java's
/// tool writes it, relative to the working directory) and listed, or one client's printed.
pub fn consumer_status(remote: &mut Remote, args: &ConsumerStatus) -> AdminResult<()> {
    let group = args.group.trim();
    let connections = consumer_connection_of(remote, group, args.broker.as_deref())?;
    if let Some(client_id) = args.client_id.as_deref().map(str::trim) {
        let info = consumer_running_info(remote, group, client_id, args.jstack)?;
        print!("{}", format_running_info(&info));
        return Ok(());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or(0);
    println!(
        "{:<10} {:<40} {:<20} #ConsumerRunningInfoFile",
        "#Index", "#ClientId", "#Version"
    );
    let mut index = 1;
    for connection in &connections.connection_set {
        match consumer_running_info(remote, group, &connection.client_id, args.jstack) {
            Ok(info) => {
                let path = format!("{now}/{}", connection.client_id);
                let saved = std::fs::create_dir_all(now.to_string())
                    .and_then(|()| std::fs::write(&path, format_running_info(&info)));
                if let Err(error) = saved {
                    eprintln!("{path}: {error}");
                }
                println!(
                    "{:<10} {:<40} {:<20} {}",
                    index,
                    connection.client_id,
                    version_desc(connection.version),
                    path
                );
                index += 1;
            }
            Err(error) => eprintln!("{}: {error}", connection.client_id),
        }
    }
    Ok(())
}

/// The leading sections of `ConsumerRunningInfo.formatString()`: properties, subscriptions
/// and the committed offset per queue.
pub fn format_running_info(info: &Value) -> String {
    let mut out = String::from("#Consumer Properties#\n");
    if let Some(properties) = info.get("properties").and_then(Value::as_object) {
        for (key, value) in properties {
            let value = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("{key:<40}: {value}\n"));
        }
    }
    out.push_str("\n\n#Consumer Subscription#\n");
    if let Some(subscriptions) = info.get("subscriptionSet").and_then(Value::as_array) {
        for (index, subscription) in subscriptions.iter().enumerate() {
            out.push_str(&format!(
                "{:03} Topic: {:<40} ClassFilter: {:<8} SubExpression: {}\n",
                index + 1,
                subscription
                    .get("topic")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                subscription
                    .get("classFilterMode")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                subscription
                    .get("subString")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ));
        }
    }
    out.push_str("\n\n#Consumer Offset#\n");
    out.push_str(&format!(
        "{:<64}  {:<32}  {:<4}  {:<20}\n",
        "#Topic", "#Broker Name", "#QID", "#Consumer Offset"
    ));
    if let Some(table) = info.get("mqTable").and_then(Value::as_object) {
        for (queue, process) in table {
            // fastjson::parse turned each MessageQueue key into its JSON text.
            let queue: Value = serde_json::from_str(queue).unwrap_or(Value::Null);
            out.push_str(&format!(
                "{:<32}  {:<32}  {:<4}  {:<20}\n",
                queue.get("topic").and_then(Value::as_str).unwrap_or(""),
                queue
                    .get("brokerName")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                queue.get("queueId").and_then(Value::as_i64).unwrap_or(-1),
                process
                    .get("commitOffset")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_result_prints_as_java_to_string() {
        let result: Value = serde_json::from_str(
            r#"{"autoCommit":true,"consumeResult":"CR_SUCCESS","order":false,"spentTimeMills":3}"#,
        )
        .unwrap();
        assert_eq!(
            format_direct_result(&result),
            "ConsumeMessageDirectlyResult [order=false, autoCommit=true, consumeResult=CR_SUCCESS, remark=null, spentTimeMills=3]"
        );
        let rust: Value = serde_json::from_str(
            r#"{"order":false,"auto_commit":true,"consume_result":"CR_LATER","remark":null,"spent_time_mills":5}"#,
        )
        .unwrap();
        assert_eq!(
            format_direct_result(&rust),
            "ConsumeMessageDirectlyResult [order=false, autoCommit=true, consumeResult=CR_LATER, remark=null, spentTimeMills=5]"
        );
    }

    #[test]
    fn running_info_sections_read_fastjson_keys() {
        let body = br#"{"properties":{"PROP_CONSUME_TYPE":"CONSUME_PASSIVELY"},"subscriptionSet":[{"topic":"T","subString":"*","classFilterMode":false}],"mqTable":{{"brokerName":"b","queueId":1,"topic":"T"}:{"commitOffset":7}}}"#;
        let info = fastjson::parse(body).unwrap();
        assert!(is_push_type(&info));
        let text = format_running_info(&info);
        assert!(text.contains("PROP_CONSUME_TYPE                       : CONSUME_PASSIVELY"));
        assert!(text.contains("001 Topic: T"));
        assert!(
            text.contains("b                                 1     7"),
            "{text}"
        );
    }
}

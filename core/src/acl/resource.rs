//! What one request asks for, as `PlainAccessValidator.parse` reads it: the caller's
//! AccessKey and Signature, and the topics (groups as their retry topic) with the
//! permission each needs.

use ramjet_net::acl::{self, ACCESS_KEY, SIGNATURE, UNIQUE_MSG_QUERY_FLAG};
use ramjet_net::body::heartbeat::HeartbeatData;
use ramjet_net::code::request;
use ramjet_net::RemotingCommand;

use super::plain::{PUB, SUB};

pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";

pub struct AccessRequest<'a> {
    pub code: i32,
    pub access_key: Option<String>,
    signature: Option<String>,
    command: &'a RemotingCommand,
    /// (topic, PUB or SUB); a group appears as `%RETRY%group`.
    pub resources: Vec<(String, u8)>,
}

fn retry_topic(group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
}

impl<'a> AccessRequest<'a> {
    /// Reads `command`; Err is a message for a body the check cannot read (a heartbeat
    /// that does not decode), which Java also refuses.
    pub fn parse(command: &'a RemotingCommand) -> Result<AccessRequest<'a>, String> {
        let field = |name: &str| command.ext_field(name).map(str::to_owned);
        let mut access = AccessRequest {
            code: command.code,
            access_key: field(ACCESS_KEY),
            signature: field(SIGNATURE),
            command,
            resources: Vec::new(),
        };
        if command.ext_fields.is_none() {
            return Ok(access);
        }
        let mut add = |topic: Option<String>, perm: u8| {
            if let Some(topic) = topic {
                access.resources.push((topic, perm));
            }
        };
        let retry = |group: Option<String>| group.map(|g| retry_topic(&g));
        match command.code {
            // A send to a retry topic (a consumer re-sending) needs SUB on its group.
            request::SEND_MESSAGE => match field("topic") {
                Some(topic) if topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) => {
                    add(retry(field("group")), SUB)
                }
                topic => add(topic, PUB),
            },
            // Java leaves batch sends out of parse (they then need only a valid signature);
            // they carry the V2 header and are checked as V2 sends here.
            request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE => match field("b") {
                Some(topic) if topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) => {
                    add(retry(field("a")), SUB)
                }
                topic => add(topic, PUB),
            },
            request::CONSUMER_SEND_MSG_BACK => add(retry(field("group")), SUB),
            // LITE_PULL_MESSAGE carries the pull header; Java omits it from parse.
            request::PULL_MESSAGE | request::LITE_PULL_MESSAGE => {
                add(field("topic"), SUB);
                add(retry(field("consumerGroup")), SUB);
            }
            request::QUERY_MESSAGE => add(field("topic"), SUB),
            request::HEART_BEAT => {
                let data = HeartbeatData::decode(&command.body)
                    .map_err(|e| format!("bad heartbeat body: {e}"))?;
                for consumer in &data.consumers {
                    add(Some(retry_topic(&consumer.group_name)), SUB);
                    for subscription in &consumer.subscriptions {
                        add(Some(subscription.topic.clone()), SUB);
                    }
                }
            }
            request::UNREGISTER_CLIENT | request::GET_CONSUMER_LIST_BY_GROUP => {
                add(retry(field("consumerGroup")), SUB)
            }
            // QUERY_CONSUMER_OFFSET reads what UPDATE writes; Java checks only the update.
            request::UPDATE_CONSUMER_OFFSET | request::QUERY_CONSUMER_OFFSET => {
                add(retry(field("consumerGroup")), SUB);
                add(field("topic"), SUB);
            }
            _ => {}
        }
        Ok(access)
    }

    /// Whether the Signature is right for `secret_key`. Java's client signs every field,
    /// its broker leaves `_UNIQUE_KEY_QUERY` out; either form is accepted.
    pub fn signature_valid(&self, secret_key: &str) -> bool {
        let Some(signature) = &self.signature else {
            return false;
        };
        let fields = self.command.ext_fields.as_ref();
        let body = &self.command.body;
        acl::verify(
            secret_key,
            &acl::signing_content(fields, body, &[]),
            signature,
        ) || (self.command.ext_field(UNIQUE_MSG_QUERY_FLAG).is_some()
            && acl::verify(
                secret_key,
                &acl::signing_content(fields, body, &[UNIQUE_MSG_QUERY_FLAG]),
                signature,
            ))
    }
}

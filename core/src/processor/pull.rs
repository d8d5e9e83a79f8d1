//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361) (`PullMessageProcessor`,
//! docs/remoting-protocol.md sections 6.3 and 9.3). The checks run here against this shard's
//! metadata snapshot; the read and the long-polling hold run on the queue's owner.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ramjet_filter::Selector;

use ramjet_net::body::heartbeat::SubscriptionData;
use ramjet_net::body::perm;
use ramjet_net::code::request;
use ramjet_net::header::{CommandHeader, PullMessageRequestHeader, PullMessageResponseHeader};
use ramjet_net::RemotingCommand;

use crate::config::BrokerConfig;
use crate::error::{BrokerError, BrokerResult};
use crate::placement::owner_shard;
use crate::processor::pull_suggestion;
use crate::response_code::{for_get, get_status_name};
use crate::shard::BrokerShard;
use crate::shard_request::{PullQuery, TagFilter};

/// A pull's response, its body still in parts (slices of the owner's read buffers):
/// the connection writes them after the header without joining them first.
pub struct Pulled {
    pub command: RemotingCommand,
    pub body_parts: Vec<Bytes>,
}

impl Pulled {
    /// The response with its parts joined into one body (for callers that need one).
    pub fn into_command(self) -> RemotingCommand {
        let mut command = self.command;
        command.body = match self.body_parts.len() {
            0 => command.body,
            1 => self.body_parts.into_iter().next().unwrap_or_default(),
            _ => Bytes::from(self.body_parts.concat()),
        };
        command
    }
}

/// Whether this module answers `code`.
pub fn handles(code: i32) -> bool {
    code == request::PULL_MESSAGE || code == request::LITE_PULL_MESSAGE
}

/// `PullSysFlag` bits.
const FLAG_COMMIT_OFFSET: i32 = 0x1;
const FLAG_SUSPEND: i32 = 0x2;
const FLAG_SUBSCRIPTION: i32 = 0x4;

pub async fn process(shard: &Rc<BrokerShard>, request: &RemotingCommand) -> BrokerResult<Pulled> {
    let header =
        PullMessageRequestHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    let (subscription, selector) = check(shard, &header)?;
    let config = shard.config();
    let hold = (header.sys_flag & FLAG_SUSPEND != 0).then(|| {
        if config.long_polling_enable {
            Duration::from_millis(header.suspend_timeout_millis.max(0) as u64)
        } else {
            config.short_polling_time
        }
    });
    let max_count = (header.max_msg_nums.max(1) as usize)
        .min(config.max_transfer_count_on_message_in_memory.max(1));
    let max_bytes = header
        .max_msg_bytes
        .filter(|bytes| *bytes > 0)
        .map_or(config.max_transfer_bytes_on_message_in_memory, |bytes| {
            (bytes as usize).min(config.max_transfer_bytes_on_message_in_memory)
        });
    let query = PullQuery {
        group: header.consumer_group.clone(),
        topic: header.topic.clone(),
        queue_id: header.queue_id,
        queue_offset: header.queue_offset.max(0) as u64,
        max_count,
        max_bytes,
        // An SQL92 subscription has no tag codes: every unit passes to the selector
        // (Java's isMatchedByConsumeQueue answers true without a bloom filter).
        filter: TagFilter {
            match_all: selector.is_some() || subscription.matches_all(),
            codes: subscription.code_set,
        },
        selector,
        commit_offset: (header.sys_flag & FLAG_COMMIT_OFFSET != 0).then_some(header.commit_offset),
        hold,
    };
    let owner = owner_shard(&header.topic, header.queue_id, shard.shard_count());
    let answer = shard.pull(owner, query).await?;
    let code = for_get(answer.status, header.queue_offset);
    let response_header = PullMessageResponseHeader {
        suggest_which_broker_id: pull_suggestion::which_broker_id(
            &config,
            shard.snapshot().groups.get(&header.consumer_group),
            pull_suggestion::suggest_pulling_from_slave(
                answer.fall_behind_bytes,
                config.access_message_in_memory_max_ratio,
                pull_suggestion::total_physical_memory(),
            ),
        ),
        next_begin_offset: answer.next_begin_offset as i64,
        min_offset: answer.min_offset as i64,
        max_offset: answer.max_offset as i64,
        ..PullMessageResponseHeader::default()
    };
    let response = RemotingCommand::response_to(request, code)
        .with_remark(get_status_name(answer.status))
        .with_ext_fields(response_header.to_ext_fields());
    let body_parts = if code == ramjet_net::code::response::SUCCESS {
        answer.body
    } else {
        Vec::new()
    };
    Ok(Pulled {
        command: response,
        body_parts,
    })
}

/// The checks that come before reading (broker, group, topic, queue, subscription), and
/// the subscription's compiled SQL92 selector if it has one.
fn check(
    shard: &BrokerShard,
    header: &PullMessageRequestHeader,
) -> BrokerResult<(SubscriptionData, Option<Arc<Selector>>)> {
    let config = shard.config();
    if config.broker_permission & perm::READ == 0 {
        return Err(BrokerError::NoPermission(format!(
            "the broker[{}] pulling message is forbidden",
            config.broker_addr()
        )));
    }
    let snapshot = shard.snapshot();
    match snapshot.groups.get(&header.consumer_group) {
        Some(group) if !group.consume_enable => {
            return Err(BrokerError::NoPermission(format!(
                "subscription group no permission, {}",
                header.consumer_group
            )));
        }
        Some(_) => {}
        None if config.auto_create_subscription_group => {}
        None => {
            return Err(BrokerError::SubscriptionGroupNotExist(format!(
                "subscription group [{}] does not exist",
                header.consumer_group
            )));
        }
    }
    let Some(topic) = snapshot.topics.get(&header.topic) else {
        return Err(BrokerError::TopicNotExist(format!(
            "topic[{}] not exist, apply first please!",
            header.topic
        )));
    };
    if topic.perm & perm::READ == 0 {
        return Err(BrokerError::NoPermission(format!(
            "the topic[{}] pulling message is forbidden",
            header.topic
        )));
    }
    if header.queue_id < 0 || header.queue_id >= topic.read_queue_nums {
        return Err(BrokerError::InvalidParameter(format!(
            "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}]",
            header.queue_id, header.topic, topic.read_queue_nums
        )));
    }
    let data = if header.sys_flag & FLAG_SUBSCRIPTION != 0 {
        let expression_type = header.expression_type.as_deref().unwrap_or("TAG");
        let sub_string = header.subscription.as_deref().unwrap_or("*");
        let mut data = SubscriptionData::build(&header.topic, sub_string, expression_type);
        data.sub_version = header.sub_version;
        data
    } else {
        let Some(data) = snapshot.subscription(&header.consumer_group, &header.topic) else {
            return Err(BrokerError::SubscriptionNotExist(format!(
                "the consumer's subscription not exist, group: {} topic: {}",
                header.consumer_group, header.topic
            )));
        };
        if data.sub_version < header.sub_version {
            return Err(BrokerError::SubscriptionNotLatest(format!(
                "the consumer's subscription not latest, group: {}",
                header.consumer_group
            )));
        }
        data.clone()
    };
    let selector = subscription_selector(&config, &data.expression_type, &data.sub_string)?;
    Ok((data, selector))
}

/// `ExpressionType.isTagType`: no type, or TAG.
pub(crate) fn is_tag_type(expression_type: &str) -> bool {
    expression_type.is_empty() || expression_type.eq_ignore_ascii_case("TAG")
}

/// The selector of a subscription: `None` for TAG. Anything else needs
/// `enablePropertyFilter` (refused as Java refuses it: SYSTEM_ERROR and "The broker does not
/// support consumer to filter message by <type>"), must be SQL92, and must compile
/// (SUBSCRIPTION_PARSE_FAILED naming the error). Compiled selectors are cached per shard,
/// keyed by the expression, so a pull does not reparse its subscription.
pub(crate) fn subscription_selector(
    config: &BrokerConfig,
    expression_type: &str,
    expression: &str,
) -> BrokerResult<Option<Arc<Selector>>> {
    if is_tag_type(expression_type) {
        return Ok(None);
    }
    if !config.enable_property_filter {
        return Err(BrokerError::FeatureOff(format!(
            "The broker does not support consumer to filter message by {expression_type}"
        )));
    }
    if expression_type != ramjet_filter::SQL92 {
        return Err(BrokerError::SubscriptionParseFailed(format!(
            "no filter for expression type {expression_type}; the broker filters by TAG and SQL92"
        )));
    }
    ramjet_filter::compile_cached(expression)
        .map(Some)
        .map_err(|error| {
            BrokerError::SubscriptionParseFailed(format!(
                "parse the consumer's subscription[{}] failed: {error}",
                clip(expression)
            ))
        })
}

/// The expression as echoed in a remark: client text, so at most 256 characters of it.
fn clip(expression: &str) -> String {
    const ECHO_MAX: usize = 256;
    match expression.char_indices().nth(ECHO_MAX) {
        Some((end, _)) => format!("{}...", &expression[..end]),
        None => expression.to_owned(),
    }
}

//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361) with long polling
//! (`PullMessageProcessor`, remoting-protocol.md sections 6.3 and 9.3). Runs on the shard
//! that owns the queue.

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ramjet_net::body::heartbeat::SubscriptionData;
use ramjet_net::body::perm;
use ramjet_net::code::response;
use ramjet_net::header::{CommandHeader, PullMessageRequestHeader, PullMessageResponseHeader};
use ramjet_net::RemotingCommand;
use ramjet_store::{GetRequest, GetResult, MessageData};

use crate::response_code::{bad_header, error, for_get, get_status_name};
use crate::shard::{BrokerShard, Origin};

/// `PullSysFlag` bits.
const FLAG_COMMIT_OFFSET: i32 = 0x1;
const FLAG_SUSPEND: i32 = 0x2;
const FLAG_SUBSCRIPTION: i32 = 0x4;

pub async fn process(
    shard: &Rc<BrokerShard>,
    request: RemotingCommand,
    _origin: &Origin,
) -> Option<RemotingCommand> {
    let fields = request.fields();
    let header = match PullMessageRequestHeader::decode(fields) {
        Ok(header) => header,
        Err(e) => return Some(bad_header(&request, e)),
    };
    let subscription = match check(shard, &request, &header) {
        Ok(subscription) => subscription,
        Err(response) => return Some(response),
    };
    if header.sys_flag & FLAG_COMMIT_OFFSET != 0 {
        shard.offsets.borrow_mut().commit(
            &header.consumer_group,
            &header.topic,
            header.queue_id,
            header.commit_offset,
        );
    }
    let suspend = header.sys_flag & FLAG_SUSPEND != 0;
    let hold = if shard.config().long_polling_enable {
        Duration::from_millis(header.suspend_timeout_millis.max(0) as u64)
    } else {
        shard.config().short_polling_time
    };
    let deadline = Instant::now() + hold;
    loop {
        let result = get(shard, &header, &subscription).await;
        let code = for_get(result.status, header.queue_offset);
        let parkable = code == response::PULL_NOT_FOUND;
        if !suspend || !parkable || Instant::now() >= deadline {
            return Some(respond(shard, &request, &header, result, code));
        }
        // Park until an append reaches this queue or the hold time is up. A pull that
        // matched nothing among new messages parks again rather than spinning.
        let Some(wakeup) = shard.long_polling.park(&header.topic, header.queue_id) else {
            return Some(respond(shard, &request, &header, result, code));
        };
        let max_offset = shard
            .store
            .max_offset_in_queue(&header.topic, header.queue_id);
        if max_offset > result.next_begin_offset.max(header.queue_offset as u64) {
            continue; // Something arrived while we were reading.
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if glommio::timer::timeout(remaining, async {
            wakeup.wait().await;
            Ok(())
        })
        .await
        .is_err()
        {
            let result = get(shard, &header, &subscription).await;
            let code = for_get(result.status, header.queue_offset);
            return Some(respond(shard, &request, &header, result, code));
        }
    }
}

/// The checks that come before reading (topic, queue, group, subscription).
fn check(
    shard: &BrokerShard,
    request: &RemotingCommand,
    header: &PullMessageRequestHeader,
) -> Result<SubscriptionData, RemotingCommand> {
    let config = shard.config();
    if config.broker_permission & perm::READ == 0 {
        let remark = format!(
            "the broker[{}] pulling message is forbidden",
            config.broker_addr()
        );
        return Err(error(request, response::NO_PERMISSION, remark));
    }
    let snapshot = shard.snapshot();
    match snapshot.groups.get(&header.consumer_group) {
        Some(group) if !group.consume_enable => {
            let remark = format!(
                "subscription group no permission, {}",
                header.consumer_group
            );
            return Err(error(request, response::NO_PERMISSION, remark));
        }
        Some(_) => {}
        None if config.auto_create_subscription_group => {}
        None => {
            let remark = format!(
                "subscription group [{}] does not exist",
                header.consumer_group
            );
            return Err(error(
                request,
                response::SUBSCRIPTION_GROUP_NOT_EXIST,
                remark,
            ));
        }
    }
    let Some(topic) = snapshot.topics.get(&header.topic) else {
        let remark = format!("topic[{}] not exist, apply first please!", header.topic);
        return Err(error(request, response::TOPIC_NOT_EXIST, remark));
    };
    if topic.perm & perm::READ == 0 {
        let remark = format!("the topic[{}] pulling message is forbidden", header.topic);
        return Err(error(request, response::NO_PERMISSION, remark));
    }
    if header.queue_id < 0 || header.queue_id >= topic.read_queue_nums {
        let remark = format!(
            "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}]",
            header.queue_id, header.topic, topic.read_queue_nums
        );
        return Err(error(request, response::INVALID_PARAMETER, remark));
    }
    let expression_type = header
        .expression_type
        .clone()
        .unwrap_or_else(|| "TAG".to_owned());
    if !expression_type.eq_ignore_ascii_case("TAG") {
        return Err(error(
            request,
            response::SYSTEM_ERROR,
            "The broker does not support consumer to filter message by SQL92",
        ));
    }
    if header.sys_flag & FLAG_SUBSCRIPTION != 0 {
        let sub_string = header
            .subscription
            .clone()
            .unwrap_or_else(|| "*".to_owned());
        let mut data = SubscriptionData::build(&header.topic, &sub_string, &expression_type);
        data.sub_version = header.sub_version;
        return Ok(data);
    }
    let Some(data) = snapshot.subscription(&header.consumer_group, &header.topic) else {
        let remark = format!(
            "the consumer's subscription not exist, group: {} topic: {}",
            header.consumer_group, header.topic
        );
        return Err(error(request, response::SUBSCRIPTION_NOT_EXIST, remark));
    };
    if data.sub_version < header.sub_version {
        let remark = format!(
            "the consumer's subscription not latest, group: {}",
            header.consumer_group
        );
        return Err(error(request, response::SUBSCRIPTION_NOT_LATEST, remark));
    }
    Ok(data.clone())
}

async fn get(
    shard: &BrokerShard,
    header: &PullMessageRequestHeader,
    subscription: &SubscriptionData,
) -> GetResult {
    let match_all = subscription.matches_all();
    let codes = &subscription.code_set;
    // The ConsumeQueue holds the tag's Java hashCode widened to a long.
    let filter =
        |tags_code: i64| match_all || codes.iter().any(|code| i64::from(*code) == tags_code);
    let max_count = (header.max_msg_nums.max(1) as usize).min(
        shard
            .config()
            .max_transfer_count_on_message_in_memory
            .max(1),
    );
    let max_bytes = header.max_msg_bytes.filter(|bytes| *bytes > 0).map_or(
        shard.config().max_transfer_bytes_on_message_in_memory,
        |bytes| bytes as usize,
    );
    let request = GetRequest {
        topic: &header.topic,
        queue_id: header.queue_id,
        queue_offset: header.queue_offset.max(0) as u64,
        max_count,
        max_bytes,
        filter: &filter,
        zero_copy: false,
    };
    shard.store.get(&request).await
}

fn respond(
    shard: &BrokerShard,
    request: &RemotingCommand,
    header: &PullMessageRequestHeader,
    result: GetResult,
    code: i32,
) -> RemotingCommand {
    let response_header = PullMessageResponseHeader {
        suggest_which_broker_id: 0,
        next_begin_offset: result.next_begin_offset as i64,
        min_offset: result.min_offset as i64,
        max_offset: result.max_offset as i64,
        ..PullMessageResponseHeader::default()
    };
    shard.offsets.borrow_mut().record_pull(
        &header.consumer_group,
        &header.topic,
        header.queue_id,
        result.next_begin_offset as i64,
    );
    let mut response = RemotingCommand::response_to(request, code)
        .with_remark(get_status_name(result.status))
        .with_ext_fields(response_header.to_ext_fields());
    if code == response::SUCCESS {
        shard.stats.record_get(result.messages.len());
        let total: usize = result.messages.iter().map(|m| m.size).sum();
        let mut body = Vec::with_capacity(total);
        for message in result.messages {
            match message.data {
                MessageData::Bytes(bytes) => body.extend_from_slice(&bytes),
                MessageData::File(_) => {
                    unreachable!("pulls ask the store for bytes, not file ranges")
                }
            }
        }
        response.body = Bytes::from(body);
    }
    response
}

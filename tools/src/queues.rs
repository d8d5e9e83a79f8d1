//! Per-queue calls the message commands share: which queues a route offers, queue bounds,
//! timestamp search, one-shot pulls (what `DefaultMQPullConsumer.pull` sends) and offset
//! updates.

use ramjet_net::body::{perm, TopicRouteData};
use ramjet_net::code::{request, response};
use ramjet_net::header::{
    CommandHeader, GetMaxOffsetRequestHeader, OffsetResponseHeader, PullMessageRequestHeader,
    PullMessageResponseHeader, SearchOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use ramjet_net::RemotingCommand;

use crate::bodies::MessageQueue;
use crate::error::{AdminError, AdminResult};
use crate::message::{decode_records, StoredMessage, PROPERTY_TAGS};
use crate::remote::{expect_success, select_addr, Remote};

/// `MixAll.TOOLS_CONSUMER_GROUP`: every broker has it, so pulls need no group of their own.
pub const TOOLS_CONSUMER_GROUP: &str = "TOOLS_CONSUMER";
/// `PullSysFlag` SUBSCRIPTION: the subscription in this request is the one to use.
const PULL_FLAG_SUBSCRIPTION: i32 = 0x4;

/// A queue and the address of the broker that serves it.
#[derive(Debug, Clone)]
pub struct QueueAt {
    pub queue: MessageQueue,
    pub addr: String,
}

/// `topicRouteData2TopicSubscribeInfo`: `readQueueNums` queues of every readable broker.
pub fn subscribe_queues(route: &TopicRouteData, topic: &str) -> Vec<QueueAt> {
    queues(route, topic, perm::READ, |q| q.read_queue_nums)
}

/// `topicRouteData2TopicPublishInfo`: `writeQueueNums` queues of every writable master.
pub fn publish_queues(route: &TopicRouteData, topic: &str) -> Vec<QueueAt> {
    let masters_only: Vec<QueueAt> = queues(route, topic, perm::WRITE, |q| q.write_queue_nums);
    masters_only
        .into_iter()
        .filter(|at| {
            route.broker_datas.iter().any(|data| {
                data.broker_name == at.queue.broker_name && data.master_addr() == Some(&at.addr)
            })
        })
        .collect()
}

fn queues(
    route: &TopicRouteData,
    topic: &str,
    needed: i32,
    count: impl Fn(&ramjet_net::body::QueueData) -> i32,
) -> Vec<QueueAt> {
    let mut found = Vec::new();
    for queue_data in route.queue_datas.iter().filter(|q| q.perm & needed != 0) {
        let Some(addr) = route
            .broker_datas
            .iter()
            .find(|data| data.broker_name == queue_data.broker_name)
            .and_then(|data| select_addr(&data.broker_addrs))
        else {
            continue;
        };
        for queue_id in 0..count(queue_data) {
            found.push(QueueAt {
                queue: MessageQueue {
                    topic: topic.to_owned(),
                    broker_name: queue_data.broker_name.clone(),
                    queue_id,
                },
                addr: addr.clone(),
            });
        }
    }
    found.sort_by(|a, b| a.queue.cmp(&b.queue));
    found
}

fn offset_call(
    remote: &mut Remote,
    what: &'static str,
    at: &QueueAt,
    request: RemotingCommand,
) -> AdminResult<i64> {
    let response = remote.call_broker(what, &at.addr, request)?;
    OffsetResponseHeader::decode(response.fields())
        .map(|header| header.offset)
        .map_err(|e| AdminError::BadAnswer {
            what,
            addr: at.addr.clone(),
            reason: e.to_string(),
        })
}

fn bounds_request(code: i32, queue: &MessageQueue) -> RemotingCommand {
    let header = GetMaxOffsetRequestHeader {
        topic: queue.topic.clone(),
        queue_id: queue.queue_id,
        committed: None,
    };
    RemotingCommand::request(code).with_ext_fields(header.to_ext_fields())
}

/// GET_MAX_OFFSET: the next queue offset to be written.
pub fn max_offset(remote: &mut Remote, at: &QueueAt) -> AdminResult<i64> {
    let request = bounds_request(request::GET_MAX_OFFSET, &at.queue);
    offset_call(remote, "GET_MAX_OFFSET", at, request)
}

/// GET_MIN_OFFSET: the oldest queue offset still stored.
pub fn min_offset(remote: &mut Remote, at: &QueueAt) -> AdminResult<i64> {
    let request = bounds_request(request::GET_MIN_OFFSET, &at.queue);
    offset_call(remote, "GET_MIN_OFFSET", at, request)
}

/// SEARCH_OFFSET_BY_TIMESTAMP: the first queue offset stored at or after `timestamp_ms`.
pub fn search_offset(remote: &mut Remote, at: &QueueAt, timestamp_ms: i64) -> AdminResult<i64> {
    let header = SearchOffsetRequestHeader {
        topic: at.queue.topic.clone(),
        queue_id: at.queue.queue_id,
        timestamp: timestamp_ms,
        boundary_type: None,
    };
    let request = RemotingCommand::request(request::SEARCH_OFFSET_BY_TIMESTAMP)
        .with_ext_fields(header.to_ext_fields());
    offset_call(remote, "SEARCH_OFFSET_BY_TIMESTAMP", at, request)
}

/// UPDATE_CONSUMER_OFFSET, sent as a normal request so that a refusal is seen.
pub fn update_consumer_offset(
    remote: &mut Remote,
    at: &QueueAt,
    group: &str,
    offset: i64,
) -> AdminResult<()> {
    let header = UpdateConsumerOffsetRequestHeader {
        consumer_group: group.to_owned(),
        topic: at.queue.topic.clone(),
        queue_id: at.queue.queue_id,
        commit_offset: offset,
    };
    let request = RemotingCommand::request(request::UPDATE_CONSUMER_OFFSET)
        .with_ext_fields(header.to_ext_fields());
    remote.call_broker("UPDATE_CONSUMER_OFFSET", &at.addr, request)?;
    Ok(())
}

/// `PullStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullStatus {
    Found,
    NoNewMsg,
    NoMatchedMsg,
    OffsetIllegal,
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

pub struct PullResult {
    pub status: PullStatus,
    pub next_begin_offset: i64,
    pub messages: Vec<StoredMessage>,
}

/// One pull without long polling, filtered by tag on this side too (the broker filters by
/// tag hash only), as `PullAPIWrapper.processPullResult` does.
pub fn pull(
    remote: &mut Remote,
    at: &QueueAt,
    group: &str,
    sub_expression: &str,
    queue_offset: i64,
    max_count: i32,
) -> AdminResult<PullResult> {
    let header = PullMessageRequestHeader {
        consumer_group: group.to_owned(),
        topic: at.queue.topic.clone(),
        queue_id: at.queue.queue_id,
        queue_offset,
        max_msg_nums: max_count,
        sys_flag: PULL_FLAG_SUBSCRIPTION,
        commit_offset: 0,
        suspend_timeout_millis: 0,
        subscription: Some(sub_expression.to_owned()),
        sub_version: 0,
        expression_type: Some("TAG".to_owned()),
        max_msg_bytes: None,
        request_source: None,
    };
    let request =
        RemotingCommand::request(request::PULL_MESSAGE).with_ext_fields(header.to_ext_fields());
    let response = remote.invoke_broker(&at.addr, request)?;
    let status = match response.code {
        response::SUCCESS => PullStatus::Found,
        response::PULL_NOT_FOUND => PullStatus::NoNewMsg,
        response::PULL_RETRY_IMMEDIATELY => PullStatus::NoMatchedMsg,
        response::PULL_OFFSET_MOVED => PullStatus::OffsetIllegal,
        _ => {
            expect_success("PULL_MESSAGE", &at.addr, response)?;
            unreachable!("expect_success refuses every code but SUCCESS");
        }
    };
    let bad = |reason: String| AdminError::BadAnswer {
        what: "PULL_MESSAGE",
        addr: at.addr.clone(),
        reason,
    };
    let header =
        PullMessageResponseHeader::decode(response.fields()).map_err(|e| bad(e.to_string()))?;
    let mut messages = Vec::new();
    if status == PullStatus::Found {
        messages = decode_records(&response.body, &at.queue.broker_name).map_err(bad)?;
        let tags = subscribed_tags(sub_expression);
        if !tags.is_empty() {
            messages.retain(|m| m.property(PROPERTY_TAGS).is_some_and(|t| tags.contains(&t)));
        }
    }
    Ok(PullResult {
        status,
        next_begin_offset: header.next_begin_offset,
        messages,
    })
}

/// `FilterAPI.buildSubscriptionData`'s tag set: empty means every tag.
fn subscribed_tags(sub_expression: &str) -> Vec<&str> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use ramjet_net::body::{BrokerData, QueueData};
    use std::collections::BTreeMap;

    #[test]
    fn route_queues_follow_perm_and_masters() {
        let route = TopicRouteData {
            broker_datas: vec![
                BrokerData {
                    broker_addrs: BTreeMap::from([(0, "a:1".to_owned())]),
                    broker_name: "a".into(),
                    ..BrokerData::default()
                },
                BrokerData {
                    broker_addrs: BTreeMap::from([(1, "b-slave:1".to_owned())]),
                    broker_name: "b".into(),
                    ..BrokerData::default()
                },
            ],
            queue_datas: vec![
                QueueData::new("a", 2, 3, 6, 0),
                QueueData::new("b", 1, 1, 6, 0),
            ],
            ..TopicRouteData::default()
        };
        assert_eq!(subscribe_queues(&route, "T").len(), 3); // The slave serves reads.
        let writable = publish_queues(&route, "T");
        assert_eq!(writable.len(), 3); // Only a's master takes writes.
        assert!(writable.iter().all(|q| q.addr == "a:1"));
        assert_eq!(subscribed_tags("TagA || TagB"), ["TagA", "TagB"]);
        assert!(subscribed_tags(" * ").is_empty());
    }
}

//! Per-queue calls the message commands share, with mqadmin's errors: queue bounds,
//! timestamp search, one-shot pulls (what `DefaultMQPullConsumer.pull` sends) and offset
//! updates. The requests themselves and which queues a route offers are
//! `ramjet_net::client`'s; this module adds the connection choice and the record decoding.

use ramjet_net::client::requests::{
    self, read_offset, read_pull_header, subscribed_tags, PullRequest,
};
pub use ramjet_net::client::requests::{PullStatus, TOOLS_CONSUMER_GROUP};
pub use ramjet_net::client::{publish_queues, subscribe_queues, QueueAt};
use ramjet_net::RemotingCommand;

use crate::error::{AdminError, AdminResult};
use crate::message::{decode_records, StoredMessage, PROPERTY_TAGS};
use crate::remote::{expect_success, Remote};

fn offset_call(
    remote: &mut Remote,
    what: &'static str,
    at: &QueueAt,
    request: RemotingCommand,
) -> AdminResult<i64> {
    let response = remote.call_broker(what, &at.addr, request)?;
    read_offset(&response).map_err(|reason| AdminError::BadAnswer {
        what,
        addr: at.addr.clone(),
        reason,
    })
}

/// GET_MAX_OFFSET: the next queue offset to be written.
pub fn max_offset(remote: &mut Remote, at: &QueueAt) -> AdminResult<i64> {
    let request = requests::get_max_offset(&at.queue);
    offset_call(remote, "GET_MAX_OFFSET", at, request)
}

/// GET_MIN_OFFSET: the oldest queue offset still stored.
pub fn min_offset(remote: &mut Remote, at: &QueueAt) -> AdminResult<i64> {
    let request = requests::get_min_offset(&at.queue);
    offset_call(remote, "GET_MIN_OFFSET", at, request)
}

/// SEARCH_OFFSET_BY_TIMESTAMP: the first queue offset stored at or after `timestamp_ms`.
pub fn search_offset(remote: &mut Remote, at: &QueueAt, timestamp_ms: i64) -> AdminResult<i64> {
    let request = requests::search_offset(&at.queue, timestamp_ms);
    offset_call(remote, "SEARCH_OFFSET_BY_TIMESTAMP", at, request)
}

/// UPDATE_CONSUMER_OFFSET, sent as a normal request so that a refusal is seen.
pub fn update_consumer_offset(
    remote: &mut Remote,
    at: &QueueAt,
    group: &str,
    offset: i64,
) -> AdminResult<()> {
    let request = requests::update_consumer_offset(group, &at.queue, offset);
    remote.call_broker("UPDATE_CONSUMER_OFFSET", &at.addr, request)?;
    Ok(())
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
    let request = requests::pull_message(&PullRequest {
        group,
        queue: &at.queue,
        queue_offset,
        max_msg_nums: max_count,
        suspend_ms: 0,
        commit_offset: None,
        subscription: sub_expression,
        sub_version: 0,
    });
    let response = remote.invoke_broker(&at.addr, request)?;
    let Some(status) = PullStatus::of(response.code) else {
        expect_success("PULL_MESSAGE", &at.addr, response)?;
        unreachable!("expect_success refuses every code but SUCCESS");
    };
    let bad = |reason: String| AdminError::BadAnswer {
        what: "PULL_MESSAGE",
        addr: at.addr.clone(),
        reason,
    };
    let header = read_pull_header(&response).map_err(bad)?;
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

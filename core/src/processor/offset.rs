//! Consumer offsets and queue bounds, answered by the queue's owner shard:
//! QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15), GET_MAX_OFFSET (30),
//! GET_MIN_OFFSET (31), SEARCH_OFFSET_BY_TIMESTAMP (29), GET_EARLIEST_MSG_STORETIME (32).

use ramjet_net::code::{request, response};
use ramjet_net::header::{
    CommandHeader, GetEarliestMsgStoretimeResponseHeader, GetMaxOffsetRequestHeader,
    OffsetResponseHeader, QueryConsumerOffsetRequestHeader, SearchOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use ramjet_net::RemotingCommand;

use crate::response_code::{bad_header, error, success};
use crate::shard::BrokerShard;

pub async fn process(shard: &BrokerShard, request: &RemotingCommand) -> RemotingCommand {
    let fields = request.fields();
    let result = match request.code {
        request::QUERY_CONSUMER_OFFSET => QueryConsumerOffsetRequestHeader::decode(fields)
            .map(|header| query_consumer_offset(shard, request, &header)),
        request::UPDATE_CONSUMER_OFFSET => {
            UpdateConsumerOffsetRequestHeader::decode(fields).map(|header| {
                shard.offsets.borrow_mut().commit(
                    &header.consumer_group,
                    &header.topic,
                    header.queue_id,
                    header.commit_offset,
                );
                success(request)
            })
        }
        request::GET_MAX_OFFSET => GetMaxOffsetRequestHeader::decode(fields).map(|h| {
            offset(
                request,
                shard.store.max_offset_in_queue(&h.topic, h.queue_id) as i64,
            )
        }),
        request::GET_MIN_OFFSET => GetMaxOffsetRequestHeader::decode(fields).map(|h| {
            offset(
                request,
                shard.store.min_offset_in_queue(&h.topic, h.queue_id) as i64,
            )
        }),
        request::SEARCH_OFFSET_BY_TIMESTAMP => match SearchOffsetRequestHeader::decode(fields) {
            Ok(h) => {
                let found = shard
                    .store
                    .search_offset_by_timestamp(&h.topic, h.queue_id, h.timestamp)
                    .await;
                Ok(offset(request, found as i64))
            }
            Err(e) => Err(e),
        },
        request::GET_EARLIEST_MSG_STORETIME => match GetMaxOffsetRequestHeader::decode(fields) {
            Ok(h) => {
                let timestamp = shard
                    .store
                    .earliest_msg_store_time(&h.topic, h.queue_id)
                    .await
                    .unwrap_or(-1);
                Ok(success(request).with_ext_fields(
                    GetEarliestMsgStoretimeResponseHeader { timestamp }.to_ext_fields(),
                ))
            }
            Err(e) => Err(e),
        },
        other => unreachable!("code {other} is not an offset code"),
    };
    result.unwrap_or_else(|e| bad_header(request, e))
}

fn offset(request: &RemotingCommand, offset: i64) -> RemotingCommand {
    success(request).with_ext_fields(OffsetResponseHeader { offset }.to_ext_fields())
}

/// `ConsumerManageProcessor.queryConsumerOffset`: a group with no committed offset reads a
/// queue from 0 while the queue still starts at 0, whatever its consume-from setting, so a
/// new group's first messages are not skipped (the C++ push consumer depends on it).
fn query_consumer_offset(
    shard: &BrokerShard,
    request: &RemotingCommand,
    header: &QueryConsumerOffsetRequestHeader,
) -> RemotingCommand {
    let committed =
        shard
            .offsets
            .borrow()
            .query(&header.consumer_group, &header.topic, header.queue_id);
    if let Some(committed) = committed {
        return offset(request, committed);
    }
    if header.set_zero_if_not_found == Some(false) {
        return error(
            request,
            response::QUERY_NOT_FOUND,
            "Not found, do not set to zero, maybe this group boot first",
        );
    }
    if shard
        .store
        .min_offset_in_queue(&header.topic, header.queue_id)
        == 0
    {
        return offset(request, 0);
    }
    error(
        request,
        response::QUERY_NOT_FOUND,
        "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
    )
}

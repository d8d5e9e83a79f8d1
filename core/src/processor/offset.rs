//! Consumer offsets and queue bounds, answered by the queue's owner shard:
//! QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15), GET_MAX_OFFSET (30),
//! GET_MIN_OFFSET (31), SEARCH_OFFSET_BY_TIMESTAMP (29), GET_EARLIEST_MSG_STORETIME (32).

use std::rc::Rc;

use ramjet_net::code::request;
use ramjet_net::header::{
    CommandHeader, GetEarliestMsgStoretimeResponseHeader, GetMaxOffsetRequestHeader,
    OffsetResponseHeader, QueryConsumerOffsetRequestHeader, SearchOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use ramjet_net::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::placement::owner_shard;
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::OffsetRequest;

pub async fn process(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let offset_request = decode(request)?;
    let (topic, queue_id) = match &offset_request {
        OffsetRequest::QueryConsumer {
            topic, queue_id, ..
        }
        | OffsetRequest::Commit {
            topic, queue_id, ..
        }
        | OffsetRequest::Committed {
            topic, queue_id, ..
        }
        | OffsetRequest::Max { topic, queue_id }
        | OffsetRequest::Min { topic, queue_id }
        | OffsetRequest::SearchByTimestamp {
            topic, queue_id, ..
        }
        | OffsetRequest::EarliestStoreTime { topic, queue_id } => (topic.as_str(), *queue_id),
    };
    // A queue id no topic can have is refused here rather than read as an empty queue.
    if queue_id < 0 {
        return Err(BrokerError::InvalidParameter(format!(
            "queueId[{queue_id}] is illegal, topic {topic}"
        )));
    }
    let owner = owner_shard(topic, queue_id, shard.shard_count());
    let answer_code = request.code;
    let value = shard.offset(owner, offset_request).await?;
    Ok(match answer_code {
        request::UPDATE_CONSUMER_OFFSET => success(request),
        request::GET_EARLIEST_MSG_STORETIME => success(request).with_ext_fields(
            GetEarliestMsgStoretimeResponseHeader { timestamp: value }.to_ext_fields(),
        ),
        _ => {
            success(request).with_ext_fields(OffsetResponseHeader { offset: value }.to_ext_fields())
        }
    })
}

fn decode(request: &RemotingCommand) -> BrokerResult<OffsetRequest> {
    let fields = request.fields();
    let bad = BrokerError::bad_header;
    Ok(match request.code {
        request::QUERY_CONSUMER_OFFSET => {
            let h = QueryConsumerOffsetRequestHeader::decode(fields).map_err(bad)?;
            OffsetRequest::QueryConsumer {
                group: h.consumer_group,
                topic: h.topic,
                queue_id: h.queue_id,
                set_zero_if_not_found: h.set_zero_if_not_found,
            }
        }
        request::UPDATE_CONSUMER_OFFSET => {
            let h = UpdateConsumerOffsetRequestHeader::decode(fields).map_err(bad)?;
            OffsetRequest::Commit {
                group: h.consumer_group,
                topic: h.topic,
                queue_id: h.queue_id,
                offset: h.commit_offset,
            }
        }
        request::GET_MAX_OFFSET => {
            let h = GetMaxOffsetRequestHeader::decode(fields).map_err(bad)?;
            OffsetRequest::Max {
                topic: h.topic,
                queue_id: h.queue_id,
            }
        }
        request::GET_MIN_OFFSET => {
            let h = GetMaxOffsetRequestHeader::decode(fields).map_err(bad)?;
            OffsetRequest::Min {
                topic: h.topic,
                queue_id: h.queue_id,
            }
        }
        request::SEARCH_OFFSET_BY_TIMESTAMP => {
            let h = SearchOffsetRequestHeader::decode(fields).map_err(bad)?;
            OffsetRequest::SearchByTimestamp {
                topic: h.topic,
                queue_id: h.queue_id,
                timestamp: h.timestamp,
            }
        }
        request::GET_EARLIEST_MSG_STORETIME => {
            let h = GetMaxOffsetRequestHeader::decode(fields).map_err(bad)?;
            OffsetRequest::EarliestStoreTime {
                topic: h.topic,
                queue_id: h.queue_id,
            }
        }
        other => {
            return Err(BrokerError::Internal(format!(
                "code {other} is not an offset code"
            )))
        }
    })
}

//! Message lookups: VIEW_MESSAGE_BY_ID (33) on the shard named by the offset's high bits,
//! and QUERY_MESSAGE (12) gathered from every shard's IndexFile.

use std::rc::Rc;

use ramjet_net::header::{
    CommandHeader, QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use ramjet_net::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::response_code::{success, to_response};
use crate::shard::BrokerShard;
use crate::shard_request::KeyQuery;

/// Java's `maxMsgsNumBatch`: the most messages one QUERY_MESSAGE answers, whatever the
/// client asks (its maxNum is a client-controlled size).
const QUERY_MAX_NUM_BATCH: i32 = 64;

pub async fn view_message_by_id(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header =
        ViewMessageRequestHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    let not_found = || {
        BrokerError::NotFound(format!(
            "can not find message by the offset, {}",
            header.offset
        ))
    };
    let physical_offset = u64::try_from(header.offset).map_err(|_| not_found())?;
    let record = shard.view(physical_offset).await?;
    Ok(success(request).with_body(record))
}

/// QUERY_MESSAGE: by key (KEYS) or, with `_UNIQUE_KEY_QUERY`, by UNIQ_KEY. Every shard is
/// asked; at most maxNum messages are answered in all.
pub async fn query_message(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let mut header =
        QueryMessageRequestHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    if header.unique_key_query == Some(true) {
        header.max_num = shard.config().default_query_max_num;
    }
    let max_count = header.max_num.clamp(0, QUERY_MAX_NUM_BATCH) as usize;
    let query = KeyQuery {
        topic: header.topic,
        key: header.key,
        max_count,
        begin_timestamp: header.begin_timestamp,
        end_timestamp: header.end_timestamp,
    };
    let mut body = Vec::new();
    let mut found = 0;
    let mut latest = QueryMessageResponseHeader::default();
    for part in shard.query_by_key(query).await? {
        latest.index_last_update_timestamp = latest
            .index_last_update_timestamp
            .max(part.index_last_update_timestamp);
        latest.index_last_update_phyoffset = latest
            .index_last_update_phyoffset
            .max(part.index_last_update_phy_offset);
        for message in part.messages {
            if found < max_count {
                body.extend_from_slice(&message);
                found += 1;
            }
        }
    }
    if found == 0 {
        let error =
            BrokerError::QueryNotFound("can not find message, maybe time range not correct".into());
        return Ok(to_response(request, &error).with_ext_fields(latest.to_ext_fields()));
    }
    Ok(success(request)
        .with_ext_fields(latest.to_ext_fields())
        .with_body(body))
}

//! Message lookups: VIEW_MESSAGE_BY_ID (33) on the shard named by the offset's high bits,
//! and QUERY_MESSAGE (12) gathered from every shard's IndexFile.

use std::rc::Rc;

use ramjet_net::code::response;
use ramjet_net::header::{
    CommandHeader, QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use ramjet_net::RemotingCommand;

use crate::response_code::{bad_header, error, success};
use crate::shard::{BrokerShard, Origin, PARTIAL_KEY};

pub async fn view_message_by_id(shard: &BrokerShard, request: &RemotingCommand) -> RemotingCommand {
    let fields = request.fields();
    let header = match ViewMessageRequestHeader::decode(fields) {
        Ok(header) => header,
        Err(e) => return bad_header(request, e),
    };
    let record = if header.offset >= 0 {
        shard
            .store
            .read_by_physical_offset(header.offset as u64)
            .await
    } else {
        None
    };
    match record {
        Some(record) => success(request).with_body(record),
        None => error(
            request,
            response::SYSTEM_ERROR,
            format!("can not find message by the offset, {}", header.offset),
        ),
    }
}

/// QUERY_MESSAGE: by key (KEYS) or, with `_UNIQUE_KEY_QUERY`, by UNIQ_KEY. The leader
/// asks every shard and concatenates their records.
pub async fn query_message(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
    origin: &Origin,
) -> RemotingCommand {
    let fields = request.fields();
    let mut header = match QueryMessageRequestHeader::decode(fields) {
        Ok(header) => header,
        Err(e) => return bad_header(request, e),
    };
    if header.unique_key_query == Some(true) {
        header.max_num = shard.config().default_query_max_num;
    }
    let max_count = header.max_num.max(0) as usize;
    if request.ext_field(PARTIAL_KEY).is_some() || shard.shard_count == 1 {
        let result = shard
            .store
            .query_by_key(
                &header.topic,
                &header.key,
                max_count,
                header.begin_timestamp,
                header.end_timestamp,
            )
            .await;
        let response_header = QueryMessageResponseHeader {
            index_last_update_timestamp: result.index_last_update_timestamp,
            index_last_update_phyoffset: result.index_last_update_phy_offset,
        };
        if result.messages.is_empty() {
            return error(
                request,
                response::QUERY_NOT_FOUND,
                "can not find message, maybe time range not correct",
            )
            .with_ext_fields(response_header.to_ext_fields());
        }
        return success(request)
            .with_ext_fields(response_header.to_ext_fields())
            .with_body(result.messages.concat());
    }
    let mut body = Vec::new();
    let mut found = 0;
    let mut latest = QueryMessageResponseHeader::default();
    for answer in shard.run_on_all(request, origin).await {
        let fields = answer.fields();
        if let Ok(part) = QueryMessageResponseHeader::decode(fields) {
            latest.index_last_update_timestamp = latest
                .index_last_update_timestamp
                .max(part.index_last_update_timestamp);
            latest.index_last_update_phyoffset = latest
                .index_last_update_phyoffset
                .max(part.index_last_update_phyoffset);
        }
        if answer.code == response::SUCCESS && found < max_count {
            body.extend_from_slice(&answer.body);
            found += 1;
        }
    }
    if body.is_empty() {
        return error(
            request,
            response::QUERY_NOT_FOUND,
            "can not find message, maybe time range not correct",
        )
        .with_ext_fields(latest.to_ext_fields());
    }
    success(request)
        .with_ext_fields(latest.to_ext_fields())
        .with_body(body)
}

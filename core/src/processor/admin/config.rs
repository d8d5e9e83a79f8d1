//! Broker configuration admin codes: GET_BROKER_CONFIG (26), UPDATE_BROKER_CONFIG (25).

use std::rc::Rc;

use ramjet_net::header::{CommandHeader, GetBrokerConfigResponseHeader};
use ramjet_net::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::{LeaderReply, LeaderRequest};

pub async fn get(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let LeaderReply::BrokerConfig { text, data_version } =
        shard.leader_call(LeaderRequest::BrokerConfig).await?
    else {
        return Err(BrokerError::Internal(
            "broker config answered no text".into(),
        ));
    };
    let header = GetBrokerConfigResponseHeader {
        version: Some(data_version),
    };
    Ok(success(request)
        .with_ext_fields(header.to_ext_fields())
        .with_body(text.into_bytes()))
}

/// Keys that can change at runtime take effect on every shard before the answer; others
/// are refused with a remark saying a restart is needed.
pub async fn update(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let text = String::from_utf8_lossy(&request.body).into_owned();
    shard
        .leader_call(LeaderRequest::UpdateBrokerConfig { text })
        .await?;
    Ok(success(request))
}

//! Admin requests the broker relays to one consumer client and answers with the client's
//! response (`AdminBrokerProcessor.callConsumer`): GET_CONSUMER_RUNNING_INFO (307) and
//! CONSUME_MESSAGE_DIRECTLY (309). The call itself runs where the client's connection is
//! (`client_call`).
//!
//! As Java: the client is found by group and exact clientId (an empty clientId finds
//! none); a client that is not online, or older than V3_1_8_SNAPSHOT, is SYSTEM_ERROR with
//! Java's remark; no answer within 10 s is CONSUME_MSG_TIMEOUT (207); any other failure
//! (the connection closed meanwhile) is SYSTEM_ERROR "invoke consumer ... Exception". What
//! the client answers (its code, remark and body) is passed on as it came.

use std::rc::Rc;

use ramjet_net::header::{
    CommandHeader, ConsumeMessageDirectlyResultRequestHeader, GetConsumerRunningInfoRequestHeader,
};
use ramjet_net::RemotingCommand;
use ramjet_store::message::decode_offset_msg_id;

use crate::client_call::{ClientCall, ClientCallError, FIRST_VERSION_WITH_CLIENT_CALLS};
use crate::client_manager::ClientChannel;
use crate::error::{BrokerError, BrokerResult};
use crate::shard::BrokerShard;
use crate::shard_request::{LeaderReply, LeaderRequest};

/// GET_CONSUMER_RUNNING_INFO (307): the client's ConsumerRunningInfo.
pub async fn consumer_running_info(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header = GetConsumerRunningInfoRequestHeader::decode(request.fields())
        .map_err(BrokerError::bad_header)?;
    let (group, client_id) = (header.consumer_group.clone(), header.client_id.clone());
    call_consumer(
        shard,
        request,
        &group,
        &client_id,
        ClientCall::GetConsumerRunningInfo { header },
    )
    .await
}

/// CONSUME_MESSAGE_DIRECTLY (309): the client consumes the stored message named by `msgId`
/// (an offsetMsgId) and answers a ConsumeMessageDirectlyResult.
pub async fn consume_message_directly(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let mut header = ConsumeMessageDirectlyResultRequestHeader::decode(request.fields())
        .map_err(BrokerError::bad_header)?;
    // Java fills these in before relaying, from its own config and metadata.
    header.broker_name = Some(shard.config().broker_name.clone());
    let snapshot = shard.snapshot();
    if let Some(topic) = header.topic.as_deref().filter(|topic| !topic.is_empty()) {
        if let Some(config) = snapshot.topics.get(topic) {
            header.topic_sys_flag = Some(config.topic_sys_flag);
        }
    }
    if snapshot.groups.contains_key(&header.consumer_group) {
        // Ramjet's groups carry no sys flag; Java's default is 0.
        header.group_sys_flag = Some(0);
    }
    drop(snapshot);
    let msg_id = header.msg_id.clone().unwrap_or_default();
    // Java reads the message before it looks for the client; an id that names no stored
    // message fails there (SYSTEM_ERROR), and so it does here, with a remark that says so.
    let physical_offset = decode_offset_msg_id(&msg_id)
        .and_then(|(_, offset)| u64::try_from(offset).ok())
        .ok_or_else(|| {
            BrokerError::Refused(format!(
                "msgId <{msg_id}> is not an offsetMsgId of this broker"
            ))
        })?;
    let body = shard.view(physical_offset).await?;
    let client_id = header.client_id.clone().unwrap_or_default();
    let group = header.consumer_group.clone();
    call_consumer(
        shard,
        request,
        &group,
        &client_id,
        ClientCall::ConsumeMessageDirectly { header, body },
    )
    .await
}

async fn call_consumer(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
    group: &str,
    client_id: &str,
    call: ClientCall,
) -> BrokerResult<RemotingCommand> {
    let channel = find_channel(shard, group, client_id)
        .await?
        .ok_or_else(|| {
            BrokerError::Refused(format!("The Consumer <{group}> <{client_id}> not online"))
        })?;
    if channel.version < FIRST_VERSION_WITH_CLIENT_CALLS {
        return Err(BrokerError::Refused(format!(
            "The Consumer <{client_id}> Version <{}> too low to finish, please upgrade it to V3_1_8_SNAPSHOT",
            channel.version
        )));
    }
    match shard.call_client(channel.key, call).await? {
        Ok(answer) => {
            let mut response = RemotingCommand::response_to(request, answer.code);
            response.remark = answer.remark;
            Ok(response.with_body(answer.body))
        }
        Err(ClientCallError::Timeout { peer, timeout_ms }) => {
            Err(BrokerError::ClientCallTimeout(format!(
                "consumer <{group}> <{client_id}> Timeout: RemotingTimeoutException: wait \
                 response on the channel <{peer}> timeout, {timeout_ms}(ms)"
            )))
        }
        Err(error) => Err(BrokerError::Refused(format!(
            "invoke consumer <{group}> <{client_id}> Exception: {error}"
        ))),
    }
}

/// The online consumer of `group` whose clientId is `client_id` (ConsumerManager.findChannel).
async fn find_channel(
    shard: &Rc<BrokerShard>,
    group: &str,
    client_id: &str,
) -> BrokerResult<Option<ClientChannel>> {
    if client_id.is_empty() {
        return Ok(None);
    }
    match shard
        .leader_call(LeaderRequest::ConsumerChannels {
            group: group.to_owned(),
        })
        .await?
    {
        LeaderReply::Channels(channels) => Ok(channels
            .into_iter()
            .find(|channel| channel.client_id == client_id)),
        _ => Err(BrokerError::Internal(
            "the leader answered no consumer channels".into(),
        )),
    }
}

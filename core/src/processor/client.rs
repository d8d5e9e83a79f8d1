//! Client management (`ClientManageProcessor`, `ConsumerManageProcessor`): HEART_BEAT (34),
//! UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38), LOCK_BATCH_MQ (41),
//! UNLOCK_BATCH_MQ (42), CHECK_CLIENT_CONFIG (46). Bodies are decoded here; the client
//! registry and the locks live on the leader.

use std::rc::Rc;

use ramjet_net::body::heartbeat::HeartbeatData;
use ramjet_net::body::{
    GetConsumerListByGroupResponseBody, LockBatchRequestBody, LockBatchResponseBody, MessageQueue,
    WireBody,
};
use ramjet_net::code::{request, version};
use ramjet_net::header::{
    CommandHeader, ConsumerGroupRequestHeader, UnregisterClientRequestHeader,
};
use ramjet_net::RemotingCommand;

use crate::error::{BrokerError, BrokerResult};
use crate::processor::pull::subscription_selector;
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::{LeaderReply, LeaderRequest, Origin, QueueName};

pub async fn process(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
    origin: &Origin,
) -> BrokerResult<RemotingCommand> {
    let fields = request.fields();
    match request.code {
        request::HEART_BEAT => {
            let data = HeartbeatData::decode(&request.body)
                .map_err(|e| BrokerError::BadBody(format!("bad heartbeat body: {e}")))?;
            check_sql_subscriptions(shard, &data)?;
            let heartbeat = LeaderRequest::Heartbeat {
                data,
                origin: origin.clone(),
            };
            shard.leader_call(heartbeat).await?;
            // The version tells clients which features the broker has (Java refuses SQL92
            // pulls below 232). IS_SUPPORT_HEART_BEAT_V2 lets 5.x clients send `withoutSub`
            // heartbeats, which the client manager honours.
            let mut response = success(request);
            response.version = version::CURRENT;
            response
                .ext_fields_mut()
                .insert("IS_SUPPORT_HEART_BEAT_V2", "true");
            response.ext_fields_mut().insert("IS_SUB_CHANGE", "false");
            Ok(response)
        }
        request::UNREGISTER_CLIENT => {
            let header =
                UnregisterClientRequestHeader::decode(fields).map_err(BrokerError::bad_header)?;
            let unregister = LeaderRequest::UnregisterClient {
                channel: origin.channel,
                producer_group: header.producer_group,
                consumer_group: header.consumer_group,
            };
            shard.leader_call(unregister).await?;
            Ok(success(request))
        }
        request::GET_CONSUMER_LIST_BY_GROUP => {
            let header =
                ConsumerGroupRequestHeader::decode(fields).map_err(BrokerError::bad_header)?;
            let group = header.consumer_group;
            let LeaderReply::Strings(ids) = shard
                .leader_call(LeaderRequest::ConsumerIds { group })
                .await?
            else {
                return Err(BrokerError::Internal(
                    "consumer ids answered no list".into(),
                ));
            };
            let body = GetConsumerListByGroupResponseBody {
                consumer_id_list: ids,
            };
            Ok(success(request).with_body(body.encode()))
        }
        request::LOCK_BATCH_MQ | request::UNLOCK_BATCH_MQ => {
            let body = LockBatchRequestBody::decode(&request.body)
                .map_err(|e| BrokerError::BadBody(format!("bad lock body: {e}")))?;
            let queues: Vec<QueueName> = body
                .mq_set
                .into_iter()
                .map(|mq| (mq.topic, mq.broker_name, mq.queue_id))
                .collect();
            let group = body.consumer_group;
            let client_id = body.client_id;
            if request.code == request::UNLOCK_BATCH_MQ {
                let unlock = LeaderRequest::UnlockBatch {
                    group,
                    client_id,
                    queues,
                };
                shard.leader_call(unlock).await?;
                return Ok(success(request));
            }
            let lock = LeaderRequest::LockBatch {
                group,
                client_id,
                queues,
            };
            let LeaderReply::Queues(locked) = shard.leader_call(lock).await? else {
                return Err(BrokerError::Internal("lock answered no queues".into()));
            };
            let lock_ok_mq_set = locked
                .into_iter()
                .map(|(topic, broker_name, queue_id)| {
                    MessageQueue::new(&topic, &broker_name, queue_id)
                })
                .collect();
            let body = LockBatchResponseBody { lock_ok_mq_set };
            Ok(success(request).with_body(body.encode()))
        }
        request::CHECK_CLIENT_CONFIG => check_client_config(shard, request),
        other => Err(BrokerError::Internal(format!(
            "code {other} is not a client code"
        ))),
    }
}

/// With `enablePropertyFilter`, a heartbeat whose SQL92 subscription does not compile is
/// refused (SUBSCRIPTION_PARSE_FAILED naming the group, topic and error) before anything
/// is registered: answering SUCCESS would promise a subscription the broker cannot serve.
/// (Java registers it and only its pulls fail.) With the filter off the heartbeat is
/// accepted as in Java, and the pulls get SYSTEM_ERROR.
fn check_sql_subscriptions(shard: &BrokerShard, data: &HeartbeatData) -> BrokerResult<()> {
    let config = shard.config();
    if !config.enable_property_filter {
        return Ok(());
    }
    for consumer in &data.consumers {
        for subscription in &consumer.subscriptions {
            let selector = subscription_selector(
                &config,
                &subscription.expression_type,
                &subscription.sub_string,
            );
            if let Err(BrokerError::SubscriptionParseFailed(reason)) = selector {
                return Err(BrokerError::SubscriptionParseFailed(format!(
                    "consumer group {} topic {}: {reason}",
                    consumer.group_name, subscription.topic
                )));
            }
        }
    }
    Ok(())
}

/// `ClientManageProcessor.checkClientConfig`: the Java consumer asks at start whether its
/// SQL92 subscription will be served. TAG (or no subscription): SUCCESS; property filter
/// off: SYSTEM_ERROR; an expression that does not compile: SUBSCRIPTION_PARSE_FAILED with
/// the parse error.
fn check_client_config(
    shard: &BrokerShard,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    if request.body.is_empty() {
        return Ok(success(request));
    }
    let body = ramjet_net::body::fastjson::parse(&request.body)
        .map_err(|e| BrokerError::BadBody(format!("bad CHECK_CLIENT_CONFIG body: {e}")))?;
    let Some(subscription) = body.get("subscriptionData").filter(|v| !v.is_null()) else {
        return Ok(success(request));
    };
    let field = |name: &str| {
        subscription
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or("")
    };
    subscription_selector(&shard.config(), field("expressionType"), field("subString"))?;
    Ok(success(request))
}

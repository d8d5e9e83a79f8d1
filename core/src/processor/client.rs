//! Client management on the leader shard (`ClientManageProcessor`, `ConsumerManageProcessor`):
//! HEART_BEAT (34), UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38),
//! LOCK_BATCH_MQ (41), UNLOCK_BATCH_MQ (42), CHECK_CLIENT_CONFIG (46).

use std::time::Instant;

use ramjet_net::body::heartbeat::HeartbeatData;
use ramjet_net::code::{request, response, version};
use ramjet_net::header::{
    CommandHeader, ConsumerGroupRequestHeader, UnregisterClientRequestHeader,
};
use ramjet_net::RemotingCommand;
use serde::{Deserialize, Serialize};

use crate::response_code::{bad_header, error, success};
use crate::shard::{BrokerShard, Origin};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueue {
    pub broker_name: String,
    pub queue_id: i32,
    pub topic: String,
}

/// LOCK_BATCH_MQ / UNLOCK_BATCH_MQ body. 4.x clients omit `onlyThisBroker`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct LockBatchRequestBody {
    client_id: String,
    consumer_group: String,
    mq_set: Vec<MessageQueue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LockBatchResponseBody {
    #[serde(rename = "lockOKMQSet")]
    lock_ok_mq_set: Vec<MessageQueue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConsumerListBody {
    consumer_id_list: Vec<String>,
}

pub async fn process(
    shard: &BrokerShard,
    request: &RemotingCommand,
    origin: &Origin,
) -> RemotingCommand {
    let leader = shard
        .leader()
        .expect("client codes run on the leader")
        .clone();
    let fields = request.fields();
    match request.code {
        request::HEART_BEAT => match HeartbeatData::decode(&request.body) {
            Ok(data) => {
                leader.heartbeat(&data, origin).await;
                // The version tells clients which features the broker has (Java refuses
                // SQL92 pulls below 232). IS_SUPPORT_HEART_BEAT_V2 lets 5.x clients send
                // `withoutSub` heartbeats, which the client manager honours.
                let mut response = success(request);
                response.version = version::CURRENT;
                response
                    .ext_fields_mut()
                    .insert("IS_SUPPORT_HEART_BEAT_V2", "true");
                response.ext_fields_mut().insert("IS_SUB_CHANGE", "false");
                response
            }
            Err(e) => error(
                request,
                response::SYSTEM_ERROR,
                format!("bad heartbeat body: {e}"),
            ),
        },
        request::UNREGISTER_CLIENT => match UnregisterClientRequestHeader::decode(fields) {
            Ok(header) => {
                leader
                    .unregister_client(
                        origin.channel,
                        header.producer_group.as_deref(),
                        header.consumer_group.as_deref(),
                    )
                    .await;
                success(request)
            }
            Err(e) => bad_header(request, e),
        },
        request::GET_CONSUMER_LIST_BY_GROUP => match ConsumerGroupRequestHeader::decode(fields) {
            Ok(header) => {
                let ids = leader.clients.borrow().consumer_ids(&header.consumer_group);
                if ids.is_empty() {
                    let remark = format!("no consumer for this group, {}", header.consumer_group);
                    return error(request, response::SYSTEM_ERROR, remark);
                }
                let body = serde_json::to_vec(&ConsumerListBody {
                    consumer_id_list: ids,
                })
                .expect("serializes");
                success(request).with_body(body)
            }
            Err(e) => bad_header(request, e),
        },
        request::LOCK_BATCH_MQ | request::UNLOCK_BATCH_MQ => {
            let body: LockBatchRequestBody =
                match ramjet_net::body::fastjson::from_slice(&request.body) {
                    Ok(body) => body,
                    Err(e) => {
                        return error(
                            request,
                            response::SYSTEM_ERROR,
                            format!("bad lock body: {e}"),
                        )
                    }
                };
            let queues: Vec<(String, String, i32)> = body
                .mq_set
                .iter()
                .map(|mq| (mq.topic.clone(), mq.broker_name.clone(), mq.queue_id))
                .collect();
            if request.code == request::UNLOCK_BATCH_MQ {
                leader.clients.borrow_mut().unlock_batch(
                    &body.consumer_group,
                    &queues,
                    &body.client_id,
                );
                return success(request);
            }
            let locked = leader.clients.borrow_mut().try_lock_batch(
                &body.consumer_group,
                &queues,
                &body.client_id,
                Instant::now(),
            );
            let lock_ok_mq_set = locked
                .into_iter()
                .map(|(topic, broker_name, queue_id)| MessageQueue {
                    broker_name,
                    queue_id,
                    topic,
                })
                .collect();
            let body =
                serde_json::to_vec(&LockBatchResponseBody { lock_ok_mq_set }).expect("serializes");
            success(request).with_body(body)
        }
        request::CHECK_CLIENT_CONFIG => check_client_config(request),
        other => unreachable!("code {other} is not a client code"),
    }
}

/// Only TAG subscriptions are served; SQL92 needs property filtering, not built yet.
fn check_client_config(request: &RemotingCommand) -> RemotingCommand {
    let body = ramjet_net::body::fastjson::parse(&request.body).unwrap_or_default();
    let expression_type = body
        .pointer("/subscriptionData/expressionType")
        .and_then(|v| v.as_str())
        .unwrap_or("TAG");
    if expression_type.eq_ignore_ascii_case("TAG") {
        success(request)
    } else {
        error(
            request,
            response::SYSTEM_ERROR,
            "The broker does not support consumer to filter message by SQL92",
        )
    }
}

//! updateSubGroup and deleteSubGroup (Java's `UpdateSubGroupSubCommand`,
//! `DeleteSubscriptionGroupCommand`).

use clap::{ArgGroup, Args};
use ramjet_net::body::{SubscriptionGroupConfig, WireBody};
use ramjet_net::code::request;
use ramjet_net::header::{CommandHeader, DeleteSubscriptionGroupRequestHeader};
use ramjet_net::RemotingCommand;

use super::topic::{delete_topic_in_cluster, DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX};
use super::Target;
use crate::attributes::parse_attributes;
use crate::error::{AdminError, AdminResult};
use crate::format::java_bool;
use crate::remote::Remote;

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
pub struct UpdateSubGroup {
    /// create subscription group to which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// create subscription group to which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
    /// consumer group name
    #[arg(short = 'g', long = "groupName")]
    group: String,
    /// consume enable
    #[arg(short = 's', long = "consumeEnable")]
    consume_enable: Option<String>,
    /// from min offset
    #[arg(short = 'm', long = "consumeFromMinEnable")]
    consume_from_min_enable: Option<String>,
    /// broadcast
    #[arg(short = 'd', long = "consumeBroadcastEnable")]
    consume_broadcast_enable: Option<String>,
    /// consume message orderly
    #[arg(short = 'o', long = "consumeMessageOrderly")]
    consume_message_orderly: Option<String>,
    /// retry queue nums
    #[arg(short = 'q', long = "retryQueueNums")]
    retry_queue_nums: Option<i32>,
    /// retry max times
    #[arg(short = 'r', long = "retryMaxTimes")]
    retry_max_times: Option<i32>,
    /// the json string of retry policy, e.g.
    /// {"type":"EXPONENTIAL","exponentialRetryPolicy":{"initial":5000,"max":7200000,"multiplier":2}}
    #[arg(short = 'p', long = "groupRetryPolicy")]
    group_retry_policy: Option<String>,
    /// consumer from which broker id
    #[arg(short = 'i', long = "brokerId")]
    broker_id: Option<i64>,
    /// which broker id when consume slowly
    #[arg(short = 'w', long = "whichBrokerWhenConsumeSlowly")]
    which_broker_when_consume_slowly: Option<i64>,
    /// notify consumerId changed
    #[arg(short = 'a', long = "notifyConsumerIdsChanged")]
    notify_consumer_ids_changed: Option<String>,
    /// attribute(+a=b,+c=d,-e)
    #[arg(long = "attributes")]
    attributes: Option<String>,
}

fn config_from(args: &UpdateSubGroup) -> AdminResult<SubscriptionGroupConfig> {
    // Java's tool starts from `new SubscriptionGroupConfig()` but turns broadcast and
    // consume-from-min off unless asked.
    let mut config = SubscriptionGroupConfig::named(args.group.trim());
    let flag = |value: &Option<String>, default: bool| value.as_deref().map_or(default, java_bool);
    config.consume_enable = flag(&args.consume_enable, config.consume_enable);
    config.consume_from_min_enable = flag(&args.consume_from_min_enable, false);
    config.consume_broadcast_enable = flag(&args.consume_broadcast_enable, false);
    config.consume_message_orderly = flag(&args.consume_message_orderly, false);
    config.notify_consumer_ids_changed_enable = flag(&args.notify_consumer_ids_changed, true);
    config.retry_queue_nums = args.retry_queue_nums.unwrap_or(config.retry_queue_nums);
    config.retry_max_times = args.retry_max_times.unwrap_or(config.retry_max_times);
    config.broker_id = args.broker_id.unwrap_or(config.broker_id);
    config.which_broker_when_consume_slowly = args
        .which_broker_when_consume_slowly
        .unwrap_or(config.which_broker_when_consume_slowly);
    if let Some(policy) = &args.group_retry_policy {
        config.group_retry_policy = serde_json::from_str(policy.trim())
            .map_err(|e| AdminError::Usage(format!("-p is not JSON of a GroupRetryPolicy: {e}")))?;
    }
    if let Some(text) = &args.attributes {
        config.attributes = parse_attributes(text).map_err(AdminError::Usage)?;
    }
    Ok(config)
}

pub fn update_sub_group(remote: &mut Remote, args: &UpdateSubGroup) -> AdminResult<()> {
    let config = config_from(args)?;
    let body = config.encode();
    let request =
        RemotingCommand::request(request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).with_body(body);
    let addrs = match Target::of(&args.broker, &args.cluster) {
        Target::Broker(addr) => vec![addr.to_owned()],
        Target::Cluster(cluster) => remote.master_addrs_of_cluster(cluster)?,
    };
    for addr in &addrs {
        remote.call_broker("UPDATE_AND_CREATE_SUBSCRIPTIONGROUP", addr, request.clone())?;
        println!("create subscription group to {addr} success.");
    }
    println!("{config}");
    Ok(())
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
pub struct DeleteSubGroup {
    /// delete subscription group from which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// delete subscription group from which cluster; also deletes %RETRY%<group> and
    /// %DLQ%<group> there
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
    /// subscription group name
    #[arg(short = 'g', long = "groupName")]
    group: String,
    /// remove offset (true|false)
    #[arg(short = 'r', long = "removeOffset")]
    remove_offset: Option<String>,
}

pub fn delete_sub_group(remote: &mut Remote, args: &DeleteSubGroup) -> AdminResult<()> {
    let group = args.group.trim();
    let header = DeleteSubscriptionGroupRequestHeader {
        group_name: group.to_owned(),
        clean_offset: Some(args.remove_offset.as_deref().is_some_and(java_bool)),
    };
    let request = RemotingCommand::request(request::DELETE_SUBSCRIPTIONGROUP)
        .with_ext_fields(header.to_ext_fields());
    let cluster = match Target::of(&args.broker, &args.cluster) {
        Target::Broker(addr) => {
            remote.call_broker("DELETE_SUBSCRIPTIONGROUP", addr, request)?;
            println!("delete subscription group [{group}] from broker [{addr}] success.");
            return Ok(());
        }
        Target::Cluster(cluster) => cluster,
    };
    for addr in remote.master_addrs_of_cluster(cluster)? {
        remote.call_broker("DELETE_SUBSCRIPTIONGROUP", &addr, request.clone())?;
        println!("delete subscription group [{group}] from broker [{addr}] in cluster [{cluster}] success.");
    }
    // As Java: the group's retry and dead-letter topics go too; they may never have
    // existed, so a failure here is a warning.
    for prefix in [RETRY_GROUP_TOPIC_PREFIX, DLQ_GROUP_TOPIC_PREFIX] {
        if let Err(error) = delete_topic_in_cluster(remote, cluster, &format!("{prefix}{group}")) {
            eprintln!("mqadmin: warning: {error}");
        }
    }
    Ok(())
}

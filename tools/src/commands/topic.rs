//! Topic commands: updateTopic, deleteTopic, topicList, topicRoute, topicStatus,
//! topicClusterList (Java's `tools/command/topic/*SubCommand`).

use std::collections::{BTreeMap, BTreeSet};

use clap::{ArgGroup, Args};
use ramjet_net::body::{GroupList, TopicConfig, TopicList as TopicListBody, TopicStatsTable};
use ramjet_net::client::{requests, select_addr};
use ramjet_net::code::{request, response};
use ramjet_net::header::{
    CommandHeader, DeleteTopicFromNamesrvRequestHeader, PutKvConfigRequestHeader,
    TopicRequestHeader,
};
use ramjet_net::RemotingCommand;

use super::Target;
use crate::attributes::{java_map, parse_attributes};
use crate::error::{AdminError, AdminResult};
use crate::format::{front, java_bool, perm_to_string};
use crate::remote::{expect_success, read_body, Remote};
use crate::time::human_ms;

/// The topic mqadmin names as `defaultTopic` when creating one (`TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC`).
pub const AUTO_CREATE_TOPIC: &str = ramjet_net::client::requests::DEFAULT_TOPIC;
/// Name-server KV namespace of order-topic settings (`NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG`).
const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
pub struct UpdateTopic {
    /// create topic to which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// create topic to which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// set read queue nums
    #[arg(short = 'r', long = "readQueueNums", default_value_t = 8)]
    read_queue_nums: i32,
    /// set write queue nums
    #[arg(short = 'w', long = "writeQueueNums", default_value_t = 8)]
    write_queue_nums: i32,
    /// set topic's permission(2|4|6), intro[2:W 4:R; 6:RW]
    #[arg(short = 'p', long = "perm", default_value_t = 6)]
    perm: i32,
    /// set topic's order(true|false)
    #[arg(short = 'o', long = "order", default_value = "false")]
    order: String,
    /// is unit topic (true|false)
    #[arg(short = 'u', long = "unit", default_value = "false")]
    unit: String,
    /// has unit sub (true|false)
    #[arg(short = 's', long = "hasUnitSub", default_value = "false")]
    has_unit_sub: String,
    /// attribute(+a=b,+c=d,-e)
    #[arg(short = 'a', long = "attributes")]
    attributes: Option<String>,
}

pub fn update_topic(remote: &mut Remote, args: &UpdateTopic) -> AdminResult<()> {
    let attributes = match &args.attributes {
        Some(text) => parse_attributes(text).map_err(AdminError::Usage)?,
        None => BTreeMap::new(),
    };
    let order = java_bool(&args.order);
    // `TopicSysFlag.buildSysFlag(unit, hasUnitSub)`.
    let sys_flag =
        i32::from(java_bool(&args.unit)) | (i32::from(java_bool(&args.has_unit_sub)) << 1);
    let topic = args.topic.trim();
    let config = TopicConfig {
        order,
        topic_sys_flag: sys_flag,
        ..TopicConfig::new(
            topic,
            args.read_queue_nums,
            args.write_queue_nums,
            args.perm,
        )
    };
    let attributes_text = args
        .attributes
        .as_deref()
        .filter(|_| !attributes.is_empty());
    let request = requests::create_topic(&config, attributes_text);
    let config_text = format!(
        "TopicConfig [topicName={topic}, readQueueNums={}, writeQueueNums={}, perm={}, \
         topicFilterType=SINGLE_TAG, topicSysFlag={sys_flag}, order={order}, attributes={}]",
        args.read_queue_nums,
        args.write_queue_nums,
        perm_to_string(args.perm),
        java_map(&attributes)
    );
    let cluster = match Target::of(&args.broker, &args.cluster) {
        Target::Broker(addr) => {
            remote.call_broker("UPDATE_AND_CREATE_TOPIC", addr, request)?;
            if order {
                let broker_name = broker_name_of_addr(remote, addr)?;
                let order_conf = format!("{broker_name}:{}", args.write_queue_nums);
                put_order_conf(remote, topic, &order_conf)?;
                println!("set broker orderConf. isOrder={order}, orderConf=[{order_conf}]");
            }
            println!("create topic to {addr} success.");
            println!("{config_text}");
            return Ok(());
        }
        Target::Cluster(cluster) => cluster,
    };
    let masters = remote.master_addrs_of_cluster(cluster)?;
    for addr in &masters {
        remote.call_broker("UPDATE_AND_CREATE_TOPIC", addr, request.clone())?;
        println!("create topic to {addr} success.");
    }
    if order {
        let info = remote.cluster_info()?;
        let names = info
            .cluster_addr_table
            .get(cluster)
            .cloned()
            .unwrap_or_default();
        let order_conf: Vec<String> = names
            .iter()
            .map(|name| format!("{name}:{}", args.write_queue_nums))
            .collect();
        let order_conf = order_conf.join(";");
        put_order_conf(remote, topic, &order_conf)?;
        println!("set cluster orderConf. isOrder={order}, orderConf=[{order_conf}]");
    }
    println!("{config_text}");
    Ok(())
}

/// `CommandUtil.fetchBrokerNameByAddr`.
fn broker_name_of_addr(remote: &mut Remote, addr: &str) -> AdminResult<String> {
    let info = remote.cluster_info()?;
    info.broker_addr_table
        .values()
        .find(|data| data.broker_addrs.values().any(|a| a == addr))
        .map(|data| data.broker_name.clone())
        .ok_or_else(|| AdminError::BrokerNotFound(addr.to_owned()))
}

fn put_order_conf(remote: &mut Remote, topic: &str, order_conf: &str) -> AdminResult<()> {
    let header = PutKvConfigRequestHeader {
        namespace: NAMESPACE_ORDER_TOPIC_CONFIG.to_owned(),
        key: topic.to_owned(),
        value: order_conf.to_owned(),
    };
    let request =
        RemotingCommand::request(request::PUT_KV_CONFIG).with_ext_fields(header.to_ext_fields());
    remote.call_every_namesrv("PUT_KV_CONFIG", request)?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct DeleteTopic {
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// delete topic from which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: String,
}

pub fn delete_topic(remote: &mut Remote, args: &DeleteTopic) -> AdminResult<()> {
    delete_topic_in_cluster(remote, args.cluster.trim(), args.topic.trim())
}

/// `DeleteTopicSubCommand.deleteTopic`: from every master of the cluster, then from every
/// name server.
pub fn delete_topic_in_cluster(remote: &mut Remote, cluster: &str, topic: &str) -> AdminResult<()> {
    let masters = remote.master_addrs_of_cluster(cluster)?;
    let header = TopicRequestHeader {
        topic: topic.to_owned(),
    };
    for addr in &masters {
        let request = RemotingCommand::request(request::DELETE_TOPIC_IN_BROKER)
            .with_ext_fields(header.to_ext_fields());
        remote.call_broker("DELETE_TOPIC_IN_BROKER", addr, request)?;
    }
    println!("delete topic [{topic}] from cluster [{cluster}] success.");
    let header = DeleteTopicFromNamesrvRequestHeader {
        topic: topic.to_owned(),
        cluster_name: Some(cluster.to_owned()),
    };
    let request = RemotingCommand::request(request::DELETE_TOPIC_IN_NAMESRV)
        .with_ext_fields(header.to_ext_fields());
    remote.call_every_namesrv("DELETE_TOPIC_IN_NAMESRV", request)?;
    println!("delete topic [{topic}] from NameServer success.");
    Ok(())
}

#[derive(Args, Debug)]
pub struct TopicList {
    /// clusterModel: also print each topic's cluster and consumer groups
    #[arg(short = 'c', long = "clusterModel")]
    cluster_model: bool,
}

/// GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
pub fn all_topics(remote: &mut Remote) -> AdminResult<BTreeSet<String>> {
    let request = RemotingCommand::request(request::GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
    let (addr, response) = remote.invoke_namesrv(request)?;
    let response = expect_success("GET_ALL_TOPIC_LIST_FROM_NAMESERVER", &addr, response)?;
    let list: TopicListBody =
        read_body("GET_ALL_TOPIC_LIST_FROM_NAMESERVER", &addr, &response.body)?;
    Ok(list.topic_list)
}

pub fn topic_list(remote: &mut Remote, args: &TopicList) -> AdminResult<()> {
    let topics = all_topics(remote)?;
    if !args.cluster_model {
        for topic in &topics {
            println!("{topic}");
        }
        return Ok(());
    }
    let info = remote.cluster_info()?;
    println!(
        "{:<20}  {:<48}  {:<48}",
        "#Cluster Name", "#Topic", "#Consumer Group"
    );
    for topic in &topics {
        if topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) || topic.starts_with(DLQ_GROUP_TOPIC_PREFIX)
        {
            continue;
        }
        // As Java: a topic whose route or consumers cannot be read still gets a row.
        let route = remote.route(topic).ok();
        let cluster = route
            .as_ref()
            .and_then(|route| route.broker_datas.first())
            .and_then(|data| {
                info.cluster_addr_table
                    .iter()
                    .find(|(_, names)| names.contains(&data.broker_name))
                    .map(|(cluster, _)| cluster.clone())
            })
            .unwrap_or_default();
        let mut groups = route
            .as_ref()
            .and_then(|route| consumer_groups_of(remote, route, topic).ok())
            .unwrap_or_default();
        if groups.is_empty() {
            groups.push(String::new());
        }
        for group in groups {
            println!(
                "{:<20}  {:<64}  {:<64}",
                front(&cluster, 20),
                front(topic, 64),
                front(&group, 64)
            );
        }
    }
    Ok(())
}

/// `queryTopicConsumeByWho`: QUERY_TOPIC_CONSUME_BY_WHO on the first broker of the route.
pub fn consumer_groups_of(
    remote: &mut Remote,
    route: &ramjet_net::body::TopicRouteData,
    topic: &str,
) -> AdminResult<Vec<String>> {
    let Some(addr) = route
        .broker_datas
        .iter()
        .find_map(|d| select_addr(&d.broker_addrs))
    else {
        return Ok(Vec::new());
    };
    let header = TopicRequestHeader {
        topic: topic.to_owned(),
    };
    let request = RemotingCommand::request(request::QUERY_TOPIC_CONSUME_BY_WHO)
        .with_ext_fields(header.to_ext_fields());
    let response = remote.call_broker("QUERY_TOPIC_CONSUME_BY_WHO", &addr, request)?;
    let list: GroupList = read_body("QUERY_TOPIC_CONSUME_BY_WHO", &addr, &response.body)?;
    Ok(list.group_list)
}

#[derive(Args, Debug)]
pub struct TopicRoute {
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// Use list format to print data
    #[arg(short = 'l', long = "list")]
    list: bool,
}

pub fn topic_route(remote: &mut Remote, args: &TopicRoute) -> AdminResult<()> {
    let topic = args.topic.trim();
    let route = remote.route(topic)?;
    if !args.list {
        // Pretty JSON as Java's `toJson(true)`, with the 4.x and 5.x field names both.
        let value = serde_json::to_value(&route).expect("a route serializes");
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON prints")
        );
        return Ok(());
    }
    let row = |cluster: &str, name: &str, addrs: &str, read: &str, write: &str, perm: &str| {
        println!("{cluster:<45} {name:<32} {addrs:<50} {read:<10} {write:<11} {perm:<5}");
    };
    row(
        "#ClusterName",
        "#BrokerName",
        "#BrokerAddrs",
        "#ReadQueue",
        "#WriteQueue",
        "#Perm",
    );
    let (mut read_total, mut write_total) = (0, 0);
    let mut brokers = route.broker_datas.clone();
    brokers.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    let mut names = BTreeSet::new();
    for data in &brokers {
        let Some(queue) = route
            .queue_datas
            .iter()
            .find(|q| q.broker_name == data.broker_name)
        else {
            continue;
        };
        names.insert(data.broker_name.clone());
        read_total += queue.read_queue_nums;
        write_total += queue.write_queue_nums;
        // Java prints the address map with its toString: {0=127.0.0.1:10911}.
        let addrs: BTreeMap<String, String> = data
            .broker_addrs
            .iter()
            .map(|(id, addr)| (id.to_string(), addr.clone()))
            .collect();
        row(
            &data.cluster,
            &data.broker_name,
            &java_map(&addrs),
            &queue.read_queue_nums.to_string(),
            &queue.write_queue_nums.to_string(),
            &queue.perm.to_string(),
        );
    }
    println!("{}", "-".repeat(158));
    row(
        "Total:",
        &names.len().to_string(),
        "",
        &read_total.to_string(),
        &write_total.to_string(),
        "",
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct TopicStatus {
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
    /// cluster name: ask every master of this cluster instead of the topic's route
    #[arg(short = 'c', long = "cluster")]
    cluster: Option<String>,
}

/// GET_TOPIC_STATS_INFO on every broker of the topic (or of `cluster`), merged.
pub fn topic_stats(
    remote: &mut Remote,
    topic: &str,
    cluster: Option<&str>,
) -> AdminResult<TopicStatsTable> {
    let addrs = match cluster {
        Some(cluster) => remote.master_addrs_of_cluster(cluster)?,
        None => {
            let route = remote.route(topic)?;
            route
                .broker_datas
                .iter()
                .filter_map(|data| select_addr(&data.broker_addrs))
                .collect()
        }
    };
    let mut merged = TopicStatsTable::default();
    for addr in addrs {
        let header = TopicRequestHeader {
            topic: topic.to_owned(),
        };
        let request = RemotingCommand::request(request::GET_TOPIC_STATS_INFO)
            .with_ext_fields(header.to_ext_fields());
        let response = remote.invoke_broker(&addr, request)?;
        if response.code == response::TOPIC_NOT_EXIST {
            return Err(AdminError::TopicNotExist(topic.to_owned()));
        }
        let response = expect_success("GET_TOPIC_STATS_INFO", &addr, response)?;
        let table: TopicStatsTable = read_body("GET_TOPIC_STATS_INFO", &addr, &response.body)?;
        merged.offset_table.extend(table.offset_table);
        if let Some(tps) = table.topic_put_tps {
            merged.topic_put_tps = Some(merged.topic_put_tps.unwrap_or(0.0) + tps);
        }
    }
    Ok(merged)
}

pub fn topic_status(remote: &mut Remote, args: &TopicStatus) -> AdminResult<()> {
    let stats = topic_stats(
        remote,
        args.topic.trim(),
        args.cluster.as_deref().map(str::trim),
    )?;
    println!(
        "{:<32}  {:<4}  {:<20}  {:<20}    #Last Updated",
        "#Broker Name", "#QID", "#Min Offset", "#Max Offset"
    );
    for (queue, offset) in &stats.offset_table {
        let updated = if offset.last_update_timestamp > 0 {
            human_ms(offset.last_update_timestamp)
        } else {
            String::new()
        };
        println!(
            "{:<32}  {:<4}  {:<20}  {:<20}    {}",
            front(&queue.broker_name, 32),
            queue.queue_id,
            offset.min_offset,
            offset.max_offset,
            updated
        );
    }
    println!();
    // Java prints the double as is; 4.x brokers send none.
    match stats.topic_put_tps {
        Some(tps) => println!("Topic Put TPS: {tps:?}"),
        None => println!("Topic Put TPS: 0.0"),
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct TopicClusterList {
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
}

pub fn topic_cluster_list(remote: &mut Remote, args: &TopicClusterList) -> AdminResult<()> {
    let route = remote.route(args.topic.trim())?;
    let info = remote.cluster_info()?;
    let broker_name = &route.broker_datas[0].broker_name; // route() rejects empty routes.
    for (cluster, names) in &info.cluster_addr_table {
        if names.contains(broker_name) {
            println!("{cluster}");
        }
    }
    Ok(())
}

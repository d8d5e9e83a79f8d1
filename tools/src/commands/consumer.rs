//! consumerProgress, consumerConnection and producerConnection (Java's
//! `ConsumerProgressSubCommand`, `ConsumerConnectionSubCommand`,
//! `ProducerConnectionSubCommand`).

use clap::Args;
use ramjet_net::body::{
    Connection, ConsumeStats, ConsumerConnection as ConsumerConnectionBody,
    ProducerConnection as ProducerConnectionBody,
};
use ramjet_net::client::select_addr;
use ramjet_net::code::{request, response};
use ramjet_net::header::{
    CommandHeader, ConsumerGroupRequestHeader, GetConsumeStatsRequestHeader,
    GetProducerConnectionListRequestHeader,
};
use ramjet_net::RemotingCommand;

use super::topic::{all_topics, RETRY_GROUP_TOPIC_PREFIX};
use crate::error::{AdminError, AdminResult};
use crate::format::{front, version_desc};
use crate::remote::{expect_success, read_body, Remote};
use crate::time::date_time;

/// The brokers that know a group: those of its retry topic (created when its first
/// consumer connects), else of the topic it consumes (`examineConsumeStats`), else every
/// broker the name server knows. The last step goes beyond Java's tool: a group whose
/// consumers never connected, or whose retry topic is not registered yet, is still found.
pub(crate) fn group_brokers(
    remote: &mut Remote,
    group: &str,
    topic: Option<&str>,
) -> AdminResult<Vec<String>> {
    let retry_topic = format!("{RETRY_GROUP_TOPIC_PREFIX}{group}");
    let route = match (remote.route(&retry_topic), topic) {
        (Ok(route), _) => Some(route),
        (Err(AdminError::TopicNotExist(_)), Some(topic)) => Some(remote.route(topic)?),
        (Err(AdminError::TopicNotExist(_)), None) => None,
        (Err(other), _) => return Err(other),
    };
    let datas = match route {
        Some(route) => route.broker_datas,
        None => remote
            .cluster_info()?
            .broker_addr_table
            .into_values()
            .collect(),
    };
    Ok(datas
        .iter()
        .filter_map(|d| select_addr(&d.broker_addrs))
        .collect())
}

/// GET_CONSUME_STATS from every broker of the group (or every master of `cluster`), merged.
pub fn consume_stats(
    remote: &mut Remote,
    group: &str,
    topic: Option<&str>,
    cluster: Option<&str>,
) -> AdminResult<ConsumeStats> {
    let addrs: Vec<String> = match cluster {
        Some(cluster) => remote.master_addrs_of_cluster(cluster)?,
        None => group_brokers(remote, group, topic)?,
    };
    let mut merged = ConsumeStats::default();
    let mut refusal = None;
    for addr in addrs {
        match consume_stats_at(remote, &addr, group, topic)? {
            Ok(stats) => {
                merged.consume_tps += stats.consume_tps;
                merged.offset_table.extend(stats.offset_table);
            }
            Err(error) => refusal = Some(error),
        }
    }
    if merged.offset_table.is_empty() {
        return Err(refusal.unwrap_or_else(|| {
            AdminError::NotFound(format!(
                "consumer group {group} has no consume stats: it has not consumed any message"
            ))
        }));
    }
    Ok(merged)
}

/// GET_CONSUME_STATS from one broker. The inner error is the broker's refusal: a broker
/// that knows nothing of the group answers SUCCESS with an empty table (Apache) or an
/// error (Ramjet), and callers treat both as "no rows here".
pub fn consume_stats_at(
    remote: &mut Remote,
    addr: &str,
    group: &str,
    topic: Option<&str>,
) -> AdminResult<Result<ConsumeStats, AdminError>> {
    let header = GetConsumeStatsRequestHeader {
        consumer_group: group.to_owned(),
        topic: topic.map(str::to_owned),
    };
    let request = RemotingCommand::request(request::GET_CONSUME_STATS)
        .with_ext_fields(header.to_ext_fields());
    let response = remote.invoke_broker(addr, request)?;
    let response = match expect_success("GET_CONSUME_STATS", addr, response) {
        Ok(response) => response,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let stats = read_body("GET_CONSUME_STATS", addr, &response.body)?;
    Ok(Ok(stats))
}

/// GET_CONSUMER_CONNECTION_LIST: from `broker` when given, else from the group's brokers.
pub fn consumer_connection_of(
    remote: &mut Remote,
    group: &str,
    broker: Option<&str>,
) -> AdminResult<ConsumerConnectionBody> {
    let addrs: Vec<String> = match broker {
        Some(addr) => vec![addr.to_owned()],
        None => group_brokers(remote, group, None)?,
    };
    for addr in &addrs {
        let header = ConsumerGroupRequestHeader {
            consumer_group: group.to_owned(),
        };
        let request = RemotingCommand::request(request::GET_CONSUMER_CONNECTION_LIST)
            .with_ext_fields(header.to_ext_fields());
        let response = remote.invoke_broker(addr, request)?;
        if response.code == response::CONSUMER_NOT_ONLINE {
            continue;
        }
        let response = expect_success("GET_CONSUMER_CONNECTION_LIST", addr, response)?;
        let connection: ConsumerConnectionBody =
            read_body("GET_CONSUMER_CONNECTION_LIST", addr, &response.body)?;
        if !connection.connection_set.is_empty() {
            return Ok(connection);
        }
    }
    Err(AdminError::ConsumerNotOnline(group.to_owned()))
}

#[derive(Args, Debug)]
pub struct ConsumerProgress {
    /// consumer group name; without it, one line per group found on the name server
    #[arg(short = 'g', long = "groupName")]
    group: Option<String>,
    /// topic name
    #[arg(short = 't', long = "topicName")]
    topic: Option<String>,
    /// Show Client IP per Queue (true|false)
    #[arg(short = 's', long = "showClientIP")]
    show_client_ip: Option<String>,
    /// Cluster name: ask its masters instead of the brokers on the group's route
    #[arg(short = 'c', long = "cluster")]
    cluster: Option<String>,
}

pub fn consumer_progress(remote: &mut Remote, args: &ConsumerProgress) -> AdminResult<()> {
    let Some(group) = args.group.as_deref().map(str::trim) else {
        return all_groups_progress(remote);
    };
    let topic = args.topic.as_deref().map(str::trim);
    let stats = consume_stats(remote, group, topic, args.cluster.as_deref().map(str::trim))?;
    // The client IP per queue comes from GET_CONSUMER_RUNNING_INFO, which a broker relays to
    // each client; it prints N/A where that is unavailable.
    let show_client_ip = args
        .show_client_ip
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if show_client_ip {
        println!(
            "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20} {:<20} {:<20}#LastTime",
            "#Topic",
            "#Broker Name",
            "#QID",
            "#Broker Offset",
            "#Consumer Offset",
            "#Client IP",
            "#Diff",
            "#Inflight"
        );
    } else {
        println!(
            "{:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20} {:<20}#LastTime",
            "#Topic",
            "#Broker Name",
            "#QID",
            "#Broker Offset",
            "#Consumer Offset",
            "#Diff",
            "#Inflight"
        );
    }
    let (mut diff_total, mut inflight_total) = (0i64, 0i64);
    for (queue, offset) in &stats.offset_table {
        let diff = offset.broker_offset - offset.consumer_offset;
        let inflight = offset.pull_offset - offset.consumer_offset;
        diff_total += diff;
        inflight_total += inflight;
        let last_time = if offset.last_timestamp == 0 {
            "N/A".to_owned()
        } else {
            date_time(offset.last_timestamp)
        };
        let topic = front(&queue.topic, 64);
        let broker = front(&queue.broker_name, 32);
        if show_client_ip {
            println!(
                "{topic:<64}  {broker:<32}  {:<4}  {:<20}  {:<20}  {:<20} {diff:<20} {inflight:<20} {last_time}",
                queue.queue_id, offset.broker_offset, offset.consumer_offset, "N/A"
            );
        } else {
            println!(
                "{topic:<64}  {broker:<32}  {:<4}  {:<20}  {:<20}  {diff:<20} {inflight:<20} {last_time}",
                queue.queue_id, offset.broker_offset, offset.consumer_offset
            );
        }
    }
    println!();
    println!("Consume TPS: {:.2}", stats.consume_tps);
    println!("Consume Diff Total: {diff_total}");
    println!("Consume Inflight Total: {inflight_total}");
    Ok(())
}

/// consumerProgress without -g: every group that has a retry topic.
fn all_groups_progress(remote: &mut Remote) -> AdminResult<()> {
    println!(
        "{:<64}  {:<6}  {:<24} {:<5}  {:<14}  {:<7}  #Diff Total",
        "#Group", "#Count", "#Version", "#Type", "#Model", "#TPS"
    );
    for topic in all_topics(remote)? {
        let Some(group) = topic.strip_prefix(RETRY_GROUP_TOPIC_PREFIX) else {
            continue;
        };
        // Java logs and skips what it cannot read; a group may be offline or have no offsets.
        let stats = consume_stats(remote, group, None, None).ok();
        let connection = consumer_connection_of(remote, group, None).ok();
        let count = connection.as_ref().map_or(0, |c| c.connection_set.len());
        let (version, consume_type, model) = match connection.as_ref().filter(|_| count > 0) {
            Some(c) => {
                let active = c.consume_type.as_deref() == Some("CONSUME_ACTIVELY");
                let model = if active {
                    ""
                } else {
                    c.message_model.as_deref().unwrap_or("")
                };
                (
                    version_desc(c.min_version()),
                    if active { "PULL" } else { "PUSH" },
                    model.to_owned(),
                )
            }
            None => ("OFFLINE".to_owned(), "", String::new()),
        };
        println!(
            "{:<64}  {:<6}  {:<24} {:<5}  {:<14}  {:<7}  {}",
            front(group, 64),
            count,
            version,
            consume_type,
            model,
            stats.as_ref().map_or(0, |s| s.consume_tps as i64),
            stats.as_ref().map_or(0, ConsumeStats::total_diff)
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct ConsumerConnection {
    /// consumer group name
    #[arg(short = 'g', long = "consumerGroup")]
    group: String,
    /// broker address
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
}

pub fn consumer_connection(remote: &mut Remote, args: &ConsumerConnection) -> AdminResult<()> {
    let connection = consumer_connection_of(
        remote,
        args.group.trim(),
        args.broker.as_deref().map(str::trim),
    )?;
    println!(
        "{:<36} {:<22} {:<10} #Version",
        "#ClientId", "#ClientAddr", "#Language"
    );
    for client in &connection.connection_set {
        println!(
            "{:<36} {:<22} {:<10} {}",
            client.client_id,
            client.client_addr,
            client.language,
            version_desc(client.version)
        );
    }
    println!();
    println!("Below is subscription:");
    println!("{:<20} #SubExpression", "#Topic");
    for subscription in connection.subscription_table.values() {
        println!("{:<20} {}", subscription.topic, subscription.sub_string);
    }
    println!();
    let or_null = |value: &Option<String>| value.clone().unwrap_or_else(|| "null".to_owned());
    println!("ConsumeType: {}", or_null(&connection.consume_type));
    println!("MessageModel: {}", or_null(&connection.message_model));
    println!(
        "ConsumeFromWhere: {}",
        or_null(&connection.consume_from_where)
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct ProducerConnection {
    /// producer group name
    #[arg(short = 'g', long = "producerGroup")]
    group: String,
    /// topic name
    #[arg(short = 't', long = "topic")]
    topic: String,
}

/// Every producer connection of `group` on the brokers of `topic` (GET_PRODUCER_CONNECTION_LIST
/// to each master); a broker where the group has no producer adds nothing.
pub fn producer_connections(
    remote: &mut Remote,
    topic: &str,
    group: &str,
) -> AdminResult<Vec<Connection>> {
    let route = remote.route(topic)?;
    let mut connections = Vec::new();
    for addr in route
        .broker_datas
        .iter()
        .filter_map(|d| select_addr(&d.broker_addrs))
    {
        let header = GetProducerConnectionListRequestHeader {
            producer_group: group.to_owned(),
        };
        let request = RemotingCommand::request(request::GET_PRODUCER_CONNECTION_LIST)
            .with_ext_fields(header.to_ext_fields());
        let response = remote.invoke_broker(&addr, request)?;
        // A broker where the group has no producer answers with an empty set or an error.
        let Ok(response) = expect_success("GET_PRODUCER_CONNECTION_LIST", &addr, response) else {
            continue;
        };
        let body: ProducerConnectionBody =
            read_body("GET_PRODUCER_CONNECTION_LIST", &addr, &response.body)?;
        connections.extend(body.connection_set);
    }
    Ok(connections)
}

pub fn producer_connection(remote: &mut Remote, args: &ProducerConnection) -> AdminResult<()> {
    let group = args.group.trim();
    let connections = producer_connections(remote, args.topic.trim(), group)?;
    if connections.is_empty() {
        return Err(AdminError::NotFound(format!(
            "producer group {group} has no connection to the brokers of topic {}",
            args.topic.trim()
        )));
    }
    for (index, client) in connections.iter().enumerate() {
        println!(
            "{:04}  {:<32} {:<22} {:<8} {}",
            index + 1,
            client.client_id,
            client.client_addr,
            client.language,
            version_desc(client.version)
        );
    }
    Ok(())
}

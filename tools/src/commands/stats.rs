//! `statsAll` (Java's `StatsAllSubCommand`): per topic and consuming group, the backlog,
//! in and out TPS over the last minute and the messages in and out over 24 hours, from
//! each master's VIEW_BROKER_STATS_DATA (TOPIC_PUT_NUMS by topic, GROUP_GET_NUMS by
//! `topic@group`). As Java, a broker that cannot answer counts as 0.

use clap::Args;
use ramjet_net::code::request;
use ramjet_net::header::{CommandHeader, ViewBrokerStatsDataRequestHeader};
use ramjet_net::RemotingCommand;
use serde::Deserialize;

use super::consumer::consume_stats;
use super::topic::{
    all_topics, consumer_groups_of, DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX,
};
use crate::error::AdminResult;
use crate::format::front;
use crate::remote::{expect_success, read_body_json, Remote};

#[derive(Args, Debug)]
pub struct StatsAll {
    /// print active topic only
    #[arg(short = 'a', long = "activeTopic")]
    active_topic: bool,
    /// print select topic only
    #[arg(short = 't', long = "topic")]
    topic: Option<String>,
}

/// `BrokerStatsItem`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct BrokerStatsItem {
    pub sum: i64,
    pub tps: f64,
    pub avgpt: f64,
}

/// `BrokerStatsData`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BrokerStatsData {
    pub stats_minute: BrokerStatsItem,
    pub stats_hour: BrokerStatsItem,
    pub stats_day: BrokerStatsItem,
}

impl BrokerStatsData {
    /// `StatsAllSubCommand.compute24HourSum`: the day's sum, else the hour's, else the
    /// minute's.
    pub fn sum_24_hours(&self) -> i64 {
        [self.stats_day, self.stats_hour, self.stats_minute]
            .iter()
            .map(|item| item.sum)
            .find(|sum| *sum != 0)
            .unwrap_or(0)
    }
}

/// VIEW_BROKER_STATS_DATA at one broker.
pub fn view_broker_stats_data(
    remote: &mut Remote,
    addr: &str,
    name: &str,
    key: &str,
) -> AdminResult<BrokerStatsData> {
    let header = ViewBrokerStatsDataRequestHeader {
        stats_name: name.to_owned(),
        stats_key: key.to_owned(),
    };
    let request = RemotingCommand::request(request::VIEW_BROKER_STATS_DATA)
        .with_ext_fields(header.to_ext_fields());
    let response = remote.invoke_broker(addr, request)?;
    let response = expect_success("VIEW_BROKER_STATS_DATA", addr, response)?;
    read_body_json("VIEW_BROKER_STATS_DATA", addr, &response.body)
}

pub fn stats_all(remote: &mut Remote, args: &StatsAll) -> AdminResult<()> {
    let topics = all_topics(remote)?;
    println!(
        "{:<64}  {:<64} {:>12} {:>11} {:>11} {:>14} {:>14}",
        "#Topic",
        "#Consumer Group",
        "#Accumulation",
        "#InTPS",
        "#OutTPS",
        "#InMsg24Hour",
        "#OutMsg24Hour"
    );
    let selected = args
        .topic
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    for topic in &topics {
        if topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) || topic.starts_with(DLQ_GROUP_TOPIC_PREFIX)
        {
            continue;
        }
        if selected.is_some_and(|selected| selected != topic) {
            continue;
        }
        // Java skips a topic whose details fail, silently.
        let _ = print_topic_detail(remote, topic, args.active_topic);
    }
    Ok(())
}

fn print_topic_detail(remote: &mut Remote, topic: &str, active_topic: bool) -> AdminResult<()> {
    let route = remote.route(topic)?;
    let groups = consumer_groups_of(remote, &route, topic)?;
    let masters: Vec<String> = route
        .broker_datas
        .iter()
        .filter_map(|data| data.master_addr().map(str::to_owned))
        .collect();
    let (mut in_tps, mut in_today) = (0.0, 0i64);
    for addr in &masters {
        if let Ok(data) = view_broker_stats_data(remote, addr, "TOPIC_PUT_NUMS", topic) {
            in_tps += data.stats_minute.tps;
            in_today += data.sum_24_hours();
        }
    }
    if groups.is_empty() {
        if !active_topic || in_today > 0 {
            println!(
                "{:<64}  {:<64} {:>12} {:>11.2} {:>11} {:>14} {:>14}",
                front(topic, 64),
                "",
                0,
                in_tps,
                "",
                in_today,
                "NO_CONSUMER"
            );
        }
        return Ok(());
    }
    for group in &groups {
        let (mut out_tps, mut out_today) = (0.0, 0i64);
        let key = format!("{topic}@{group}");
        for addr in &masters {
            if let Ok(data) = view_broker_stats_data(remote, addr, "GROUP_GET_NUMS", &key) {
                out_tps += data.stats_minute.tps;
                out_today += data.sum_24_hours();
            }
        }
        let accumulate = consume_stats(remote, group, Some(topic), None)
            .map(|stats| stats.total_diff().max(0))
            .unwrap_or(0);
        if !active_topic || in_today > 0 || out_today > 0 {
            println!(
                "{:<64}  {:<64} {:>12} {:>11.2} {:>11.2} {:>14} {:>14}",
                front(topic, 64),
                front(group, 64),
                accumulate,
                in_tps,
                out_tps,
                in_today,
                out_today
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_broker_stats_data_and_picks_the_24_hour_sum_as_java() {
        let data: BrokerStatsData = serde_json::from_str(
            r#"{"statsDay":{"avgpt":0.0,"sum":0,"tps":0.0},"statsHour":{"avgpt":1.0,"sum":7,"tps":0.01},"statsMinute":{"avgpt":1.0,"sum":3,"tps":0.05}}"#,
        )
        .unwrap();
        assert_eq!(data.sum_24_hours(), 7);
        assert_eq!(data.stats_minute.tps, 0.05);
        assert_eq!(BrokerStatsData::default().sum_24_hours(), 0);
    }
}

//! clusterList and brokerStatus: GET_BROKER_CLUSTER_INFO from the name server, then
//! GET_BROKER_RUNTIME_INFO from each broker (Java's `ClusterListSubCommand`,
//! `BrokerStatusSubCommand`).

use std::collections::BTreeMap;
use std::time::Duration;

use clap::{ArgGroup, Args};
use ramjet_net::body::{ClusterInfo, KvTable};
use ramjet_net::code::request;
use ramjet_net::RemotingCommand;

use super::Target;
use crate::error::AdminResult;
use crate::remote::{read_body, Remote};
use crate::time::now_ms;

#[derive(Args, Debug)]
pub struct ClusterList {
    /// Print more stats
    #[arg(short = 'm', long = "moreStats")]
    more_stats: bool,
    /// print again every this many seconds, until interrupted
    #[arg(short = 'i', long = "interval")]
    interval: Option<u64>,
    /// which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
}

/// GET_BROKER_RUNTIME_INFO as a map of strings.
pub fn runtime_stats(remote: &mut Remote, addr: &str) -> AdminResult<BTreeMap<String, String>> {
    let request = RemotingCommand::request(request::GET_BROKER_RUNTIME_INFO);
    let response = remote.call_broker("GET_BROKER_RUNTIME_INFO", addr, request)?;
    let table: KvTable = read_body("GET_BROKER_RUNTIME_INFO", addr, &response.body)?;
    Ok(table.table)
}

pub fn cluster_list(remote: &mut Remote, args: &ClusterList) -> AdminResult<()> {
    loop {
        let info = remote.cluster_info()?;
        let clusters: Vec<String> = match &args.cluster {
            Some(cluster) => vec![cluster.trim().to_owned()],
            None => info.cluster_addr_table.keys().cloned().collect(),
        };
        if args.more_stats {
            print_more_stats(remote, &info, &clusters);
        } else {
            print_base_info(remote, &info, &clusters);
        }
        match args.interval {
            Some(seconds) => std::thread::sleep(Duration::from_secs(seconds.max(1))),
            None => return Ok(()),
        }
    }
}

/// Every (cluster, broker name, broker id, address), in name and id order.
fn brokers<'a>(
    info: &'a ClusterInfo,
    clusters: &'a [String],
) -> impl Iterator<Item = (&'a str, &'a str, i64, &'a str)> + 'a {
    clusters.iter().flat_map(move |cluster| {
        let names = info.cluster_addr_table.get(cluster).into_iter().flatten();
        names
            .filter_map(move |name| info.broker_addr_table.get(name))
            .flat_map(move |data| {
                data.broker_addrs.iter().map(move |(id, addr)| {
                    (
                        cluster.as_str(),
                        data.broker_name.as_str(),
                        *id,
                        addr.as_str(),
                    )
                })
            })
    })
}

/// The stats of one broker, or empty (printed as Java prints missing values) with a
/// warning when it cannot be read: one dead broker must not hide the others.
fn stats_or_warn(remote: &mut Remote, addr: &str) -> Option<BTreeMap<String, String>> {
    match runtime_stats(remote, addr) {
        Ok(stats) => Some(stats),
        Err(error) => {
            eprintln!("mqadmin: warning: {error}");
            None
        }
    }
}

fn print_base_info(remote: &mut Remote, info: &ClusterInfo, clusters: &[String]) {
    println!(
        "{:<22}  {:<22}  {:<4}  {:<22} {:<16}  {:>16}  {:>30}  {:<22}  {:<11}  {:<12}  {:<8}  {:<10}",
        "#Cluster Name",
        "#Broker Name",
        "#BID",
        "#Addr",
        "#Version",
        "#InTPS(LOAD)",
        "#OutTPS(LOAD)",
        "#Timer(Progress)",
        "#PCWait(ms)",
        "#Hour",
        "#SPACE",
        "#ACTIVATED"
    );
    for (cluster, name, id, addr) in brokers(info, clusters) {
        let stats = stats_or_warn(remote, addr);
        // Java starts from "" and then reads each key, which is "null" when absent.
        let get = |key: &str| match &stats {
            Some(stats) => stats.get(key).cloned().unwrap_or_else(|| "null".to_owned()),
            None => String::new(),
        };
        let get_or = |key: &str, default: &str| match &stats {
            Some(stats) => stats
                .get(key)
                .cloned()
                .unwrap_or_else(|| default.to_owned()),
            None => String::new(),
        };
        let first_number = |text: String| -> f64 {
            text.split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0.0)
        };
        let number = |key: &str| -> f64 { get(key).parse().unwrap_or(0.0) };
        let in_tps = first_number(get("putTps"));
        let out_tps = first_number(get("getTransferredTps"));
        let earliest = get("earliestMessageTimeStamp");
        let hour = earliest
            .parse::<i64>()
            .map_or(0.0, |ms| (now_ms() - ms) as f64 / 1000.0 / 60.0 / 60.0);
        let space = number("commitLogDiskRatio");
        let active = stats
            .as_ref()
            .and_then(|s| s.get("brokerActive"))
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let in_load = format!(
            "{in_tps:9.2}({},{}ms)",
            get("sendThreadPoolQueueSize"),
            get("sendThreadPoolQueueHeadWaitTimeMills")
        );
        let out_load = format!(
            "{out_tps:9.2}({},{}ms|{},{}ms)",
            get("pullThreadPoolQueueSize"),
            get("pullThreadPoolQueueHeadWaitTimeMills"),
            get_or("ackThreadPoolQueueSize", "N"),
            get_or("ackThreadPoolQueueHeadWaitTimeMills", "N")
        );
        let timer = format!(
            "{}-{}({:.1}w, {:.1}, {:.1})",
            number("timerReadBehind") as i64,
            number("timerOffsetBehind") as i64,
            number("timerCongestNum") / 10000.0,
            number("timerEnqueueTps"),
            number("timerDequeueTps")
        );
        println!(
            "{:<22}  {:<22}  {:<4}  {:<22} {:<16}  {:>16}  {:>30}  {:<22}  {:>11}  {:<12}  {:<8}  {:>10}",
            cluster,
            name,
            id,
            addr,
            get("brokerVersionDesc"),
            in_load,
            out_load,
            timer,
            get("pageCacheLockTimeMills"),
            format!("{hour:2.2}"),
            format!("{space:.4}"),
            active
        );
    }
}

fn print_more_stats(remote: &mut Remote, info: &ClusterInfo, clusters: &[String]) {
    println!(
        "{:<16}  {:<32} {:>14} {:>14} {:>14} {:>14}",
        "#Cluster Name",
        "#Broker Name",
        "#InTotalYest",
        "#OutTotalYest",
        "#InTotalToday",
        "#OutTotalToday"
    );
    for (cluster, name, _, addr) in brokers(info, clusters) {
        let stats = stats_or_warn(remote, addr).unwrap_or_default();
        let value = |key: &str| stats.get(key).and_then(|v| v.parse::<i64>().ok());
        let difference = |later: &str, earlier: &str| match (value(later), value(earlier)) {
            (Some(later), Some(earlier)) => later - earlier,
            _ => 0,
        };
        println!(
            "{:<16}  {:<32} {:>14} {:>14} {:>14} {:>14}",
            cluster,
            name,
            difference("msgPutTotalTodayMorning", "msgPutTotalYesterdayMorning"),
            difference("msgGetTotalTodayMorning", "msgGetTotalYesterdayMorning"),
            difference("msgPutTotalTodayNow", "msgPutTotalTodayMorning"),
            difference("msgGetTotalTodayNow", "msgGetTotalTodayMorning")
        );
    }
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
pub struct BrokerStatus {
    /// Broker address
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
}

pub fn broker_status(remote: &mut Remote, args: &BrokerStatus) -> AdminResult<()> {
    let cluster = match Target::of(&args.broker, &args.cluster) {
        Target::Broker(addr) => {
            for (key, value) in runtime_stats(remote, addr)? {
                println!("{key:<32}: {value}");
            }
            return Ok(());
        }
        Target::Cluster(cluster) => cluster,
    };
    for addr in remote.all_addrs_of_cluster(cluster)? {
        match runtime_stats(remote, &addr) {
            Ok(stats) => {
                for (key, value) in stats {
                    println!("{addr:<24} {key:<32}: {value}");
                }
            }
            // As Java: report the broker that failed and carry on with the rest.
            Err(error) => eprintln!("mqadmin: warning: {error}"),
        }
    }
    Ok(())
}

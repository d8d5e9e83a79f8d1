//! getBrokerConfig and updateBrokerConfig: GET_BROKER_CONFIG / UPDATE_BROKER_CONFIG, whose
//! bodies are Java properties text (Java's `GetBrokerConfigCommand`,
//! `UpdateBrokerConfigSubCommand`).

use clap::{ArgGroup, Args};
use ramjet_net::code::request;
use ramjet_net::properties;
use ramjet_net::RemotingCommand;

use super::Target;
use crate::error::{AdminError, AdminResult};
use crate::remote::Remote;

/// `CommandUtil.NO_MASTER_PLACEHOLDER`: a broker name whose master is gone.
const NO_MASTER_PLACEHOLDER: &str = "NO_MASTER";

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
pub struct GetBrokerConfig {
    /// get which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// get which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
}

pub fn get_broker_config(remote: &mut Remote, args: &GetBrokerConfig) -> AdminResult<()> {
    let cluster = match Target::of(&args.broker, &args.cluster) {
        Target::Broker(addr) => {
            return print_config(remote, &format!("============{addr}============\n"), addr)
        }
        Target::Cluster(cluster) => cluster,
    };
    // `CommandUtil.fetchMasterAndSlaveDistinguish`: each master, then its slaves.
    let info = remote.cluster_info()?;
    let names = info
        .cluster_addr_table
        .get(cluster)
        .cloned()
        .ok_or_else(|| AdminError::ClusterNotFound(cluster.to_owned()))?;
    for name in names {
        let Some(data) = info.broker_addr_table.get(&name) else {
            continue;
        };
        let master = data
            .master_addr()
            .unwrap_or(NO_MASTER_PLACEHOLDER)
            .to_owned();
        print_config(
            remote,
            &format!("============Master: {master}============\n"),
            &master,
        )?;
        for (_, slave) in data.broker_addrs.iter().filter(|(id, _)| **id != 0) {
            let prefix =
                format!("============My Master: {master}=====Slave: {slave}============\n");
            print_config(remote, &prefix, slave)?;
        }
    }
    Ok(())
}

fn print_config(remote: &mut Remote, prefix: &str, addr: &str) -> AdminResult<()> {
    print!("{prefix}");
    if addr == NO_MASTER_PLACEHOLDER {
        return Ok(());
    }
    let request = RemotingCommand::request(request::GET_BROKER_CONFIG);
    let response = remote.call_broker("GET_BROKER_CONFIG", addr, request)?;
    let text = String::from_utf8_lossy(&response.body);
    let pairs = properties::parse(&text);
    if pairs.is_empty() {
        println!("Broker[{addr}] has no config property!");
        return Ok(());
    }
    for (key, value) in pairs {
        println!("{key:<50}=  {value}");
    }
    println!();
    Ok(())
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
pub struct UpdateBrokerConfig {
    /// update which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// update which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
    /// with -c: update all brokers include slave (any value)
    #[arg(short = 'a', long = "updateAllBroker")]
    all_brokers: Option<String>,
    /// config key
    #[arg(short = 'k', long = "key")]
    key: String,
    /// config value
    #[arg(short = 'v', long = "value")]
    value: String,
}

pub fn update_broker_config(remote: &mut Remote, args: &UpdateBrokerConfig) -> AdminResult<()> {
    let body = properties::to_text([(args.key.trim(), args.value.trim())]);
    let request =
        RemotingCommand::request(request::UPDATE_BROKER_CONFIG).with_body(body.into_bytes());
    let cluster = match Target::of(&args.broker, &args.cluster) {
        Target::Broker(addr) => {
            remote.call_broker("UPDATE_BROKER_CONFIG", addr, request)?;
            println!("update broker config success, {addr}");
            return Ok(());
        }
        Target::Cluster(cluster) => cluster,
    };
    let addrs = if args.all_brokers.is_some() {
        remote.all_addrs_of_cluster(cluster)?
    } else {
        remote.master_addrs_of_cluster(cluster)?
    };
    // Java carries on past a broker that refuses; the exit code still says so here.
    let (mut failed, total) = (0, addrs.len());
    for addr in addrs {
        match remote.call_broker("UPDATE_BROKER_CONFIG", &addr, request.clone()) {
            Ok(_) => println!("update broker config success, {addr}"),
            Err(error) => {
                eprintln!("mqadmin: {error}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(AdminError::Failed(format!(
            "updateBrokerConfig failed on {failed} of {total} brokers"
        )));
    }
    Ok(())
}

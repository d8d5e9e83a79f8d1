//! mqadmin's subcommands, with RocketMQ's names, flags and column output. One module per
//! family; each command is an `Args` struct (its flags and help) and a `run` function.

pub mod acl;
pub mod broker;
pub mod broker_consume_stats;
pub mod client_call;
pub mod cluster;
pub mod consumer;
pub mod dlq;
pub mod group;
pub mod message;
pub mod offset;
pub mod query;
pub mod stats;
pub mod topic;
pub mod tuning;

use clap::{Parser, Subcommand};

use crate::error::AdminResult;
use crate::remote::Remote;

#[derive(Parser, Debug)]
#[command(
    name = "mqadmin",
    version,
    about = "RocketMQ admin tool for Ramjet and Apache RocketMQ name servers and brokers",
    after_help = "The name server comes from -n or, when -n is absent, from $NAMESRV_ADDR.\n\
                  `mqadmin help <command>` describes one command."
)]
pub struct Cli {
    /// Name server address list, e.g. 127.0.0.1:9876;192.168.0.1:9876
    #[arg(short = 'n', long = "namesrvAddr", global = true, value_name = "ADDRS")]
    pub namesrv: Option<String>,
    /// ACL access key: every request is signed as Java's AclClientRPCHook signs it
    /// (default: $ROCKETMQ_ACCESS_KEY).
    #[arg(long = "accessKey", global = true, value_name = "KEY")]
    pub access_key: Option<String>,
    /// ACL secret key for --accessKey (default: $ROCKETMQ_SECRET_KEY).
    #[arg(long = "secretKey", global = true, value_name = "SECRET")]
    pub secret_key: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
#[command(rename_all = "camelCase")]
pub enum Command {
    /// Update or create topic.
    UpdateTopic(topic::UpdateTopic),
    /// Delete topic from broker and NameServer.
    DeleteTopic(topic::DeleteTopic),
    /// Fetch all topic list from name server.
    TopicList(topic::TopicList),
    /// Examine topic route info.
    TopicRoute(topic::TopicRoute),
    /// Examine topic Status info.
    TopicStatus(topic::TopicStatus),
    /// Get cluster info for topic.
    TopicClusterList(topic::TopicClusterList),
    /// List cluster infos.
    ClusterList(cluster::ClusterList),
    /// Fetch broker runtime status data.
    BrokerStatus(cluster::BrokerStatus),
    /// Fetch broker consume stats data.
    BrokerConsumeStats(broker_consume_stats::BrokerConsumeStats),
    /// Get broker config by cluster or special broker.
    GetBrokerConfig(broker::GetBrokerConfig),
    /// Update broker's config.
    UpdateBrokerConfig(broker::UpdateBrokerConfig),
    /// Update or create subscription group.
    UpdateSubGroup(group::UpdateSubGroup),
    /// Delete subscription group from broker.
    DeleteSubGroup(group::DeleteSubGroup),
    /// Query consumer's progress, speed.
    ConsumerProgress(consumer::ConsumerProgress),
    /// Query consumer's socket connection, client version and subscription.
    ConsumerConnection(consumer::ConsumerConnection),
    /// Topic and Consumer tps stats.
    StatsAll(stats::StatsAll),
    /// Query consumer's internal data structure.
    ConsumerStatus(client_call::ConsumerStatus),
    /// Query producer's socket connection and client version.
    ProducerConnection(consumer::ProducerConnection),
    /// Query Message by Id.
    QueryMsgById(query::QueryMsgById),
    /// Query Message by Key.
    QueryMsgByKey(query::QueryMsgByKey),
    /// Query Message by Unique key.
    QueryMsgByUniqueKey(query::QueryMsgByUniqueKey),
    /// Query Message by offset.
    QueryMsgByOffset(query::QueryMsgByOffset),
    /// Reset consumer offset by timestamp(without client restart).
    ResetOffsetByTime(offset::ResetOffsetByTime),
    /// Send a message.
    SendMessage(message::SendMessage),
    /// Consume message.
    ConsumeMessage(message::ConsumeMessage),
    /// Print Message Detail.
    PrintMsg(message::PrintMsg),
    /// List the dead letters of a consumer group (%DLQ%<group>).
    PrintDlqMsg(dlq::PrintDlqMsg),
    /// Resend a dead letter to its original topic (or the group's retry topic).
    ResendDlqMsg(dlq::ResendDlqMsg),
    /// Compare this machine's kernel and limit settings with a tuning profile.
    CheckTuning(tuning::CheckTuning),
    /// Update acl config yaml file in broker (the account is -a/-s; sign with --accessKey).
    UpdateAclConfig(acl::UpdateAclConfig),
    /// Delete Acl Config Account in broker.
    #[command(alias = "deleteAccessConfig")]
    DeleteAclConfig(acl::DeleteAclConfig),
    /// List all of acl config version information in cluster.
    ClusterAclConfigVersion(acl::ClusterAclConfigVersion),
    /// Update global white address for acl Config File in broker.
    UpdateGlobalWhiteAddr(acl::UpdateGlobalWhiteAddr),
    /// List all of acl config information in cluster.
    #[command(alias = "getAccessConfigSubCommand")]
    GetAclConfig(acl::GetAclConfig),
}

/// Where a broker-admin command acts: the `-b <addr>` / `-c <cluster>` pair that clap's
/// `ArgGroup` makes exactly one of.
pub(crate) enum Target<'a> {
    Broker(&'a str),
    Cluster(&'a str),
}

impl<'a> Target<'a> {
    pub(crate) fn of(broker: &'a Option<String>, cluster: &'a Option<String>) -> Target<'a> {
        match (broker, cluster) {
            (Some(addr), _) => Target::Broker(addr.trim()),
            (None, Some(cluster)) => Target::Cluster(cluster.trim()),
            (None, None) => unreachable!("clap's ArgGroup requires -b or -c"),
        }
    }
}

/// Runs one command. `Ok(false)` means it ran but reports a failure through the exit code
/// (checkTuning --strict with differences).
pub fn run(cli: Cli) -> AdminResult<bool> {
    let namesrv = cli.namesrv.or_else(|| std::env::var("NAMESRV_ADDR").ok());
    let access_key = cli
        .access_key
        .or_else(|| std::env::var("ROCKETMQ_ACCESS_KEY").ok());
    let secret_key = cli
        .secret_key
        .or_else(|| std::env::var("ROCKETMQ_SECRET_KEY").ok());
    let credentials = match (access_key, secret_key) {
        (Some(ak), Some(sk)) => Some(ramjet_net::acl::SessionCredentials::new(&ak, &sk)),
        (None, None) => crate::tools_yml::credentials()?,
        _ => {
            return Err(crate::error::AdminError::Usage(
                "--accessKey and --secretKey go together".into(),
            ))
        }
    };
    let mut remote = Remote::new(namesrv.as_deref()).with_credentials(credentials);
    let remote = &mut remote;
    match cli.command {
        Command::UpdateTopic(args) => topic::update_topic(remote, &args),
        Command::DeleteTopic(args) => topic::delete_topic(remote, &args),
        Command::TopicList(args) => topic::topic_list(remote, &args),
        Command::TopicRoute(args) => topic::topic_route(remote, &args),
        Command::TopicStatus(args) => topic::topic_status(remote, &args),
        Command::TopicClusterList(args) => topic::topic_cluster_list(remote, &args),
        Command::ClusterList(args) => cluster::cluster_list(remote, &args),
        Command::BrokerStatus(args) => cluster::broker_status(remote, &args),
        Command::BrokerConsumeStats(args) => {
            broker_consume_stats::broker_consume_stats(remote, &args)
        }
        Command::GetBrokerConfig(args) => broker::get_broker_config(remote, &args),
        Command::UpdateBrokerConfig(args) => broker::update_broker_config(remote, &args),
        Command::UpdateSubGroup(args) => group::update_sub_group(remote, &args),
        Command::DeleteSubGroup(args) => group::delete_sub_group(remote, &args),
        Command::ConsumerProgress(args) => consumer::consumer_progress(remote, &args),
        Command::ConsumerConnection(args) => consumer::consumer_connection(remote, &args),
        Command::StatsAll(args) => stats::stats_all(remote, &args),
        Command::ConsumerStatus(args) => client_call::consumer_status(remote, &args),
        Command::ProducerConnection(args) => consumer::producer_connection(remote, &args),
        Command::QueryMsgById(args) => query::query_msg_by_id(remote, &args),
        Command::QueryMsgByKey(args) => query::query_msg_by_key(remote, &args),
        Command::QueryMsgByUniqueKey(args) => query::query_msg_by_unique_key(remote, &args),
        Command::QueryMsgByOffset(args) => query::query_msg_by_offset(remote, &args),
        Command::ResetOffsetByTime(args) => offset::reset_offset_by_time(remote, &args),
        Command::SendMessage(args) => message::send_message(remote, &args),
        Command::ConsumeMessage(args) => message::consume_message(remote, &args),
        Command::PrintMsg(args) => message::print_msg(remote, &args),
        Command::PrintDlqMsg(args) => dlq::print_dlq_msg(remote, &args),
        Command::ResendDlqMsg(args) => dlq::resend_dlq_msg(remote, &args),
        Command::CheckTuning(args) => return tuning::check_tuning(&args),
        Command::UpdateAclConfig(args) => acl::update_acl_config(remote, &args),
        Command::DeleteAclConfig(args) => acl::delete_acl_config(remote, &args),
        Command::ClusterAclConfigVersion(args) => acl::cluster_acl_config_version(remote, &args),
        Command::UpdateGlobalWhiteAddr(args) => acl::update_global_white_addr(remote, &args),
        Command::GetAclConfig(args) => acl::get_acl_config(remote, &args),
    }
    .map(|()| true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn java_style_command_lines_parse() {
        let cli = Cli::try_parse_from([
            "mqadmin",
            "updateTopic",
            "-n",
            "127.0.0.1:9876",
            "-c",
            "DefaultCluster",
            "-t",
            "T",
            "-r",
            "4",
            "-w",
            "4",
        ])
        .unwrap();
        assert_eq!(cli.namesrv.as_deref(), Some("127.0.0.1:9876"));
        assert!(matches!(cli.command, Command::UpdateTopic(_)));
        // -b and -c together are refused, as Java's option group does.
        let both =
            Cli::try_parse_from(["mqadmin", "updateTopic", "-b", "a:1", "-c", "C", "-t", "T"]);
        assert!(both.is_err());
    }

    #[test]
    fn acl_account_flags_do_not_replace_the_signing_keys() {
        let cli = Cli::try_parse_from([
            "mqadmin",
            "--accessKey",
            "adminKey01",
            "--secretKey",
            "adminSecret01",
            "updateAclConfig",
            "-b",
            "127.0.0.1:10911",
            "-a",
            "newKey0001",
            "-s",
            "newSecret001",
        ])
        .unwrap();
        assert_eq!(cli.access_key.as_deref(), Some("adminKey01"));
        assert_eq!(cli.secret_key.as_deref(), Some("adminSecret01"));
    }
}

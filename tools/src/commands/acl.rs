//! The ACL 1.0 commands (Java's `tools/command/acl/`): updateAclConfig, deleteAclConfig,
//! clusterAclConfigVersion, updateGlobalWhiteAddr and getAclConfig, on
//! UPDATE_AND_CREATE_ACL_CONFIG (50), DELETE_ACL_CONFIG (51), GET_BROKER_CLUSTER_ACL_INFO
//! (52), UPDATE_GLOBAL_WHITE_ADDRS_CONFIG (53) and GET_BROKER_CLUSTER_ACL_CONFIG (54).
//!
//! `-a`/`-s` name the account being edited; the credentials that sign the request are
//! mqadmin's own `--accessKey/--secretKey` (or the environment, or conf/tools.yml), so
//! these commands take `-a`/`-s` in their short form only, and their arg ids differ from
//! the global ones (clap merges a global arg with a subcommand arg of the same id).

use clap::{ArgGroup, Args};
use ramjet_net::body::{AclConfigBody, DataVersion};
use ramjet_net::code::request;
use ramjet_net::header::{
    CommandHeader, CreateAccessConfigRequestHeader, DeleteAccessConfigRequestHeader,
    GetBrokerAclConfigResponseHeader, UpdateGlobalWhiteAddrsConfigRequestHeader,
};
use ramjet_net::RemotingCommand;

use super::Target;
use crate::error::{AdminError, AdminResult};
use crate::format::java_bool;
use crate::remote::{read_body, Remote};
use crate::time::date_time;

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
pub struct UpdateAclConfig {
    /// update acl config file to which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// update acl config file to which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
    /// set accessKey in acl config file
    #[arg(short = 'a', value_name = "ACCESS_KEY")]
    account_key: String,
    /// set secretKey in acl config file
    #[arg(short = 's', value_name = "SECRET_KEY")]
    account_secret: String,
    /// set white ip Address for account in acl config file
    #[arg(short = 'w', long = "whiteRemoteAddress")]
    white_remote_address: Option<String>,
    /// set default topicPerm in acl config file
    #[arg(short = 'i', long = "defaultTopicPerm")]
    default_topic_perm: Option<String>,
    /// set default GroupPerm in acl config file
    #[arg(short = 'u', long = "defaultGroupPerm")]
    default_group_perm: Option<String>,
    /// set topicPerms list,eg: topicA=DENY,topicD=SUB
    #[arg(short = 't', long = "topicPerms")]
    topic_perms: Option<String>,
    /// set groupPerms list,eg: groupD=DENY,groupD=SUB
    #[arg(short = 'g', long = "groupPerms")]
    group_perms: Option<String>,
    /// set admin flag in acl config file
    #[arg(short = 'm', long = "admin")]
    admin: Option<String>,
}

/// Java's `String.split(",")` of a `-t`/`-g` list: trailing empty items dropped.
fn split_java(text: &str) -> Vec<String> {
    let mut items: Vec<String> = text.split(',').map(str::to_owned).collect();
    while items.len() > 1 && items.last().is_some_and(|s| s.is_empty()) {
        items.pop();
    }
    items
}

impl UpdateAclConfig {
    /// The header `MQClientAPIImpl.createPlainAccessConfig` sends: `admin` always, the
    /// lists comma-joined.
    fn header(&self) -> CreateAccessConfigRequestHeader {
        let trimmed = |v: &Option<String>| v.as_deref().map(|s| s.trim().to_owned());
        CreateAccessConfigRequestHeader {
            access_key: self.account_key.trim().to_owned(),
            secret_key: Some(self.account_secret.trim().to_owned()),
            white_remote_address: trimmed(&self.white_remote_address),
            admin: Some(self.admin.as_deref().is_some_and(java_bool)),
            default_topic_perm: trimmed(&self.default_topic_perm),
            default_group_perm: trimmed(&self.default_group_perm),
            topic_perms: trimmed(&self.topic_perms).map(|t| split_java(&t).join(",")),
            group_perms: trimmed(&self.group_perms).map(|g| split_java(&g).join(",")),
        }
    }
}

/// What Java prints after an update (its `PlainAccessConfig`), without the secret.
fn describe(header: &CreateAccessConfigRequestHeader) -> String {
    let list = |v: &Option<String>| match v {
        Some(items) => format!("[{}]", items.split(',').collect::<Vec<_>>().join(", ")),
        None => "null".into(),
    };
    let text = |v: &Option<String>| match v {
        Some(text) => format!("'{text}'"),
        None => "null".into(),
    };
    format!(
        "PlainAccessConfig{{accessKey='{}', whiteRemoteAddress={}, admin={}, defaultTopicPerm={}, defaultGroupPerm={}, topicPerms={}, groupPerms={}}}",
        header.access_key,
        text(&header.white_remote_address),
        header.admin.unwrap_or(false),
        text(&header.default_topic_perm),
        text(&header.default_group_perm),
        list(&header.topic_perms),
        list(&header.group_perms),
    )
}

/// Runs `request` on `-b`'s broker, or on every broker of `-c`'s cluster (masters and
/// slaves, `fetchMasterAndSlaveAddrByClusterName`), printing `done(addr)` after each.
fn on_every_broker(
    remote: &mut Remote,
    what: &'static str,
    target: Target<'_>,
    request: &RemotingCommand,
    done: impl Fn(&str),
) -> AdminResult<()> {
    let addrs = match target {
        Target::Broker(addr) => vec![addr.to_owned()],
        Target::Cluster(cluster) => remote.all_addrs_of_cluster(cluster)?,
    };
    for addr in addrs {
        remote.call_broker(what, &addr, request.clone())?;
        done(&addr);
    }
    Ok(())
}

pub fn update_acl_config(remote: &mut Remote, args: &UpdateAclConfig) -> AdminResult<()> {
    let header = args.header();
    let request = RemotingCommand::request(request::UPDATE_AND_CREATE_ACL_CONFIG)
        .with_ext_fields(header.to_ext_fields());
    let target = Target::of(&args.broker, &args.cluster);
    on_every_broker(
        remote,
        "UPDATE_AND_CREATE_ACL_CONFIG",
        target,
        &request,
        |addr| println!("create or update plain access config to {addr} success."),
    )?;
    println!("{}", describe(&header));
    Ok(())
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
pub struct DeleteAclConfig {
    /// delete acl config account from which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// delete acl config account from which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
    /// set accessKey in acl config file for deleting which account
    #[arg(short = 'a', value_name = "ACCESS_KEY")]
    account_key: String,
}

pub fn delete_acl_config(remote: &mut Remote, args: &DeleteAclConfig) -> AdminResult<()> {
    let access_key = args.account_key.trim();
    let header = DeleteAccessConfigRequestHeader {
        access_key: access_key.to_owned(),
    };
    let request = RemotingCommand::request(request::DELETE_ACL_CONFIG)
        .with_ext_fields(header.to_ext_fields());
    on_every_broker(
        remote,
        "DELETE_ACL_CONFIG",
        Target::of(&args.broker, &args.cluster),
        &request,
        |addr| println!("delete plain access config account from {addr} success."),
    )?;
    println!("account's accesskey is:{access_key}");
    Ok(())
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
pub struct UpdateGlobalWhiteAddr {
    /// update global white address to which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// update global white address to which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
    /// set globalWhiteRemoteAddress list,eg: 10.10.103.*,192.168.0.*
    #[arg(
        short = 'g',
        long = "globalWhiteRemoteAddresses",
        allow_hyphen_values = true
    )]
    addresses: String,
    /// update global white address of specified acl file,eg: /xxx/plain_test.yml
    #[arg(short = 'p', long = "aclFileFullPath")]
    acl_file_full_path: Option<String>,
}

pub fn update_global_white_addr(
    remote: &mut Remote,
    args: &UpdateGlobalWhiteAddr,
) -> AdminResult<()> {
    let header = UpdateGlobalWhiteAddrsConfigRequestHeader {
        global_white_addrs: args.addresses.trim().to_owned(),
        acl_file_full_path: args
            .acl_file_full_path
            .as_deref()
            .map(|p| p.trim().to_owned()),
    };
    let request = RemotingCommand::request(request::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG)
        .with_ext_fields(header.to_ext_fields());
    on_every_broker(
        remote,
        "UPDATE_GLOBAL_WHITE_ADDRS_CONFIG",
        Target::of(&args.broker, &args.cluster),
        &request,
        |addr| println!("update global white remote addresses to {addr} success."),
    )
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
pub struct ClusterAclConfigVersion {
    /// query acl config version for which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// query acl config version for specified cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
}

/// `%-16s  %-22s  %-22s  %-20s  %-22s  %-22s`.
fn version_row(cells: [&str; 6]) {
    let [a, b, c, d, e, f] = cells;
    println!("{a:<16}  {b:<22}  {c:<22}  {d:<20}  {e:<22}  {f:<22}");
}

/// `examineBrokerClusterAclVersionInfo` and one row per ACL file.
fn print_version(remote: &mut Remote, addr: &str) -> AdminResult<()> {
    const WHAT: &str = "GET_BROKER_CLUSTER_ACL_INFO";
    let request = RemotingCommand::request(request::GET_BROKER_CLUSTER_ACL_INFO);
    let response = remote.call_broker(WHAT, addr, request)?;
    let bad = |reason: String| AdminError::BadAnswer {
        what: WHAT,
        addr: addr.to_owned(),
        reason,
    };
    let header = GetBrokerAclConfigResponseHeader::decode(response.fields())
        .map_err(|e| bad(e.to_string()))?;
    let files: Vec<(String, DataVersion)> = match header.all_acl_file_version.as_deref() {
        Some(all) => {
            let map: std::collections::BTreeMap<String, DataVersion> =
                ramjet_net::body::fastjson::from_slice(all.as_bytes())
                    .map_err(|e| bad(format!("allAclFileVersion: {e}")))?;
            map.into_iter().collect()
        }
        // A broker older than 4.9 sends only the default file's version.
        None => {
            let version = ramjet_net::body::fastjson::from_slice(header.version.as_bytes())
                .map_err(|e| bad(format!("version: {e}")))?;
            vec![("conf/plain_acl.yml".to_owned(), version)]
        }
    };
    for (path, version) in files {
        version_row([
            &header.cluster_name,
            &header.broker_name,
            &header.broker_addr,
            &path,
            &version.counter.to_string(),
            &date_time(version.timestamp),
        ]);
    }
    Ok(())
}

pub fn cluster_acl_config_version(
    remote: &mut Remote,
    args: &ClusterAclConfigVersion,
) -> AdminResult<()> {
    match Target::of(&args.broker, &args.cluster) {
        Target::Broker(addr) => {
            print_version(remote, addr)?;
            println!("get broker's plain access config version success.");
        }
        Target::Cluster(cluster) => {
            let addrs = remote.master_addrs_of_cluster(cluster)?;
            version_row([
                "#Cluster Name",
                "#Broker Name",
                "#Broker Addr",
                "#AclFilePath",
                "#AclConfigVersionNum",
                "#AclLastUpdateTime",
            ]);
            for addr in addrs {
                print_version(remote, &addr)?;
            }
            println!("get cluster's plain access config version success.");
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
pub struct GetAclConfig {
    /// query acl config version for which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// query acl config version for specified cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
}

/// Java's `GetAccessConfigSubCommand` output: the global white addresses, then each
/// account's fields (`%-1s %-18s: %s`), secrets included as Java prints them.
fn print_config(remote: &mut Remote, addr: &str) -> AdminResult<()> {
    const WHAT: &str = "GET_BROKER_CLUSTER_ACL_CONFIG";
    let request = RemotingCommand::request(request::GET_BROKER_CLUSTER_ACL_CONFIG);
    let response = remote.call_broker(WHAT, addr, request)?;
    let body: AclConfigBody = read_body(WHAT, addr, &response.body)?;
    let java_list = |items: &[String]| format!("[{}]", items.join(", "));
    println!();
    println!(
        "{:<20}: {}",
        "globalWhiteRemoteAddresses",
        java_list(&body.global_white_addrs)
    );
    println!();
    println!("accounts:");
    for config in &body.plain_access_configs {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let list = |v: &Option<Vec<String>>| v.as_deref().map(java_list).unwrap_or_default();
        for (name, value) in [
            ("accessKey", text(&config.access_key)),
            ("secretKey", text(&config.secret_key)),
            ("whiteRemoteAddress", text(&config.white_remote_address)),
            ("admin", config.admin.to_string()),
            ("defaultTopicPerm", text(&config.default_topic_perm)),
            ("defaultGroupPerm", text(&config.default_group_perm)),
            ("topicPerms", list(&config.topic_perms)),
            ("groupPerms", list(&config.group_perms)),
        ] {
            println!("{:<1} {name:<18}: {value}", "");
        }
        println!();
    }
    Ok(())
}

pub fn get_acl_config(remote: &mut Remote, args: &GetAclConfig) -> AdminResult<()> {
    match Target::of(&args.broker, &args.cluster) {
        Target::Broker(addr) => print_config(remote, addr),
        Target::Cluster(cluster) => {
            for addr in remote.master_addrs_of_cluster(cluster)? {
                print_config(remote, &addr)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_as_java_and_admin_is_always_sent() {
        assert_eq!(split_java("a=PUB,b=SUB,,"), vec!["a=PUB", "b=SUB"]);
        assert_eq!(split_java(""), vec![""]);
        let args = UpdateAclConfig {
            broker: Some("127.0.0.1:10911".into()),
            cluster: None,
            account_key: " newKey01 ".into(),
            account_secret: "newSecret01".into(),
            white_remote_address: None,
            default_topic_perm: Some("DENY".into()),
            default_group_perm: None,
            topic_perms: Some("topicA=PUB,topicB=SUB".into()),
            group_perms: None,
            admin: None,
        };
        let header = args.header();
        assert_eq!(header.access_key, "newKey01");
        assert_eq!(header.admin, Some(false));
        let fields = header.to_ext_fields();
        assert_eq!(fields.get("topicPerms"), Some("topicA=PUB,topicB=SUB"));
        assert_eq!(fields.get("admin"), Some("false"));
        assert!(fields.get("groupPerms").is_none());
        assert!(!describe(&header).contains("newSecret01"));
    }
}

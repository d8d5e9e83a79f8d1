//! `plain_acl.yml` and the decision `PlainPermissionManager.validate` makes on one request.

use std::collections::HashMap;
use std::net::IpAddr;

use ramjet_net::body::{AclConfigBody, PlainAccessConfig};
use serde::Deserialize;

use super::address::AddressRule;
use super::resource::{AccessRequest, RETRY_GROUP_TOPIC_PREFIX};

/// `Permission`'s bits.
pub const DENY: u8 = 1;
pub const ANY: u8 = 1 << 1;
pub const PUB: u8 = 1 << 2;
pub const SUB: u8 = 1 << 3;

/// `Permission.ADMIN_CODE`: requests only an admin account may make.
/// Ramjet adds the ACL admin codes (50-54), which Java 4.9 lets any signed account use:
/// an account that may edit the ACL may grant itself anything.
pub const ADMIN_CODES: &[i32] = &[
    ramjet_net::code::request::UPDATE_AND_CREATE_ACL_CONFIG,
    ramjet_net::code::request::DELETE_ACL_CONFIG,
    ramjet_net::code::request::GET_BROKER_CLUSTER_ACL_INFO,
    ramjet_net::code::request::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG,
    ramjet_net::code::request::GET_BROKER_CLUSTER_ACL_CONFIG,
    ramjet_net::code::request::UPDATE_AND_CREATE_TOPIC,
    ramjet_net::code::request::UPDATE_BROKER_CONFIG,
    ramjet_net::code::request::DELETE_TOPIC_IN_BROKER,
    ramjet_net::code::request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
    ramjet_net::code::request::DELETE_SUBSCRIPTIONGROUP,
];

/// Java's `AclConstants`: an access or secret key of 6 characters or fewer is refused.
const KEY_MIN_LENGTH: usize = 6;

/// The message trace topic: a PUB to it skips the resource checks, as in Java.
const RMQ_SYS_TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlainAclFile {
    #[serde(default)]
    global_white_remote_addresses: Option<Vec<serde_yaml::Value>>,
    #[serde(default)]
    accounts: Option<Vec<AccountFile>>,
    /// Written by the admin codes: a list whose first entry counts the edits.
    #[serde(default)]
    data_version: Option<Vec<serde_yaml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountFile {
    access_key: Option<serde_yaml::Value>,
    secret_key: Option<serde_yaml::Value>,
    white_remote_address: Option<serde_yaml::Value>,
    admin: Option<bool>,
    default_topic_perm: Option<String>,
    default_group_perm: Option<String>,
    topic_perms: Option<Vec<serde_yaml::Value>>,
    group_perms: Option<Vec<serde_yaml::Value>>,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub access_key: String,
    secret_key: String,
    white: AddressRule,
    pub admin: bool,
    default_topic_perm: u8,
    default_group_perm: u8,
    /// Topic name (groups as their retry topic, `%RETRY%group`) -> permission.
    perms: HashMap<String, u8>,
}

/// One loaded plain_acl.yml.
#[derive(Debug, Clone, Default)]
pub struct PlainAcl {
    global_white: Vec<AddressRule>,
    accounts: HashMap<String, Account>,
    /// The file's `dataVersion`, what GET_BROKER_CLUSTER_ACL_INFO reports.
    pub data_version: AclDataVersion,
}

/// Java 4.9's `DataVersion` of an ACL file: the counter the admin codes bump, and when.
/// A file without one reads as counter 0 stamped at load time, as Java's `new
/// DataVersion()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AclDataVersion {
    pub counter: i64,
    pub timestamp: i64,
}

impl AclDataVersion {
    fn fresh() -> AclDataVersion {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        AclDataVersion {
            counter: 0,
            timestamp: now,
        }
    }

    fn read(list: Option<&[serde_yaml::Value]>) -> AclDataVersion {
        let Some(first) = list.and_then(|l| l.first()) else {
            return AclDataVersion::fresh();
        };
        let number = |key: &str| {
            first.get(key).and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            })
        };
        let fresh = AclDataVersion::fresh();
        AclDataVersion {
            counter: number("counter").unwrap_or(0),
            timestamp: number("timestamp").unwrap_or(fresh.timestamp),
        }
    }

    /// Java 4.9's `DataVersion.toJson()`.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"counter\":{},\"timestamp\":{}}}",
            self.counter, self.timestamp
        )
    }
}

/// YAML scalars as Java's fastjson `getString` sees them (`secretKey: 12345678` is a number).
pub(super) fn scalar(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `Permission.parsePermFromString`: anything unknown (or absent) is DENY.
pub fn parse_perm(text: Option<&str>) -> u8 {
    match text.map(str::trim) {
        Some("PUB") => PUB,
        Some("SUB") => SUB,
        Some("PUB|SUB") | Some("SUB|PUB") => PUB | SUB,
        _ => DENY,
    }
}

/// `Permission.checkPermission`.
pub fn check_permission(needed: u8, owned: u8) -> bool {
    if owned & DENY != 0 {
        return false;
    }
    if needed & ANY != 0 {
        return owned & (PUB | SUB) != 0;
    }
    needed & owned != 0
}

fn perm_name(perm: u8) -> &'static str {
    match perm {
        PUB => "PUB",
        SUB => "SUB",
        _ => "PUB|SUB",
    }
}

impl PlainAcl {
    /// Parses the file's text; any malformed account makes the whole file an error (the
    /// caller keeps the last good one).
    pub fn parse(text: &str) -> Result<PlainAcl, String> {
        if text.trim().is_empty() {
            return Ok(PlainAcl::empty());
        }
        let file: PlainAclFile = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let mut acl = PlainAcl {
            data_version: AclDataVersion::read(file.data_version.as_deref()),
            ..PlainAcl::default()
        };
        for pattern in file.global_white_remote_addresses.unwrap_or_default() {
            let pattern =
                scalar(&pattern).ok_or("globalWhiteRemoteAddresses holds a non-string")?;
            acl.global_white.push(AddressRule::parse(&pattern)?);
        }
        for account in file.accounts.unwrap_or_default() {
            let account = Account::build(account)?;
            // Java keeps the first definition of an access key.
            acl.accounts
                .entry(account.access_key.clone())
                .or_insert(account);
        }
        Ok(acl)
    }

    /// GET_BROKER_CLUSTER_ACL_CONFIG's body from the file's text (`getAllAclConfig`): the
    /// accounts as written, secrets included (the code is admin-only), first definition
    /// of a key only.
    pub fn config_body(text: &str) -> Result<AclConfigBody, String> {
        if text.trim().is_empty() {
            return Ok(AclConfigBody::default());
        }
        let file: PlainAclFile = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let strings = |list: &Option<Vec<serde_yaml::Value>>| {
            list.as_ref()
                .map(|l| l.iter().filter_map(scalar).collect::<Vec<_>>())
        };
        let mut body = AclConfigBody {
            global_white_addrs: strings(&file.global_white_remote_addresses).unwrap_or_default(),
            plain_access_configs: Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for account in file.accounts.unwrap_or_default() {
            let access_key = account.access_key.as_ref().and_then(scalar);
            if !seen.insert(access_key.clone()) {
                continue;
            }
            body.plain_access_configs.push(PlainAccessConfig {
                access_key,
                secret_key: account.secret_key.as_ref().and_then(scalar),
                white_remote_address: account.white_remote_address.as_ref().and_then(scalar),
                admin: account.admin.unwrap_or(false),
                default_topic_perm: account.default_topic_perm.clone(),
                default_group_perm: account.default_group_perm.clone(),
                topic_perms: strings(&account.topic_perms),
                group_perms: strings(&account.group_perms),
            });
        }
        Ok(body)
    }

    /// No file (or an empty one): nothing is allowed but what no check covers.
    pub fn empty() -> PlainAcl {
        PlainAcl {
            data_version: AclDataVersion::fresh(),
            ..PlainAcl::default()
        }
    }

    pub fn account(&self, access_key: &str) -> Option<&Account> {
        self.accounts.get(access_key)
    }

    /// `PlainPermissionManager.validate`: Ok, or the AclException message.
    pub fn validate(&self, request: &AccessRequest, peer: IpAddr) -> Result<(), String> {
        if self.global_white.iter().any(|rule| rule.matches(peer)) {
            return Ok(());
        }
        let Some(access_key) = request.access_key.as_deref() else {
            return Err("No accessKey is configured".into());
        };
        let Some(account) = self.accounts.get(access_key) else {
            return Err(format!("No acl config for {access_key}"));
        };
        if account.white.matches(peer) {
            return Ok(());
        }
        if !request.signature_valid(&account.secret_key) {
            return Err(format!("Check signature failed for accessKey={access_key}"));
        }
        if request
            .resources
            .iter()
            .any(|(topic, perm)| topic == RMQ_SYS_TRACE_TOPIC && *perm == PUB)
        {
            return Ok(());
        }
        account.check(request)
    }
}

impl Account {
    fn build(file: AccountFile) -> Result<Account, String> {
        let access_key = file
            .access_key
            .as_ref()
            .and_then(scalar)
            .unwrap_or_default();
        let secret_key = file
            .secret_key
            .as_ref()
            .and_then(scalar)
            .unwrap_or_default();
        if access_key.len() <= KEY_MIN_LENGTH || secret_key.len() <= KEY_MIN_LENGTH {
            return Err(format!(
                "The accessKey={access_key} and secretKey cannot be null and length should longer than {KEY_MIN_LENGTH}"
            ));
        }
        let white = file
            .white_remote_address
            .as_ref()
            .and_then(scalar)
            .unwrap_or_default();
        let mut perms = HashMap::new();
        for (list, is_topic) in [(&file.group_perms, false), (&file.topic_perms, true)] {
            for entry in list.iter().flatten() {
                let entry = scalar(entry).unwrap_or_default();
                let items: Vec<&str> = entry.split('=').filter(|s| !s.is_empty()).collect();
                let [name, perm] = items[..] else {
                    return Err(format!(
                        "Parse resource permission failed for {}:{entry}",
                        if is_topic { "topic" } else { "group" }
                    ));
                };
                let resource = if is_topic {
                    name.trim().to_owned()
                } else {
                    format!("{RETRY_GROUP_TOPIC_PREFIX}{}", name.trim())
                };
                perms.insert(resource, parse_perm(Some(perm)));
            }
        }
        Ok(Account {
            access_key,
            secret_key,
            white: AddressRule::parse(&white)?,
            admin: file.admin.unwrap_or(false),
            default_topic_perm: parse_perm(file.default_topic_perm.as_deref()),
            default_group_perm: parse_perm(file.default_group_perm.as_deref()),
            perms,
        })
    }

    /// `PlainPermissionManager.checkPerm`.
    fn check(&self, request: &AccessRequest) -> Result<(), String> {
        if ADMIN_CODES.contains(&request.code) && !self.admin {
            return Err(format!(
                "Need admin permission for request code={}, but accessKey={} is not",
                request.code, self.access_key
            ));
        }
        if self.perms.is_empty() && self.admin {
            return Ok(());
        }
        for (resource, needed) in &request.resources {
            let group = resource.strip_prefix(RETRY_GROUP_TOPIC_PREFIX);
            let owned = match self.perms.get(resource) {
                Some(perm) => *perm,
                None if group.is_some() => self.default_group_perm,
                None => self.default_topic_perm,
            };
            if !check_permission(*needed, owned) {
                let what = match group {
                    Some(group) => format!("group:{group}"),
                    None => format!("topic:{resource}"),
                };
                return Err(format!(
                    "No default permission for {what} ({} needed)",
                    perm_name(*needed)
                ));
            }
        }
        Ok(())
    }
}

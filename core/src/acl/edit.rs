//! The edits the ACL admin codes make to plain_acl.yml, as RocketMQ 4.9's
//! `PlainPermissionManager` makes them: read the file as a YAML document, change one
//! account (or the global white addresses), bump `dataVersion`, write the whole document
//! back. Pure functions on text, so they are tested without files; `AclState::edit` does
//! the I/O and refuses any result that would not load.

use serde_yaml::{Mapping, Value};

use super::address::AddressRule;
use super::plain::{parse_perm, scalar, DENY};

/// Java's `AclConstants.ACCESS_KEY_MIN_LENGTH` / `SECRET_KEY_MIN_LENGTH`: longer than 6.
const KEY_MIN_LENGTH: usize = 6;

/// The largest plain_acl.yml an edit may produce: admin requests cannot grow the file
/// (which every reload reads whole) without bound.
pub const MAX_FILE_BYTES: usize = 4 << 20;

const ACCOUNTS: &str = "accounts";
const ACCESS_KEY: &str = "accessKey";
const GLOBAL_WHITE: &str = "globalWhiteRemoteAddresses";
const DATA_VERSION: &str = "dataVersion";

/// UPDATE_AND_CREATE_ACL_CONFIG's request: `PlainAccessConfig` as the broker builds it
/// from `CreateAccessConfigRequestHeader`. `None` leaves the file's value as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessConfig {
    pub access_key: String,
    pub secret_key: Option<String>,
    pub white_remote_address: Option<String>,
    /// Java's header has a primitive boolean: absent is false, and always written.
    pub admin: bool,
    pub default_topic_perm: Option<String>,
    pub default_group_perm: Option<String>,
    pub topic_perms: Option<Vec<String>>,
    pub group_perms: Option<Vec<String>>,
}

/// One admin edit of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Create the account, or merge the given fields into the existing one.
    Update(AccessConfig),
    /// Remove the account (every definition of its access key).
    Delete(String),
    /// Replace `globalWhiteRemoteAddresses`.
    GlobalWhite(Vec<String>),
}

/// `UtilAll.split(list, ",")` as the broker splits the header's comma-joined lists, with
/// each item trimmed (Java writes `" topicB=SUB"` as is; the loader trims it anyway).
pub fn split_list(text: Option<&str>) -> Option<Vec<String>> {
    text.map(|text| {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

fn perm_is_valid(perm: &str) -> bool {
    perm == "DENY" || parse_perm(Some(perm)) != DENY
}

impl AccessConfig {
    /// `checkPlainAccessConfig` and `Permission.checkResourcePerms`, with their messages;
    /// stricter than Java on the default permissions (a typo there would silently read as
    /// DENY) and the white address (Java writes it, then fails to load it).
    pub fn check(&self) -> Result<(), String> {
        let secret_len = self.secret_key.as_deref().map_or(0, str::len);
        if self.access_key.len() <= KEY_MIN_LENGTH || secret_len <= KEY_MIN_LENGTH {
            return Err(format!(
                "The accessKey={} and secretKey cannot be null and length should longer than {KEY_MIN_LENGTH}",
                self.access_key
            ));
        }
        for resource in self.topic_perms.iter().chain(&self.group_perms).flatten() {
            let items: Vec<&str> = resource.split('=').filter(|s| !s.is_empty()).collect();
            let [_, perm] = items[..] else {
                return Err(format!(
                    "Parse Resource format error for {resource}.\nThe expected resource format is 'Res=Perm'. For example: topicA=SUB"
                ));
            };
            if !perm_is_valid(perm.trim()) {
                return Err(format!(
                    "Parse resource permission error for {resource}.\nThe expected permissions are 'SUB' or 'PUB' or 'SUB|PUB' or 'PUB|SUB'."
                ));
            }
        }
        for (name, perm) in [
            ("defaultTopicPerm", &self.default_topic_perm),
            ("defaultGroupPerm", &self.default_group_perm),
        ] {
            if let Some(perm) = perm.as_deref().filter(|p| !p.is_empty()) {
                if !perm_is_valid(perm.trim()) {
                    return Err(format!(
                        "Parse resource permission error for {name}={perm}.\nThe expected permissions are 'DENY' or 'SUB' or 'PUB' or 'SUB|PUB' or 'PUB|SUB'."
                    ));
                }
            }
        }
        if let Some(white) = &self.white_remote_address {
            AddressRule::parse(white).map_err(|e| format!("whiteRemoteAddress: {e}"))?;
        }
        Ok(())
    }

    /// `createAclAccessConfigMap`: the given fields over `account`.
    fn merge_into(&self, account: &mut Mapping) {
        let mut set = |key: &str, value: Value| {
            account.insert(Value::String(key.to_owned()), value);
        };
        let text = |s: &str| Value::String(s.to_owned());
        let list = |items: &[String]| Value::Sequence(items.iter().map(|s| text(s)).collect());
        set(ACCESS_KEY, text(&self.access_key));
        if let Some(secret) = self.secret_key.as_deref().filter(|s| !s.is_empty()) {
            set("secretKey", text(secret));
        }
        if let Some(white) = &self.white_remote_address {
            set("whiteRemoteAddress", text(white));
        }
        set("admin", Value::Bool(self.admin));
        if let Some(perm) = self.default_topic_perm.as_deref().filter(|p| !p.is_empty()) {
            set("defaultTopicPerm", text(perm.trim()));
        }
        if let Some(perm) = self.default_group_perm.as_deref().filter(|p| !p.is_empty()) {
            set("defaultGroupPerm", text(perm.trim()));
        }
        if let Some(perms) = &self.topic_perms {
            set("topicPerms", list(perms));
        }
        if let Some(perms) = &self.group_perms {
            set("groupPerms", list(perms));
        }
    }
}

/// Global white addresses, trimmed and checked as the loader will read them.
pub fn check_global_white(addrs: &[String]) -> Result<(), String> {
    for addr in addrs {
        AddressRule::parse(addr).map_err(|e| format!("globalWhiteRemoteAddresses: {e}"))?;
    }
    Ok(())
}

fn document(text: &str) -> Result<Mapping, String> {
    if text.trim().is_empty() {
        return Ok(Mapping::new());
    }
    match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Mapping(map)) => Ok(map),
        // A file of comments only.
        Ok(Value::Null) => Ok(Mapping::new()),
        Ok(_) => Err("plain_acl.yml is not a YAML mapping".into()),
        Err(e) => Err(format!("plain_acl.yml does not parse: {e}")),
    }
}

fn accounts(doc: &mut Mapping) -> Result<&mut Vec<Value>, String> {
    let key = Value::String(ACCOUNTS.into());
    if !matches!(doc.get(&key), Some(Value::Sequence(_))) {
        if !matches!(doc.get(&key), None | Some(Value::Null)) {
            return Err("plain_acl.yml: accounts is not a list".into());
        }
        doc.insert(key.clone(), Value::Sequence(Vec::new()));
    }
    match doc.get_mut(&key) {
        Some(Value::Sequence(list)) => Ok(list),
        _ => Err("plain_acl.yml: accounts is not a list".into()),
    }
}

fn access_key_of(account: &Value) -> Option<String> {
    account.get(ACCESS_KEY).and_then(scalar)
}

/// `updateAclConfigFileVersion`: the first `dataVersion` entry's counter plus one, stamped
/// now. Returns the new counter.
fn bump_version(doc: &mut Mapping, now_ms: i64) -> i64 {
    let key = Value::String(DATA_VERSION.into());
    let counter = doc
        .get(&key)
        .and_then(|v| v.as_sequence())
        .and_then(|list| list.first())
        .and_then(|first| first.get("counter"))
        .and_then(|c| {
            c.as_i64()
                .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0)
        .saturating_add(1);
    let mut entry = Mapping::new();
    entry.insert("counter".into(), counter.into());
    entry.insert("timestamp".into(), now_ms.into());
    doc.insert(key, Value::Sequence(vec![Value::Mapping(entry)]));
    counter
}

/// The file's new text after `edit`. Err says why the edit cannot be made (no such
/// account, a file that is not a mapping, a result too large).
pub fn apply(text: &str, edit: &Edit, now_ms: i64) -> Result<String, String> {
    let mut doc = document(text)?;
    match edit {
        Edit::Update(config) => {
            let list = accounts(&mut doc)?;
            let existing = list
                .iter_mut()
                .find(|a| access_key_of(a).as_deref() == Some(config.access_key.as_str()));
            match existing {
                // Updated in place, so a key defined twice keeps the definition that wins.
                Some(Value::Mapping(account)) => config.merge_into(account),
                _ => {
                    let mut account = Mapping::new();
                    config.merge_into(&mut account);
                    list.push(Value::Mapping(account));
                }
            }
        }
        Edit::Delete(access_key) => {
            let list = accounts(&mut doc)?;
            let before = list.len();
            list.retain(|a| access_key_of(a).as_deref() != Some(access_key.as_str()));
            if list.len() == before {
                return Err(format!("no account with accessKey {access_key}"));
            }
        }
        Edit::GlobalWhite(addrs) => {
            let list = addrs.iter().map(|a| Value::String(a.clone())).collect();
            doc.insert(GLOBAL_WHITE.into(), Value::Sequence(list));
        }
    }
    bump_version(&mut doc, now_ms);
    let text = serde_yaml::to_string(&Value::Mapping(doc)).map_err(|e| e.to_string())?;
    if text.len() > MAX_FILE_BYTES {
        return Err(format!(
            "plain_acl.yml would grow past {MAX_FILE_BYTES} bytes"
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::PlainAcl;

    fn config(access_key: &str) -> AccessConfig {
        AccessConfig {
            access_key: access_key.into(),
            secret_key: Some("secret123".into()),
            ..Default::default()
        }
    }

    #[test]
    fn create_then_update_merges_and_counts_versions() {
        let mut create = config("newKey001");
        create.topic_perms = split_list(Some("topicA=PUB, topicB=SUB|PUB"));
        create.default_group_perm = Some("SUB".into());
        let text = apply("", &Edit::Update(create), 1000).unwrap();
        let acl = PlainAcl::parse(&text).unwrap();
        assert!(acl.account("newKey001").is_some());
        assert_eq!(acl.data_version.counter, 1);
        assert_eq!(acl.data_version.timestamp, 1000);
        assert!(text.contains("topicB=SUB|PUB"), "{text}");

        // Only the given fields change; the others stay.
        let mut update = config("newKey001");
        update.admin = true;
        let text = apply(&text, &Edit::Update(update), 2000).unwrap();
        let acl = PlainAcl::parse(&text).unwrap();
        assert!(acl.account("newKey001").unwrap().admin);
        assert_eq!(acl.data_version.counter, 2);
        assert!(text.contains("topicA=PUB") && text.contains("defaultGroupPerm: SUB"));
    }

    #[test]
    fn edits_keep_other_accounts_and_keys() {
        let file = "globalWhiteRemoteAddresses:\n- 10.10.103.*\naccounts:\n- accessKey: RocketMQ\n  secretKey: 12345678\n  admin: false\ndataVersion:\n- counter: 41\n  timestamp: 5\n";
        let text = apply(file, &Edit::Update(config("another01")), 9).unwrap();
        let acl = PlainAcl::parse(&text).unwrap();
        assert!(acl.account("RocketMQ").is_some() && acl.account("another01").is_some());
        assert_eq!(acl.data_version.counter, 42);
        assert!(text.contains("10.10.103.*"));

        let text = apply(&text, &Edit::Delete("RocketMQ".into()), 10).unwrap();
        let acl = PlainAcl::parse(&text).unwrap();
        assert!(acl.account("RocketMQ").is_none() && acl.account("another01").is_some());
        assert_eq!(acl.data_version.counter, 43);

        let text = apply(&text, &Edit::GlobalWhite(vec!["127.0.0.1".into()]), 11).unwrap();
        assert!(text.contains("127.0.0.1") && !text.contains("10.10.103"));
    }

    #[test]
    fn deleting_an_unknown_key_is_refused() {
        let error = apply("", &Edit::Delete("nobody01".into()), 1).unwrap_err();
        assert!(error.contains("nobody01"), "{error}");
    }

    #[test]
    fn bad_requests_are_refused_with_java_messages() {
        let mut short = config("newKey001");
        short.secret_key = Some("123456".into());
        assert!(short
            .check()
            .unwrap_err()
            .contains("length should longer than 6"));
        assert!(config("short").check().is_err());
        let mut no_secret = config("newKey001");
        no_secret.secret_key = None;
        assert!(no_secret.check().is_err());

        let mut bad_perm = config("newKey001");
        bad_perm.topic_perms = Some(vec!["topicA=WRITE".into()]);
        assert!(bad_perm
            .check()
            .unwrap_err()
            .contains("Parse resource permission error for topicA=WRITE"));
        bad_perm.topic_perms = Some(vec!["topicA".into()]);
        assert!(bad_perm
            .check()
            .unwrap_err()
            .contains("Parse Resource format error"));
        bad_perm.topic_perms = Some(vec!["topicA=DENY".into(), "topicB=PUB|SUB".into()]);
        bad_perm.check().unwrap();
        bad_perm.default_topic_perm = Some("ALL".into());
        assert!(bad_perm
            .check()
            .unwrap_err()
            .contains("defaultTopicPerm=ALL"));

        let mut bad_white = config("newKey001");
        bad_white.white_remote_address = Some("10.0.*.1".into());
        assert!(bad_white
            .check()
            .unwrap_err()
            .contains("whiteRemoteAddress"));
        assert!(check_global_white(&["nonsense".into()]).is_err());
        check_global_white(&["10.10.*.*".into(), "192.168.0.{1,2}".into()]).unwrap();
    }

    #[test]
    fn hostile_files_and_values_do_not_panic() {
        for file in [
            "- a\n- b\n",
            "accounts: 3\n",
            "{",
            "accounts:\n- 7\n- [x]\n",
        ] {
            let _ = apply(file, &Edit::Update(config("newKey001")), 1);
            let _ = apply(file, &Edit::Delete("newKey001".into()), 1);
        }
        // YAML-special characters in values are quoted, not interpreted.
        let mut odd = config("key: {x}\n- y");
        odd.white_remote_address = Some(String::new());
        let text = apply("", &Edit::Update(odd), 1).unwrap();
        assert!(PlainAcl::parse(&text)
            .unwrap()
            .account("key: {x}\n- y")
            .is_some());
        let huge = AccessConfig {
            topic_perms: Some(vec!["t=PUB".repeat(1 << 20)]),
            ..config("newKey001")
        };
        assert!(apply("", &Edit::Update(huge), 1)
            .unwrap_err()
            .contains("bytes"));
    }
}

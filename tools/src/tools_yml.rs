//! `$ROCKETMQ_HOME/conf/tools.yml`: the ACL credentials Java's mqadmin signs with
//! (`AclUtils.getAclRPCHook`), used here when neither `--accessKey/--secretKey` nor
//! `ROCKETMQ_ACCESS_KEY/ROCKETMQ_SECRET_KEY` are given.
//!
//! ```yaml
//! accessKey: RocketMQ
//! secretKey: 12345678
//! ```

use std::path::{Path, PathBuf};

use ramjet_net::acl::SessionCredentials;

use crate::error::{AdminError, AdminResult};

/// The file under `ROCKETMQ_HOME`, if that is set.
pub fn path() -> Option<PathBuf> {
    let home = std::env::var_os("ROCKETMQ_HOME")?;
    Some(Path::new(&home).join("conf").join("tools.yml"))
}

/// The credentials of `path()`. No file, or a file without both keys, is no credentials
/// (Java then signs nothing); a file that does not parse is an error naming it.
pub fn credentials() -> AdminResult<Option<SessionCredentials>> {
    let Some(path) = path() else {
        return Ok(None);
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).map_err(|e| AdminError::Usage(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AdminError::Io {
            what: format!("cannot read {}", path.display()),
            source,
        }),
    }
}

fn parse(text: &str) -> Result<Option<SessionCredentials>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    // fastjson's getString: numbers are accepted as text (`secretKey: 12345678`).
    let field = |key: &str| match doc.get(key) {
        Some(serde_yaml::Value::String(s)) => Some(s.trim().to_owned()),
        Some(serde_yaml::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    match (field("accessKey"), field("secretKey")) {
        (Some(ak), Some(sk)) if !ak.is_empty() && !sk.is_empty() => {
            Ok(Some(SessionCredentials::new(&ak, &sk)))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_keys_or_nothing() {
        assert!(parse("accessKey: RocketMQ\nsecretKey: 12345678\n")
            .unwrap()
            .is_some());
        assert!(parse("accessKey: RocketMQ\n").unwrap().is_none());
        assert!(parse("").unwrap().is_none());
        assert!(parse("accessKey: [x\n").is_err());
    }
}

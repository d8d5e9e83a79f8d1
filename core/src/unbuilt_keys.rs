//! broker.conf keys for RocketMQ features Ramjet does not build. Accepting them in silence
//! would let an operator believe in replication, a separate disk for the index, or retry
//! filtering the broker does not provide, so a value that asks for the missing feature
//! stops the start (and UPDATE_BROKER_CONFIG, which never lists these keys) with a message
//! naming the key. A value that asks for nothing (RocketMQ's default: `false`, empty) is
//! harmless and accepted.

use std::path::{Path, PathBuf};

/// Keys checked value by value in `check`.
pub const KEYS: &[&str] = &[
    "enableDLegerCommitLog",
    "enableControllerMode",
    "duplicationEnable",
    "filterSupportRetry",
    "traceTopicEnable",
    "enableConsumeQueueExt",
];

/// Keys whose value can only be judged once the whole file is read (they depend on
/// `storePathRootDir`); `check_deferred` judges them.
pub const DEFERRED_KEYS: &[&str] = &[
    "storePathCommitLog",
    "storePathConsumeQueue",
    "storePathIndex",
];

/// `Err` names the key and says what is missing when `value` asks for an unbuilt feature.
pub fn check(key: &str, value: &str) -> Result<(), String> {
    let value = value.trim();
    // Every key left here is a switch: only `true` asks for the feature.
    let asks = is_true(value);
    if !asks {
        return Ok(());
    }
    let missing = match key {
        "enableDLegerCommitLog" => "the DLedger (Raft) CommitLog",
        "enableControllerMode" => "controller-mode (automatic master failover)",
        "duplicationEnable" => "CommitLog duplication",
        "filterSupportRetry" => "tag/SQL filtering of retry topics",
        "traceTopicEnable" => "creating the message-trace topic at start",
        "enableConsumeQueueExt" => "the extended ConsumeQueue",
        _ => "this feature",
    };
    Err(format!(
        "{key}={value}: Ramjet does not implement {missing}; remove the key or set it to its default"
    ))
}

/// Checks the path and port keys against the settings they default from. `set` holds
/// each deferred key given, with its value.
pub fn check_deferred(set: &[(String, String)], store_root: &Path) -> Result<(), String> {
    for (key, value) in set {
        let harmless = match key.as_str() {
            "storePathCommitLog" => same_path(value, &store_root.join("commitlog")),
            "storePathConsumeQueue" => same_path(value, &store_root.join("consumequeue")),
            "storePathIndex" => same_path(value, &store_root.join("index")),
            _ => true,
        };
        if !harmless {
            let what = format!(
                "Ramjet keeps this data under storePathRootDir ({}/shards/<n>/...) and cannot \
                 place it elsewhere",
                store_root.display()
            );
            return Err(format!("{key}={value}: {what}; remove the key"));
        }
    }
    Ok(())
}

fn is_true(value: &str) -> bool {
    value.eq_ignore_ascii_case("true")
}

fn same_path(value: &str, default: &Path) -> bool {
    let trim = |p: &Path| -> PathBuf { p.components().collect() };
    trim(Path::new(value.trim())) == trim(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_requests_are_refused_by_name() {
        assert!(check("enableControllerMode", "false").is_ok());
        let error = check("enableControllerMode", "true").unwrap_err();
        assert!(error.contains("enableControllerMode"), "{error}");
        assert!(check("enableDLegerCommitLog", "TRUE").is_err());
    }

    #[test]
    fn deferred_paths_must_match_the_root() {
        let root = Path::new("/data/store");
        let given = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        assert!(check_deferred(&given("storePathIndex", "/data/store/index/"), root).is_ok());
        let error = check_deferred(&given("storePathIndex", "/ssd/index"), root).unwrap_err();
        assert!(error.contains("storePathIndex"), "{error}");
    }
}

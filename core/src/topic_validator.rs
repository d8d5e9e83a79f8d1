//! `TopicValidator`: the names RocketMQ accepts (remoting-protocol.md section 10).

pub const TOPIC_MAX_LENGTH: usize = 127;
/// Retry and DLQ topics carry a group name, so they may be longer.
pub const SYSTEM_GROUP_TOPIC_MAX_LENGTH: usize = 255;
pub const GROUP_MAX_LENGTH: usize = 120;

/// Topics a client may never send to directly.
pub const NOT_ALLOWED_SEND: &[&str] = &[
    "SCHEDULE_TOPIC_XXXX",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "SELF_TEST_TOPIC",
    "OFFSET_MOVED_EVENT",
];

fn legal_chars(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
}

/// `^[%|a-zA-Z0-9_-]+$`, at most 127 characters (255 for `%RETRY%`/`%DLQ%` topics).
pub fn validate(topic: &str) -> Result<(), String> {
    if topic.trim().is_empty() {
        return Err("The specified topic is blank.".into());
    }
    if !legal_chars(topic) {
        return Err(format!("The specified topic[{topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"));
    }
    let max = if topic.starts_with("%RETRY%") || topic.starts_with("%DLQ%") {
        SYSTEM_GROUP_TOPIC_MAX_LENGTH
    } else {
        TOPIC_MAX_LENGTH
    };
    if topic.len() > max {
        return Err(format!(
            "The specified topic is longer than topic max length {max}."
        ));
    }
    Ok(())
}

pub fn validate_group(group: &str) -> Result<(), String> {
    if group.trim().is_empty() {
        return Err("the specified group is blank".into());
    }
    if !legal_chars(group) {
        return Err(format!("the specified group[{group}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"));
    }
    if group.len() > GROUP_MAX_LENGTH {
        return Err(format!(
            "the specified group is longer than group max length {GROUP_MAX_LENGTH}."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_rocketmq_rules() {
        assert!(validate("TopicTest").is_ok());
        assert!(validate("%RETRY%group_1").is_ok());
        assert!(validate("a b").is_err());
        assert!(validate("").is_err());
        assert!(validate(&"t".repeat(127)).is_ok());
        assert!(validate(&"t".repeat(128)).is_err());
        assert!(validate(&format!("%RETRY%{}", "g".repeat(200))).is_ok());
        assert!(validate_group("g.1").is_err());
    }
}

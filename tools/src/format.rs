//! Small pieces of Java's output formats that several commands share.

use ramjet_net::body::perm;

/// `UtilAll.frontStringAtLeast`: at most `size` characters of `text`. Java's tools cut long
/// names so that columns stay aligned.
pub fn front(text: &str, size: usize) -> &str {
    match text.char_indices().nth(size) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// `PermName.perm2String`: `RW-` for 6, `R--` for 4, `RWX` for 7.
pub fn perm_to_string(perm_bits: i32) -> String {
    let mut text = String::with_capacity(3);
    text.push(if perm_bits & perm::READ != 0 {
        'R'
    } else {
        '-'
    });
    text.push(if perm_bits & perm::WRITE != 0 {
        'W'
    } else {
        '-'
    });
    text.push(if perm_bits & perm::INHERIT != 0 {
        'X'
    } else {
        '-'
    });
    text
}

/// `MQVersion.getVersionDesc`: the name of a `version` ordinal, such as `V5_3_3` for 479.
/// 3.x ordinals do not follow a pattern and print as `V3(<ordinal>)`.
pub fn version_desc(ordinal: i32) -> String {
    ramjet_net::code::version::desc(ordinal)
}

/// Java's `Boolean.parseBoolean`: only "true" (any case) is true.
pub fn java_bool(text: &str) -> bool {
    text.trim().eq_ignore_ascii_case("true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_match_mq_version() {
        // Values listed in remoting-protocol.md section 1.6.
        assert_eq!(version_desc(213), "V4_0_0");
        assert_eq!(version_desc(232), "V4_1_0_SNAPSHOT");
        assert_eq!(version_desc(317), "V4_5_2");
        assert_eq!(version_desc(401), "V4_9_4");
        assert_eq!(version_desc(413), "V5_0_0");
        assert_eq!(version_desc(479), "V5_3_3");
        assert_eq!(version_desc(611), "V5_9_9");
        assert_eq!(version_desc(612), "HIGHER_VERSION");
    }

    #[test]
    fn perms_and_fronts() {
        assert_eq!(perm_to_string(6), "RW-");
        assert_eq!(perm_to_string(7), "RWX");
        assert_eq!(perm_to_string(4), "R--");
        assert_eq!(front("abcdef", 3), "abc");
        assert_eq!(front("ab", 3), "ab");
    }
}

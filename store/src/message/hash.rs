//! Java `String.hashCode`, which RocketMQ uses for tag codes (ConsumeQueue) and index keys.

/// `h = 31*h + c` over UTF-16 code units with 32-bit wrap-around, exactly as
/// `java.lang.String.hashCode()`. Iterating bytes or chars would give different codes for
/// non-ASCII tags, and consumers would then silently filter out their own messages.
pub fn java_string_hash(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// `MessageExtBrokerInner.tagsString2tagsCode`: 0 for no tag, else the sign-extended hash.
pub fn tags_code(tags: Option<&str>) -> i64 {
    match tags {
        None | Some("") => 0,
        Some(tags) => i64::from(java_string_hash(tags)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_string_hash_code() {
        // Values printed by `"...".hashCode()` on a JVM.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("TagA"), 2598919);
        assert_eq!(java_string_hash("hello"), 99162322);
        assert_eq!(java_string_hash("TopicTest#key-1"), 204089217);
        // A non-BMP character contributes its two surrogates (0xD83D, 0xDE00).
        assert_eq!(java_string_hash("😀"), 1772899);
        assert_eq!(java_string_hash("é"), 233);
    }

    #[test]
    fn tags_code_is_zero_without_tags_and_sign_extended_otherwise() {
        assert_eq!(tags_code(None), 0);
        assert_eq!(tags_code(Some("")), 0);
        assert_eq!(tags_code(Some("TopicTest#key-1")), 204089217);
        // A negative hash stays negative in 64 bits: consumers compare `(int) tagsCode`.
        assert_eq!(java_string_hash("TopicTest#order-1"), -1829193424);
        assert_eq!(tags_code(Some("TopicTest#order-1")), -1829193424i64);
    }
}

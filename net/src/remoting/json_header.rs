//! The JSON header (serialize type 0), as fastjson writes it and as every client sends it.
//!
//! Decoding is lenient in the ways real clients need (docs/remoting-protocol.md section 11): no
//! `serializeTypeCurrentRPC` (C++), extFields values as numbers or booleans (C++), `"remark":""`
//! and `"extFields":null` (Go), a trailing newline (C++), unknown keys (everyone).
//! Encoding writes compact JSON with fastjson's alphabetical property order.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::command::{ExtFields, LanguageCode, RemotingCommand, SerializeType};
use super::DecodeError;

/// Writes the JSON header of `command` to `out`.
pub fn encode(command: &RemotingCommand, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"code\":");
    push_int(out, i64::from(command.code));
    if let Some(ext_fields) = &command.ext_fields {
        out.extend_from_slice(b",\"extFields\":{");
        for (index, (key, value)) in ext_fields.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            push_json_string(out, key);
            out.push(b':');
            push_json_string(out, value);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b",\"flag\":");
    push_int(out, i64::from(command.flag));
    out.extend_from_slice(b",\"language\":");
    push_json_string(out, command.language.name());
    out.extend_from_slice(b",\"opaque\":");
    push_int(out, i64::from(command.opaque));
    if let Some(remark) = &command.remark {
        out.extend_from_slice(b",\"remark\":");
        push_json_string(out, remark);
    }
    out.extend_from_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    push_int(out, i64::from(command.version));
    out.push(b'}');
}

/// Parses a JSON header into a command without a body.
pub fn decode(header: &[u8]) -> Result<RemotingCommand, DecodeError> {
    let parsed: JsonHeader = serde_json::from_slice(header)
        .map_err(|e| DecodeError::InvalidJsonHeader(e.to_string()))?;
    Ok(RemotingCommand {
        code: parsed.code.ok_or(DecodeError::MissingCode)?,
        language: parsed.language,
        version: parsed.version,
        opaque: parsed.opaque,
        flag: parsed.flag,
        remark: parsed.remark,
        ext_fields: parsed.ext_fields,
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::Json,
    })
}

fn push_int(out: &mut Vec<u8>, value: i64) {
    use std::io::Write;
    // Formats in place: a Vec's io::Write cannot fail, and no String is made per field.
    let _ = write!(out, "{value}");
}

/// Appends `text` as a JSON string. Control characters become `\u00XX`, as fastjson writes
/// the 0x01/0x02 separators of message properties.
pub fn push_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..index]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

struct JsonHeader {
    code: Option<i32>,
    language: LanguageCode,
    version: i32,
    opaque: i32,
    flag: i32,
    remark: Option<String>,
    ext_fields: Option<ExtFields>,
}

impl<'de> Deserialize<'de> for JsonHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = JsonHeader;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a RemotingCommand JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonHeader, A::Error> {
        let mut header = JsonHeader {
            code: None,
            language: LanguageCode::Java,
            version: 0,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: None,
        };
        while let Some(key) = map.next_key::<HeaderKey>()? {
            match key {
                HeaderKey::Code => header.code = Some(map.next_value::<LenientInt>()?.0 as i32),
                HeaderKey::Language => header.language = map.next_value::<LenientLanguage>()?.0,
                HeaderKey::Version => header.version = map.next_value::<LenientInt>()?.0 as i32,
                HeaderKey::Opaque => header.opaque = map.next_value::<LenientInt>()?.0 as i32,
                HeaderKey::Flag => header.flag = map.next_value::<LenientInt>()?.0 as i32,
                HeaderKey::Remark => header.remark = map.next_value::<Option<String>>()?,
                HeaderKey::ExtFields => {
                    header.ext_fields = map.next_value::<Option<LenientExt>>()?.map(|e| e.0)
                }
                HeaderKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(header)
    }
}

/// A top-level key, matched without copying it.
enum HeaderKey {
    Code,
    Language,
    Version,
    Opaque,
    Flag,
    Remark,
    ExtFields,
    Other,
}

impl<'de> Deserialize<'de> for HeaderKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = HeaderKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a header key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<HeaderKey, E> {
                Ok(match key {
                    "code" => HeaderKey::Code,
                    "language" => HeaderKey::Language,
                    "version" => HeaderKey::Version,
                    "opaque" => HeaderKey::Opaque,
                    "flag" => HeaderKey::Flag,
                    "remark" => HeaderKey::Remark,
                    "extFields" => HeaderKey::ExtFields,
                    _ => HeaderKey::Other,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Appends a JSON scalar to a text buffer as text: strings as they are (unescaped), numbers
/// and booleans in their JSON spelling. The C++ client sends `"queueId":3` where Java sends
/// `"queueId":"3"`. Yields false, appending nothing, for null.
struct AppendScalar<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for AppendScalar<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AppendScalar<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number, boolean or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.0.push_str(v);
        Ok(true)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.append(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.append(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.append(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.append(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

impl AppendScalar<'_> {
    fn append<E: de::Error>(self, v: impl fmt::Display) -> Result<bool, E> {
        use std::fmt::Write;
        write!(self.0, "{v}").map_err(de::Error::custom)?;
        Ok(true)
    }
}

struct LenientExt(ExtFields);

impl<'de> Deserialize<'de> for LenientExt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExtVisitor;
        impl<'de> Visitor<'de> for ExtVisitor {
            type Value = LenientExt;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an extFields object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientExt, A::Error> {
                let mut fields = ExtFields::with_capacity(map.size_hint().unwrap_or(16));
                loop {
                    let key_start = fields.text_mut().len();
                    if map.next_key_seed(AppendKey(fields.text_mut()))?.is_none() {
                        break;
                    }
                    let value_start = fields.text_mut().len();
                    if map.next_value_seed(AppendScalar(fields.text_mut()))? {
                        fields.commit(key_start, value_start);
                    } else {
                        // Java skips null values when it builds the map; so do we.
                        fields.discard_from(key_start);
                    }
                }
                Ok(LenientExt(fields))
            }
        }
        deserializer.deserialize_map(ExtVisitor)
    }
}

/// Appends an object key (always a JSON string) to a text buffer.
struct AppendKey<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for AppendKey<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for AppendKey<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an extFields key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }
}

/// An integer header field: a JSON number, or a string holding one (null reads as 0).
struct LenientInt(i64);

impl<'de> Deserialize<'de> for LenientInt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor;
        impl<'de> Visitor<'de> for IntVisitor {
            type Value = LenientInt;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LenientInt, E> {
                Ok(LenientInt(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LenientInt, E> {
                i64::try_from(v)
                    .map(LenientInt)
                    .map_err(|_| E::custom(format!("not an integer: {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LenientInt, E> {
                // 3.0 is read as 3, as its text "3" would be; 3.5 is refused.
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LenientInt, E> {
                v.trim()
                    .parse::<i64>()
                    .map(LenientInt)
                    .map_err(|_| E::custom(format!("not an integer: {v:?}")))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<LenientInt, E> {
                Err(E::custom(format!("not an integer: {v}")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientInt, E> {
                Ok(LenientInt(0))
            }
            fn visit_none<E: de::Error>(self) -> Result<LenientInt, E> {
                Ok(LenientInt(0))
            }
        }
        deserializer.deserialize_any(IntVisitor)
    }
}

/// `language` as a name (`"JAVA"`), or as its ordinal in a number or a string.
struct LenientLanguage(LanguageCode);

impl<'de> Deserialize<'de> for LenientLanguage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LanguageVisitor;
        impl<'de> Visitor<'de> for LanguageVisitor {
            type Value = LenientLanguage;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a language name or ordinal")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LenientLanguage, E> {
                Ok(LenientLanguage(match v.parse::<u8>() {
                    Ok(byte) => LanguageCode::from_byte(byte),
                    Err(_) => LanguageCode::from_name(v),
                }))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LenientLanguage, E> {
                Ok(LenientLanguage(
                    u8::try_from(v).map_or(LanguageCode::Other, LanguageCode::from_byte),
                ))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LenientLanguage, E> {
                Ok(LenientLanguage(
                    u8::try_from(v).map_or(LanguageCode::Other, LanguageCode::from_byte),
                ))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LenientLanguage, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<LenientLanguage, E> {
                Ok(LenientLanguage(LanguageCode::Other))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientLanguage, E> {
                Ok(LenientLanguage(LanguageCode::Other))
            }
            fn visit_none<E: de::Error>(self) -> Result<LenientLanguage, E> {
                Ok(LenientLanguage(LanguageCode::Other))
            }
        }
        deserializer.deserialize_any(LanguageVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_the_cpp_client_sends() {
        // C++ 2.1: no serializeTypeCurrentRPC, numeric extFields values, trailing newline.
        let header = br#"{"code":310,"extFields":{"e":3,"k":"0","b":"T","z":null,"ok":true},"flag":0,"language":"CPP","opaque":7,"remark":"","version":333}
"#;
        let command = decode(header).unwrap();
        assert_eq!(command.code, 310);
        assert_eq!(command.language, LanguageCode::Cpp);
        assert_eq!(command.ext_field("e"), Some("3"));
        assert_eq!(command.ext_field("ok"), Some("true"));
        assert_eq!(command.ext_field("z"), None);
        assert_eq!(command.remark.as_deref(), Some(""));
    }

    #[test]
    fn decodes_go_null_ext_fields_and_ignores_unknown_keys() {
        let header = br#"{"code":105,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":null,"serializeTypeCurrentRPC":"JSON","future":[1,{"a":2}]}"#;
        let command = decode(header).unwrap();
        assert_eq!(command.ext_fields, None);
        assert_eq!(command.language, LanguageCode::Go);
    }

    #[test]
    fn reads_escapes_repeats_and_nulls_in_ext_fields() {
        // Java's properties use \u0001 and \u0002; a repeated key keeps its first place
        // and its last value; a null value leaves the earlier one; keys may be escaped too.
        let header = br#"{"code":"310","extFields":{"i":"UNIQ_KEY\u0001A\u0002","a":"g","i":"x\"y\\z","a":null,"k\u00e9":"\ud83d\ude00","n":-7},"language":12,"opaque":3.0}"#;
        let command = decode(header).unwrap();
        assert_eq!(command.code, 310);
        assert_eq!(command.opaque, 3);
        assert_eq!(command.language, LanguageCode::Rust);
        let pairs: Vec<(&str, &str)> = command.fields().iter().collect();
        assert_eq!(
            pairs,
            [
                ("i", "x\"y\\z"),
                ("a", "g"),
                ("k\u{e9}", "\u{1f600}"),
                ("n", "-7")
            ]
        );
    }

    #[test]
    fn refuses_integers_it_cannot_read() {
        for header in [
            &br#"{"code":3.5}"#[..],
            br#"{"code":true}"#,
            br#"{"code":"x"}"#,
            br#"{"code":18446744073709551615}"#,
            br#"{"code":1,"opaque":[1]}"#,
            br#"{"code":1,"extFields":{"a":[1]}}"#,
            br#"{"code":1,"extFields":{"a":{"b":1}}}"#,
            br#"{"code":1,"extFields":[]}"#,
        ] {
            assert!(
                matches!(decode(header), Err(DecodeError::InvalidJsonHeader(_))),
                "{}",
                String::from_utf8_lossy(header)
            );
        }
        // null reads as 0, as it did for Java's boxed fields.
        assert_eq!(decode(br#"{"code":1,"opaque":null}"#).unwrap().opaque, 0);
    }

    #[test]
    fn rejects_a_header_without_a_code() {
        assert!(matches!(
            decode(br#"{"opaque":1}"#),
            Err(DecodeError::MissingCode)
        ));
        assert!(matches!(
            decode(b"{not json"),
            Err(DecodeError::InvalidJsonHeader(_))
        ));
    }

    #[test]
    fn encodes_control_characters_as_fastjson_does() {
        let mut out = Vec::new();
        push_json_string(&mut out, "TAGS\u{1}a\u{2}\"q\"\\");
        assert_eq!(out, br#""TAGS\u0001a\u0002\"q\"\\""#);
    }

    #[test]
    fn encodes_compact_sorted_json() {
        let mut command = RemotingCommand::request(105);
        command.opaque = 3;
        command.ext_fields_mut().insert("topic", "TopicTest");
        let mut out = Vec::new();
        encode(&command, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"RUST","opaque":3,"serializeTypeCurrentRPC":"JSON","version":479}"#
        );
    }
}

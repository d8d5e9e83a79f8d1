//! The JSON header (serialize type 0), as fastjson writes it and as every client sends it.
//!
//! Decoding is lenient in the ways real clients need (docs/remoting-protocol.md section 11): no
//! `serializeTypeCurrentRPC` (C++), extFields values as numbers or booleans (C++), `"remark":""`
//! and `"extFields":null` (Go), a trailing newline (C++), unknown keys (everyone).
//! Encoding writes compact JSON with fastjson's alphabetical property order.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
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
    out.extend_from_slice(value.to_string().as_bytes());
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
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "code" => header.code = Some(map.next_value::<LenientInt>()?.0 as i32),
                "language" => header.language = map.next_value::<LenientLanguage>()?.0,
                "version" => header.version = map.next_value::<LenientInt>()?.0 as i32,
                "opaque" => header.opaque = map.next_value::<LenientInt>()?.0 as i32,
                "flag" => header.flag = map.next_value::<LenientInt>()?.0 as i32,
                "remark" => header.remark = map.next_value::<Option<String>>()?,
                "extFields" => {
                    header.ext_fields = map.next_value::<Option<LenientExt>>()?.map(|e| e.0)
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(header)
    }
}

/// A JSON scalar read as text: strings as they are, numbers and booleans in their JSON
/// spelling. The C++ client sends `"queueId":3` where Java sends `"queueId":"3"`.
pub(crate) struct ScalarText(pub Option<String>);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ScalarText, E> {
                Ok(ScalarText(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarText, E> {
                Ok(ScalarText(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ScalarText, E> {
                Ok(ScalarText(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<ScalarText, E> {
                Ok(ScalarText(None))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
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
                let mut fields = ExtFields::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<String>()? {
                    // Java skips null values when it builds the map; so do we.
                    if let Some(value) = map.next_value::<ScalarText>()?.0 {
                        fields.insert(key, value);
                    }
                }
                Ok(LenientExt(fields))
            }
        }
        deserializer.deserialize_map(ExtVisitor)
    }
}

struct LenientInt(i64);

impl<'de> Deserialize<'de> for LenientInt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = ScalarText::deserialize(deserializer)?;
        match text.0 {
            None => Ok(LenientInt(0)),
            Some(text) => text
                .trim()
                .parse::<i64>()
                .map(LenientInt)
                .map_err(|_| de::Error::custom(format!("not an integer: {text:?}"))),
        }
    }
}

struct LenientLanguage(LanguageCode);

impl<'de> Deserialize<'de> for LenientLanguage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = ScalarText::deserialize(deserializer)?.0.unwrap_or_default();
        Ok(LenientLanguage(match text.parse::<u8>() {
            Ok(byte) => LanguageCode::from_byte(byte),
            Err(_) => LanguageCode::from_name(&text),
        }))
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

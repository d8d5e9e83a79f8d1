//! Typed request and response headers: the `extFields` of a command read into structs and
//! written back, with Java's field names (remoting-protocol.md sections 2 and 4).
//!
//! Decoding follows `RemotingCommand#decodeCommandCustomHeader`: a missing mandatory
//! (`@CFNotNull`) field is an error the caller answers with SYSTEM_ERROR; a missing optional
//! field is `None`; unknown keys (5.x `bname`, C++'s ACL keys) are ignored. Values are parsed
//! leniently where real clients differ: booleans are `true/false/1/0` in any case (the C++
//! client sends `"0"`/`"1"`), and numbers may carry surrounding spaces.

mod acl;
mod admin;
mod broker;
mod macros;
mod namesrv;
mod send;

pub use acl::*;
pub use admin::*;
pub use broker::*;
pub use namesrv::*;
pub use send::*;

use crate::remoting::ExtFields;

/// A header that can be read from and written to `extFields`.
pub trait CommandHeader: Sized {
    fn decode(fields: &ExtFields) -> Result<Self, HeaderError>;
    fn encode(&self, fields: &mut ExtFields);

    fn to_ext_fields(&self) -> ExtFields {
        let mut fields = ExtFields::with_capacity(16);
        self.encode(&mut fields);
        fields
    }
}

/// Why a header could not be read. The text matches Java's so that clients see familiar
/// remarks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the custom field <{0}> is null")]
    Missing(&'static str),
    #[error("the custom field <{field}> has an invalid value {value:?}")]
    Invalid { field: &'static str, value: String },
}

/// One header field's type: how it is parsed from and written to its string form.
pub trait FieldValue: Sized {
    fn parse_field(text: &str) -> Option<Self>;
    fn format_field(&self) -> String;
}

impl FieldValue for String {
    fn parse_field(text: &str) -> Option<String> {
        Some(text.to_owned())
    }
    fn format_field(&self) -> String {
        self.clone()
    }
}

impl FieldValue for i32 {
    fn parse_field(text: &str) -> Option<i32> {
        text.trim().parse().ok()
    }
    fn format_field(&self) -> String {
        self.to_string()
    }
}

impl FieldValue for i64 {
    fn parse_field(text: &str) -> Option<i64> {
        text.trim().parse().ok()
    }
    fn format_field(&self) -> String {
        self.to_string()
    }
}

impl FieldValue for bool {
    /// Java's `Boolean.parseBoolean` treats anything but "true" as false; the C++ client
    /// sends "1" for true, so that is true here too.
    fn parse_field(text: &str) -> Option<bool> {
        let text = text.trim();
        Some(text.eq_ignore_ascii_case("true") || text == "1")
    }
    fn format_field(&self) -> String {
        self.to_string()
    }
}

pub(crate) fn required<T: FieldValue>(
    fields: &ExtFields,
    name: &'static str,
) -> Result<T, HeaderError> {
    optional(fields, name)?.ok_or(HeaderError::Missing(name))
}

pub(crate) fn optional<T: FieldValue>(
    fields: &ExtFields,
    name: &'static str,
) -> Result<Option<T>, HeaderError> {
    match fields.get(name) {
        None => Ok(None),
        Some(text) => T::parse_field(text)
            .map(Some)
            .ok_or_else(|| HeaderError::Invalid {
                field: name,
                value: text.to_owned(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_accept_what_cpp_and_java_send() {
        assert_eq!(bool::parse_field("1"), Some(true));
        assert_eq!(bool::parse_field("TRUE"), Some(true));
        assert_eq!(bool::parse_field("0"), Some(false));
        assert_eq!(bool::parse_field("false"), Some(false));
    }

    #[test]
    fn missing_mandatory_field_names_it() {
        let fields = ExtFields::new();
        let error = GetRouteInfoRequestHeader::decode(&fields).unwrap_err();
        assert_eq!(error.to_string(), "the custom field <topic> is null");
    }

    #[test]
    fn bad_number_names_field_and_value() {
        let mut fields = ExtFields::new();
        fields.insert("topic", "T");
        fields.insert("queueId", "x1");
        let error = GetMaxOffsetRequestHeader::decode(&fields).unwrap_err();
        assert_eq!(
            error,
            HeaderError::Invalid {
                field: "queueId",
                value: "x1".into()
            }
        );
    }
}

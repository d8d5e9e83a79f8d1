//! `RemotingCommand`: one request or response, independent of how its header is serialized.

use bytes::Bytes;

use crate::code::version;

/// Bit 0 of `flag`: this command is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Bit 1 of `flag`: the requester expects no response.
pub const FLAG_ONEWAY: i32 = 1 << 1;

/// How the header of a frame is serialized: the high byte of the header-length word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerializeType {
    #[default]
    Json = 0,
    RocketMq = 1,
}

/// `LanguageCode` (remoting-protocol.md section 1.5). Unknown values are kept as their byte
/// so that they survive a round trip; clients from languages added later must still work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LanguageCode {
    #[default]
    Java,
    Cpp,
    Dotnet,
    Python,
    Delphi,
    Erlang,
    Ruby,
    Other,
    Http,
    Go,
    Php,
    Oms,
    Rust,
    NodeJs,
    Unknown(u8),
}

const LANGUAGE_NAMES: [&str; 14] = [
    "JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO", "PHP",
    "OMS", "RUST", "NODE_JS",
];

impl LanguageCode {
    pub fn from_byte(byte: u8) -> LanguageCode {
        use LanguageCode::*;
        const ALL: [LanguageCode; 14] = [
            Java, Cpp, Dotnet, Python, Delphi, Erlang, Ruby, Other, Http, Go, Php, Oms, Rust,
            NodeJs,
        ];
        ALL.get(usize::from(byte)).copied().unwrap_or(Unknown(byte))
    }

    pub fn to_byte(self) -> u8 {
        match self {
            LanguageCode::Unknown(byte) => byte,
            known => LANGUAGE_NAMES
                .iter()
                .position(|n| *n == known.name())
                .unwrap_or(7) as u8,
        }
    }

    /// Unknown names map to OTHER: the name is informational only.
    pub fn from_name(name: &str) -> LanguageCode {
        match LANGUAGE_NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
        {
            Some(index) => LanguageCode::from_byte(index as u8),
            None => LanguageCode::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LanguageCode::Java => "JAVA",
            LanguageCode::Cpp => "CPP",
            LanguageCode::Dotnet => "DOTNET",
            LanguageCode::Python => "PYTHON",
            LanguageCode::Delphi => "DELPHI",
            LanguageCode::Erlang => "ERLANG",
            LanguageCode::Ruby => "RUBY",
            LanguageCode::Other | LanguageCode::Unknown(_) => "OTHER",
            LanguageCode::Http => "HTTP",
            LanguageCode::Go => "GO",
            LanguageCode::Php => "PHP",
            LanguageCode::Oms => "OMS",
            LanguageCode::Rust => "RUST",
            LanguageCode::NodeJs => "NODE_JS",
        }
    }
}

/// The custom header of a command, flattened to string pairs as Java's `extFields` map.
///
/// A small vector rather than a hash map: headers hold a dozen keys at most, and a linear
/// scan over them is faster than hashing on the send path. Insertion order is kept, so an
/// encoded header lists fields in the order the typed header wrote them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtFields(Vec<(String, String)>);

impl ExtFields {
    pub fn new() -> ExtFields {
        ExtFields(Vec::new())
    }

    pub fn with_capacity(capacity: usize) -> ExtFields {
        ExtFields(Vec::with_capacity(capacity))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key`, replacing an earlier value (a JSON object with a repeated key keeps the
    /// last one, as fastjson does).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let index = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(index).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, String)> for ExtFields {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> ExtFields {
        let mut fields = ExtFields::new();
        for (k, v) in iter {
            fields.insert(k, v);
        }
        fields
    }
}

/// One remoting request or response (remoting-protocol.md section 1.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemotingCommand {
    /// Request code in a request, response code in a response.
    pub code: i32,
    pub language: LanguageCode,
    pub version: i32,
    /// Chosen by the requester; a response copies it so replies can be matched.
    pub opaque: i32,
    pub flag: i32,
    pub remark: Option<String>,
    /// `None` and empty are different on the JSON wire (`extFields` absent vs `{}`), and
    /// Java reads send-response extFields without a null check, so keep the distinction.
    pub ext_fields: Option<ExtFields>,
    pub body: Bytes,
    /// How the header arrived (or will be written).
    pub serialize_type: SerializeType,
}

impl RemotingCommand {
    /// A request with Ramjet's language and version; the opaque is set by whoever sends it.
    pub fn request(code: i32) -> RemotingCommand {
        RemotingCommand {
            code,
            language: LanguageCode::Rust,
            version: version::CURRENT,
            ..RemotingCommand::default()
        }
    }

    /// The response to `request`, with its opaque and serialize type. Responses are written
    /// in the serialization the request used, so a client that only speaks JSON (the C++
    /// client ignores the type byte) always gets JSON.
    pub fn response_to(request: &RemotingCommand, code: i32) -> RemotingCommand {
        RemotingCommand {
            code,
            language: LanguageCode::Java,
            version: version::CURRENT,
            opaque: request.opaque,
            flag: FLAG_RESPONSE,
            serialize_type: request.serialize_type,
            ..RemotingCommand::default()
        }
    }

    pub fn with_remark(mut self, remark: impl Into<String>) -> RemotingCommand {
        self.remark = Some(remark.into());
        self
    }

    pub fn with_body(mut self, body: impl Into<Bytes>) -> RemotingCommand {
        self.body = body.into();
        self
    }

    pub fn with_ext_fields(mut self, ext_fields: ExtFields) -> RemotingCommand {
        self.ext_fields = Some(ext_fields);
        self
    }

    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    pub fn mark_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }

    pub fn ext_field(&self, key: &str) -> Option<&str> {
        self.ext_fields.as_ref().and_then(|fields| fields.get(key))
    }

    /// The custom header, or an empty one: decoding a header never needs a copy.
    pub fn fields(&self) -> &ExtFields {
        static EMPTY: ExtFields = ExtFields(Vec::new());
        self.ext_fields.as_ref().unwrap_or(&EMPTY)
    }

    pub fn ext_fields_mut(&mut self) -> &mut ExtFields {
        self.ext_fields.get_or_insert_with(ExtFields::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes_match_java_ordinals() {
        // Java's LanguageCode enum: RUST is 12, GO is 9, CPP is 1.
        assert_eq!(LanguageCode::Rust.to_byte(), 12);
        assert_eq!(LanguageCode::Go.to_byte(), 9);
        assert_eq!(LanguageCode::from_byte(1), LanguageCode::Cpp);
        assert_eq!(LanguageCode::from_byte(200), LanguageCode::Unknown(200));
        assert_eq!(LanguageCode::Unknown(200).to_byte(), 200);
        assert_eq!(LanguageCode::from_name("cpp"), LanguageCode::Cpp);
        assert_eq!(LanguageCode::from_name("COBOL"), LanguageCode::Other);
    }

    #[test]
    fn ext_fields_keep_the_last_value_of_a_repeated_key() {
        let mut fields = ExtFields::new();
        fields.insert("topic", "A");
        fields.insert("topic", "B");
        assert_eq!(fields.get("topic"), Some("B"));
        assert_eq!(fields.len(), 1);
    }
}

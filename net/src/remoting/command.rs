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
///
/// Every key and value lives in one `text` buffer, and `entries` holds their spans: decoding
/// a Java send header (a dozen fields) costs two allocations, not two per field. A replaced
/// value stays behind in `text` as dead bytes until the fields are dropped; that is bounded
/// by the header the fields came from, or by the broker's own inserts.
#[derive(Clone, Default)]
pub struct ExtFields {
    text: String,
    entries: Vec<Entry>,
}

/// Byte spans of one key and its value in `ExtFields::text`.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: (usize, usize),
    value: (usize, usize),
}

impl ExtFields {
    pub const fn new() -> ExtFields {
        ExtFields {
            text: String::new(),
            entries: Vec::new(),
        }
    }

    pub fn with_capacity(capacity: usize) -> ExtFields {
        ExtFields {
            text: String::with_capacity(capacity * 16),
            entries: Vec::with_capacity(capacity),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.position(key)
            .map(|index| self.span(self.entries[index].value))
    }

    /// Sets `key`, replacing an earlier value (a JSON object with a repeated key keeps the
    /// last one, as fastjson does).
    pub fn insert(&mut self, key: impl AsRef<str>, value: impl AsRef<str>) {
        let key_start = self.text.len();
        self.text.push_str(key.as_ref());
        let value_start = self.text.len();
        self.text.push_str(value.as_ref());
        self.commit(key_start, value_start);
    }

    /// The text buffer, for a decoder that appends a key and then its value straight from
    /// its input and calls [`ExtFields::commit`] (or [`ExtFields::discard_from`]).
    pub(crate) fn text_mut(&mut self) -> &mut String {
        &mut self.text
    }

    /// Records the key appended at `key_start..value_start` and the value appended at
    /// `value_start..` of the text buffer. A key already present keeps its place and takes
    /// the new value; the repeated key's text is left dead.
    pub(crate) fn commit(&mut self, key_start: usize, value_start: usize) {
        debug_assert!(key_start <= value_start && value_start <= self.text.len());
        let value = (value_start, self.text.len());
        let key = &self.text[key_start..value_start];
        match self.position(key) {
            Some(index) => self.entries[index].value = value,
            None => self.entries.push(Entry {
                key: (key_start, value_start),
                value,
            }),
        }
    }

    /// Drops text appended at or after `from` that no entry refers to (a key whose value
    /// turned out to be null).
    pub(crate) fn discard_from(&mut self, from: usize) {
        debug_assert!(self.entries.iter().all(|e| e.value.1 <= from));
        self.text.truncate(from);
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let index = self.position(key)?;
        let entry = self.entries.remove(index);
        Some(self.span(entry.value).to_owned())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|entry| (self.span(entry.key), self.span(entry.value)))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        let key = key.as_bytes();
        self.entries.iter().position(|e| {
            // Lengths first, then bytes: most keys are one letter (Java's SEND_MESSAGE_V2
            // header is `a`..`n`), and a call into memcmp per probe cost more than the scan.
            let probe = &self.text.as_bytes()[e.key.0..e.key.1];
            probe.len() == key.len() && probe.iter().zip(key).all(|(a, b)| a == b)
        })
    }

    fn span(&self, (start, end): (usize, usize)) -> &str {
        &self.text[start..end]
    }
}

/// Equal when they hold the same pairs in the same order; dead text does not count.
impl PartialEq for ExtFields {
    fn eq(&self, other: &ExtFields) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for ExtFields {}

impl std::fmt::Debug for ExtFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for ExtFields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> ExtFields {
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
        static EMPTY: ExtFields = ExtFields::new();
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

    #[test]
    fn ext_fields_compare_by_pairs_not_by_their_text() {
        let mut replaced = ExtFields::new();
        replaced.insert("a", "1");
        replaced.insert("b", "old");
        replaced.insert("b", "2");
        replaced.insert("c", "3");
        assert_eq!(replaced.remove("c").as_deref(), Some("3"));
        assert_eq!(replaced.remove("c"), None);
        let fresh: ExtFields = [("a", "1"), ("b", "2")].into_iter().collect();
        assert_eq!(replaced, fresh);
        let reordered: ExtFields = [("b", "2"), ("a", "1")].into_iter().collect();
        assert_ne!(replaced, reordered);
        assert_eq!(format!("{fresh:?}"), r#"{"a": "1", "b": "2"}"#);
        // One-letter keys must not match longer ones that start with the same letter.
        assert_eq!(fresh.get("ab"), None);
        assert_eq!(fresh.get(""), None);
    }
}

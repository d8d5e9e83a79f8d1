//! Message properties as RocketMQ stores them: `name 0x01 value 0x02` repeated
//! (`MessageDecoder.messageProperties2String` / `string2messageProperties`).

pub const NAME_VALUE_SEPARATOR: u8 = 1;
pub const PROPERTY_SEPARATOR: u8 = 2;

pub const PROPERTY_KEYS: &str = "KEYS";
pub const PROPERTY_TAGS: &str = "TAGS";
/// `MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX`, whose value is `UNIQ_KEY`.
pub const PROPERTY_UNIQ_KEY: &str = "UNIQ_KEY";

/// Ordered name/value pairs. Order is kept because the stored bytes must round-trip exactly:
/// a pull response hands the client the very bytes it sent, plus what the broker added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<(String, String)>,
}

impl Properties {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Replaces an existing value in place (keeping its position), else appends.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.entries.iter_mut().find(|(key, _)| key == name) {
            Some(entry) => entry.1 = value.to_string(),
            None => self.entries.push((name.to_string(), value.to_string())),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        let position = self.entries.iter().position(|(key, _)| key == name)?;
        Some(self.entries.remove(position).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes as stored. Names and values containing a separator byte would not round-trip;
    /// Java has the same limitation, and clients never send them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.encoded_len());
        for (name, value) in &self.entries {
            bytes.extend_from_slice(name.as_bytes());
            bytes.push(NAME_VALUE_SEPARATOR);
            bytes.extend_from_slice(value.as_bytes());
            bytes.push(PROPERTY_SEPARATOR);
        }
        bytes
    }

    pub fn encoded_len(&self) -> usize {
        self.entries
            .iter()
            .map(|(name, value)| name.len() + value.len() + 2)
            .sum()
    }

    /// Lenient like Java: a missing trailing separator is fine, and a pair without 0x01 is
    /// skipped. Invalid UTF-8 is replaced rather than rejected, because a record on disk that
    /// passed its CRC must still be served and dispatched.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut entries = Vec::new();
        for pair in bytes.split(|byte| *byte == PROPERTY_SEPARATOR) {
            let Some(split) = pair.iter().position(|byte| *byte == NAME_VALUE_SEPARATOR) else {
                continue;
            };
            let name = String::from_utf8_lossy(&pair[..split]).into_owned();
            let value = String::from_utf8_lossy(&pair[split + 1..]).into_owned();
            entries.push((name, value));
        }
        Self { entries }
    }

    /// Space-separated `KEYS` tokens, as `IndexService.buildIndex` splits them.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.get(PROPERTY_KEYS)
            .unwrap_or("")
            .split(' ')
            .filter(|key| !key.is_empty())
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let entries = iter
            .into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        Self { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_with_rocketmq_separators() {
        let properties: Properties = [("TAGS", "TagA"), ("KEYS", "k1 k2")].into_iter().collect();
        assert_eq!(properties.to_bytes(), b"TAGS\x01TagA\x02KEYS\x01k1 k2\x02");
        assert_eq!(Properties::from_bytes(&properties.to_bytes()), properties);
        assert_eq!(properties.keys().collect::<Vec<_>>(), ["k1", "k2"]);
    }

    #[test]
    fn decodes_without_trailing_separator_like_java() {
        let properties = Properties::from_bytes(b"A\x011\x02B\x012");
        assert_eq!(properties.get("A"), Some("1"));
        assert_eq!(properties.get("B"), Some("2"));
    }

    #[test]
    fn set_replaces_in_place() {
        let mut properties: Properties = [("A", "1"), ("B", "2")].into_iter().collect();
        properties.set("A", "3");
        assert_eq!(properties.to_bytes(), b"A\x013\x02B\x012\x02");
        assert_eq!(properties.remove("A").as_deref(), Some("3"));
        assert_eq!(properties.to_bytes(), b"B\x012\x02");
    }
}

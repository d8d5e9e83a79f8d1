//! fastjson's dialect of JSON (remoting-protocol.md section 3).
//!
//! Java writes maps with non-string keys unquoted (`{0:"addr"}`) and maps keyed by objects
//! with the object itself as the key (`{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}`).
//! Neither is JSON. [`parse`] reads both (plus everything standard), turning each key into a
//! string: an unquoted number stays its text, an object key becomes its compact JSON text.
//! [`ObjectKeyedMap`] writes the object-keyed form that Java tools require.

use serde::Serialize;
use serde_json::{Map, Value};

/// Why a fastjson text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON body at byte {at}: {reason}")]
pub struct FastjsonError {
    pub at: usize,
    pub reason: &'static str,
}

/// Deepest nesting accepted; bodies from clients are shallow, and a bound keeps a hostile
/// body from overflowing the stack.
const NESTING_MAX: usize = 64;

/// Parses standard JSON or fastjson's extensions into a `serde_json::Value`.
pub fn parse(text: &[u8]) -> Result<Value, FastjsonError> {
    let mut parser = Parser { text, at: 0 };
    let value = parser.value(0)?;
    parser.skip_space();
    if parser.at != text.len() {
        return Err(parser.error("trailing characters"));
    }
    Ok(value)
}

/// Parses fastjson text straight into a typed body.
pub fn from_slice<T: serde::de::DeserializeOwned>(text: &[u8]) -> Result<T, String> {
    // Fast path: almost every body is standard JSON.
    match serde_json::from_slice(text) {
        Ok(value) => Ok(value),
        Err(standard_error) => {
            let value = parse(text).map_err(|e| e.to_string())?;
            serde_json::from_value(value).map_err(|_| standard_error.to_string())
        }
    }
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> FastjsonError {
        FastjsonError {
            at: self.at,
            reason,
        }
    }

    fn skip_space(&mut self) {
        while self.at < self.text.len() && self.text[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.text.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), FastjsonError> {
        if self.peek() != Some(byte) {
            return Err(self.error(reason));
        }
        self.at += 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value, FastjsonError> {
        if depth > NESTING_MAX {
            return Err(self.error("nesting too deep"));
        }
        match self.peek().ok_or_else(|| self.error("unexpected end"))? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' | b'\'' => Ok(Value::String(self.string()?)),
            _ => self.scalar(),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, FastjsonError> {
        self.expect(b'{', "expected '{'")?;
        let mut map = Map::new();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(map));
        }
        loop {
            let key = self.key(depth)?;
            self.expect(b':', "expected ':' after a key")?;
            let value = self.value(depth + 1)?;
            map.insert(key, value);
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(self.error("expected ',' or '}' in an object")),
            }
        }
    }

    /// A key: a string, an unquoted word or number, or (fastjson) a whole object.
    fn key(&mut self, depth: usize) -> Result<String, FastjsonError> {
        match self
            .peek()
            .ok_or_else(|| self.error("unexpected end in a key"))?
        {
            b'"' | b'\'' => self.string(),
            b'{' | b'[' => {
                let value = self.value(depth + 1)?;
                Ok(serde_json::to_string(&value).expect("a Value always serializes"))
            }
            _ => {
                let start = self.at;
                while self.at < self.text.len()
                    && !matches!(self.text[self.at], b':' | b',' | b'}')
                    && !self.text[self.at].is_ascii_whitespace()
                {
                    self.at += 1;
                }
                if start == self.at {
                    return Err(self.error("empty key"));
                }
                std::str::from_utf8(&self.text[start..self.at])
                    .map(str::to_owned)
                    .map_err(|_| self.error("key is not UTF-8"))
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, FastjsonError> {
        self.expect(b'[', "expected '['")?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']' in an array")),
            }
        }
    }

    /// A double- or single-quoted string; escapes are decoded by serde_json itself.
    fn string(&mut self) -> Result<String, FastjsonError> {
        let quote = self.text[self.at];
        let start = self.at;
        self.at += 1;
        while self.at < self.text.len() && self.text[self.at] != quote {
            self.at += if self.text[self.at] == b'\\' { 2 } else { 1 };
        }
        if self.at >= self.text.len() {
            return Err(self.error("unterminated string"));
        }
        self.at += 1;
        let mut literal = self.text[start..self.at].to_vec();
        if quote == b'\'' {
            let last = literal.len() - 1;
            literal[0] = b'"';
            literal[last] = b'"';
        }
        serde_json::from_slice(&literal).map_err(|_| FastjsonError {
            at: start,
            reason: "bad string",
        })
    }

    fn scalar(&mut self) -> Result<Value, FastjsonError> {
        let start = self.at;
        while self.at < self.text.len()
            && !matches!(self.text[self.at], b',' | b'}' | b']' | b':')
            && !self.text[self.at].is_ascii_whitespace()
        {
            self.at += 1;
        }
        serde_json::from_slice(&self.text[start..self.at]).map_err(|_| FastjsonError {
            at: start,
            reason: "bad literal",
        })
    }
}

/// A map whose keys are objects, written the way fastjson writes it: each key is the key
/// object's compact JSON. `mqadmin` (Java) reads ConsumeStats and TopicStatsTable only in
/// this form.
pub struct ObjectKeyedMap<'a, K: Serialize, V: Serialize>(pub &'a [(K, V)]);

impl<K: Serialize, V: Serialize> ObjectKeyedMap<'_, K, V> {
    pub fn write_json(&self, out: &mut Vec<u8>) {
        write_object_keyed(self.0.iter().map(|(key, value)| (key, value)), out);
    }
}

/// Writes `entries` as a fastjson map keyed by objects: each key is its compact JSON.
pub fn write_object_keyed<'a, K, V, I>(entries: I, out: &mut Vec<u8>)
where
    K: Serialize + 'a,
    V: Serialize + 'a,
    I: IntoIterator<Item = (&'a K, &'a V)>,
{
    out.push(b'{');
    for (index, (key, value)) in entries.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key).expect("writing to a Vec cannot fail");
        out.push(b':');
        serde_json::to_writer(&mut *out, value).expect("writing to a Vec cannot fail");
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_unquoted_number_keys() {
        let value = parse(br#"{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"}}"#).unwrap();
        assert_eq!(
            value,
            json!({"brokerAddrs": {"0": "127.0.0.1:10911", "1": "127.0.0.1:10921"}})
        );
    }

    #[test]
    fn reads_object_keys_as_their_compact_json() {
        let text =
            br#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"maxOffset":3}}}"#;
        let value = parse(text).unwrap();
        let table = value["offsetTable"].as_object().unwrap();
        let (key, entry) = table.iter().next().unwrap();
        assert_eq!(key, r#"{"brokerName":"b","queueId":0,"topic":"T"}"#);
        assert_eq!(entry["maxOffset"], 3);
    }

    #[test]
    fn writes_object_keys_as_fastjson_does() {
        let entries = [(
            json!({"brokerName":"b","queueId":0,"topic":"T"}),
            json!({"maxOffset":3}),
        )];
        let mut out = Vec::new();
        ObjectKeyedMap(&entries).write_json(&mut out);
        assert_eq!(
            out,
            br#"{{"brokerName":"b","queueId":0,"topic":"T"}:{"maxOffset":3}}"#
        );
        let back = parse(&out).unwrap();
        assert_eq!(back.as_object().unwrap().len(), 1);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for text in [
            &b"{"[..],
            b"{0:}",
            b"[1,",
            b"\"abc",
            b"{\"a\":1}x",
            b"{:1}",
            b"nul",
        ] {
            assert!(parse(text).is_err(), "{:?}", String::from_utf8_lossy(text));
        }
        let deep = "[".repeat(1000);
        assert!(parse(deep.as_bytes()).is_err());
    }
}

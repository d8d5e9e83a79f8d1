//! Properties read in place from a stored record's PROPERTIES field
//! (`name 0x01 value 0x02 ...`), so a pull filters without decoding or copying records.

use std::borrow::Cow;

use crate::Context;

const NAME_VALUE_SEPARATOR: u8 = 1;
const PROPERTY_SEPARATOR: u8 = 2;

/// The raw PROPERTIES bytes of one record.
#[derive(Clone, Copy, Debug)]
pub struct RawProperties<'a>(pub &'a [u8]);

impl Context for RawProperties<'_> {
    /// The last pair with this name wins (Java fills a HashMap); a pair without 0x01 is
    /// skipped; invalid UTF-8 is replaced, as Java's decoder does.
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let name = name.as_bytes();
        self.0
            .split(|byte| *byte == PROPERTY_SEPARATOR)
            .rev()
            .find_map(|pair| {
                let split = pair.iter().position(|byte| *byte == NAME_VALUE_SEPARATOR)?;
                (&pair[..split] == name).then(|| &pair[split + 1..])
            })
            .map(String::from_utf8_lossy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pairs_in_place() {
        let raw = RawProperties(b"a\x011\x02TAGS\x01x\x02junk\x02a\x012\x02");
        assert_eq!(raw.get("a").as_deref(), Some("2"));
        assert_eq!(raw.get("TAGS").as_deref(), Some("x"));
        assert_eq!(raw.get("junk"), None);
        assert_eq!(raw.get("b"), None);
        assert_eq!(RawProperties(b"k\x01v").get("k").as_deref(), Some("v"));
    }
}

//! Topic and group attributes as mqadmin takes and prints them (`-a +a=b,+c=d,-e`).

use std::collections::BTreeMap;

/// `AttributeParser.parseToMap`: `+a=b,+c=d,-e` -> {+a: b, +c: d, -e: ""}.
pub fn parse_attributes(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut attributes = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = match item.split_once('=') {
            Some((key, value)) => (key, value),
            None => (item, ""),
        };
        let adds = key.starts_with('+');
        if !adds && !key.starts_with('-') {
            return Err(format!(
                "attribute {item:?} must start with + (set) or - (remove)"
            ));
        }
        if adds == value.is_empty() {
            return Err(format!(
                "attribute {item:?}: +key needs =value, -key takes none"
            ));
        }
        attributes.insert(key.to_owned(), value.to_owned());
    }
    Ok(attributes)
}

/// Java's `Map.toString`: `{k1=v1, k2=v2}`.
pub fn java_map(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_parse_like_java() {
        let parsed = parse_attributes("+message.type=FIFO,-old").unwrap();
        assert_eq!(java_map(&parsed), "{+message.type=FIFO, -old=}");
        assert!(parse_attributes("noSign=1").is_err());
        assert!(parse_attributes("+noValue").is_err());
    }
}

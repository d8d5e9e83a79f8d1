//! Java `.properties` text: the format of `broker.conf`, `namesrv.properties`, and of the
//! UPDATE_BROKER_CONFIG / GET_BROKER_CONFIG / GET_NAMESRV_CONFIG bodies.
//!
//! Supported: `key=value`, `key: value`, `key value`, `#` and `!` comments, blank lines,
//! leading whitespace, backslash line continuations and the common escapes. Later keys
//! override earlier ones, as `Properties.load` does.

/// Parses properties text into ordered (key, value) pairs; a later duplicate replaces the
/// earlier value in place.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        let continued = ends_with_odd_backslashes(line);
        logical.push_str(if continued {
            &line[..line.len() - 1]
        } else {
            line
        });
        if continued {
            continue;
        }
        let (key, value) = split_key_value(&logical);
        let (key, value) = (unescape(key), unescape(value));
        match pairs.iter_mut().find(|(k, _)| *k == key) {
            Some(pair) => pair.1 = value,
            None => pairs.push((key, value)),
        }
        logical.clear();
    }
    pairs
}

fn ends_with_odd_backslashes(line: &str) -> bool {
    line.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

fn split_key_value(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'=' | b':' | b' ' | b'\t' => break,
            _ => index += 1,
        }
    }
    let index = index.min(bytes.len());
    let key = &line[..index];
    let mut rest = line[index..].trim_start_matches([' ', '\t']);
    if let Some(stripped) = rest.strip_prefix(['=', ':']) {
        rest = stripped.trim_start_matches([' ', '\t']);
    }
    (key, rest.trim_end())
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Why a configuration property could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PropertyError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("property {key}: {value:?} is not a valid {expected}")]
    BadValue {
        key: String,
        value: String,
        expected: &'static str,
    },
}

/// Parses one property's value, naming the key and what was expected on failure.
pub fn parse_value<T: std::str::FromStr>(
    key: &str,
    value: &str,
    expected: &'static str,
) -> Result<T, PropertyError> {
    value.trim().parse().map_err(|_| PropertyError::BadValue {
        key: key.to_owned(),
        value: value.to_owned(),
        expected,
    })
}

/// `true` / `false` in any case, as Java's config loader accepts; anything else is an error
/// rather than Java's silent `false`, so a typo in broker.conf is caught at start.
pub fn parse_bool(key: &str, value: &str) -> Result<bool, PropertyError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(PropertyError::BadValue {
            key: key.to_owned(),
            value: value.to_owned(),
            expected: "boolean",
        }),
    }
}

/// Reads a properties file and applies each pair with `set`, which answers whether it
/// knew the key. Returns the unknown keys, for the caller to warn about.
pub fn load_file<E: From<PropertyError>>(
    path: &str,
    mut set: impl FnMut(&str, &str) -> Result<bool, E>,
) -> Result<Vec<String>, E> {
    let text = std::fs::read_to_string(path).map_err(|source| PropertyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut unknown = Vec::new();
    for (key, value) in parse(&text) {
        if !set(&key, &value)? {
            unknown.push(key);
        }
    }
    Ok(unknown)
}

/// The command line RocketMQ's server scripts take (`mqnamesrv`, `mqbroker`):
/// `-h`, `-p`, `-c <file>`, `-n <addrs>`, bare flags the caller names, and property overrides
/// as `--<key> <value>` or `--<key>=<value>`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CommandLine {
    pub help: bool,
    pub print: bool,
    pub config_files: Vec<String>,
    pub namesrv_addr: Option<String>,
    pub bare_flags: Vec<String>,
    pub overrides: Vec<(String, String)>,
}

impl CommandLine {
    /// Parses `args`; `bare_flags` are the `--flags` that take no value.
    pub fn parse(args: &[String], bare_flags: &[&str]) -> Result<CommandLine, String> {
        let mut line = CommandLine::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("{arg} needs a value"))
            };
            match arg.as_str() {
                "-h" | "--help" => line.help = true,
                "-p" | "--printConfigItem" => line.print = true,
                "-c" | "--configFile" => line.config_files.push(value()?),
                "-n" | "--namesrvAddr" => line.namesrv_addr = Some(value()?),
                flag if bare_flags.contains(&flag) => line.bare_flags.push(flag.to_owned()),
                flag if flag.starts_with("--") => {
                    let flag = &flag[2..];
                    let pair = match flag.split_once('=') {
                        Some((key, val)) => (key.to_owned(), val.to_owned()),
                        None => (flag.to_owned(), value()?),
                    };
                    line.overrides.push(pair);
                }
                other => return Err(format!("unexpected argument {other:?}")),
            }
        }
        Ok(line)
    }

    pub fn has(&self, flag: &str) -> bool {
        self.bare_flags.iter().any(|f| f == flag)
    }

    /// Removes and returns an override the caller handles itself (not a property).
    pub fn take_override(&mut self, key: &str) -> Option<String> {
        let index = self.overrides.iter().position(|(k, _)| k == key)?;
        Some(self.overrides.remove(index).1)
    }
}

/// Writes pairs as `key=value` lines, the form GET_BROKER_CONFIG answers with.
pub fn to_text<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        out.push_str(key);
        out.push('=');
        out.push_str(value);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rocketmq_broker_conf() {
        // The shape of RocketMQ's distribution/conf/broker.conf.
        let text = "# comment\n! also\nbrokerClusterName = DefaultCluster\nbrokerName=broker-a\n\
                    brokerId : 0\ndeleteWhen  04\nflushDiskType=ASYNC_FLUSH\n  listenPort=10911  \n\
                    storePathRootDir=/data/a\\\n  /b\nbrokerName=broker-b\n";
        let pairs = parse(text);
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("brokerClusterName"), Some("DefaultCluster"));
        assert_eq!(get("brokerId"), Some("0"));
        assert_eq!(get("deleteWhen"), Some("04"));
        assert_eq!(get("listenPort"), Some("10911"));
        assert_eq!(get("storePathRootDir"), Some("/data/a/b"));
        assert_eq!(get("brokerName"), Some("broker-b"));
        assert_eq!(pairs.len(), 7);
    }

    #[test]
    fn command_line_reads_rocketmq_script_flags() {
        let args: Vec<String> = [
            "-c",
            "b.conf",
            "--standalone",
            "--listenPort",
            "1",
            "--x=2",
            "-n",
            "a:1",
            "-p",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut line = CommandLine::parse(&args, &["--standalone"]).unwrap();
        assert_eq!(line.config_files, ["b.conf"]);
        assert!(line.has("--standalone") && line.print && !line.help);
        assert_eq!(line.namesrv_addr.as_deref(), Some("a:1"));
        assert_eq!(line.take_override("x").as_deref(), Some("2"));
        assert_eq!(line.overrides, [("listenPort".to_owned(), "1".to_owned())]);
        assert!(CommandLine::parse(&["-c".to_owned()], &[]).is_err());
        assert!(CommandLine::parse(&["stray".to_owned()], &[]).is_err());
    }

    #[test]
    fn key_without_value_is_empty() {
        assert_eq!(parse("alone\n"), vec![("alone".to_owned(), String::new())]);
    }
}

//! `whiteRemoteAddress` / `globalWhiteRemoteAddresses` patterns, as RocketMQ's
//! `RemoteAddressStrategyFactory` reads them: blank (matches nothing), `*` (everything),
//! one address, a comma list, `192.168.1.{1,2}`, and IPv4 ranges `10.0.*`, `10.0.0.1-100`.
//! IPv6 is matched as exact addresses only.

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressRule {
    /// A blank pattern: no address is whitelisted.
    Blank,
    Any,
    Exact(Vec<String>),
    /// The first `prefix.len()` octets equal `prefix`, the next lies in `start..=end`, the
    /// rest are free.
    Range {
        prefix: Vec<u8>,
        start: u8,
        end: u8,
    },
}

impl AddressRule {
    pub fn parse(pattern: &str) -> Result<AddressRule, String> {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Ok(AddressRule::Blank);
        }
        if matches!(pattern, "*" | "*.*.*.*" | "*:*:*:*:*:*:*:*") {
            return Ok(AddressRule::Any);
        }
        if let Some(open) = pattern.find('{') {
            if !pattern.ends_with('}') {
                return Err(format!("bad address list {pattern:?}"));
            }
            let head = &pattern[..open];
            let list = &pattern[open + 1..pattern.len() - 1];
            let addrs = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|tail| format!("{head}{tail}"))
                .collect::<Vec<_>>();
            return exact(addrs);
        }
        if pattern.contains(',') {
            return exact(
                pattern
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
            );
        }
        if (pattern.contains('*') || pattern.contains('-')) && !pattern.contains(':') {
            return range(pattern);
        }
        exact(vec![pattern.to_owned()])
    }

    pub fn matches(&self, peer: IpAddr) -> bool {
        // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; match them as IPv4.
        let peer = peer.to_canonical();
        match self {
            AddressRule::Blank => false,
            AddressRule::Any => true,
            AddressRule::Exact(addrs) => addrs.contains(&peer.to_string()),
            AddressRule::Range { prefix, start, end } => {
                let IpAddr::V4(v4) = peer else { return false };
                let octets = v4.octets();
                octets[..prefix.len()] == prefix[..]
                    && (*start..=*end).contains(&octets[prefix.len()])
            }
        }
    }
}

fn exact(addrs: Vec<String>) -> Result<AddressRule, String> {
    for addr in &addrs {
        addr.parse::<IpAddr>()
            .map_err(|_| format!("{addr:?} is not an IP address"))?;
    }
    Ok(AddressRule::Exact(addrs))
}

fn range(pattern: &str) -> Result<AddressRule, String> {
    let bad = || format!("bad address range {pattern:?}");
    let parts: Vec<&str> = pattern.split('.').map(str::trim).collect();
    if parts.len() != 4 {
        return Err(bad());
    }
    let at = parts
        .iter()
        .position(|p| *p == "*" || p.contains('-'))
        .ok_or_else(bad)?;
    if at == 0 || parts[at + 1..].iter().any(|p| *p != "*") {
        return Err(bad());
    }
    let prefix = parts[..at]
        .iter()
        .map(|p| p.parse::<u8>().map_err(|_| bad()))
        .collect::<Result<Vec<u8>, String>>()?;
    let (start, end) = match parts[at] {
        "*" => (0, 255),
        span => {
            let (a, b) = span.split_once('-').ok_or_else(bad)?;
            let a: u8 = a.trim().parse().map_err(|_| bad())?;
            let b: u8 = b.trim().parse().map_err(|_| bad())?;
            if a > b {
                return Err(bad());
            }
            (a, b)
        }
    };
    Ok(AddressRule::Range { prefix, start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn patterns() {
        assert!(!AddressRule::parse("").unwrap().matches(ip("127.0.0.1")));
        assert!(AddressRule::parse("*").unwrap().matches(ip("10.1.2.3")));
        let one = AddressRule::parse("192.168.0.1").unwrap();
        assert!(one.matches(ip("192.168.0.1")) && !one.matches(ip("192.168.0.2")));
        let list = AddressRule::parse("192.168.1.{1,3}").unwrap();
        assert!(list.matches(ip("192.168.1.3")) && !list.matches(ip("192.168.1.2")));
        let commas = AddressRule::parse("10.0.0.1, 10.0.0.2").unwrap();
        assert!(commas.matches(ip("10.0.0.2")));
        let star = AddressRule::parse("10.2.*.*").unwrap();
        assert!(star.matches(ip("10.2.9.9")) && !star.matches(ip("10.3.0.0")));
        let span = AddressRule::parse("10.0.0.5-10").unwrap();
        assert!(span.matches(ip("10.0.0.5")) && span.matches(ip("10.0.0.10")));
        assert!(!span.matches(ip("10.0.0.11")) && !span.matches(ip("10.0.1.6")));
        assert!(span.matches(ip("::ffff:10.0.0.7")) && one.matches(ip("::ffff:192.168.0.1")));
    }

    #[test]
    fn bad_patterns_are_errors() {
        for bad in [
            "10.0.0",
            "10.0.*.1",
            "10.0.0.9-3",
            "*.0.0.1",
            "nonsense",
            "1.2.3.{4",
        ] {
            assert!(AddressRule::parse(bad).is_err(), "{bad}");
        }
    }
}

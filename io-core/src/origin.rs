//! Which web origins may talk to the server.
//!
//! The option keeps the seed's `host:port` syntax, where either part may be `*`, but the
//! matching is exact: the reference compared `host:port` strings in a way that made every
//! pattern with a concrete port fail (docs/PROTOCOL.md §5.1, §10.13).

use std::fmt;
use std::str::FromStr;

/// One `host:port` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    /// Lower-case host name, or `None` for `*`.
    host: Option<String>,
    /// Port, or `None` for `*`.
    port: Option<u16>,
}

/// The `origins` option: a list of patterns. The default, `*:*`, allows every origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    patterns: Vec<OriginPattern>,
}

/// An `origins` entry that is not `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginParseError(pub String);

impl fmt::Display for OriginParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid origin pattern {:?}: expected host:port, where either part may be *",
            self.0
        )
    }
}

impl std::error::Error for OriginParseError {}

impl FromStr for OriginPattern {
    type Err = OriginParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || OriginParseError(s.to_owned());
        let (host, port) = s.rsplit_once(':').ok_or_else(err)?;
        if host.is_empty() || host.contains(['<', '>', '"', '\'', '&', '/', ' ']) {
            return Err(err());
        }
        let host = (host != "*").then(|| host.to_ascii_lowercase());
        let port = match port {
            "*" => None,
            p => Some(p.parse().map_err(|_| err())?),
        };
        Ok(OriginPattern { host, port })
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.host.as_deref().unwrap_or("*"))?;
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => f.write_str(":*"),
        }
    }
}

impl OriginPattern {
    /// The pattern's parts as the Flash policy writes them: (`domain`, `to-ports`).
    pub fn policy_parts(&self) -> (String, String) {
        (
            self.host.clone().unwrap_or_else(|| "*".into()),
            self.port.map_or_else(|| "*".into(), |p| p.to_string()),
        )
    }

    fn is_any(&self) -> bool {
        self.host.is_none() && self.port.is_none()
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        self.host.as_deref().is_none_or(|h| h == host) && self.port.is_none_or(|p| p == port)
    }
}

impl Origins {
    /// `*:*`: every origin, and requests without one.
    pub fn any() -> Self {
        Origins {
            patterns: vec![OriginPattern {
                host: None,
                port: None,
            }],
        }
    }

    /// Parses a list such as `["good.example:*", "*:8443"]`.
    pub fn parse<'a>(list: impl IntoIterator<Item = &'a str>) -> Result<Self, OriginParseError> {
        let patterns = list
            .into_iter()
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Origins { patterns })
    }

    /// The patterns in the order given; they are also the Flash policy's entries.
    pub fn patterns(&self) -> &[OriginPattern] {
        &self.patterns
    }

    /// Whether a `*:*` pattern lets every request through, with or without an `Origin`.
    pub fn allows_any(&self) -> bool {
        self.patterns.iter().any(OriginPattern::is_any)
    }

    /// Whether a request carrying this `Origin` header (or none) may proceed.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        if self.allows_any() {
            return true;
        }
        let Some((host, port)) = origin.and_then(parse_origin) else {
            return false;
        };
        self.patterns.iter().any(|p| p.matches(&host, port))
    }
}

/// Splits a serialized origin (`scheme://host[:port]`) into its host and effective port.
fn parse_origin(origin: &str) -> Option<(String, u16)> {
    let (scheme, rest) = origin.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => return None,
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after {
            "" => default_port,
            p => p.strip_prefix(':')?.parse().ok()?,
        };
        (format!("[{h}]"), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()?),
            None => (rest.to_owned(), default_port),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(list: &[&str]) -> Origins {
        Origins::parse(list.iter().copied()).unwrap()
    }

    #[test]
    fn any_allows_everything_including_no_origin() {
        let o = Origins::any();
        assert!(o.allows(None));
        assert!(o.allows(Some("null")));
        assert!(o.allows(Some("http://evil.example")));
    }

    #[test]
    fn patterns_with_ports_match_exactly() {
        // The reference fails every one of these (docs/PROTOCOL.md §10.13); we match them.
        let o = origins(&["good.example:*", "*:8443", "exact.example:80"]);
        assert!(o.allows(Some("http://good.example")));
        assert!(o.allows(Some("http://good.example:3000")));
        assert!(o.allows(Some("https://x.example:8443")));
        assert!(o.allows(Some("http://exact.example")));
        assert!(o.allows(Some("http://exact.example:80")));
        assert!(!o.allows(Some("https://exact.example")));
        assert!(!o.allows(Some("http://le.example")));
        assert!(!o.allows(Some("null")));
        assert!(!o.allows(None));
        assert!(o.allows(Some("HTTP://GOOD.EXAMPLE")));
    }

    #[test]
    fn no_substring_matching() {
        let o = origins(&["example.com:*"]);
        assert!(!o.allows(Some("http://le.com")));
        assert!(!o.allows(Some("http://example.com.evil")));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(Origins::parse(["nocolon"]).is_err());
        assert!(Origins::parse(["a:notaport"]).is_err());
        assert!(Origins::parse([":80"]).is_err());
        assert!(Origins::parse(["a\"b:*"]).is_err());
    }

    #[test]
    fn malformed_origins_fail() {
        let o = origins(&["a.example:*"]);
        for bad in [
            "a.example",
            "ftp://a.example",
            "http://",
            "http://a.example/x",
            "http://a.example:99999",
        ] {
            assert!(!o.allows(Some(bad)), "{bad}");
        }
    }

    #[test]
    fn ipv6_hosts() {
        let o = origins(&["[::1]:8080"]);
        assert!(o.allows(Some("http://[::1]:8080")));
        assert!(!o.allows(Some("http://[::1]")));
    }
}

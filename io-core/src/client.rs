//! The browser client, served at `/<resource>/socket.io.js`.

use bytes::Bytes;
use sha1::{Digest, Sha1};

/// The script, embedded so that the server has no files to find at run time.
pub const CLIENT_JS: &str = include_str!("../client/socket.io.js");

/// The script and its entity tag, computed once.
#[derive(Debug, Clone)]
pub(crate) struct ClientScript {
    pub body: Bytes,
    /// Quoted, as RFC 9110 wants (the reference sent `ETag: 0.6.3`, unquoted).
    pub etag: String,
}

impl ClientScript {
    pub fn new() -> Self {
        let digest = Sha1::digest(CLIENT_JS.as_bytes());
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        ClientScript {
            body: Bytes::from_static(CLIENT_JS.as_bytes()),
            etag: format!("\"{hex}\""),
        }
    }

    /// Whether an `If-None-Match` value names our tag: quoted, weak (`W/`), unquoted, in a
    /// list, or `*`.
    pub fn matches(&self, if_none_match: &str) -> bool {
        let bare = self.etag.trim_matches('"');
        if_none_match.split(',').any(|t| {
            let t = t.trim();
            let t = t.strip_prefix("W/").unwrap_or(t);
            t == "*" || t.trim_matches('"') == bare
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_forms() {
        let c = ClientScript::new();
        let bare = c.etag.trim_matches('"').to_owned();
        assert!(c.matches(&c.etag));
        assert!(c.matches(&format!("W/{}", c.etag)));
        assert!(c.matches(&bare));
        assert!(c.matches(&format!("\"x\", {}", c.etag)));
        assert!(c.matches("*"));
        assert!(!c.matches("\"0.6.3\""));
    }
}

//! A parsed HTTP/1.x request.

use bytes::Bytes;

/// An HTTP request as the core sees it: head fields plus the complete body.
///
/// Header names keep the case the peer sent; look-ups through [`Request::header`] ignore case.
/// Values are kept as bytes turned into `String` lossily only when asked, because a hostile
/// peer may send anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method exactly as sent (`GET`, `POST`); methods are case-sensitive.
    pub method: String,
    /// The request target exactly as sent, query included (`/socket.io/xhr-polling//123?x`).
    pub target: String,
    /// Minor HTTP version: `0` for HTTP/1.0, `1` for HTTP/1.1.
    pub version: u8,
    /// Header fields in the order sent, values as raw bytes; read them with [`Request::header`]
    /// or [`Request::header_bytes`].
    pub headers: Vec<(String, Vec<u8>)>,
    /// The whole body, with any chunked coding removed; empty when there was none.
    pub body: Bytes,
}

impl Request {
    /// A GET request with no headers; handy for tests and embedders.
    pub fn get(target: impl Into<String>) -> Self {
        Request {
            method: "GET".into(),
            target: target.into(),
            version: 1,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a header field after those already there.
    pub fn with_header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    /// The first value of the header `name` (case-insensitive), if it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of the header `name` (case-insensitive) as sent, for values that need
    /// not be UTF-8.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        match self.target.find('?') {
            Some(i) => &self.target[..i],
            None => &self.target,
        }
    }

    /// The query string without the `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.target.find('?').map(|i| &self.target[i + 1..])
    }

    /// Whether the header `name` holds `token` in its comma-separated list (case-insensitive).
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// An upgrade request: `Connection: upgrade` together with an `Upgrade` header.
    pub fn is_upgrade(&self) -> bool {
        self.header_bytes("upgrade").is_some() && self.header_has_token("connection", "upgrade")
    }

    /// Whether the connection may carry another request after this one.
    pub fn keep_alive(&self) -> bool {
        if self.header_has_token("connection", "close") {
            return false;
        }
        self.version >= 1 || self.header_has_token("connection", "keep-alive")
    }
}

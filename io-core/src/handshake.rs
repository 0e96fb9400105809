//! The request that asks for a new session, as the application sees it: to decide whether
//! the session may exist (authorization), and to know later who it belongs to.

use std::net::{IpAddr, SocketAddr};

use crate::http::request::Request;
use crate::transport::TransportKind;

/// A handshake: the request that would create a session, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Handshake {
    /// The transport the session would use.
    pub transport: TransportKind,
    /// The request: method, target (path and query), headers, cookies among them. Its body
    /// is empty: a handshake is a GET or an upgrade.
    pub request: Request,
    /// The connection's remote end (a proxy's address, behind one).
    pub peer: SocketAddr,
    /// The client's address: the peer's, or what a trusted proxy said (`X-Forwarded-For`).
    pub client: IpAddr,
    /// The client used TLS, here or at a trusted proxy.
    pub secure: bool,
}

impl Handshake {
    /// The value of the cookie `name`, from the `Cookie` headers.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// The value of the query parameter `name`, as sent (not percent-decoded).
    pub fn query(&self, name: &str) -> Option<&str> {
        let (_, query) = self.request.target.split_once('?')?;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_query_parameters_are_found_by_name() {
        let mut request = Request::get("/socket.io/xhr-polling//1?room=7&flag")
            .with_header("Cookie", "a=1; token=s3cret")
            .with_header("cookie", "late=yes");
        request.body = Default::default();
        let h = Handshake {
            transport: TransportKind::XhrPolling,
            request,
            peer: "127.0.0.1:1".parse().unwrap(),
            client: "127.0.0.1".parse().unwrap(),
            secure: false,
        };
        assert_eq!(h.cookie("token"), Some("s3cret"));
        assert_eq!(h.cookie("late"), Some("yes"));
        assert_eq!(h.cookie("tok"), None);
        assert_eq!(h.query("room"), Some("7"));
        assert_eq!(h.query("flag"), Some(""));
        assert_eq!(h.query("none"), None);
    }
}

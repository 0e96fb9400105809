//! Behind a reverse proxy: which of a request's `X-Forwarded-*` headers to believe.
//!
//! A proxy that terminates TLS connects to the server over plain TCP from its own address,
//! so the connection alone says neither that the client used `https` nor who the client
//! is. The proxy says so in headers; any client could send the same headers, so they count
//! only on connections from an address in [`Options::trusted_proxies`].

use std::net::IpAddr;

use crate::conn::ConnectionInfo;
use crate::http::request::Request;
use crate::options::Options;

/// What a request tells about the client and the name it used for the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Forwarded<'a> {
    /// The client reached the server over TLS (here or at a trusted proxy): locations the
    /// server names say `wss://`.
    pub secure: bool,
    /// The host the client asked for: a trusted `X-Forwarded-Host`, else `Host`.
    pub host: Option<&'a str>,
    /// The client's address: a trusted `X-Forwarded-For`, else the peer's.
    pub client: IpAddr,
}

/// Weighs `req`, which arrived on the connection `info`.
pub(crate) fn resolve<'a>(
    req: &'a Request,
    info: &ConnectionInfo,
    opts: &Options,
) -> Forwarded<'a> {
    let peer = info.peer.ip().to_canonical();
    let trusted = |ip: IpAddr| opts.trusted_proxies.contains(&ip.to_canonical());
    let host = req.header("host").filter(|h| !h.is_empty());
    let plain = Forwarded {
        secure: info.secure || opts.secure,
        host,
        client: peer,
    };
    if !trusted(peer) {
        return plain;
    }
    let first = |name: &str| {
        req.header(name)
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let proto_secure = first("x-forwarded-proto")
        .is_some_and(|p| p.eq_ignore_ascii_case("https") || p.eq_ignore_ascii_case("wss"));
    Forwarded {
        secure: plain.secure || proto_secure,
        host: first("x-forwarded-host").or(host),
        client: forwarded_client(req, peer, &trusted),
    }
}

/// The client behind a chain of proxies: walking `X-Forwarded-For` from the right (each
/// proxy appends the address it heard from), the first address that is not a trusted proxy.
/// An entry that is not an address ends the walk: what lies left of it may be forged.
fn forwarded_client(req: &Request, peer: IpAddr, trusted: &impl Fn(IpAddr) -> bool) -> IpAddr {
    let mut client = peer;
    let entries = req
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("x-forwarded-for"))
        .filter_map(|(_, v)| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    for entry in entries.iter().rev() {
        let Ok(ip) = entry.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !trusted(client) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut r = Request::get("/socket.io/websocket");
        r.headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
            .collect();
        r
    }

    fn from(peer: &str) -> ConnectionInfo {
        let peer: SocketAddr = peer.parse().unwrap();
        ConnectionInfo::new(peer, "127.0.0.1:80".parse().unwrap())
    }

    fn trusting(proxies: &[&str]) -> Options {
        let mut o = Options::new();
        o.trusted_proxies = proxies.iter().map(|p| p.parse().unwrap()).collect();
        o
    }

    const PROXIED: &[(&str, &str)] = &[
        ("Host", "10.0.0.5:8080"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "chat.example.com"),
        ("X-Forwarded-For", "203.0.113.9, 10.0.0.2"),
    ];

    #[test]
    fn headers_from_an_untrusted_peer_count_for_nothing() {
        let r = req(PROXIED);
        let f = resolve(&r, &from("10.0.0.2:4000"), &Options::new());
        assert!(!f.secure);
        assert_eq!(f.host, Some("10.0.0.5:8080"));
        assert_eq!(f.client, "10.0.0.2".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_trusted_proxy_names_the_scheme_the_host_and_the_client() {
        let r = req(PROXIED);
        let opts = trusting(&["10.0.0.2", "10.0.0.1"]);
        let f = resolve(&r, &from("10.0.0.1:4000"), &opts);
        assert!(f.secure);
        assert_eq!(f.host, Some("chat.example.com"));
        // 10.0.0.2 is a trusted proxy too: the client is the one before it.
        assert_eq!(f.client, "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_forged_entry_left_of_a_garbage_one_is_not_believed() {
        let r = req(&[("X-Forwarded-For", "1.2.3.4, junk, 198.51.100.7")]);
        let f = resolve(&r, &from("127.0.0.1:1"), &trusting(&["127.0.0.1"]));
        assert_eq!(f.client, "198.51.100.7".parse::<IpAddr>().unwrap());
        let r = req(&[("X-Forwarded-For", "1.2.3.4, junk")]);
        let f = resolve(&r, &from("127.0.0.1:1"), &trusting(&["127.0.0.1"]));
        assert_eq!(f.client, "127.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn an_ipv4_mapped_peer_matches_its_ipv4_proxy() {
        let r = req(&[("X-Forwarded-Proto", "HTTPS")]);
        let f = resolve(&r, &from("[::ffff:127.0.0.1]:1"), &trusting(&["127.0.0.1"]));
        assert!(f.secure);
    }

    #[test]
    fn tls_here_or_the_secure_option_is_secure_without_any_header() {
        let r = req(&[]);
        assert!(resolve(&r, &from("1.1.1.1:1").secured(), &Options::new()).secure);
        let mut o = Options::new();
        o.secure = true;
        assert!(resolve(&r, &from("1.1.1.1:1"), &o).secure);
    }
}

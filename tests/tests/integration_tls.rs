//! https and wss on every adapter: every transport over TLS, hixie locations that say
//! `wss://`, flow control through TLS, a plain request on the TLS port, and clients that
//! stall in the TLS handshake. The certificate is made by the test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tests::client::{hixie_location, read_frame, rfc6455_connect, Client, Kind};
use tests::ours::{ours_tls, test_options, Adapter, Ours};
use tests::raw::TIMEOUT;
use tests::suite::check_slow_peer_cut_off;
use tests::tls;

const TEXT: &str = "hello over TLS";
const JSON: &str = r#"~j~{"secure":true,"n":[1,2.5,null],"é":"😀"}"#;

/// Runs each test on every adapter that speaks TLS (the custom loop drives io-core itself
/// and has none).
macro_rules! per_tls_adapter {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn smol() {
                    super::$name(tests::ours::Adapter::Smol)
                }
                #[test]
                fn std() {
                    super::$name(tests::ours::Adapter::Std)
                }
            }
        )*
    };
}

per_tls_adapter!(
    every_transport_works_over_tls,
    one_mebibyte_each_way_over_wss,
    hixie_locations_say_wss,
    a_peer_that_stops_reading_is_cut_off_through_tls,
    a_plain_http_request_on_the_tls_port_is_told_and_closed,
    bytes_that_are_neither_tls_nor_http_are_closed_at_once,
    a_client_that_stalls_in_the_handshake_is_cut_off,
);

fn server(adapter: Adapter) -> Ours {
    ours_tls(adapter, "echo", test_options(), tls::server_config())
}

fn every_transport_works_over_tls(adapter: Adapter) {
    let server = server(adapter);
    for kind in Kind::ALL {
        let mut client = Client::open(server.target.addr, kind);
        client.echo_each(&[TEXT, JSON, ""]);
    }
    // The page outside the resource is served over https too.
    let r = tests::client::get(server.target.addr, "/");
    assert_eq!(r.head.status, 200, "{adapter:?}");
    assert_eq!(r.body_text(), "<h1>Hello world</h1>");
}

fn one_mebibyte_each_way_over_wss(adapter: Adapter) {
    let server = server(adapter);
    let mut client = Client::open(server.target.addr, Kind::WebSocket);
    let big: String = "0123456789abcdef-é-😀 ".repeat(1 << 20 >> 5);
    client.send(&[&big]);
    let back = client.recv(1);
    assert!(back[0] == big, "{adapter:?}: the 1 MiB echo differs");
    client.echo_each(&[TEXT]);
}

fn hixie_locations_say_wss(adapter: Adapter) {
    let server = server(adapter);
    let addr = server.target.addr;
    for (path, draft76) in [
        ("/socket.io/websocket", true),
        ("/socket.io/flashsocket", true),
        ("/socket.io/websocket", false),
    ] {
        assert_eq!(
            hixie_location(addr, path, draft76),
            format!("wss://{addr}{path}"),
            "{adapter:?}"
        );
    }
    // RFC 6455 names no location; its handshake and frames work over TLS as well.
    let mut ws = rfc6455_connect(addr, "/socket.io/websocket");
    let (opcode, id) = read_frame(&mut ws, TIMEOUT);
    assert_eq!(opcode, 1);
    assert!(
        String::from_utf8_lossy(&id).starts_with("~m~36~m~"),
        "{id:?}"
    );
}

fn a_peer_that_stops_reading_is_cut_off_through_tls(adapter: Adapter) {
    let mut options = test_options();
    options.limits.max_unwritten = 256 * 1024;
    let server = ours_tls(adapter, "echo", options, tls::server_config());
    check_slow_peer_cut_off(&server, &format!("{adapter:?} over TLS"));
}

/// Everything a plain TCP connection gets until the server closes it, and how long that
/// took.
fn plain_exchange(addr: SocketAddr, bytes: &[u8]) -> (Vec<u8>, Duration) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    if !bytes.is_empty() {
        s.write_all(bytes).unwrap();
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // A reset ends it as well; a timeout means it was never closed.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("not closed after {:?}; got {got:?}", start.elapsed())
            }
            Err(_) => break,
        }
    }
    (got, start.elapsed())
}

fn a_plain_http_request_on_the_tls_port_is_told_and_closed(adapter: Adapter) {
    let server = server(adapter);
    let addr = server.target.addr;
    let mut client = Client::open(addr, Kind::WebSocket);
    let (got, took) = plain_exchange(
        addr,
        b"GET /socket.io/xhr-polling HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{adapter:?}: {text:?}"
    );
    assert!(text.contains("This port speaks TLS"), "{text:?}");
    assert!(
        took < Duration::from_secs(1),
        "{adapter:?}: closed after {took:?}"
    );
    client.echo_each(&[TEXT]);
}

fn bytes_that_are_neither_tls_nor_http_are_closed_at_once(adapter: Adapter) {
    let server = server(adapter);
    let addr = server.target.addr;
    let mut client = Client::open(addr, Kind::XhrPolling);
    let (got, took) = plain_exchange(addr, &[0u8; 64]);
    assert!(
        took < Duration::from_secs(1),
        "{adapter:?}: closed after {took:?}"
    );
    // At most a TLS alert record (content type 21), never plaintext.
    assert!(got.is_empty() || got[0] == 21, "{adapter:?}: {got:?}");
    client.echo_each(&[TEXT]);
}

fn a_client_that_stalls_in_the_handshake_is_cut_off(adapter: Adapter) {
    let limit = Duration::from_millis(400);
    let config = tls::server_config().handshake_timeout(limit);
    let server = ours_tls(adapter, "echo", test_options(), config);
    let addr = server.target.addr;
    // One sends nothing; one sends half a ClientHello and stops.
    let silent = std::thread::spawn(move || plain_exchange(addr, b""));
    let half = std::thread::spawn(move || plain_exchange(addr, &[22, 3, 1, 0x02, 0x00, 1, 0]));
    // Meanwhile a real client connects and works.
    let mut client = Client::open(addr, Kind::WebSocket);
    client.echo_each(&[TEXT]);
    for (name, t) in [("silent", silent), ("half a hello", half)] {
        let (got, took) = t.join().unwrap();
        assert!(
            took >= limit - Duration::from_millis(50) && took < limit + Duration::from_secs(2),
            "{adapter:?} {name}: closed after {took:?}"
        );
        assert!(got.is_empty(), "{adapter:?} {name}: {got:?}");
    }
    client.echo_each(&["after the stalled ones"]);
}

#[test]
fn a_broken_certificate_or_key_is_refused_with_a_reason() {
    use io_adapter::{TlsConfig, TlsError};
    let cert = tls::cert();
    let err = TlsConfig::from_pem(b"not a pem", cert.key_pem.as_bytes()).unwrap_err();
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
    let err = TlsConfig::from_pem(cert.cert_pem.as_bytes(), b"").unwrap_err();
    assert!(matches!(err, TlsError::NoKey { .. }), "{err}");
    let other = tls::TestCert::generate();
    let err = TlsConfig::from_pem(cert.cert_pem.as_bytes(), other.key_pem.as_bytes()).unwrap_err();
    assert!(matches!(err, TlsError::Rejected(_)), "{err}");
    let err =
        TlsConfig::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
}

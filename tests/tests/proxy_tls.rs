//! Behind a TLS-terminating nginx (`examples/nginx/tls-termination.conf`): every transport
//! passes through it, hixie locations name the public `wss://` host, and a client's own
//! address is what the per-address limit counts.

use tests::client::{hixie_location, Client, Kind};
use tests::nginx::{example_config, free_port, Nginx};
use tests::ours::{ours_on, test_options, Adapter, Ours};
use tests::raw::Conn;
use tests::tls;

/// Our echo server on `adapter`, trusting nginx, and nginx in front of it over TLS.
fn behind_nginx(adapter: Adapter, limit: Option<u32>) -> (Ours, Nginx, std::net::SocketAddr) {
    let mut options = test_options();
    options.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    if let Some(n) = limit {
        options.limits.max_new_sessions_per_peer = n;
    }
    let server = ours_on(adapter, "echo", options);
    let dir = std::env::temp_dir().join(format!("io-proxy-cert-{}", std::process::id()));
    let (cert, key) = tls::cert().write_to(&dir);
    let public: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = example_config(
        "tls-termination.conf",
        &[
            (
                "server 127.0.0.1:8080;",
                format!("server {};", server.target.addr),
            ),
            ("listen 8443 ssl;", format!("listen {public} ssl;")),
            ("/etc/ssl/certs/chat.pem", cert.display().to_string()),
            ("/etc/ssl/private/chat.key", key.display().to_string()),
        ],
    );
    let nginx = Nginx::start(&config, public);
    tls::register(public);
    (server, nginx, public)
}

#[test]
fn every_transport_passes_through_a_tls_terminating_nginx() {
    for adapter in [Adapter::Smol, Adapter::Std] {
        let (_server, nginx, public) = behind_nginx(adapter, None);
        for kind in Kind::ALL {
            let mut client = Client::open(public, kind);
            client.echo_each(&["through nginx", r#"~j~{"tls":"at the proxy"}"#]);
        }
        // A stream or a held poll outlives nginx's default buffering: messages arrive one
        // by one, not when the response ends.
        let mut client = Client::open(public, Kind::XhrMultipart);
        client.send(&["one"]);
        assert_eq!(client.recv(1), ["one"]);
        client.send(&["two"]);
        assert_eq!(client.recv(1), ["two"], "{}", nginx.error_log());
    }
}

#[test]
fn hixie_locations_name_the_public_wss_host() {
    let (_server, _nginx, public) = behind_nginx(Adapter::Smol, None);
    for (path, draft76) in [
        ("/socket.io/websocket", false),
        ("/socket.io/flashsocket", true),
    ] {
        assert_eq!(
            hixie_location(public, path, draft76),
            format!("wss://{public}{path}")
        );
    }
}

#[test]
fn the_new_session_limit_counts_clients_not_the_proxy() {
    let (_server, _nginx, public) = behind_nginx(Adapter::Smol, Some(3));
    // One client address (nginx sees them all as 127.0.0.1, and says so): the fourth new
    // session within the second is refused...
    let status = |forwarded: Option<&str>| {
        let mut c = Conn::connect(public);
        let extra = forwarded
            .map(|f| format!("X-Forwarded-For: {f}\r\n"))
            .unwrap_or_default();
        c.send(
            format!("GET /socket.io/xhr-polling//1 HTTP/1.1\r\nHost: {public}\r\n{extra}\r\n")
                .as_bytes(),
        );
        c.read_head().status
    };
    let statuses: Vec<u16> = (0..4).map(|_| status(None)).collect();
    assert_eq!(statuses, [200, 200, 200, 503]);
    // ...while a client behind another proxy, named in X-Forwarded-For, is its own address.
    assert_eq!(status(Some("203.0.113.7")), 200);
}

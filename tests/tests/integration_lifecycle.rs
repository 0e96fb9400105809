//! How sessions end on each driver: heartbeats answered or not, peers that vanish, and a
//! graceful shutdown.

use std::time::{Duration, Instant};

use io_core::{Options, TransportKind};
use serde_json::Value;
use tests::client::{decoded, wait_until, Client, Decoded, Ended, Kind};
use tests::ours::{ours_on, test_options, Adapter, Ours};
use tests::per_adapter;
use tests::raw::{find, Conn};
use tests::scripts::{KEY1, KEY2};
use tests::suite::supports;

per_adapter!(
    answered_heartbeats_keep_sessions_alive,
    unanswered_heartbeat_ends_the_session_once,
    peer_vanishing_mid_long_poll,
    peer_vanishing_mid_long_poll_while_others_talk,
    peer_vanishing_mid_rfc6455_frame,
    peer_vanishing_mid_hixie76_handshake,
    shutdown_closes_every_transport,
);

/// The transports that run heartbeats, each way of speaking them.
const HEARTBEAT_KINDS: [Kind; 6] = [
    Kind::WebSocket,
    Kind::Hixie75,
    Kind::Hixie76,
    Kind::FlashSocket,
    Kind::HtmlFile,
    Kind::XhrMultipart,
];

fn short_heartbeats(kind: Kind, interval_ms: u64, timeout_ms: u64) -> Options {
    let mut options = test_options();
    let t = options.transport_options_mut(kind.transport());
    t.heartbeat_interval = Duration::from_millis(interval_ms);
    t.timeout = Some(Duration::from_millis(timeout_ms));
    options
}

fn answered_heartbeats_keep_sessions_alive(adapter: Adapter) {
    for kind in HEARTBEAT_KINDS {
        let server = ours_on(adapter, "echo", short_heartbeats(kind, 60, 300));
        let mut client = Client::open(server.target.addr, kind);
        client.answer_heartbeats = true;
        let got = client.drain_for(Duration::from_millis(600));
        assert!(got.is_empty(), "{kind:?}: {got:?}");
        // Every heartbeat was answered, so they keep coming, numbered one by one.
        let n = client.heartbeats.len();
        assert!(n >= 4, "{kind:?}: only {:?}", client.heartbeats);
        let want: Vec<String> = (1..=n).map(|i| format!("~h~{i}")).collect();
        assert_eq!(client.heartbeats, want, "{kind:?}");
        client.echo_each(&["still here"]);
        assert_eq!(server.session_count(), 1, "{kind:?}");
    }
}

/// `{"announcement":"<sid> disconnected"}`
fn is_disconnect_of(message: &str, sid: &str) -> bool {
    match decoded(message) {
        Decoded::Json(v) => v["announcement"] == Value::String(format!("{sid} disconnected")),
        _ => false,
    }
}

fn unanswered_heartbeat_ends_the_session_once(adapter: Adapter) {
    let chat = supports(adapter, "chat");
    for kind in HEARTBEAT_KINDS {
        let mut options = short_heartbeats(kind, 50, 150);
        // The observer polls; short polls let it watch without holding a poll for long.
        options
            .transport_options_mut(TransportKind::XhrPolling)
            .duration = Duration::from_millis(100);
        let server = ours_on(adapter, if chat { "chat" } else { "echo" }, options);
        let addr = server.target.addr;
        let mut observer = chat.then(|| {
            let mut o = Client::open(addr, Kind::XhrPolling);
            o.recv(1); // the chat history
            o
        });
        let mut client = Client::open(addr, kind);
        let started = Instant::now();
        // The heartbeat goes unanswered; the server closes the connection.
        let ending = client.ended(Duration::from_secs(5));
        let expected = match kind {
            Kind::WebSocket => Ended::Close(1000),
            Kind::Hixie75 => Ended::Eof,
            Kind::Hixie76 | Kind::FlashSocket => Ended::HixieClose,
            _ => Ended::StreamEnd,
        };
        assert_eq!(ending, expected, "{kind:?}");
        // Not before a heartbeat interval plus its timeout (200 ms) has passed.
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{kind:?}: ended after {:?}",
            started.elapsed()
        );
        let others = usize::from(observer.is_some());
        assert!(
            wait_until(Duration::from_secs(5), || server.session_count() == others),
            "{kind:?}: {} sessions",
            server.session_count()
        );
        if let Some(o) = observer.as_mut() {
            // Watch for a while after the first announcement: exactly one.
            let mut seen: Vec<String> = Vec::new();
            let deadline = Instant::now() + Duration::from_millis(400);
            while Instant::now() < deadline
                || !seen.iter().any(|m| is_disconnect_of(m, &client.sid))
            {
                assert!(
                    deadline.elapsed() < Duration::from_secs(5),
                    "{kind:?}: {seen:?}"
                );
                let payload = o.recv_payload(Duration::from_secs(5));
                seen.extend(tests::transcript::decode_frames(&payload).0);
            }
            let n = seen
                .iter()
                .filter(|m| is_disconnect_of(m, &client.sid))
                .count();
            assert_eq!(n, 1, "{kind:?}: {seen:?}");
        }
        assert_eq!(server.session_count(), others, "{kind:?}");
    }
}

/// A second session that must keep working while another one misbehaves.
fn bystander(server: &Ours) -> Client {
    let mut b = Client::open(server.target.addr, Kind::WebSocket);
    b.echo_each(&["before"]);
    b
}

fn peer_vanishing_mid_long_poll(adapter: Adapter) {
    vanishing_long_poll(adapter, false);
}

/// The same while the bystander keeps talking, so that the server is busy.
fn peer_vanishing_mid_long_poll_while_others_talk(adapter: Adapter) {
    vanishing_long_poll(adapter, true);
}

/// A client drops its TCP connection while its poll is held: after the close timeout the
/// session ends, and the bystander is unaffected.
fn vanishing_long_poll(adapter: Adapter, busy: bool) {
    let mut options = test_options();
    for kind in [TransportKind::XhrPolling, TransportKind::JsonpPolling] {
        options.transport_options_mut(kind).close_timeout = Duration::from_millis(200);
    }
    let server = ours_on(adapter, "echo", options);
    let mut b = bystander(&server);
    for kind in [Kind::XhrPolling, Kind::JsonpPolling] {
        let mut client = Client::open(server.target.addr, kind);
        client.hold_poll();
        assert_eq!(server.session_count(), 2);
        std::thread::sleep(Duration::from_millis(50));
        drop(client);
        let ended = wait_until(Duration::from_secs(2), || {
            if busy {
                b.echo_each(&["busy"]);
            }
            server.session_count() == 1
        });
        assert!(
            ended,
            "{kind:?}: the session outlived its vanished poll by 2 s"
        );
        b.echo_each(&["after"]);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.session_count(), 1);
    b.echo_each(&["still"]);
}

fn peer_vanishing_mid_rfc6455_frame(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let mut b = bystander(&server);
    let mut client = Client::open(server.target.addr, Kind::WebSocket);
    assert_eq!(server.session_count(), 2);
    let frame = tests::client::text_frame(&tests::transcript::encode_frames(&["x".repeat(1000)]));
    client.conn().send(&frame[..frame.len() / 2]);
    std::thread::sleep(Duration::from_millis(50));
    drop(client);
    assert!(
        wait_until(Duration::from_secs(5), || server.session_count() == 1),
        "the session outlived its socket"
    );
    b.echo_each(&["after"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.session_count(), 1);
}

fn peer_vanishing_mid_hixie76_handshake(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;
    let mut b = bystander(&server);
    for transport in ["websocket", "flashsocket"] {
        let mut conn = Conn::connect(addr);
        conn.send(&tests::raw::request(
            addr,
            "GET",
            &format!("/socket.io/{transport}"),
            &[
                ("Upgrade", "WebSocket"),
                ("Connection", "Upgrade"),
                ("Origin", "http://example.com"),
                ("Sec-WebSocket-Key1", KEY1),
                ("Sec-WebSocket-Key2", KEY2),
            ],
            &[],
        ));
        // The head of the 101 may come before key3; the session does not exist yet.
        conn.wait_for(Duration::from_millis(300), |p| {
            find(p, b"\r\n\r\n").is_some()
        });
        assert_eq!(server.session_count(), 1, "{transport}");
        drop(conn);
        b.echo_each(&["after"]);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(server.session_count(), 1, "{transport}");
    }
}

fn shutdown_closes_every_transport(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;
    let mut clients: Vec<Client> = Kind::ALL.iter().map(|&k| Client::open(addr, k)).collect();
    for c in &mut clients {
        c.echo_each(&["before"]);
        if c.kind.is_polling() {
            c.hold_poll();
        }
    }
    assert_eq!(server.session_count(), Kind::ALL.len());
    // Let the held polls reach the server.
    std::thread::sleep(Duration::from_millis(100));
    server.shutdown();
    assert_eq!(server.session_count(), 0, "sessions left after shutdown");
    for c in &mut clients {
        let expected = match c.kind {
            Kind::WebSocket => Ended::Close(1001),
            Kind::Hixie75 => Ended::Eof,
            Kind::Hixie76 | Kind::FlashSocket => Ended::HixieClose,
            Kind::HtmlFile | Kind::XhrMultipart => Ended::StreamEnd,
            Kind::XhrPolling | Kind::JsonpPolling => Ended::EmptyPoll,
        };
        assert_eq!(c.ended(Duration::from_secs(5)), expected, "{:?}", c.kind);
    }
}

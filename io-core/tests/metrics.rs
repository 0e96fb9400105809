//! The counters and gauges move with what happens.

mod support;

use io_core::{Options, TransportKind};
use support::*;

#[test]
fn counters_and_gauges_follow_the_traffic() {
    let mut b = Bench::with_defaults();
    let m = b.server.metrics();
    assert_eq!((m.connections, m.sessions(), m.messages_in), (0, 0, 0));

    let (ws, sid) = b.ws_session("/socket.io/websocket");
    let (_poll, psid) = b.xhr_handshake();
    let m = b.server.metrics();
    assert_eq!(m.sessions_on(TransportKind::WebSocket), 1);
    assert_eq!(m.sessions_on(TransportKind::XhrPolling), 1);
    assert_eq!(m.sessions_total, 2);
    assert!(m.connections >= 1 && m.connections_total >= 2);
    assert!(m.bytes_in > 0 && m.bytes_out > 0, "{m:?}");

    b.input(ws, client_frame(1, b"~m~5~m~hello"));
    b.input(ws, client_frame(1, b"~m~9~m~short"));
    assert_eq!(b.messages().len(), 1);
    b.broadcast("to all", &[]);
    b.send(sid, "to one").unwrap();
    let m = b.server.metrics();
    assert_eq!(m.messages_in, 1);
    assert_eq!(m.decode_errors, 1);
    // The session ids on attach are not messages; the broadcast counts once per recipient.
    assert_eq!(m.messages_out, 3);

    b.disconnect(psid).unwrap();
    let m = b.server.metrics();
    assert_eq!(m.sessions_on(TransportKind::XhrPolling), 0);
    assert_eq!(m.sessions(), 1);
}

#[test]
fn refusals_and_slow_peers_are_counted() {
    let mut opts = Options::default();
    opts.limits.max_sessions = 1;
    opts.limits.max_unwritten = 1024;
    let mut b = Bench::new(opts);
    let (ws, sid) = b.ws_session("/socket.io/websocket");
    let c = b.open(get("/socket.io/xhr-polling//1"));
    assert_eq!(b.response(c).status, 503);
    assert_eq!(b.server.metrics().refused, 1);
    b.stall(ws, true);
    // Cut off once more than 1 KiB is unread: the session ends with it.
    for _ in 0..4 {
        let _ = b.send(sid, "x".repeat(500));
    }
    assert_eq!(b.server.metrics().slow_peers, 1);
}

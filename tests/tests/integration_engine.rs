//! What the core's flow control gives every driver over real sockets: a peer that stops
//! reading is cut off while the others go on, and a peer that half-closes still gets the
//! answer it is owed.

use std::time::{Duration, Instant};

use tests::client::{read_frame, rfc6455_connect, text_frame, wait_until, Client, Kind};
use tests::ours::{ours_on, test_options, Adapter};
use tests::per_adapter;
use tests::raw::{form_data, request, Conn, TIMEOUT};

per_adapter!(
    a_peer_that_stops_reading_is_cut_off,
    a_half_closed_peer_gets_its_answer,
);

fn a_peer_that_stops_reading_is_cut_off(adapter: Adapter) {
    let mut options = test_options();
    options.limits.max_unwritten = 256 * 1024;
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    let mut reader = Client::open(addr, Kind::WebSocket);

    // This one sends and sends, and never reads its echoes.
    let mut slow = rfc6455_connect(addr, "/socket.io/websocket");
    let _id = read_frame(&mut slow, TIMEOUT);
    let text = "x".repeat(60_000);
    let frame = text_frame(&format!("~m~{}~m~{text}", text.len()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sent = 0usize;
    while slow.try_send(&frame).is_ok() {
        sent += frame.len();
        assert!(
            Instant::now() < deadline && sent < 512 << 20,
            "{adapter:?}: still not cut off after {sent} bytes"
        );
    }
    // Far less than was sent came back before the connection ended.
    let back = slow.read_to_close(TIMEOUT);
    assert!(slow.is_eof(), "{adapter:?}: the connection ended");
    assert!(back.len() < sent, "{adapter:?}: {} of {sent}", back.len());
    assert!(
        wait_until(TIMEOUT, || server.session_count() == 1),
        "{adapter:?}: the slow session ended, the reader's did not"
    );
    reader.echo_each(&["still here", "and here"]);
}

fn a_half_closed_peer_gets_its_answer(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;

    // A request the application answers.
    let mut c = Conn::connect(addr);
    c.send(&request(addr, "GET", "/hello", &[], &[]));
    c.shutdown_write();
    let r = c.read_response();
    assert_eq!(r.head.status, 200, "{adapter:?}");
    assert_eq!(r.body_text(), "<h1>Hello world</h1>");
    c.read_to_close(TIMEOUT);
    assert!(c.is_eof(), "{adapter:?}: closed once answered");

    // The client script, larger than one write.
    let mut c = Conn::connect(addr);
    c.send(&request(addr, "GET", "/socket.io/socket.io.js", &[], &[]));
    c.shutdown_write();
    let r = c.read_response();
    assert_eq!(r.head.status, 200, "{adapter:?}");
    assert_eq!(r.body.len(), io_core::client::CLIENT_JS.len());

    // Messages posted to a session, then the sending side closed.
    let mut client = Client::open(addr, Kind::XhrPolling);
    let mut c = Conn::connect(addr);
    let body = form_data("~m~5~m~hello");
    let path = format!("/socket.io/xhr-polling/{}/send", client.sid);
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    c.send(&request(addr, "POST", &path, &headers, &body));
    c.shutdown_write();
    let r = c.read_response();
    assert_eq!(
        (r.head.status, r.body_text().as_str()),
        (200, "ok"),
        "{adapter:?}"
    );
    assert_eq!(client.recv(1), vec!["hello".to_string()], "{adapter:?}");
}

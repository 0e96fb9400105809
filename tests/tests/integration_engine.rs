//! What the core's flow control gives every driver over real sockets: a peer that stops
//! reading is cut off while the others go on, and a peer that half-closes still gets the
//! answer it is owed.

use std::time::{Duration, Instant};

use tests::client::{Client, Kind};
use tests::ours::{ours_on, test_options, Adapter};
use tests::per_adapter;
use tests::raw::{form_data, request, Conn, TIMEOUT};
use tests::suite::check_slow_peer_cut_off;
use tests::transcript::encode_frames;

per_adapter!(
    a_peer_that_stops_reading_is_cut_off,
    a_stream_that_is_not_read_is_cut_off,
    a_half_closed_peer_gets_its_answer,
);

fn a_peer_that_stops_reading_is_cut_off(adapter: Adapter) {
    let mut options = test_options();
    options.limits.max_unwritten = 256 * 1024;
    let server = ours_on(adapter, "echo", options);
    check_slow_peer_cut_off(&server, &format!("{adapter:?}"));
}

/// An htmlfile page that stops reading its stream while its echoes keep coming (posted on
/// other connections) is cut off: its session ends, and its stream closes having carried
/// far less than was posted, while a WebSocket session beside it goes on.
fn a_stream_that_is_not_read_is_cut_off(adapter: Adapter) {
    let mut options = test_options();
    options.limits.max_unwritten = 256 * 1024;
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    let mut reader = Client::open(addr, Kind::WebSocket);
    let mut stream = Client::open(addr, Kind::HtmlFile);
    let path = format!("/socket.io/htmlfile/{}/send", stream.sid);
    let body = form_data(&encode_frames(&["x".repeat(60_000)]));
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Connection", "close"),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut posted = 0usize;
    while server.session_count() == 2 {
        assert!(
            Instant::now() < deadline && posted < 256 << 20,
            "{adapter:?}: still not cut off after {posted} bytes"
        );
        let mut c = Conn::connect(addr);
        c.send(&request(addr, "POST", &path, &headers, &body));
        c.read_to_close(TIMEOUT);
        posted += body.len();
    }
    let back = stream.conn().read_to_close(TIMEOUT);
    assert!(stream.conn().is_eof(), "{adapter:?}: the stream was closed");
    assert!(
        back.len() < posted,
        "{adapter:?}: {} of {posted}",
        back.len()
    );
    reader.echo_each(&["still here"]);
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

//! The two streaming transports: htmlfile and xhr-multipart.

mod support;

use io_core::{DisconnectReason, Event, Message, Options, Origins, TransportKind};
use support::*;

/// Short heartbeats for the streams: every second, one second to answer.
fn fast_heartbeats() -> Options {
    let mut opts = Options::default();
    opts.for_each_transport(|_, t| {
        t.heartbeat_interval = secs(1);
        t.timeout = Some(millis(500));
    });
    opts
}

/// The payload inside `<script>parent.s._("…", document);</script>` (no escapes expected).
fn script_payload(chunk: &[u8]) -> String {
    let text = std::str::from_utf8(chunk).unwrap();
    text.strip_prefix("<script>parent.s._(\"")
        .and_then(|s| s.strip_suffix("\", document);</script>"))
        .unwrap_or_else(|| panic!("not a script chunk: {text:?}"))
        .to_owned()
}

/// Opens an htmlfile stream; returns the connection and the session, preamble checked.
fn htmlfile(b: &mut Bench) -> (io_core::ConnId, io_core::SessionId) {
    let c = b.open(get("/socket.io/htmlfile//1300000000001"));
    let head = b.response_head(c);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/html"));
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    let (chunks, used, ended) = parse_chunks(b.received(c));
    assert!(!ended);
    assert_eq!(used, b.received(c).len(), "only whole chunks");
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].len(), 256);
    assert!(chunks[0].starts_with(b"<html><body>"));
    assert!(chunks[0][12..].iter().all(|&c| c == b' '));
    let sid = session_id(&script_payload(&chunks[1]));
    b.take(c);
    assert_eq!(b.events(), vec![Event::Connect(sid)]);
    (c, sid)
}

fn take_chunks(b: &mut Bench, c: io_core::ConnId) -> Vec<Vec<u8>> {
    let (chunks, used, ended) = parse_chunks(b.received(c));
    assert!(!ended, "the stream ended");
    assert_eq!(used, b.received(c).len());
    b.take(c);
    chunks
}

#[test]
fn htmlfile_streams_one_script_per_payload() {
    let mut b = Bench::with_defaults();
    let (c, sid) = htmlfile(&mut b);
    b.send(sid, "hello").unwrap();
    b.send(sid, "</script>").unwrap();
    let chunks = take_chunks(&mut b, c);
    assert_eq!(chunks.len(), 2);
    assert_eq!(script_payload(&chunks[0]), "~m~5~m~hello");
    assert_eq!(
        std::str::from_utf8(&chunks[1]).unwrap(),
        "<script>parent.s._(\"~m~9~m~\\u003c/script\\u003e\", document);</script>"
    );
    // Messages come up in POSTs on another connection.
    let p = b.open(post(
        &format!("/socket.io/htmlfile/{sid}/send"),
        &frame("up"),
        "",
    ));
    assert_eq!(b.response(p).body_text(), "ok");
    assert_eq!(b.messages(), vec![(sid, Message::text("up"))]);
    assert_eq!(
        b.server.session(sid).unwrap().transport,
        TransportKind::HtmlFile
    );
}

#[test]
fn htmlfile_heartbeats_answered_keep_the_session() {
    let mut b = Bench::new(fast_heartbeats());
    let (c, sid) = htmlfile(&mut b);
    for n in 1..=3 {
        b.advance(millis(999));
        assert!(b.received(c).is_empty());
        b.advance(millis(1));
        let chunks = take_chunks(&mut b, c);
        assert_eq!(chunks.len(), 1);
        let hb = format!("~h~{n}");
        assert_eq!(script_payload(&chunks[0]), frame(&hb));
        b.advance(millis(400));
        let p = b.open(post(
            &format!("/socket.io/htmlfile/{sid}/send"),
            &frame(&hb),
            "",
        ));
        assert_eq!(b.response(p).body_text(), "ok");
    }
    assert!(b.events().is_empty(), "heartbeats are no messages");
    assert!(b.server.session(sid).unwrap().open);
    assert!(!b.is_closed(c));
}

#[test]
fn htmlfile_unanswered_heartbeat_ends_the_stream() {
    let mut b = Bench::new(fast_heartbeats());
    let (c, sid) = htmlfile(&mut b);
    b.advance(secs(1));
    assert_eq!(take_chunks(&mut b, c).len(), 1);
    // A wrong echo does not count.
    let p = b.open(post(
        &format!("/socket.io/htmlfile/{sid}/send"),
        &frame("~h~7"),
        "",
    ));
    assert_eq!(b.response(p).body_text(), "ok");
    b.advance(millis(499));
    assert!(b.events().is_empty());
    b.advance(millis(1));
    assert_eq!(
        b.events(),
        vec![Event::Disconnect(sid, DisconnectReason::HeartbeatTimeout)]
    );
    assert_eq!(b.received(c), b"0\r\n\r\n");
    assert!(b.is_closed(c));
    assert!(b.server.session(sid).is_none());
    b.advance(secs(10));
    assert!(b.events().is_empty());
}

#[test]
fn htmlfile_peer_hang_up_disconnects_at_once() {
    let mut b = Bench::with_defaults();
    let (c, sid) = htmlfile(&mut b);
    b.hang_up(c);
    assert_eq!(
        b.events(),
        vec![Event::Disconnect(sid, DisconnectReason::TransportClosed)]
    );
}

#[test]
fn htmlfile_reattach_flushes_what_was_queued() {
    let mut opts = Options::default();
    opts.transport_options_mut(TransportKind::HtmlFile)
        .close_timeout = millis(100);
    let mut b = Bench::new(opts);
    let (c, sid) = htmlfile(&mut b);
    b.hang_up(c);
    b.send(sid, "buffered").unwrap();
    b.advance(millis(50));
    let c2 = b.open(get(&format!("/socket.io/htmlfile/{sid}")));
    b.response_head(c2);
    let chunks = take_chunks(&mut b, c2);
    assert_eq!(chunks.len(), 2);
    assert_eq!(script_payload(&chunks[1]), "~m~8~m~buffered");
    b.advance(secs(1));
    assert!(b.events().is_empty());
    assert_eq!(b.server.session(sid).unwrap().connections, 2);
}

// ---- xhr-multipart -------------------------------------------------------------------

fn good_origin() -> Options {
    let mut opts = Options::default();
    opts.origins = Origins::parse(["good.example:*"]).unwrap();
    opts
}

#[test]
fn multipart_stream_with_cors() {
    let mut b = Bench::new(good_origin());
    let c = b.open(get_with(
        "/socket.io/xhr-multipart/",
        "Origin: http://good.example\r\n",
    ));
    let head = b.response_head(c);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-type"),
        Some("multipart/x-mixed-replace;boundary=\"socketio\"")
    );
    assert_eq!(
        head.header("access-control-allow-origin"),
        Some("http://good.example")
    );
    assert_eq!(
        head.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(head.header("vary"), Some("Origin"));
    assert!(head.header("content-length").is_none());
    assert!(head.header("transfer-encoding").is_none());
    let body = b.text(c);
    let id_frame = body
        .strip_prefix("--socketio\nContent-Type: text/plain\n\n")
        .and_then(|s| s.strip_suffix("\n--socketio\n"))
        .unwrap_or_else(|| panic!("{body:?}"));
    let sid = session_id(id_frame);
    assert_eq!(b.events(), vec![Event::Connect(sid)]);
    b.take(c);
    b.send(sid, "part two").unwrap();
    assert_eq!(
        b.text(c),
        "Content-Type: text/plain\n\n~m~8~m~part two\n--socketio\n"
    );
    b.take(c);

    // POST with the allowed origin gets the echoed origin too.
    let p = b.open(post(
        &format!("/socket.io/xhr-multipart/{sid}/send"),
        &frame("up"),
        "Origin: http://good.example\r\n",
    ));
    let r = b.response(p);
    assert_eq!(r.body_text(), "ok");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://good.example")
    );
    assert_eq!(b.messages(), vec![(sid, Message::text("up"))]);

    // The application ends the session: the stream is closed, and nothing else is written
    // into a body that only the connection's end delimits.
    b.disconnect(sid).unwrap();
    assert!(b.is_closed(c));
    assert_eq!(b.text(c), "", "no chunked terminator in a multipart body");
    assert_eq!(
        b.events(),
        vec![Event::Disconnect(sid, DisconnectReason::Server)]
    );
}

#[test]
fn multipart_from_a_refused_origin_has_no_cors_headers() {
    let mut b = Bench::new(good_origin());
    let c = b.open(get_with(
        "/socket.io/xhr-multipart/",
        "Origin: http://evil.example\r\n",
    ));
    let head = b.response_head(c);
    assert_eq!(head.status, 200);
    assert!(head.header("access-control-allow-origin").is_none());
}

#[test]
fn multipart_preflight() {
    let mut b = Bench::new(good_origin());
    let c = b.open(
        "OPTIONS /socket.io/xhr-multipart/ HTTP/1.1\r\nHost: example.com\r\n\
         Origin: http://good.example\r\nAccess-Control-Request-Method: POST\r\n\
         Access-Control-Request-Headers: Content-Type\r\n\r\n",
    );
    let r = b.response(c);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://good.example")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("Content-Type")
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    assert!(!b.is_closed(c));

    // A refused origin gets a refusal, not a hang.
    let c = b.open(
        "OPTIONS /socket.io/xhr-multipart/ HTTP/1.1\r\nHost: example.com\r\n\
         Origin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\n\r\n",
    );
    assert_eq!(b.response(c).status, 403);
    assert!(b.is_closed(c));
    assert!(b.events().is_empty());
}

#[test]
fn multipart_heartbeats() {
    let mut b = Bench::new(fast_heartbeats());
    let c = b.open(get("/socket.io/xhr-multipart/"));
    b.response_head(c);
    let sid = session_id(
        b.text(c)
            .strip_prefix("--socketio\nContent-Type: text/plain\n\n")
            .and_then(|s| s.strip_suffix("\n--socketio\n"))
            .unwrap(),
    );
    b.take(c);
    b.advance(secs(1));
    assert_eq!(
        b.text(c),
        "Content-Type: text/plain\n\n~m~4~m~~h~1\n--socketio\n"
    );
    b.take(c);
    b.advance(millis(500));
    assert_eq!(
        b.disconnects(),
        vec![(sid, DisconnectReason::HeartbeatTimeout)]
    );
    assert!(b.is_closed(c));
    assert_eq!(b.text(c), "", "no chunked terminator in a multipart body");
}

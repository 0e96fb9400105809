//! Routing, limits, bad input, broadcast and shutdown.

mod support;

use io_core::{
    ConnId, ConnectionInfo, DisconnectReason, Error, Event, Message, Options, Request, Response,
    TransportKind,
};
use support::*;

/// The request handed to the application on `c`, which must be the only event.
fn app_request(b: &mut Bench, c: ConnId) -> Request {
    match b.events().as_slice() {
        [Event::Request(conn, req)] if *conn == c => req.clone(),
        other => panic!("expected one Request on {c:?}, got {other:?}"),
    }
}

// ---- routing -------------------------------------------------------------------------

#[test]
fn requests_outside_the_resource_go_to_the_application() {
    let mut b = Bench::with_defaults();
    for path in [
        "/test",
        "/",
        "/socket.io",
        "/socket.io/",
        "/socket.io/inexistent",
        "/socket.io/constructor",
        "/socket.ioXsocket.io.js",
        "/socket.io_xhr-polling",
    ] {
        let c = b.open(get(path));
        let req = app_request(&mut b, c);
        assert_eq!(req.target, path);
        assert!(
            b.received(c).is_empty(),
            "{path}: nothing before the answer"
        );
        b.respond(c, Response::with_body(200, "text/plain", "Hello world"))
            .unwrap();
        let r = b.response(c);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.body_text(), "Hello world");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert!(!b.is_closed(c));
        assert_eq!(
            b.respond(c, Response::new(200)),
            Err(Error::NotAwaitingResponse(c))
        );
    }
    assert_eq!(b.server.session_count(), 0);
}

#[test]
fn keep_alive_after_an_application_response() {
    let mut b = Bench::with_defaults();
    // Two pipelined requests: the second waits for the answer to the first.
    let c = b.open(format!("{}{}", get("/a"), get("/b")));
    assert_eq!(app_request(&mut b, c).target, "/a");
    b.respond(c, Response::with_body(200, "text/plain", "A"))
        .unwrap();
    assert_eq!(b.response(c).body_text(), "A");
    assert_eq!(app_request(&mut b, c).target, "/b");
    b.respond(c, Response::with_body(404, "text/plain", "B"))
        .unwrap();
    assert_eq!(b.response(c).status, 404);
    // Connection: close is honoured.
    b.input(
        c,
        "GET /c HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
    );
    app_request(&mut b, c);
    b.respond(c, Response::new(204)).unwrap();
    assert_eq!(b.response(c).header("connection"), Some("close"));
    assert!(b.is_closed(c));
    assert_eq!(
        b.respond(c, Response::new(200)),
        Err(Error::UnknownConnection(c))
    );
}

#[test]
fn a_foreign_upgrade_is_the_applications() {
    let mut b = Bench::with_defaults();
    let c = b.open(
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: IRC\r\nConnection: Upgrade\r\n\r\nNICK x\r\n",
    );
    let req = app_request(&mut b, c);
    assert!(req.is_upgrade());
    assert_eq!(req.header("upgrade"), Some("IRC"));
    assert!(b.received(c).is_empty());
    assert!(!b.is_closed(c));
    // The application may take the socket with what came after the head.
    let rest = b.server.take_connection(c).unwrap();
    assert_eq!(&rest[..], b"NICK x\r\n");
    assert_eq!(b.server.connection_count(), 0);

    // Or answer it like any request.
    let c = b.open(
        "GET /other HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    app_request(&mut b, c);
    b.respond(c, Response::new(404)).unwrap();
    assert_eq!(b.response(c).status, 404);
}

#[test]
fn the_client_script_and_its_etag() {
    let mut b = Bench::with_defaults();
    let c = b.open(get("/socket.io/socket.io.js"));
    let r = b.response(c);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/javascript"));
    assert_eq!(r.body_text(), io_core::client::CLIENT_JS);
    let etag = r.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    for tag in [etag.clone(), format!("W/{etag}"), format!("\"x\", {etag}")] {
        b.input(
            c,
            get_with(
                "/socket.io/socket.io.js",
                &format!("If-None-Match: {tag}\r\n"),
            ),
        );
        let r = b.response(c);
        assert_eq!(r.status, 304, "{tag}");
        assert!(r.body.is_empty());
    }
    b.input(
        c,
        get_with("/socket.io/socket.io.js", "If-None-Match: \"0.6.3\"\r\n"),
    );
    assert_eq!(b.response(c).status, 200);

    b.input(
        c,
        "HEAD /socket.io/socket.io.js HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(b.text(c).starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(b.text(c).ends_with("\r\n\r\n"), "HEAD has no body");
    b.take(c);

    b.input(
        c,
        "POST /socket.io/socket.io.js HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(b.response(c).status, 405);
    assert!(b.is_closed(c));

    let c = b.open(
        "GET /socket.io/socket.io.js HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
    assert_eq!(b.response(c).status, 400);
    assert!(b.is_closed(c));

    let c = b.open(get("/socket.io/WebSocketMain.swf"));
    assert_eq!(b.response(c).status, 404);
    assert!(b.events().is_empty());
}

#[test]
fn other_methods_on_transports_are_answered() {
    let mut b = Bench::with_defaults();
    for (req, status) in [
        (
            "OPTIONS /socket.io/xhr-polling/ HTTP/1.1\r\nHost: x\r\nOrigin: http://a.example\r\n\
             Access-Control-Request-Method: POST\r\n\r\n",
            200,
        ),
        ("OPTIONS /socket.io/xhr-polling/ HTTP/1.1\r\nHost: x\r\n\r\n", 403),
        ("OPTIONS /socket.io/htmlfile/ HTTP/1.1\r\nHost: x\r\n\r\n", 403),
        (
            "PUT /socket.io/xhr-polling/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            405,
        ),
        ("DELETE /socket.io/htmlfile/ HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (
            "DELETE /socket.io/xhr-multipart/ HTTP/1.1\r\nHost: x\r\n\r\n",
            405,
        ),
        (
            "POST /socket.io/xhr-polling/ HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\ndata=~m~1~",
            400,
        ),
        (
            "GET /socket.io/xhr-polling/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            400,
        ),
        (
            "GET /socket.io/htmlfile/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            400,
        ),
    ] {
        let c = b.open(req);
        let r = b.response(c);
        assert_eq!(r.status, status, "{req}");
        if status == 200 {
            assert_eq!(
                r.header("access-control-allow-origin"),
                Some("http://a.example")
            );
        } else {
            assert!(b.is_closed(c), "{req}");
        }
    }
    assert!(b.events().is_empty());
    assert_eq!(b.server.session_count(), 0);
}

#[test]
fn a_session_is_bound_to_its_transport() {
    let mut b = Bench::with_defaults();
    let (_, sid) = b.xhr_handshake();
    let c = b.open(get(&format!("/socket.io/jsonp-polling/{sid}/1/0")));
    assert_eq!(b.response(c).status, 400);
    assert!(b.server.session(sid).is_some());
}

#[test]
fn disabled_transports_are_the_applications() {
    let mut opts = Options::default();
    opts.transports = vec![TransportKind::XhrPolling];
    let mut b = Bench::new(opts);
    let c = b.open(get("/socket.io/htmlfile//1"));
    assert_eq!(app_request(&mut b, c).target, "/socket.io/htmlfile//1");
    // And the Flash probe is not answered inline: it is bytes that cannot be HTTP.
    let c = b.open(b"<policy-file-request/>\0");
    assert_eq!(b.response(c).status, 400);
    assert!(b.is_closed(c));
}

#[test]
fn a_resource_with_slashes() {
    let mut opts = Options::default();
    opts.resource = "api/io".into();
    let mut b = Bench::new(opts);
    let c = b.open(get("/api/io/xhr-polling//1"));
    let sid = session_id(&b.response(c).body_text());
    assert_eq!(b.events(), vec![Event::Connect(sid)]);
    let c = b.open(get("/socket.io/xhr-polling//1"));
    app_request(&mut b, c);
}

#[test]
fn bad_resources_are_refused() {
    for res in ["", "/socket.io", "socket.io/", "a//b"] {
        let mut opts = Options::default();
        opts.resource = res.into();
        assert!(
            matches!(
                io_core::Server::with_random(opts, seeded_random(1)),
                Err(Error::InvalidOptions(_))
            ),
            "{res:?}"
        );
    }
}

// ---- limits and bad input ----------------------------------------------------------

#[test]
fn head_too_large_is_431() {
    let mut opts = Options::default();
    opts.limits.max_head = 256;
    let mut b = Bench::new(opts);
    let c = b.open(format!(
        "GET /socket.io/xhr-polling//1 HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(300)
    ));
    assert_eq!(b.response(c).status, 431);
    assert!(b.is_closed(c));
    // Also when the head arrives bit by bit and never ends.
    let c = b.connect();
    b.input(c, "GET /socket.io/xhr-polling//1 HTTP/1.1\r\n");
    for _ in 0..30 {
        if b.is_closed(c) {
            break;
        }
        b.input(c, "X-Header: 0123456789\r\n");
    }
    assert_eq!(b.response(c).status, 431);
    assert!(b.is_closed(c));
    assert!(b.events().is_empty());
}

#[test]
fn body_too_large_is_413() {
    let mut opts = Options::default();
    opts.limits.max_body = 64;
    let mut b = Bench::new(opts);
    let (_, sid) = b.xhr_handshake();
    let c = b.open(post(
        &format!("/socket.io/xhr-polling/{sid}/send"),
        &frame(&"x".repeat(100)),
        "",
    ));
    assert_eq!(b.response(c).status, 413);
    assert!(b.is_closed(c));
    assert!(b.events().is_empty());
    // A chunked body over the limit too.
    let c = b.open(format!(
        "POST /socket.io/xhr-polling/{sid}/send HTTP/1.1\r\nHost: x\r\n\
         Transfer-Encoding: chunked\r\n\r\n50\r\n{}\r\n0\r\n\r\n",
        "d".repeat(0x50)
    ));
    assert_eq!(b.response(c).status, 413);
    assert!(b.is_closed(c));
}

#[test]
fn a_chunked_post_and_100_continue() {
    let mut b = Bench::with_defaults();
    let (_, sid) = b.xhr_handshake();
    let body = format!("data={}", urlencode(&frame("chunky")));
    let (first, second) = body.split_at(7);
    let c = b.open(format!(
        "POST /socket.io/xhr-polling/{sid}/send HTTP/1.1\r\nHost: x\r\n\
         Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
    ));
    assert_eq!(b.take(c), b"HTTP/1.1 100 Continue\r\n\r\n");
    b.input(
        c,
        format!(
            "{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
            first.len(),
            second.len()
        ),
    );
    assert_eq!(b.response(c).body_text(), "ok");
    assert_eq!(b.messages(), vec![(sid, Message::text("chunky"))]);
}

#[test]
fn malformed_requests_are_400() {
    let mut b = Bench::with_defaults();
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /x HTTP/1.1\r\nHost x\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    ] {
        let c = b.open(bad);
        let r = b.response(c);
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(bad));
        assert!(b.is_closed(c));
    }
    // A POST whose body has no `data` field.
    let (_, sid) = b.xhr_handshake();
    let c = b.open(format!(
        "POST /socket.io/xhr-polling/{sid}/send HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nx=1"
    ));
    assert_eq!(b.response(c).status, 400);
    // A malformed payload: frames before the error are kept, the rest is dropped, and the
    // sender is told so.
    let c = b.open(post(
        &format!("/socket.io/xhr-polling/{sid}/send"),
        &format!("{}~m~ 7~m~echo-me{}", frame("good"), frame("lost")),
        "",
    ));
    let r = b.response(c);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body_text(),
        "payload rejected: malformed frame: the length at byte 14 must be 1 to 10 ASCII \
         digits without leading zeros\n"
    );
    assert!(
        !b.is_closed(c),
        "the HTTP framing was sound: keep-alive goes on"
    );
    assert_eq!(b.messages(), vec![(sid, Message::text("good"))]);
    // Invalid JSON is dropped, not turned into {}; the frames around it are delivered.
    let c = b.open(post(
        &format!("/socket.io/xhr-polling/{sid}/send"),
        &format!("{}{}", frame("~j~{nope"), frame("after")),
        "",
    ));
    let r = b.response(c);
    assert_eq!(r.status, 400);
    assert!(
        r.body_text().starts_with("payload rejected: invalid JSON"),
        "{}",
        r.body_text()
    );
    assert_eq!(b.messages(), vec![(sid, Message::text("after"))]);
    // A well-formed payload is `ok`.
    let c = b.open(post(
        &format!("/socket.io/xhr-polling/{sid}/send"),
        &frame("fine"),
        "",
    ));
    assert_eq!(b.response(c).body_text(), "ok");
    assert_eq!(b.messages(), vec![(sid, Message::text("fine"))]);
}

#[test]
fn queue_overflow_disconnects_the_session() {
    let mut opts = Options::default();
    opts.limits.max_queue = 64;
    let mut b = Bench::new(opts);
    let (_, sid) = b.xhr_handshake();
    // 17 bytes each: three fit in 64, the fourth does not.
    for _ in 0..3 {
        b.send(sid, "0123456789").unwrap();
    }
    assert!(b.events().is_empty());
    b.send(sid, "0123456789").unwrap();
    assert_eq!(
        b.events(),
        vec![Event::Disconnect(sid, DisconnectReason::QueueOverflow)]
    );
    assert_eq!(b.send(sid, "more"), Err(Error::UnknownSession(sid)));
    b.advance(secs(60));
    assert!(b.events().is_empty());
    // A message that fits is queued as usual; one large one overflows at once.
    let (_, sid) = b.xhr_handshake();
    b.send(sid, "fits").unwrap();
    assert!(b.events().is_empty());
    b.send(sid, "x".repeat(100)).unwrap();
    assert_eq!(
        b.disconnects(),
        vec![(sid, DisconnectReason::QueueOverflow)]
    );
    assert!(b.server.session(sid).is_none());
}

#[test]
fn max_sessions_is_503() {
    let mut opts = Options::default();
    opts.limits.max_sessions = 1;
    let mut b = Bench::new(opts);
    let (_, sid) = b.xhr_handshake();
    let c = b.open(get("/socket.io/xhr-polling//2"));
    assert_eq!(b.response(c).status, 503);
    assert!(b.is_closed(c));
    let c = b.open(ws_request("/socket.io/websocket", WS_KEY));
    assert_eq!(b.response(c).status, 503);
    assert!(b.is_closed(c));
    assert!(b.events().is_empty());
    // Existing sessions still work, and a place frees up when one ends.
    b.send(sid, "still here").unwrap();
    b.advance(secs(8));
    assert_eq!(b.disconnects().len(), 1);
    b.xhr_handshake();
}

#[test]
fn request_timeout() {
    let mut opts = Options::default();
    opts.limits.request_timeout = secs(5);
    opts.limits.idle_timeout = secs(60);
    let mut b = Bench::new(opts);
    // Half a head: 408, then closed.
    let half = b.open("GET /socket.io/xhr-polling//1 HTTP/1.1\r\nHost: x\r\n");
    // Half a body.
    let body = b.open("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    // A request begun late gets its whole request timeout from its first byte.
    let late = b.connect();
    b.advance(secs(3));
    b.input(late, "GET / HTTP/1.1\r\n");
    b.advance(millis(1_999));
    for c in [half, body, late] {
        assert!(!b.is_closed(c));
        assert!(b.received(c).is_empty());
    }
    b.advance(millis(1));
    let r = b.response(half);
    assert_eq!(r.status, 408);
    assert!(b.is_closed(half));
    assert_eq!(b.response(body).status, 408);
    assert!(b.is_closed(body));
    assert!(!b.is_closed(late));
    b.advance(secs(3));
    assert_eq!(b.response(late).status, 408);
    assert!(b.events().is_empty());
}

#[test]
fn new_sessions_per_peer_address_are_limited_per_second() {
    let mut opts = Options::default();
    opts.limits.max_new_sessions_per_peer = 3;
    let mut b = Bench::new(opts);
    let handshake = get("/socket.io/xhr-polling//1");
    for _ in 0..3 {
        let c = b.open(&handshake);
        assert_eq!(b.response(c).status, 200);
    }
    // The fourth this second, over HTTP and over a WebSocket: 503 before any handshake.
    let ws = ws_request("/socket.io/websocket", "dGhlIHNhbXBsZSBub25jZQ==");
    for request in [handshake.clone(), ws] {
        let c = b.open(&request);
        let r = b.response(c);
        assert_eq!(r.status, 503);
        assert!(r
            .body_text()
            .contains("too many new sessions from this address"));
        assert!(b.is_closed(c));
    }
    // Another address is not held back, nor a session that exists already.
    let other = ConnectionInfo::new(
        "10.1.2.3:5000".parse().unwrap(),
        "127.0.0.1:8080".parse().unwrap(),
    );
    let c = b.connect_from(other);
    b.input(c, &handshake);
    assert_eq!(b.response(c).status, 200);
    assert_eq!(b.server.session_count(), 4);
    // The next second.
    b.advance(secs(1));
    let c = b.open(&handshake);
    assert_eq!(b.response(c).status, 200);
}

#[test]
fn idle_connections_are_closed_silently() {
    let mut opts = Options::default();
    opts.limits.idle_timeout = secs(5);
    opts.limits.request_timeout = secs(60);
    let mut b = Bench::new(opts);
    // A connection that never sends anything.
    let idle = b.connect();
    b.advance(millis(4_999));
    assert!(!b.is_closed(idle));
    b.advance(millis(1));
    assert!(b.is_closed(idle));
    assert!(b.received(idle).is_empty());
    assert!(b.events().is_empty());
}

#[test]
fn idle_timeout_on_keep_alive_and_held_polls() {
    let mut opts = Options::default();
    opts.limits.idle_timeout = secs(5);
    let mut b = Bench::new(opts);
    let (c, sid) = b.xhr_handshake();
    // Idle between requests: closed silently after the timeout.
    b.advance(secs(4));
    // A held poll is no idle connection: it lasts its `duration`.
    b.input(c, get(&format!("/socket.io/xhr-polling/{sid}/2")));
    b.advance(secs(19));
    assert!(!b.is_closed(c));
    assert!(b.received(c).is_empty());
    b.advance(secs(1));
    assert_eq!(b.response(c).status, 200);
    b.advance(millis(4_999));
    assert!(!b.is_closed(c));
    b.advance(millis(1));
    assert!(b.is_closed(c));
    assert!(b.received(c).is_empty());
    // The session lives on until its own close timeout.
    assert!(b.server.session(sid).is_some());
    b.advance(secs(3));
    assert_eq!(
        b.disconnects(),
        vec![(sid, DisconnectReason::TransportClosed)]
    );
}

#[test]
fn bytes_to_a_closed_connection_are_ignored() {
    let mut b = Bench::with_defaults();
    let c = b.open(get("/socket.io/xhr-polling/1/1"));
    assert!(b.is_closed(c));
    b.input(c, get("/socket.io/xhr-polling//1"));
    b.hang_up(c);
    assert!(b.received(c).is_empty());
    assert!(b.events().is_empty());
}

// ---- broadcast -------------------------------------------------------------------------

#[test]
fn broadcast_skips_except_and_shares_the_payload() {
    let mut b = Bench::with_defaults();
    let (w1, s1) = b.ws_session("/socket.io/websocket");
    let (w2, s2) = b.ws_session("/socket.io/websocket");
    let (w3, s3) = b.ws_session("/socket.io/websocket");
    let (_, p) = b.xhr_handshake();
    let segments_before = |b: &Bench, c| b.peer(c).segments.len();
    let (n1, n3) = (segments_before(&b, w1), segments_before(&b, w3));

    b.broadcast("to all but two", &[s2]);
    let expected = b"\x81\x16~m~14~m~to all but two".to_vec();
    assert_eq!(b.take(w1), expected);
    assert_eq!(b.take(w3), expected);
    assert!(b.received(w2).is_empty());

    // The message is one allocation shared by every recipient (a small one is built with
    // its header, once).
    let payload = |b: &Bench, c, from: usize| {
        b.peer(c).segments[from..]
            .iter()
            .find(|s| s.ends_with(b"~m~14~m~to all but two"))
            .cloned()
            .unwrap()
    };
    let (a, c) = (payload(&b, w1, n1), payload(&b, w3, n3));
    assert_eq!(a, c);
    assert_eq!(a.as_ptr(), c.as_ptr());

    // The polling session has it queued.
    let c = b.open(get(&format!("/socket.io/xhr-polling/{p}/2")));
    assert_eq!(b.response(c).body_text(), "~m~14~m~to all but two");

    // Several excepted, and JSON.
    b.broadcast(Message::json(serde_json::json!({"n": 1})), &[s1, s3, p]);
    assert_eq!(server_texts(&b.take(w2)), vec![frame("~j~{\"n\":1}")]);
    assert!(b.received(w1).is_empty() && b.received(w3).is_empty());
    assert!(b.events().is_empty());
}

// ---- shutdown ------------------------------------------------------------------------

#[test]
fn shutdown_disconnects_every_session_once() {
    let mut b = Bench::with_defaults();
    let (ws, s_ws) = b.ws_session("/socket.io/websocket");
    let (poll, s_poll) = b.xhr_handshake();
    b.input(poll, get(&format!("/socket.io/xhr-polling/{s_poll}/2")));
    let (_, s_idle) = b.xhr_handshake();
    let html = b.open(get("/socket.io/htmlfile//1"));
    let s_html = match b.events().as_slice() {
        [Event::Connect(s)] => *s,
        e => panic!("{e:?}"),
    };
    b.take(html);
    let mut hixie_req = hixie76_request("/socket.io/websocket").into_bytes();
    hixie_req.extend_from_slice(HIXIE76_KEY3);
    let hixie = b.open(hixie_req);
    b.take(hixie);
    let s_hixie = match b.events().as_slice() {
        [Event::Connect(s)] => *s,
        e => panic!("{e:?}"),
    };
    let app = b.open(get("/elsewhere"));
    let idle = b.connect();
    b.events();

    b.shutdown();

    let mut ended: Vec<_> = b.disconnects();
    ended.sort_by_key(|(s, _)| *s);
    let mut expected: Vec<_> = [s_ws, s_poll, s_idle, s_html, s_hixie]
        .into_iter()
        .map(|s| (s, DisconnectReason::Shutdown))
        .collect();
    expected.sort_by_key(|(s, _)| *s);
    assert_eq!(ended, expected);

    let out = server_frames(&b.take(ws));
    assert_eq!(out.len(), 1);
    assert_eq!(close_code(&out[0]), 1001);
    assert_eq!(b.take(hixie), b"\xff\x00");
    let r = b.response(poll);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(b.take(html), b"0\r\n\r\n");
    for c in [ws, poll, html, hixie, app, idle] {
        assert!(b.is_closed(c), "{c:?}");
        assert!(b.received(c).is_empty(), "{c:?}");
    }
    assert_eq!(b.server.session_count(), 0);
    assert_eq!(b.server.connection_count(), 0);
    assert_eq!(b.server.poll_timeout(), None);
    b.advance(secs(60));
    assert!(b.events().is_empty());
}

#[test]
fn too_much_input_behind_a_held_poll_closes_the_connection() {
    let mut opts = Options::default();
    opts.limits.max_head = 256;
    opts.limits.max_body = 64;
    let mut b = Bench::new(opts);
    let (c, sid) = b.xhr_handshake();
    b.input(c, get(&format!("/socket.io/xhr-polling/{sid}/2")));
    b.input(c, "x".repeat(300));
    assert!(!b.is_closed(c));
    b.input(c, "x".repeat(30));
    assert!(b.is_closed(c));
    assert!(b.received(c).is_empty());
    // The session lost its poll, not its life.
    assert!(!b.server.session(sid).unwrap().open);
    b.advance(secs(8));
    assert_eq!(
        b.disconnects(),
        vec![(sid, DisconnectReason::TransportClosed)]
    );
}

/// An embedder whose own HTTP stack parsed the request hands it over whole: polls, posts and
/// the application's requests behave as if the bytes had come through the core's parser.
#[test]
fn requests_parsed_by_the_embedder() {
    let mut b = Bench::with_defaults();
    let handshake = b.connect();
    let now = b.now();
    b.server.handle_request(
        handshake,
        Request::get("/socket.io/xhr-polling//1").with_header("Host", "x"),
        now,
    );
    b.drain();
    let r = b.response(handshake);
    assert_eq!(r.status, 200);
    let sid = session_id(&r.body_text());

    let poster = b.connect();
    let mut post = Request::get(format!("/socket.io/xhr-polling/{sid}/send"));
    post.method = "POST".into();
    post.body = format!("data={}", urlencode(&frame("hi")))
        .into_bytes()
        .into();
    b.server.handle_request(poster, post, now);
    b.drain();
    assert_eq!(b.response(poster).body_text(), "ok");
    assert_eq!(b.messages(), vec![(sid, Message::text("hi"))]);

    let app = b.connect();
    b.server
        .handle_request(app, Request::get("/elsewhere"), now);
    b.drain();
    let req = app_request(&mut b, app);
    assert_eq!(req.path(), "/elsewhere");
    b.respond(app, Response::new(204)).unwrap();
    assert_eq!(b.response(app).status, 204);
    // A connection busy with a request takes no second one; it is ignored, not answered twice.
    let busy = b.connect();
    b.server.handle_request(busy, Request::get("/a"), now);
    b.server.handle_request(busy, Request::get("/b"), now);
    b.drain();
    assert_eq!(app_request(&mut b, busy).path(), "/a");
    assert!(b.events().is_empty());
}

/// Outputs are data before they are bytes: a poll's answer is a head and body segments,
/// which an embedder with its own HTTP stack can map to its own types.
#[test]
fn transmits_are_structured() {
    use io_core::http::response::{Framing, Segment};
    let mut server = io_core::Server::new(Options::default()).unwrap();
    let now = std::time::Instant::now();
    let conn = server.handle_connection(support::info(), now);
    server.handle_bytes(conn, get("/socket.io/htmlfile//1").as_bytes(), now);
    let t = server.poll_transmit().expect("the stream's start");
    let [Segment::Head(head), Segment::Chunk(preamble), Segment::Chunk(id), ..] = &t.segments[..]
    else {
        panic!("{t:?}")
    };
    assert_eq!((head.status, head.framing), (200, Framing::Chunked));
    assert!(head
        .headers
        .iter()
        .any(|(n, v)| n == "Content-Type" && v == "text/html"));
    assert_eq!(preamble.len(), 256);
    assert!(id.starts_with(b"<script>parent.s._("));
    // The bytes are the one serialization of those segments.
    let bytes = t.into_bytes().concat();
    assert!(bytes.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(bytes.ends_with(b", document);</script>\r\n"));
}

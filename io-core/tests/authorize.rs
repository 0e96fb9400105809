//! Authorization: with `Options::authorize`, a handshake for a new session waits for the
//! application's verdict, on every kind of handshake; a refusal is a 403 that says so.
//! With `Options::keep_handshakes`, the handshake stays readable for the session's life.

mod support;

use io_core::{ConnId, Error, Event, Options, TransportKind};
use support::*;

fn authorizing() -> Bench {
    let mut opts = Options::default();
    opts.authorize = true;
    opts.keep_handshakes = true;
    Bench::new(opts)
}

/// The one Authorize event so far.
fn asked(b: &mut Bench) -> (ConnId, io_core::Handshake) {
    match b.events().as_slice() {
        [Event::Authorize(c, h)] => (*c, (**h).clone()),
        other => panic!("expected one Authorize, got {other:?}"),
    }
}

#[test]
fn a_polling_handshake_waits_for_the_verdict_then_goes_on() {
    let mut b = authorizing();
    let c = b.open(
        get("/socket.io/xhr-polling//1?user=7")
            .replace("\r\n\r\n", "\r\nCookie: token=s3cret\r\n\r\n"),
    );
    let (conn, h) = asked(&mut b);
    assert_eq!(conn, c);
    assert_eq!(h.transport, TransportKind::XhrPolling);
    assert_eq!(
        (h.cookie("token"), h.query("user")),
        (Some("s3cret"), Some("7"))
    );
    assert!(
        b.take(c).is_empty(),
        "nothing is answered before the verdict"
    );
    assert_eq!(b.server.session_count(), 0);

    let now = b.now();
    b.server.authorize(c, Ok(()), now).unwrap();
    b.drain();
    let r = b.response(c);
    assert_eq!(r.status, 200);
    let sid = session_id(&r.body_text());
    assert_eq!(b.events(), vec![Event::Connect(sid)]);
    // The handshake stays with the session.
    assert_eq!(
        b.server.handshake(sid).unwrap().cookie("token"),
        Some("s3cret")
    );
    // Its next polls are not asked about: the session exists.
    let p = b.open(get(&format!("/socket.io/xhr-polling/{sid}/2")));
    assert!(b.events().is_empty());
    b.send(sid, "hi").unwrap();
    assert_eq!(b.response(p).status, 200);
    // A verdict twice is an error.
    assert_eq!(
        b.server.authorize(c, Ok(()), now),
        Err(Error::NotAuthorizing(c))
    );
}

#[test]
fn a_refusal_is_a_403_that_says_why_and_makes_no_session() {
    let mut b = authorizing();
    let c = b.open(get("/socket.io/xhr-polling//1"));
    let (conn, _) = asked(&mut b);
    let now = b.now();
    b.server
        .authorize(conn, Err("no token\r\ncookie".into()), now)
        .unwrap();
    b.drain();
    let r = b.response(c);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body_text(),
        "refused by the application: no token  cookie\n"
    );
    assert_eq!(b.server.session_count(), 0);
    assert!(b.events().is_empty());
    assert_eq!(b.server.metrics().refused, 1);
}

#[test]
fn websocket_handshakes_wait_too_and_hixie76_keeps_its_key3() {
    let mut b = authorizing();
    let c = b.open(ws_request("/socket.io/websocket", WS_KEY));
    let (conn, h) = asked(&mut b);
    assert_eq!((conn, h.transport), (c, TransportKind::WebSocket));
    assert!(b.take(c).is_empty());
    let now = b.now();
    b.server.authorize(c, Ok(()), now).unwrap();
    b.drain();
    assert_eq!(b.response_head(c).status, 101);
    assert!(matches!(b.events().as_slice(), [Event::Connect(_)]));

    // Hixie-76 sends its key3 straight after the head: kept while the application thinks.
    let mut h76 = hixie76_request("/socket.io/flashsocket").into_bytes();
    h76.extend_from_slice(HIXIE76_KEY3);
    let c = b.open(&h76);
    let (conn, h) = asked(&mut b);
    assert_eq!((conn, h.transport), (c, TransportKind::FlashSocket));
    let now = b.now();
    b.server.authorize(c, Ok(()), now).unwrap();
    b.drain();
    let got = b.take(c);
    assert!(
        got.starts_with(b"HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        got.windows(16).any(|w| w == HIXIE76_ANSWER),
        "the key3 answer"
    );
}

#[test]
fn a_connection_that_goes_away_while_waiting_is_forgotten() {
    let mut b = authorizing();
    let c = b.open(get("/socket.io/xhr-polling//1"));
    let _ = asked(&mut b);
    b.hang_up(c);
    let now = b.now();
    assert_eq!(
        b.server.authorize(c, Ok(()), now),
        Err(Error::NotAuthorizing(c))
    );
    assert_eq!(b.server.session_count(), 0);
}

#[test]
fn a_drain_sends_waiting_handshakes_elsewhere() {
    let mut b = authorizing();
    let c = b.open(get("/socket.io/xhr-polling//1"));
    let _ = asked(&mut b);
    b.server.drain(b.now());
    b.drain();
    assert_eq!(b.response(c).status, 503);
    let now = b.now();
    assert_eq!(
        b.server.authorize(c, Ok(()), now),
        Err(Error::NotAuthorizing(c))
    );
    assert_eq!(b.server.session_count(), 0);
}

/// With `Options::keep_latest_requests`, each request that attaches a transport replaces the
/// last one: the handshake first, then each poll, then a WebSocket (hixie-76 included, which
/// attaches only after its key3); the handshake itself stays as it was.
#[test]
fn the_latest_attaching_request_is_kept_on_demand() {
    let mut opts = Options::default();
    opts.keep_handshakes = true;
    opts.keep_latest_requests = true;
    let mut b = Bench::new(opts);
    let c = b.open(get_with("/socket.io/xhr-polling//1", "Cookie: n=0\r\n"));
    let sid = session_id(&b.response(c).body_text());
    let cookie = |b: &Bench| {
        let latest = b.server.latest_request(sid).expect("kept");
        latest.cookie("n").map(str::to_owned)
    };
    assert_eq!(
        cookie(&b).as_deref(),
        Some("0"),
        "the handshake, until another"
    );
    for n in 1..=3 {
        let path = format!("/socket.io/xhr-polling/{sid}/{n}?poll={n}");
        let p = b.open(get_with(&path, &format!("Cookie: n={n}\r\n")));
        assert_eq!(cookie(&b), Some(n.to_string()));
        let latest = b.server.latest_request(sid).unwrap();
        assert_eq!(latest.query("poll"), Some(n.to_string().as_str()));
        assert_eq!(latest.transport, TransportKind::XhrPolling);
        b.send(sid, "x").unwrap();
        assert_eq!(b.response(p).status, 200);
    }
    assert_eq!(b.server.handshake(sid).unwrap().cookie("n"), Some("0"));

    // A hixie-76 session connecting again: its request counts once key3 is in.
    let hixie = |b: &mut Bench, path: &str, n: &str| {
        let head = hixie76_request(path).replace("\r\n\r\n", &format!("\r\nCookie: n={n}\r\n\r\n"));
        let w = b.open(head);
        (w, b.take(w))
    };
    let (w, _) = hixie(&mut b, "/socket.io/websocket", "a");
    b.input(w, HIXIE76_KEY3);
    let bytes = b.take(w);
    let at = find(&bytes, HIXIE76_ANSWER).unwrap() + HIXIE76_ANSWER.len();
    let ws = session_id(&hixie_frames(&bytes[at..])[0]);
    let ws_cookie = |b: &Bench| {
        b.server
            .latest_request(ws)
            .unwrap()
            .cookie("n")
            .map(str::to_owned)
    };
    assert_eq!(ws_cookie(&b).as_deref(), Some("a"));
    // A second connection for the session (the first is replaced once it attaches).
    let (w2, _) = hixie(&mut b, &format!("/socket.io/websocket/{ws}"), "b");
    assert_eq!(
        ws_cookie(&b).as_deref(),
        Some("a"),
        "not attached before key3"
    );
    b.input(w2, HIXIE76_KEY3);
    assert_eq!(ws_cookie(&b).as_deref(), Some("b"));
    assert!(b.is_closed(w), "the first connection was replaced");
    assert_eq!(
        b.server.latest_request(ws).unwrap().transport,
        TransportKind::WebSocket
    );
    assert_eq!(b.server.handshake(ws).unwrap().cookie("n"), Some("a"));
}

#[test]
fn without_the_option_no_request_is_kept() {
    let mut b = Bench::with_defaults();
    let (_, sid) = b.xhr_handshake();
    assert!(b.server.latest_request(sid).is_none());
    assert!(b.server.handshake(sid).is_none());
}

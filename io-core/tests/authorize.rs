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

//! xhr-polling and jsonp-polling, as a client sees them on the wire.

mod support;

use io_core::{DisconnectReason, Event, Message, Options, Origins, TransportKind};
use serde_json::json;
use support::*;

fn poll_path(sid: impl std::fmt::Display, ts: u32) -> String {
    format!("/socket.io/xhr-polling/{sid}/{ts}")
}

fn restrictive() -> Options {
    let mut opts = Options::default();
    opts.origins = Origins::parse(["good.example:*"]).unwrap();
    opts
}

#[test]
fn xhr_handshake_returns_the_id_as_first_frame() {
    let mut b = Bench::with_defaults();
    let c = b.open(get("/socket.io/xhr-polling//1300000000001"));
    let r = b.response(c);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    let body = r.body_text();
    assert_eq!(
        r.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    let f = frames(&body);
    assert_eq!(f.len(), 1);
    assert!(f[0].parse::<io_core::SessionId>().is_ok(), "{body}");
    assert_eq!(body, frame(&f[0]));
    let sid = session_id(&body);
    assert_eq!(b.events(), vec![Event::Connect(sid)]);
    assert!(!b.is_closed(c), "HTTP/1.1 keeps the connection");
    assert_eq!(b.server.session_count(), 1);
}

#[test]
fn ids_come_from_the_seeded_source() {
    let mut one = Bench::with_defaults();
    let mut two = Bench::with_defaults();
    assert_eq!(one.xhr_handshake().1, two.xhr_handshake().1);
    let (_, a) = one.xhr_handshake();
    let (_, b) = one.xhr_handshake();
    assert_ne!(a, b);
}

#[test]
fn message_sent_between_polls_is_queued_for_the_next_poll() {
    let mut b = Bench::with_defaults();
    let (_, sid) = b.xhr_handshake();
    b.send(sid, "hello").unwrap();
    let c = b.open(get(&poll_path(sid, 2)));
    let r = b.response(c);
    assert_eq!(r.status, 200);
    assert_eq!(r.body_text(), "~m~5~m~hello");
    assert!(b.events().is_empty(), "no second Connect");
    assert_eq!(b.server.session(sid).unwrap().connections, 2);
}

#[test]
fn queued_messages_come_in_one_payload() {
    let mut b = Bench::with_defaults();
    let (_, sid) = b.xhr_handshake();
    b.send(sid, "hello").unwrap();
    b.send(sid, Message::json(json!({"echo": "😀</script><b>x"})))
        .unwrap();
    b.send(sid, "é").unwrap();
    let c = b.open(get(&poll_path(sid, 2)));
    let r = b.response(c);
    let body = r.body_text();
    assert_eq!(
        body,
        "~m~5~m~hello~m~29~m~~j~{\"echo\":\"😀</script><b>x\"}~m~1~m~é"
    );
    assert_eq!(
        r.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(frames(&body).len(), 3);
}

#[test]
fn a_held_poll_is_completed_by_send() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.xhr_handshake();
    b.input(c, get(&poll_path(sid, 2)));
    b.advance(secs(5));
    assert!(b.received(c).is_empty(), "the poll is held");
    assert!(b.server.session(sid).unwrap().open);
    b.send(sid, "now").unwrap();
    let r = b.response(c);
    assert_eq!(r.body_text(), "~m~3~m~now");
    // A second message waits for the next poll.
    b.send(sid, "later").unwrap();
    assert!(b.received(c).is_empty());
    b.input(c, get(&poll_path(sid, 3)));
    assert_eq!(b.response(c).body_text(), "~m~5~m~later");
}

#[test]
fn duration_answers_an_empty_poll() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.xhr_handshake();
    b.input(c, get(&poll_path(sid, 2)));
    b.advance(millis(19_999));
    assert!(b.received(c).is_empty());
    b.advance(millis(1));
    let r = b.response(c);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("0"));
    assert!(r.body.is_empty());
    assert!(b.received(c).is_empty());
    assert!(!b.is_closed(c));
    assert!(b.events().is_empty());
    assert!(!b.server.session(sid).unwrap().open);
}

#[test]
fn session_survives_between_polls_then_close_timeout_disconnects_once() {
    let mut b = Bench::with_defaults();
    let (_, sid) = b.xhr_handshake();
    b.advance(millis(7_999));
    assert!(b.server.session(sid).is_some());
    assert!(b.events().is_empty());
    b.advance(millis(1));
    assert_eq!(
        b.events(),
        vec![Event::Disconnect(sid, DisconnectReason::TransportClosed)]
    );
    assert!(b.server.session(sid).is_none());
    b.advance(secs(60));
    assert!(b.events().is_empty());
    assert_eq!(b.send(sid, "x"), Err(io_core::Error::UnknownSession(sid)));
}

#[test]
fn reattaching_cancels_the_close_timer() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.xhr_handshake();
    b.advance(secs(7));
    b.input(c, get(&poll_path(sid, 2)));
    // Held for the full duration, well past the first close deadline.
    b.advance(secs(19));
    assert!(b.events().is_empty());
    assert!(b.server.session(sid).unwrap().open);
    b.advance(secs(1));
    assert_eq!(b.response(c).body.len(), 0);
    // Detached again: the close timer starts over from the end of that poll.
    b.advance(millis(7_999));
    assert!(b.events().is_empty());
    b.advance(millis(1));
    assert_eq!(
        b.events(),
        vec![Event::Disconnect(sid, DisconnectReason::TransportClosed)]
    );
}

#[test]
fn post_delivers_messages_in_order() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.xhr_handshake();
    let payload = format!(
        "{}{}{}{}",
        frame("hello world"),
        frame("~j~{\"a\":[1,2],\"b\":\"é\"}"),
        frame("😀 and ☃"),
        frame("a+b&c=d%")
    );
    assert!(payload.contains("~m~8~m~😀 and ☃"), "emoji count 2 units");
    b.input(
        c,
        post(&format!("/socket.io/xhr-polling/{sid}/send"), &payload, ""),
    );
    let r = b.response(c);
    assert_eq!(r.status, 200);
    assert_eq!(r.body_text(), "ok");
    assert_eq!(
        b.messages(),
        vec![
            (sid, Message::text("hello world")),
            (sid, Message::json(json!({"a": [1, 2], "b": "é"}))),
            (sid, Message::text("😀 and ☃")),
            (sid, Message::text("a+b&c=d%")),
        ]
    );
}

#[test]
fn heartbeat_echo_in_a_batch_keeps_the_messages_after_it() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.xhr_handshake();
    let payload = format!("{}{}{}", frame("before"), frame("~h~1"), frame("after"));
    b.input(
        c,
        post(&format!("/socket.io/xhr-polling/{sid}/send"), &payload, ""),
    );
    assert_eq!(b.response(c).body_text(), "ok");
    assert_eq!(
        b.messages(),
        vec![
            (sid, Message::text("before")),
            (sid, Message::text("after"))
        ]
    );
}

#[test]
fn post_from_a_refused_origin_is_401_and_not_processed() {
    let mut b = Bench::new(restrictive());
    let (c, sid) = b.xhr_handshake();
    b.input(
        c,
        post(
            &format!("/socket.io/xhr-polling/{sid}/send"),
            &frame("evil"),
            "Origin: http://evil.example\r\n",
        ),
    );
    let r = b.response(c);
    assert_eq!(r.status, 401);
    assert_eq!(r.body_text(), "unauthorized");
    assert!(b.events().is_empty());
    // The allowed origin is served, with CORS headers naming it.
    b.input(
        c,
        post(
            &format!("/socket.io/xhr-polling/{sid}/send"),
            &frame("fine"),
            "Origin: http://good.example\r\n",
        ),
    );
    let r = b.response(c);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://good.example")
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    assert_eq!(b.messages(), vec![(sid, Message::text("fine"))]);
}

#[test]
fn unknown_session_closes_without_an_answer() {
    let mut b = Bench::with_defaults();
    for path in [
        "/socket.io/xhr-polling/12345/1",
        "/socket.io/xhr-polling/constructor/1",
        "/socket.io/xhr-polling/007/1",
    ] {
        let c = b.open(get(path));
        assert!(b.received(c).is_empty(), "{path}");
        assert!(b.is_closed(c), "{path}");
    }
    let c = b.open(post("/socket.io/xhr-polling/12345/send", &frame("x"), ""));
    assert!(b.received(c).is_empty());
    assert!(b.is_closed(c));
    assert!(b.events().is_empty());
    assert_eq!(b.server.session_count(), 0);
}

#[test]
fn a_second_poll_answers_the_first_one_empty() {
    let mut b = Bench::with_defaults();
    let (first, sid) = b.xhr_handshake();
    b.input(first, get(&poll_path(sid, 2)));
    assert!(b.received(first).is_empty());
    let second = b.open(get(&poll_path(sid, 3)));
    let r = b.response(first);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert!(b.received(second).is_empty(), "the new poll is held");
    b.send(sid, "to the second").unwrap();
    assert!(b.received(first).is_empty());
    assert_eq!(b.response(second).body_text(), "~m~13~m~to the second");
    assert!(b.events().is_empty());
}

#[test]
fn poll_and_post_share_a_keep_alive_connection() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.xhr_handshake();
    b.input(
        c,
        post(
            &format!("/socket.io/xhr-polling/{sid}/send"),
            &frame("one"),
            "",
        ),
    );
    assert_eq!(b.response(c).body_text(), "ok");
    b.send(sid, "two").unwrap();
    b.input(c, get(&poll_path(sid, 2)));
    let r = b.response(c);
    assert_eq!(r.header("connection"), Some("keep-alive"));
    assert_eq!(r.body_text(), "~m~3~m~two");
    assert!(!b.is_closed(c));
    assert_eq!(b.messages(), vec![(sid, Message::text("one"))]);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut b = Bench::with_defaults();
    let (_, sid) = b.xhr_handshake();
    b.send(sid, "queued").unwrap();
    // A poll, then a POST behind it in the same read.
    let mut bytes = get(&poll_path(sid, 2));
    bytes.push_str(&post(
        &format!("/socket.io/xhr-polling/{sid}/send"),
        &frame("up"),
        "",
    ));
    let c = b.open(bytes);
    assert_eq!(b.response(c).body_text(), "~m~6~m~queued");
    assert_eq!(b.response(c).body_text(), "ok");
    assert_eq!(b.messages(), vec![(sid, Message::text("up"))]);

    // A held poll with a POST pipelined behind it: the POST waits for the poll's answer.
    let mut bytes = get(&poll_path(sid, 3));
    bytes.push_str(&post(
        &format!("/socket.io/xhr-polling/{sid}/send"),
        &frame("behind"),
        "",
    ));
    b.input(c, bytes);
    assert!(b.received(c).is_empty());
    assert!(b.messages().is_empty());
    b.send(sid, "release").unwrap();
    assert_eq!(b.response(c).body_text(), "~m~7~m~release");
    assert_eq!(b.response(c).body_text(), "ok");
    assert_eq!(b.messages(), vec![(sid, Message::text("behind"))]);
}

#[test]
fn a_held_poll_whose_peer_hangs_up_starts_the_close_timer() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.xhr_handshake();
    b.input(c, get(&poll_path(sid, 2)));
    b.hang_up(c);
    assert!(!b.server.session(sid).unwrap().open);
    b.send(sid, "kept").unwrap();
    b.advance(secs(7));
    let c2 = b.open(get(&poll_path(sid, 3)));
    assert_eq!(b.response(c2).body_text(), "~m~4~m~kept");
    b.advance(secs(8));
    assert_eq!(
        b.disconnects(),
        vec![(sid, DisconnectReason::TransportClosed)]
    );
}

// ---- jsonp-polling -------------------------------------------------------------------

#[test]
fn jsonp_handshake_calls_the_index_from_the_url() {
    let mut b = Bench::with_defaults();
    let c = b.open(get("/socket.io/jsonp-polling//1300000000001/7"));
    let r = b.response(c);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=UTF-8")
    );
    assert!(r.header("access-control-allow-origin").is_none());
    let body = r.body_text();
    let inner = body
        .strip_prefix("io.JSONP[7]._(\"")
        .and_then(|s| s.strip_suffix("\");"))
        .unwrap_or_else(|| panic!("{body}"));
    let sid = session_id(inner);
    assert_eq!(b.events(), vec![Event::Connect(sid)]);
    assert_eq!(
        b.server.session(sid).unwrap().transport,
        TransportKind::JsonpPolling
    );

    // The next poll with another index, and the empty answer after `duration`.
    b.input(c, get(&format!("/socket.io/jsonp-polling/{sid}/2/0")));
    b.advance(secs(20));
    assert_eq!(b.response(c).body_text(), "io.JSONP[0]._(\"\");");

    // A form POST to …/<sid>/<ts0>/<i>.
    b.input(
        c,
        post(
            &format!("/socket.io/jsonp-polling/{sid}/1300000000001/0"),
            &frame("from a form"),
            "",
        ),
    );
    assert_eq!(b.response(c).body_text(), "ok");
    assert_eq!(b.messages(), vec![(sid, Message::text("from a form"))]);
}

#[test]
fn jsonp_bad_index_is_400() {
    let mut b = Bench::with_defaults();
    for path in [
        "/socket.io/jsonp-polling//1/abc",
        "/socket.io/jsonp-polling/",
        "/socket.io/jsonp-polling//1/12345678901234567890",
    ] {
        let c = b.open(get(path));
        let r = b.response(c);
        assert_eq!(r.status, 400, "{path}");
        assert!(b.is_closed(c), "{path}");
    }
    assert!(b.events().is_empty());
    assert_eq!(b.server.session_count(), 0);
}

#[test]
fn jsonp_escapes_script_end_tags() {
    let mut b = Bench::with_defaults();
    let c = b.open(get("/socket.io/jsonp-polling//1/0"));
    let body = b.response(c).body_text();
    let sid = session_id(
        body.strip_prefix("io.JSONP[0]._(\"")
            .and_then(|s| s.strip_suffix("\");"))
            .unwrap(),
    );
    b.send(sid, "</script><script>alert(1)</script>").unwrap();
    b.input(c, get(&format!("/socket.io/jsonp-polling/{sid}/2/0")));
    let body = b.response(c).body_text();
    assert!(!body.contains("</script>"), "{body}");
    assert_eq!(
        body,
        "io.JSONP[0]._(\"~m~34~m~\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\");"
    );
}

#[test]
fn jsonp_from_a_refused_origin_gets_the_alert_and_no_session() {
    let mut b = Bench::new(restrictive());
    let c = b.open(get_with(
        "/socket.io/jsonp-polling//1/0",
        "Origin: http://evil.example\r\n",
    ));
    let r = b.response(c);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body_text(),
        "alert('Cross domain security restrictions not met');"
    );
    assert!(b.events().is_empty());
    assert_eq!(b.server.session_count(), 0);
}

#[test]
fn application_disconnect_answers_a_held_poll_and_closes() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.xhr_handshake();
    b.input(c, get(&poll_path(sid, 2)));
    b.disconnect(sid).unwrap();
    let r = b.response(c);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.header("connection"), Some("close"));
    assert!(b.is_closed(c));
    assert_eq!(
        b.events(),
        vec![Event::Disconnect(sid, DisconnectReason::Server)]
    );
    b.advance(secs(60));
    assert!(b.events().is_empty());
    assert_eq!(b.server.poll_timeout(), None);
}

#[test]
fn http_10_polls_close_after_the_answer() {
    let mut b = Bench::with_defaults();
    let c = b.open("GET /socket.io/xhr-polling//1 HTTP/1.0\r\n\r\n");
    let r = b.response(c);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(b.is_closed(c));
    let sid = session_id(&r.body_text());
    assert_eq!(b.events(), vec![Event::Connect(sid)]);
    // The session does not depend on the connection.
    let c = b.open(format!(
        "GET /socket.io/xhr-polling/{sid}/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    ));
    b.send(sid, "x").unwrap();
    let r = b.response(c);
    assert_eq!(r.body_text(), "~m~1~m~x");
    assert_eq!(r.header("connection"), Some("keep-alive"));
    assert!(!b.is_closed(c));
}

#[test]
fn jsonp_post_from_a_refused_origin_is_401() {
    let mut b = Bench::new(restrictive());
    let c = b.open(get("/socket.io/jsonp-polling//1/0"));
    let body = b.response(c).body_text();
    let sid = session_id(
        body.strip_prefix("io.JSONP[0]._(\"")
            .and_then(|s| s.strip_suffix("\");"))
            .unwrap(),
    );
    b.events();
    b.input(
        c,
        post(
            &format!("/socket.io/jsonp-polling/{sid}/1/0"),
            &frame("x"),
            "Origin: http://evil.example\r\n",
        ),
    );
    assert_eq!(b.response(c).status, 401);
    assert!(b.events().is_empty());
}

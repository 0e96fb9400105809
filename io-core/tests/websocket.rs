//! websocket and flashsocket: the three handshakes, framing, heartbeats, closing, and the
//! inline Flash policy.

mod support;

use io_core::{
    ConnId, ConnectionInfo, DisconnectReason, Event, Message, Options, SessionId, TransportKind,
};
use support::*;

const HIXIE76_HEAD: &str = "HTTP/1.1 101 WebSocket Protocol Handshake\r\n\
    Upgrade: WebSocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Origin: http://example.com\r\n\
    Sec-WebSocket-Location: ws://example.com/socket.io/websocket\r\n\r\n";

fn fast_heartbeats() -> Options {
    let mut opts = Options::default();
    opts.for_each_transport(|_, t| {
        t.heartbeat_interval = secs(1);
        t.timeout = Some(millis(500));
    });
    opts
}

/// Checks the hixie-76 answer and the id frame after the head; returns the session and the
/// events after its Connect.
fn hixie76_established(b: &mut Bench, c: ConnId, head: &str) -> (SessionId, Vec<Event>) {
    let got = b.take(c);
    assert!(
        got.starts_with(head.as_bytes()),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let rest = &got[head.len()..];
    assert_eq!(&rest[..16], HIXIE76_ANSWER);
    let f = hixie_frames(&rest[16..]);
    assert_eq!(f.len(), 1);
    let sid = session_id(&f[0]);
    let mut events = b.events();
    assert_eq!(events.remove(0), Event::Connect(sid));
    (sid, events)
}

#[test]
fn hixie75_handshake() {
    let mut b = Bench::with_defaults();
    let c = b.open(hixie75_request("/socket.io/websocket"));
    let got = b.take(c);
    let head = "HTTP/1.1 101 Web Socket Protocol Handshake\r\n\
        Upgrade: WebSocket\r\nConnection: Upgrade\r\n\
        WebSocket-Origin: http://example.com\r\n\
        WebSocket-Location: ws://example.com/socket.io/websocket\r\n\r\n";
    assert!(got.starts_with(head.as_bytes()));
    let f = hixie_frames(&got[head.len()..]);
    let sid = session_id(&f[0]);
    assert_eq!(b.events(), vec![Event::Connect(sid)]);

    b.input(c, b"\x00~m~2~m~hi\xff");
    assert_eq!(b.messages(), vec![(sid, Message::text("hi"))]);
    b.send(sid, "back").unwrap();
    assert_eq!(b.take(c), b"\x00~m~4~m~back\xff");
    // Hixie-75 has no closing handshake: disconnect just closes.
    b.disconnect(sid).unwrap();
    assert!(b.received(c).is_empty());
    assert!(b.is_closed(c));
}

#[test]
fn hixie76_key3_in_the_same_read() {
    let mut b = Bench::with_defaults();
    let mut req = hixie76_request("/socket.io/websocket").into_bytes();
    req.extend_from_slice(HIXIE76_KEY3);
    let c = b.open(req);
    hixie76_established(&mut b, c, HIXIE76_HEAD);
}

#[test]
fn hixie76_key3_in_a_later_read() {
    let mut b = Bench::with_defaults();
    let c = b.open(hixie76_request("/socket.io/websocket"));
    // The head goes out at once; the answer waits for key3.
    assert_eq!(b.text(c), HIXIE76_HEAD);
    assert!(b.events().is_empty());
    b.advance(secs(1));
    b.input(c, HIXIE76_KEY3);
    hixie76_established(&mut b, c, HIXIE76_HEAD);
}

#[test]
fn hixie76_key3_split_over_several_reads() {
    let mut b = Bench::with_defaults();
    let mut req = hixie76_request("/socket.io/websocket").into_bytes();
    req.extend_from_slice(&HIXIE76_KEY3[..3]);
    let c = b.open(req);
    assert!(b.events().is_empty());
    b.input(c, &HIXIE76_KEY3[3..4]);
    b.input(c, &HIXIE76_KEY3[4..7]);
    assert_eq!(b.text(c), HIXIE76_HEAD, "no answer before all 8 bytes");
    b.input(c, &HIXIE76_KEY3[7..]);
    hixie76_established(&mut b, c, HIXIE76_HEAD);
}

#[test]
fn hixie76_frame_right_behind_key3_is_decoded() {
    let mut b = Bench::with_defaults();
    let mut req = hixie76_request("/socket.io/websocket").into_bytes();
    req.extend_from_slice(HIXIE76_KEY3);
    req.extend_from_slice(b"\x00~m~5~m~early\xff\x00~m~6~m~");
    let c = b.open(req);
    let (sid, events) = hixie76_established(&mut b, c, HIXIE76_HEAD);
    assert_eq!(events, vec![Event::Message(sid, Message::text("early"))]);
    b.input(c, b"second\xff");
    assert_eq!(b.messages(), vec![(sid, Message::text("second"))]);
    // The closing handshake is answered in kind.
    b.input(c, b"\xff\x00");
    assert_eq!(b.take(c), b"\xff\x00");
    assert!(b.is_closed(c));
    assert_eq!(
        b.disconnects(),
        vec![(sid, DisconnectReason::TransportClosed)]
    );
}

#[test]
fn hixie76_bad_key_is_refused_before_the_101() {
    let mut b = Bench::with_defaults();
    let req = hixie76_request("/socket.io/websocket")
        .replace("1_ tx7X d  <  nw  334J702) 7]o}` 0", "12345");
    let c = b.open(req);
    let r = b.response(c);
    assert_eq!(r.status, 400);
    assert!(b.is_closed(c));
    assert_eq!(b.server.session_count(), 0);
}

#[test]
fn rfc6455_handshake_and_frames() {
    let mut b = Bench::with_defaults();
    let c = b.open(ws_request("/socket.io/websocket", WS_KEY));
    let head = b.response_head(c);
    assert_eq!(head.status, 101);
    assert_eq!(head.header("upgrade"), Some("websocket"));
    assert_eq!(head.header("connection"), Some("Upgrade"));
    assert_eq!(head.header("sec-websocket-accept"), Some(WS_ACCEPT));
    let texts = server_texts(&b.take(c));
    assert_eq!(texts.len(), 1);
    let sid = session_id(&texts[0]);
    assert_eq!(b.events(), vec![Event::Connect(sid)]);

    // Masked text frame in, split across reads.
    let f = client_text(&frame("ünïcode 😀"));
    b.input(c, &f[..3]);
    b.input(c, &f[3..]);
    assert_eq!(b.messages(), vec![(sid, Message::text("ünïcode 😀"))]);

    // Unmasked text frame out, one frame per payload.
    b.send(sid, "out").unwrap();
    assert_eq!(b.take(c), b"\x81\x0a~m~3~m~out");
    let long = "x".repeat(300);
    b.send(sid, long.as_str()).unwrap();
    assert_eq!(server_texts(&b.take(c)), vec![frame(&long)]);

    // Ping → pong with the same payload.
    b.input(c, client_frame(9, b"are you there"));
    assert_eq!(
        server_frames(&b.take(c)),
        vec![(10, b"are you there".to_vec())]
    );
    assert!(b.events().is_empty());
}

#[test]
fn rfc6455_close_is_echoed() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.ws_session("/socket.io/websocket");
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    b.input(c, client_frame(8, &payload));
    let out = server_frames(&b.take(c));
    assert_eq!(out.len(), 1);
    assert_eq!(close_code(&out[0]), 1000);
    assert!(b.is_closed(c));
    assert_eq!(
        b.events(),
        vec![Event::Disconnect(sid, DisconnectReason::TransportClosed)]
    );
}

#[test]
fn rfc6455_unmasked_frame_is_a_protocol_error() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.ws_session("/socket.io/websocket");
    let mut unmasked = vec![0x81, 0x07];
    unmasked.extend_from_slice(frame("x").as_bytes());
    b.input(c, unmasked);
    let out = server_frames(&b.take(c));
    assert_eq!(out.len(), 1);
    assert_eq!(close_code(&out[0]), 1002);
    assert!(b.is_closed(c));
    let d = b.disconnects();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].0, sid);
    assert!(
        matches!(d[0].1, DisconnectReason::ProtocolError(_)),
        "{d:?}"
    );
}

#[test]
fn rfc6455_oversized_message_is_closed_with_1009() {
    let mut opts = Options::default();
    opts.limits.max_frame = 64;
    let mut b = Bench::new(opts);
    let (c, sid) = b.ws_session("/socket.io/websocket");
    b.input(c, client_text(&"y".repeat(65)));
    let out = server_frames(&b.take(c));
    assert_eq!(close_code(&out[0]), 1009);
    assert!(b.is_closed(c));
    assert_eq!(b.disconnects().len(), 1);
    assert!(b.server.session(sid).is_none());
}

#[test]
fn websocket_heartbeats_answered() {
    let mut b = Bench::new(fast_heartbeats());
    let (c, sid) = b.ws_session("/socket.io/websocket");
    for n in 1..=3 {
        b.advance(millis(999));
        assert!(b.received(c).is_empty());
        b.advance(millis(1));
        let hb = format!("~h~{n}");
        assert_eq!(server_texts(&b.take(c)), vec![frame(&hb)]);
        b.advance(millis(499));
        // The echo in a batch with a message: the message is not lost.
        b.input(c, client_text(&format!("{}{}", frame(&hb), frame("data"))));
        assert_eq!(b.messages(), vec![(sid, Message::text("data"))]);
    }
    b.advance(millis(999));
    assert!(b.server.session(sid).unwrap().open);
    assert!(!b.is_closed(c));
}

#[test]
fn websocket_unanswered_heartbeat_closes_the_socket() {
    let mut b = Bench::new(fast_heartbeats());
    let (c, sid) = b.ws_session("/socket.io/websocket");
    b.advance(secs(1));
    assert_eq!(server_texts(&b.take(c)), vec![frame("~h~1")]);
    // An echo of a heartbeat that was never sent does not count.
    b.input(c, client_text(&frame("~h~0")));
    b.advance(millis(500));
    assert_eq!(
        b.events(),
        vec![Event::Disconnect(sid, DisconnectReason::HeartbeatTimeout)]
    );
    let out = server_frames(&b.take(c));
    assert_eq!(out.len(), 1);
    assert_eq!(close_code(&out[0]), 1000);
    assert!(b.is_closed(c));
}

#[test]
fn application_disconnect_sends_close_1000() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.ws_session("/socket.io/websocket");
    b.disconnect(sid).unwrap();
    let out = server_frames(&b.take(c));
    assert_eq!(out.len(), 1);
    assert_eq!(close_code(&out[0]), 1000);
    assert!(b.is_closed(c));
    assert_eq!(
        b.events(),
        vec![Event::Disconnect(sid, DisconnectReason::Server)]
    );
    assert_eq!(b.disconnect(sid), Err(io_core::Error::UnknownSession(sid)));
    assert_eq!(
        b.send(sid, "late"),
        Err(io_core::Error::UnknownSession(sid))
    );
}

#[test]
fn transport_close_with_zero_close_timeout_disconnects_at_once() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.ws_session("/socket.io/websocket");
    b.hang_up(c);
    assert_eq!(
        b.events(),
        vec![Event::Disconnect(sid, DisconnectReason::TransportClosed)]
    );
    assert_eq!(b.server.session_count(), 0);
    assert_eq!(b.server.poll_timeout(), None, "no timers left behind");
}

#[test]
fn websocket_reattach_within_close_timeout_gets_the_queue() {
    let mut opts = Options::default();
    opts.transport_options_mut(TransportKind::WebSocket)
        .close_timeout = secs(5);
    let mut b = Bench::new(opts);
    let (c, sid) = b.ws_session("/socket.io/websocket");
    b.hang_up(c);
    assert!(b.events().is_empty());
    b.send(sid, "buffered").unwrap();
    b.advance(secs(2));
    let c2 = b.open(ws_request(&format!("/socket.io/websocket/{sid}"), WS_KEY));
    assert_eq!(b.response_head(c2).status, 101);
    assert_eq!(server_texts(&b.take(c2)), vec![frame("buffered")]);
    b.advance(secs(5));
    assert!(b.events().is_empty());
    assert_eq!(b.server.session_count(), 1);
}

#[test]
fn websocket_refusals_are_answered() {
    let mut opts = Options::default();
    opts.origins = io_core::Origins::parse(["good.example:*"]).unwrap();
    let mut b = Bench::new(opts);
    // Refused origin.
    let c = b.open(ws_request("/socket.io/websocket", WS_KEY));
    assert_eq!(b.response(c).status, 403);
    assert!(b.is_closed(c));
    // A plain GET.
    let c = b.open(get("/socket.io/websocket"));
    let r = b.response(c);
    assert_eq!(r.status, 426);
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    assert!(b.is_closed(c));
    // An unknown session.
    let mut b = Bench::with_defaults();
    let c = b.open(ws_request("/socket.io/websocket/42", WS_KEY));
    assert!(b.received(c).is_empty());
    assert!(b.is_closed(c));
    assert!(b.events().is_empty());
}

// ---- flashsocket ---------------------------------------------------------------------

#[test]
fn flashsocket_speaks_hixie76() {
    let mut b = Bench::with_defaults();
    let mut req = hixie76_request("/socket.io/flashsocket").into_bytes();
    req.extend_from_slice(HIXIE76_KEY3);
    let c = b.open(req);
    let head = HIXIE76_HEAD.replace("/socket.io/websocket", "/socket.io/flashsocket");
    let (sid, _) = hixie76_established(&mut b, c, &head);
    assert_eq!(
        b.server.session(sid).unwrap().transport,
        TransportKind::FlashSocket
    );
    b.input(c, b"\x00~m~5~m~flash\xff");
    assert_eq!(b.messages(), vec![(sid, Message::text("flash"))]);
}

#[test]
fn inline_flash_policy() {
    let mut b = Bench::with_defaults();
    let doc = b.server.policy_document();
    assert!(std::str::from_utf8(&doc)
        .unwrap()
        .contains("<allow-access-from domain=\"*\" to-ports=\"*\"/>"));

    let c = b.open(b"<policy-file-request/>\0");
    assert_eq!(b.received(c), &doc[..]);
    assert!(b.is_closed(c));

    // The probe in several reads.
    let c = b.open(b"<policy");
    assert!(b.received(c).is_empty());
    b.input(c, b"-file-request/>");
    assert!(b.received(c).is_empty());
    assert!(!b.is_closed(c));
    b.input(c, b"\0");
    assert_eq!(b.received(c), &doc[..]);
    assert!(b.is_closed(c));

    // HTTP on the same port.
    let (_, sid) = b.xhr_handshake();
    assert!(b.server.session(sid).is_some());
    assert!(b.events().is_empty());
}

#[test]
fn no_inline_policy_without_flashsocket() {
    let mut opts = Options::default();
    opts.transports.retain(|&k| k != TransportKind::FlashSocket);
    let mut b = Bench::new(opts);
    // Without flashsocket the probe is bytes that cannot begin a request: refused at once,
    // not answered with the policy.
    let c = b.open(b"<policy-file-request/>\0");
    let r = b.response(c);
    assert_eq!(r.status, 400);
    assert!(!r.body_text().contains("cross-domain-policy"));
    assert!(b.is_closed(c));
}

#[test]
fn hixie76_without_key3_is_closed_silently() {
    let mut opts = Options::default();
    opts.limits.handshake_timeout = secs(2);
    let mut b = Bench::new(opts);
    let c = b.open(hixie76_request("/socket.io/websocket"));
    b.take(c);
    // Part of key3 does not extend the wait.
    b.input(c, "1234");
    b.advance(std::time::Duration::from_millis(1_999));
    assert!(!b.is_closed(c));
    b.advance(std::time::Duration::from_millis(1));
    assert!(b.is_closed(c));
    assert!(b.received(c).is_empty());
    assert!(b.events().is_empty());
    assert_eq!(b.server.session_count(), 0);
}

#[test]
fn a_new_socket_for_a_session_replaces_the_open_one() {
    let mut opts = Options::default();
    opts.transport_options_mut(TransportKind::WebSocket)
        .close_timeout = secs(5);
    let mut b = Bench::new(opts);
    let (old, sid) = b.ws_session("/socket.io/websocket");
    let new = b.open(ws_request(&format!("/socket.io/websocket/{sid}"), WS_KEY));
    let out = server_frames(&b.take(old));
    assert_eq!(out.len(), 1);
    assert_eq!(close_code(&out[0]), 1000);
    assert!(b.is_closed(old));
    assert_eq!(b.response_head(new).status, 101);
    assert!(
        b.received(new).is_empty(),
        "the id went out on the first socket"
    );
    b.send(sid, "to the new one").unwrap();
    assert_eq!(server_texts(&b.take(new)), vec![frame("to the new one")]);
    assert!(b.events().is_empty());
    assert_eq!(b.server.session(sid).unwrap().connections, 2);
}

/// The location a hixie answer names, from the head it wrote.
fn location(head: &[u8]) -> String {
    let head = String::from_utf8_lossy(head);
    head.lines()
        .find_map(|l| l.strip_prefix("WebSocket-Location: "))
        .unwrap_or_else(|| panic!("no location in {head:?}"))
        .to_owned()
}

#[test]
fn a_tls_connection_is_named_wss_in_hixie_locations() {
    let mut b = Bench::with_defaults();
    let c = b.connect_from(info().secured());
    b.input(c, hixie75_request("/socket.io/websocket"));
    assert_eq!(
        location(&b.take(c)),
        "wss://example.com/socket.io/websocket"
    );
    // A plain connection beside it stays ws://.
    let c = b.open(hixie75_request("/socket.io/websocket"));
    assert_eq!(location(&b.take(c)), "ws://example.com/socket.io/websocket");
}

#[test]
fn a_trusted_proxy_names_the_public_scheme_and_host_and_no_one_else_does() {
    let mut opts = Options::default();
    opts.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let mut b = Bench::new(opts);
    let proxied = hixie75_request("/socket.io/websocket").replace(
        "\r\n\r\n",
        "\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: chat.example.org\r\n\r\n",
    );
    let c = b.open(&proxied);
    assert_eq!(
        location(&b.take(c)),
        "wss://chat.example.org/socket.io/websocket"
    );
    // The same headers from an address that is not a trusted proxy are ignored.
    let other = ConnectionInfo::new(
        "192.0.2.10:5000".parse().unwrap(),
        "127.0.0.1:8080".parse().unwrap(),
    );
    let c = b.connect_from(other);
    b.input(c, &proxied);
    assert_eq!(location(&b.take(c)), "ws://example.com/socket.io/websocket");
}

#[test]
fn behind_a_trusted_proxy_the_new_session_limit_counts_each_client() {
    let mut opts = Options::default();
    opts.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    opts.limits.max_new_sessions_per_peer = 2;
    let mut b = Bench::new(opts);
    let from = |client: &str| {
        hixie75_request("/socket.io/websocket").replace(
            "\r\n\r\n",
            &format!("\r\nX-Forwarded-For: {client}\r\n\r\n"),
        )
    };
    let status = |got: Vec<u8>| String::from_utf8_lossy(&got[..12]).into_owned();
    for _ in 0..2 {
        let c = b.open(from("198.51.100.1"));
        assert_eq!(status(b.take(c)), "HTTP/1.1 101");
    }
    let c = b.open(from("198.51.100.1"));
    assert_eq!(
        status(b.take(c)),
        "HTTP/1.1 503",
        "the third from one client"
    );
    let c = b.open(from("198.51.100.2"));
    assert_eq!(
        status(b.take(c)),
        "HTTP/1.1 101",
        "another client behind the proxy"
    );
}

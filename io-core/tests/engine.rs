//! Flow control, half-closed peers, determinism and bounded timer storage: what every
//! embedder gets from the core without code of its own.

mod support;

use std::collections::BTreeMap;

use io_core::{DisconnectReason, Event, Message, Options, Server};
use support::*;

fn small_backlog() -> Options {
    let mut opts = Options::default();
    opts.limits.max_unwritten = 10_000;
    opts
}

#[test]
fn a_websocket_peer_that_stops_reading_is_cut_off_and_others_go_on() {
    let mut b = Bench::new(small_backlog());
    let (slow, slow_sid) = b.ws_session("/socket.io/websocket");
    let (fast, fast_sid) = b.ws_session("/socket.io/websocket");
    b.stall(slow, true);
    let chunk = "x".repeat(1000);
    let mut sent = 0;
    while !b.is_closed(slow) {
        assert!(sent < 20, "never cut off");
        b.broadcast(chunk.as_str(), &[]);
        sent += 1;
        assert_eq!(b.server.buffered(fast_sid), Some(0), "the reader keeps up");
    }
    assert!(b.peer(slow).aborted, "cut off at once, not after a goodbye");
    assert!(b.peer(slow).unread > 10_000);
    assert!(sent >= 10, "not before the limit: {sent}");
    assert_eq!(
        b.disconnects(),
        vec![(slow_sid, DisconnectReason::SlowPeer)]
    );
    // The other session did not notice.
    b.take(fast);
    b.send(fast_sid, "still here").unwrap();
    let frames = server_frames(&b.take(fast));
    assert_eq!(frames, vec![(1, frame("still here").into_bytes())]);
    assert!(!b.is_closed(fast));
}

#[test]
fn a_peer_that_reads_is_never_cut_off() {
    let mut b = Bench::new(small_backlog());
    let (c, sid) = b.ws_session("/socket.io/websocket");
    for _ in 0..200 {
        b.send(sid, "y".repeat(3000)).unwrap();
    }
    assert!(!b.is_closed(c));
    assert_eq!(server_frames(&b.take(c)).len(), 200);
}

#[test]
fn buffered_counts_the_queue_and_the_unread_backlog() {
    let mut b = Bench::new(small_backlog());
    let (c, sid) = b.ws_session("/socket.io/websocket");
    assert_eq!(b.server.buffered(sid), Some(0));
    b.stall(c, true);
    b.send(sid, "abc").unwrap();
    // A 2-byte RFC 6455 header and `~m~3~m~abc`.
    assert_eq!(b.server.buffered(sid), Some(2 + 10));
    b.stall(c, false);
    assert_eq!(b.server.buffered(sid), Some(0));

    // Polling: what waits for the next poll counts too.
    let (_, poll_sid) = b.xhr_handshake();
    b.send(poll_sid, "abc").unwrap();
    assert_eq!(b.server.buffered(poll_sid), Some(10));
}

#[test]
fn a_stream_that_stops_reading_is_cut_off() {
    let mut b = Bench::new(small_backlog());
    let c = b.open(get("/socket.io/htmlfile//1"));
    let sid = b.events().into_iter().find_map(|e| match e {
        Event::Connect(s) => Some(s),
        _ => None,
    });
    let sid = sid.expect("connected");
    b.stall(c, true);
    for _ in 0..20 {
        if b.is_closed(c) {
            break;
        }
        b.send(sid, "z".repeat(1000)).unwrap();
    }
    assert!(b.peer(c).aborted);
    assert_eq!(b.disconnects(), vec![(sid, DisconnectReason::SlowPeer)]);
}

#[test]
fn a_half_closed_peer_still_gets_the_applications_answer() {
    let mut b = Bench::with_defaults();
    let c = b.open(get("/hello"));
    b.shut_write(c);
    assert!(!b.is_closed(c), "the answer is still owed");
    let conn = match b.events().as_slice() {
        [Event::Request(conn, req)] if req.path() == "/hello" => *conn,
        other => panic!("{other:?}"),
    };
    b.respond(conn, io_core::Response::with_body(200, "text/plain", "hi"))
        .unwrap();
    let r = b.response(c);
    assert_eq!((r.status, r.body_text().as_str()), (200, "hi"));
    assert!(b.is_closed(c), "and then the connection closes");
    assert!(!b.peer(c).aborted);
}

#[test]
fn a_half_closed_poll_is_answered_and_the_session_waits_for_the_next() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.xhr_handshake();
    b.input(c, get(&format!("/socket.io/xhr-polling/{sid}/2")));
    assert_eq!(b.received(c), b"", "the poll is held");
    b.shut_write(c);
    let r = b.response(c);
    assert_eq!((r.status, r.body_text().as_str()), (200, ""));
    assert!(b.is_closed(c));
    // Like any answered poll: the session lives on until its close timeout.
    assert_eq!(b.server.session_count(), 1);
    assert!(b.disconnects().is_empty());
    let next = b.open(get(&format!("/socket.io/xhr-polling/{sid}/3")));
    b.send(sid, "later").unwrap();
    assert_eq!(b.response(next).body_text(), frame("later"));
}

#[test]
fn a_half_closed_post_is_answered() {
    let mut b = Bench::with_defaults();
    let (_, sid) = b.xhr_handshake();
    let c = b.connect();
    b.input(
        c,
        post(
            &format!("/socket.io/xhr-polling/{sid}/send"),
            &frame("hey"),
            "",
        ),
    );
    b.shut_write(c);
    let r = b.response(c);
    assert_eq!((r.status, r.body_text().as_str()), (200, "ok"));
    assert!(b.is_closed(c));
    assert_eq!(b.messages(), vec![(sid, Message::text("hey"))]);
}

#[test]
fn a_half_closed_idle_connection_or_websocket_is_closed() {
    let mut b = Bench::with_defaults();
    let idle = b.connect();
    b.shut_write(idle);
    assert!(b.is_closed(idle));
    let partial = b.open("GET /socket.io/xhr-poll");
    b.shut_write(partial);
    assert!(b.is_closed(partial));
    let (ws, sid) = b.ws_session("/socket.io/websocket");
    b.shut_write(ws);
    assert!(b.is_closed(ws));
    assert_eq!(
        b.disconnects(),
        vec![(sid, DisconnectReason::TransportClosed)]
    );
}

/// Everything the outside world saw, in order: what each connection received, and every
/// event.
fn run_scenario() -> (BTreeMap<u64, Vec<u8>>, Vec<String>) {
    let mut opts = Options::default();
    opts.for_each_transport(|_, t| {
        t.heartbeat_interval = secs(2);
        t.timeout = Some(secs(1));
        t.close_timeout = secs(3);
        t.duration = secs(5);
    });
    let mut b = Bench::new(opts);
    let mut log = Vec::new();
    let mut conns = Vec::new();
    let mut sessions = Vec::new();
    for i in 0..300 {
        let c = match i % 4 {
            0 => b.open(get("/socket.io/xhr-polling//1")),
            1 => b.open(ws_request("/socket.io/websocket", WS_KEY)),
            2 => b.open(get("/socket.io/htmlfile//1")),
            _ => b.open(get("/socket.io/jsonp-polling//1/0")),
        };
        conns.push(c);
        for e in b.events() {
            if let Event::Connect(s) = e {
                sessions.push(s);
            }
            log.push(format!("{e:?}"));
        }
        if i % 10 == 9 {
            b.broadcast(
                format!("broadcast {i}").as_str(),
                &sessions[sessions.len() - 3..],
            );
        }
        if i % 7 == 0 {
            let s = sessions[i / 3];
            let _ = b.send(s, Message::json(serde_json::json!({ "to": i })));
        }
        if i % 50 == 0 {
            b.advance(millis(2500));
        }
        if i % 31 == 0 {
            b.hang_up(conns[i / 2]);
        }
        log.extend(b.events().iter().map(|e| format!("{e:?}")));
    }
    b.advance(secs(10));
    b.shutdown();
    log.extend(b.events().iter().map(|e| format!("{e:?}")));
    let received = conns
        .iter()
        .enumerate()
        .map(|(i, &c)| (i as u64, b.received(c).to_vec()))
        .collect();
    (received, log)
}

#[test]
fn the_same_inputs_give_byte_identical_outputs() {
    let (received_a, log_a) = run_scenario();
    let (received_b, log_b) = run_scenario();
    assert!(
        log_a.len() > 500,
        "the scenario did things: {}",
        log_a.len()
    );
    assert!(log_a.iter().any(|e| e.contains("HeartbeatTimeout")));
    assert_eq!(log_a, log_b);
    assert_eq!(received_a, received_b);
}

#[test]
fn timer_storage_stays_bounded_across_ten_thousand_poll_cycles() {
    let mut b = Bench::with_defaults();
    let (c, sid) = b.xhr_handshake();
    let mut most = 0;
    for i in 0..10_000 {
        b.input(c, get(&format!("/socket.io/xhr-polling/{sid}/{i}")));
        most = most.max(b.server.timer_count());
        b.send(sid, "tick").unwrap();
        assert_eq!(b.response(c).body_text(), frame("tick"));
        most = most.max(b.server.timer_count());
        b.advance(millis(1));
    }
    // The session's close timeout and the connection's idle timeout, plus the poll's
    // duration while one is held.
    assert!(most <= 3, "{most} timers armed at once");
    assert_eq!(b.server.timer_count(), 2);
    let _ = Server::new(Options::default()).unwrap();
}

#[test]
fn a_broadcast_builds_each_transports_wrapping_once() {
    let mut b = Bench::with_defaults();
    let ws: Vec<_> = (0..3)
        .map(|_| b.ws_session("/socket.io/websocket").0)
        .collect();
    let html: Vec<_> = (0..3)
        .map(|_| b.open(get("/socket.io/htmlfile//1")))
        .collect();
    b.events();
    let seen = |b: &Bench, c| b.peer(c).segments.len();
    let before: Vec<usize> = ws.iter().chain(&html).map(|&c| seen(&b, c)).collect();
    b.broadcast("to everyone <3", &[]);
    let new = |b: &Bench, c, from: usize| b.peer(c).segments[from..].to_vec();
    let ws_out: Vec<_> = ws
        .iter()
        .zip(&before)
        .map(|(&c, &n)| new(&b, c, n))
        .collect();
    let html_out: Vec<_> = html
        .iter()
        .zip(&before[3..])
        .map(|(&c, &n)| new(&b, c, n))
        .collect();
    // RFC 6455: a small message is one buffer, built once for all.
    for out in &ws_out[1..] {
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].as_ptr(),
            ws_out[0][0].as_ptr(),
            "the message is shared"
        );
    }
    // htmlfile: the chunk size line, the escaped script, the chunk end; the script shared.
    for out in &html_out[1..] {
        assert_eq!(
            out[1].as_ptr(),
            html_out[0][1].as_ptr(),
            "the script is shared"
        );
    }
    assert!(String::from_utf8_lossy(&html_out[0][1]).contains(r"to everyone \u003c3"));

    // A large one: the header and the frame, each shared, the frame never copied.
    let before: Vec<usize> = ws.iter().map(|&c| seen(&b, c)).collect();
    b.broadcast("x".repeat(10_000).as_str(), &[]);
    let ws_out: Vec<_> = ws
        .iter()
        .zip(&before)
        .map(|(&c, &n)| new(&b, c, n))
        .collect();
    for out in &ws_out[1..] {
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0].as_ptr(),
            ws_out[0][0].as_ptr(),
            "the header is shared"
        );
        assert_eq!(
            out[1].as_ptr(),
            ws_out[0][1].as_ptr(),
            "the frame is shared"
        );
    }
}

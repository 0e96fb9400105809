//! Every limit of `Options::limits`, crossed over real sockets on each driver: the peer that
//! crosses it gets a clean refusal, and a session that behaves goes on as if nothing
//! happened. (The head limit, the idle and handshake timeouts are in integration_http; the
//! unwritten-bytes limit in integration_engine.)

use std::time::{Duration, Instant};

use tests::client::{
    hixie_connect, read_frame, rfc6455_connect, text_frame, wait_until, Client, Kind,
};
use tests::ours::{ours_on, test_options, Adapter, Ours};
use tests::per_adapter;
use tests::raw::{form_data, request, Conn};
use tests::transcript::encode_frames;

per_adapter!(
    a_body_over_max_body_gets_413,
    a_message_over_max_frame_closes_the_socket,
    sessions_past_max_sessions_get_503,
    new_sessions_past_the_per_peer_rate_get_503,
    a_request_slower_than_request_timeout_gets_408,
    a_queue_over_max_queue_ends_its_session,
);

/// The session that must not notice: it echoes, and it is still counted.
fn check_live(server: &Ours, live: &mut Client, sessions: usize) {
    live.echo_each(&["still here"]);
    assert_eq!(server.session_count(), sessions);
}

fn a_body_over_max_body_gets_413(adapter: Adapter) {
    let mut options = test_options();
    options.limits.max_body = 1024;
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    let mut live = Client::open(addr, Kind::WebSocket);
    let poller = Client::open(addr, Kind::XhrPolling);
    let path = format!("/socket.io/xhr-polling/{}/send", poller.sid);
    // Announced too large: refused from the head alone, before any of the body is sent.
    let mut conn = Conn::connect(addr);
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1025\r\n\r\n");
    conn.send(head.as_bytes());
    let r = conn.read_response();
    assert_eq!(r.head.status, 413, "{}", r.head.status_line);
    assert!(
        r.body_text().contains("1024-byte limit"),
        "{}",
        r.body_text()
    );
    conn.read_to_close(Duration::from_secs(5));
    assert!(conn.is_eof());
    // Chunked, growing past the limit.
    let mut conn = Conn::connect(addr);
    let mut chunked =
        format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n")
            .into_bytes();
    for _ in 0..3 {
        chunked.extend_from_slice(b"200\r\n");
        chunked.extend_from_slice(&[b'a'; 0x200]);
        chunked.extend_from_slice(b"\r\n");
    }
    let _ = conn.try_send(&chunked);
    assert_eq!(conn.read_response().head.status, 413);
    check_live(&server, &mut live, 2);
}

fn a_message_over_max_frame_closes_the_socket(adapter: Adapter) {
    let mut options = test_options();
    options.limits.max_frame = 4096;
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    let mut live = Client::open(addr, Kind::XhrPolling);
    // RFC 6455: close 1009, then the connection goes.
    let mut ws = rfc6455_connect(addr, "/socket.io/websocket");
    let _id = read_frame(&mut ws, Duration::from_secs(5));
    let _ = ws.try_send(&text_frame(&encode_frames(&["x".repeat(5000).as_str()])));
    let (opcode, payload) = read_frame(&mut ws, Duration::from_secs(5));
    assert_eq!(opcode, 8, "a close frame");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1009);
    ws.read_to_close(Duration::from_secs(5));
    assert!(ws.is_eof());
    // hixie-76: the closing frame, then the connection goes.
    let mut hixie = hixie_connect(addr, "/socket.io/websocket", true);
    let mut big = vec![0x00];
    big.extend_from_slice(encode_frames(&["y".repeat(5000).as_str()]).as_bytes());
    big.push(0xFF);
    let _ = hixie.try_send(&big);
    let rest = hixie.read_to_close(Duration::from_secs(5));
    assert!(hixie.is_eof());
    assert!(
        rest.ends_with(&[0xFF, 0x00]),
        "{:?}",
        &rest[rest.len().saturating_sub(8)..]
    );
    assert!(wait_until(Duration::from_secs(5), || server
        .session_count()
        == 1));
    check_live(&server, &mut live, 1);
}

fn sessions_past_max_sessions_get_503(adapter: Adapter) {
    let mut options = test_options();
    options.limits.max_sessions = 2;
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    let mut live = Client::open(addr, Kind::WebSocket);
    let _second = Client::open(addr, Kind::XhrPolling);
    for path in ["/socket.io/xhr-polling//1", "/socket.io/websocket"] {
        let mut conn = Conn::connect(addr);
        let bytes = if path.ends_with("websocket") {
            tests::client::rfc6455_request(addr, path)
        } else {
            request(addr, "GET", path, &[], &[])
        };
        conn.send(&bytes);
        let r = conn.read_response();
        assert_eq!(r.head.status, 503, "{path}: {}", r.head.status_line);
        assert_eq!(r.body_text(), "too many sessions\n");
    }
    check_live(&server, &mut live, 2);
}

fn new_sessions_past_the_per_peer_rate_get_503(adapter: Adapter) {
    let mut options = test_options();
    options.limits.max_new_sessions_per_peer = 5;
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    // Sessions made within one second: the sixth is refused. The second may roll over
    // between two handshakes on a slow machine, so count refusals over a bounded burst.
    let started = Instant::now();
    let mut made = Vec::new();
    let mut refused = 0;
    for _ in 0..20 {
        let mut conn = Conn::connect(addr);
        conn.send(&request(addr, "GET", "/socket.io/xhr-polling//1", &[], &[]));
        let r = conn.read_response();
        match r.head.status {
            200 => made.push(()),
            503 => {
                assert!(r
                    .body_text()
                    .contains("too many new sessions from this address"));
                refused += 1;
            }
            other => panic!("handshake answered {other}"),
        }
    }
    let seconds = started.elapsed().as_secs() as usize + 1;
    assert!(
        made.len() <= 5 * seconds,
        "{} made in {seconds} s",
        made.len()
    );
    assert!(
        refused >= 20 - 5 * seconds,
        "{refused} refused in {seconds} s"
    );
    // A second later the address may make sessions again, and the ones it made live on.
    std::thread::sleep(Duration::from_millis(1100));
    let mut live = Client::open(addr, Kind::WebSocket);
    check_live(&server, &mut live, made.len() + 1);
}

fn a_request_slower_than_request_timeout_gets_408(adapter: Adapter) {
    let mut options = test_options();
    options.limits.request_timeout = Duration::from_millis(400);
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    let mut live = Client::open(addr, Kind::WebSocket);
    let mut slow = Conn::connect(addr);
    slow.send(b"GET /socket.io/xhr-polling//1 HTTP/1.1\r\nHost: x\r\n");
    let started = Instant::now();
    if adapter == Adapter::Hyper {
        // hyper's parser holds an unfinished head, not the core: at the time limit it closes
        // the connection without an answer.
        let rest = slow.read_to_close(Duration::from_secs(5));
        assert!(
            rest.is_empty() && slow.is_eof(),
            "{:?}",
            String::from_utf8_lossy(&rest)
        );
        let took = started.elapsed();
        assert!(
            (Duration::from_millis(300)..Duration::from_secs(3)).contains(&took),
            "{took:?}"
        );
        return check_live(&server, &mut live, 1);
    }
    let r = slow.read_response();
    assert_eq!(r.head.status, 408, "{}", r.head.status_line);
    assert!(started.elapsed() < Duration::from_secs(3));
    slow.read_to_close(Duration::from_secs(5));
    assert!(slow.is_eof());
    check_live(&server, &mut live, 1);
}

fn a_queue_over_max_queue_ends_its_session(adapter: Adapter) {
    let mut options = test_options();
    options.limits.max_queue = 512;
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    let mut live = Client::open(addr, Kind::WebSocket);
    // A polling session that posts but never polls: its echoes queue up past the limit.
    let hoarder = Client::open(addr, Kind::XhrPolling);
    let path = format!("/socket.io/xhr-polling/{}/send", hoarder.sid);
    let message = "z".repeat(100);
    let payload = encode_frames(&[message.as_str()]);
    for _ in 0..8 {
        let mut conn = Conn::connect(addr);
        conn.send(&request(addr, "POST", &path, &[], &form_data(&payload)));
        assert_eq!(conn.read_response().head.status, 200);
        // The echoes are queued by the callback, after the answer: wait for them.
        if wait_until(Duration::from_millis(200), || server.session_count() == 1) {
            break;
        }
    }
    assert_eq!(
        server.session_count(),
        1,
        "the hoarding session was not ended"
    );
    // Its id is now unknown: a poll is closed without an answer.
    let mut poll = Conn::connect(addr);
    let poll_path = format!("/socket.io/xhr-polling/{}/2", hoarder.sid);
    poll.send(&request(addr, "GET", &poll_path, &[], &[]));
    poll.expect_closed_without_response();
    check_live(&server, &mut live, 1);
}

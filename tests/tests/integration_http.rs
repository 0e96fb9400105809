//! Plain HTTP on each driver: what is not Socket.IO's reaches the application, and bad
//! input is refused without disturbing the sessions that behave.

use std::time::Duration;

use tests::client::{get, hixie_request, rfc6455_request, Client, Kind};
use tests::ours::{ours_on, test_options, Adapter};
use tests::per_adapter;
use tests::raw::{request, Conn};
use tests::scripts::{KEY3, UNKNOWN_SID};
use tests::transcript::encode_frames;

const HELLO: &str = "<h1>Hello world</h1>";

per_adapter!(
    requests_outside_the_resource_reach_the_application,
    foreign_upgrades_reach_the_application,
    malformed_request_gets_400_and_a_close,
    bytes_that_cannot_be_http_are_refused_at_once,
    silent_connections_and_stalled_handshakes_are_closed,
    malformed_payloads_are_answered_400_and_what_came_before_is_delivered,
    oversized_head_gets_431_and_a_close,
    unknown_session_ids_are_closed_unanswered,
);

fn requests_outside_the_resource_reach_the_application(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;
    for path in ["/", "/chat", "/socket.io/inexistent", "/socket.io"] {
        let r = get(addr, path);
        assert_eq!(r.head.status, 200, "GET {path}: {}", r.head.status_line);
        assert_eq!(r.body_text(), HELLO, "GET {path}");
    }
    // Two requests on one keep-alive connection both get an answer.
    let mut conn = Conn::connect(addr);
    for _ in 0..2 {
        conn.send(&request(addr, "GET", "/", &[], &[]));
        assert_eq!(conn.read_response().body_text(), HELLO);
    }
}

fn foreign_upgrades_reach_the_application(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;
    let mut live = Client::open(addr, Kind::WebSocket);
    let requests = [
        ("RFC 6455", rfc6455_request(addr, "/chat")),
        ("hixie-76", {
            let mut r = hixie_request(addr, "/chat", true);
            r.extend_from_slice(KEY3);
            r
        }),
        (
            "IRC",
            request(
                addr,
                "GET",
                "/",
                &[("Upgrade", "IRC"), ("Connection", "Upgrade")],
                &[],
            ),
        ),
    ];
    for (what, bytes) in requests {
        let mut conn = Conn::connect(addr);
        conn.send(&bytes);
        let r = conn.read_response();
        assert_eq!(r.head.status, 200, "{what}: {}", r.head.status_line);
        assert_eq!(r.body_text(), HELLO, "{what}");
    }
    live.echo_each(&["still here"]);
}

/// A live session that must not notice the bad requests.
fn check_live(server: &tests::ours::Ours, live: &mut Client) {
    live.echo_each(&["still here"]);
    assert_eq!(server.session_count(), 1);
}

fn malformed_request_gets_400_and_a_close(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;
    let mut live = Client::open(addr, Kind::WebSocket);
    let bad: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
        b"GET /\r\n\r\n",
        b"\x01\x02\x03 nonsense HTTP/1.1\r\n\r\n",
        b"POST /socket.io/xhr-polling//send HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    ];
    for bytes in bad {
        let mut conn = Conn::connect(addr);
        conn.send(bytes);
        let r = conn.read_response();
        let what = String::from_utf8_lossy(bytes);
        assert_eq!(r.head.status, 400, "{what:?}: {}", r.head.status_line);
        conn.read_to_close(Duration::from_secs(5));
        check_live(&server, &mut live);
    }
}

fn bytes_that_cannot_be_http_are_refused_at_once(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;
    let mut live = Client::open(addr, Kind::WebSocket);
    // What a browser sends when https:// is typed for this port: a TLS ClientHello, 4 KiB
    // of binary without the blank line that ends a head. The request timeout is 30 s and
    // the head limit is not reached: the answer must come from the bytes themselves.
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x0f, 0xfb, 0x01, 0x00, 0x0f, 0xf7, 0x03, 0x03,
    ];
    hello.extend((0..4096 - hello.len()).map(|i| (i * 7 % 251) as u8));
    let garbage: [(&str, Vec<u8>); 3] = [
        ("a TLS ClientHello", hello),
        (
            "a method that is no token",
            b"G{T / HTTP/1.1\r\nHost: x".to_vec(),
        ),
        (
            "a NUL in a header",
            b"GET / HTTP/1.1\r\nHost: a\x00b".to_vec(),
        ),
    ];
    for (what, bytes) in garbage {
        let started = std::time::Instant::now();
        let mut conn = Conn::connect(addr);
        conn.send(&bytes);
        let r = conn.read_response();
        assert_eq!(r.head.status, 400, "{what}: {}", r.head.status_line);
        conn.read_to_close(Duration::from_secs(5));
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_secs(5),
            "{what}: answered after {waited:?}"
        );
        check_live(&server, &mut live);
    }
}

fn silent_connections_and_stalled_handshakes_are_closed(adapter: Adapter) {
    let mut options = test_options();
    options.limits.idle_timeout = Duration::from_millis(300);
    options.limits.handshake_timeout = Duration::from_millis(300);
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    let mut live = Client::open(addr, Kind::WebSocket);
    // A connection that never says anything, and a hixie-76 handshake whose key3 stops
    // after four of its eight bytes.
    let mut silent = Conn::connect(addr);
    let mut stalled = Conn::connect(addr);
    let mut head = hixie_request(addr, "/socket.io/websocket", true);
    head.extend_from_slice(&KEY3[..4]);
    stalled.send(&head);
    let _ = stalled.read_head();
    for (what, conn) in [("silent", &mut silent), ("stalled", &mut stalled)] {
        let started = std::time::Instant::now();
        let said = conn.read_to_close(Duration::from_secs(5));
        assert!(conn.is_eof(), "{what}: still open");
        assert!(
            said.is_empty(),
            "{what}: closed with {said:?}, not silently"
        );
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_secs(3),
            "{what}: closed after {waited:?}"
        );
    }
    // The session that kept talking was not touched.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(150));
        live.echo_each(&["still here"]);
    }
    assert_eq!(server.session_count(), 1);
}

fn malformed_payloads_are_answered_400_and_what_came_before_is_delivered(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;
    let mut client = Client::open(addr, Kind::XhrPolling);
    let path = format!("/socket.io/xhr-polling/{}/send", client.sid);
    let mut conn = Conn::connect(addr);
    let payloads = [
        // A frame, then a length longer than the data: the first one is delivered.
        ("~m~6~m~before~m~99~m~short", Some("before")),
        ("no frame at all", None),
        ("~m~100000000000000000000~m~x", None),
        // Invalid JSON in the middle: the frames around it are delivered.
        ("~m~5~m~first~m~8~m~~j~{oops~m~4~m~last", Some("first")),
    ];
    for (payload, delivered) in payloads {
        conn.send(&request(
            addr,
            "POST",
            &path,
            &[],
            &tests::raw::form_data(payload),
        ));
        let r = conn.read_response();
        assert_eq!(r.head.status, 400, "{payload:?}: {}", r.head.status_line);
        assert!(
            r.body_text().starts_with("payload rejected: "),
            "{payload:?}: {:?}",
            r.body_text()
        );
        if let Some(first) = delivered {
            assert_eq!(client.recv(1), [first], "{payload:?}");
        }
    }
    assert_eq!(client.recv(1), ["last"]);
    // The HTTP framing was sound: the same connection goes on, and a good payload is ok.
    conn.send(&request(
        addr,
        "POST",
        &path,
        &[],
        &tests::raw::form_data(&encode_frames(&["fine"])),
    ));
    let r = conn.read_response();
    assert_eq!((r.head.status, r.body_text()), (200, "ok".to_owned()));
    assert_eq!(client.recv(1), ["fine"]);
}

fn oversized_head_gets_431_and_a_close(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;
    let mut live = Client::open(addr, Kind::WebSocket);
    let big = "a".repeat(test_options().limits.max_head + 1);
    for path in ["/", "/socket.io/xhr-polling//1", "/socket.io/websocket"] {
        let mut conn = Conn::connect(addr);
        conn.send(&request(addr, "GET", path, &[("X-Big", &big)], &[]));
        let r = conn.read_response();
        assert_eq!(r.head.status, 431, "{path}: {}", r.head.status_line);
        conn.read_to_close(Duration::from_secs(5));
        check_live(&server, &mut live);
    }
}

fn unknown_session_ids_are_closed_unanswered(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;
    let mut live = Client::open(addr, Kind::WebSocket);
    let payload = encode_frames(&["hello"]);
    let gets = [
        format!("/socket.io/xhr-polling/{UNKNOWN_SID}/1"),
        format!("/socket.io/jsonp-polling/{UNKNOWN_SID}/1/0"),
        format!("/socket.io/htmlfile/{UNKNOWN_SID}"),
        format!("/socket.io/xhr-multipart/{UNKNOWN_SID}"),
    ];
    for path in gets {
        let mut conn = Conn::connect(addr);
        conn.send(&request(addr, "GET", &path, &[], &[]));
        conn.expect_closed_without_response();
        check_live(&server, &mut live);
    }
    for path in [
        format!("/socket.io/xhr-polling/{UNKNOWN_SID}/send"),
        format!("/socket.io/htmlfile/{UNKNOWN_SID}/send"),
    ] {
        let mut conn = Conn::connect(addr);
        conn.send(&request(
            addr,
            "POST",
            &path,
            &[],
            &tests::raw::form_data(&payload),
        ));
        conn.expect_closed_without_response();
        check_live(&server, &mut live);
    }
    for bytes in [
        rfc6455_request(addr, &format!("/socket.io/websocket/{UNKNOWN_SID}")),
        {
            let mut r = hixie_request(addr, &format!("/socket.io/flashsocket/{UNKNOWN_SID}"), true);
            r.extend_from_slice(KEY3);
            r
        },
    ] {
        let mut conn = Conn::connect(addr);
        conn.send(&bytes);
        conn.expect_closed_without_response();
        check_live(&server, &mut live);
    }
    check_live(&server, &mut live);
}

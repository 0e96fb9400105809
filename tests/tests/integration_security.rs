//! The security properties SECURITY.md promises, each shown over real sockets on each
//! driver: session ids that cannot be guessed, honoured only on their own transport; output
//! that is safe inside `<script>`; origins enforced as configured.

use std::time::Duration;

use io_core::Origins;
use tests::client::{rfc6455_request, Client, Kind};
use tests::ours::{ours_on, test_options, Adapter};
use tests::per_adapter;
use tests::raw::{form_data, request, Conn};
use tests::transcript::encode_frames;

per_adapter!(
    session_ids_are_long_random_and_distinct,
    a_session_id_is_honoured_only_on_its_own_transport,
    htmlfile_and_jsonp_output_cannot_break_out_of_its_script,
    origins_are_enforced_as_configured,
);

/// A message written to break out of a `<script>` block, or out of a JavaScript string.
const HOSTILE: &str = "</script><script>alert(1)</script><!-- \u{2028}\u{2029} </SCRIPT >\"'\\";

fn session_ids_are_long_random_and_distinct(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;
    let ids: Vec<String> = (0..40)
        .map(|_| Client::open(addr, Kind::XhrPolling).sid)
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut ones = [0usize; 128];
    for id in &ids {
        assert_eq!(id.len(), 36, "{id}");
        assert!(
            id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{id}"
        );
        assert!(id.starts_with("0000"), "node 0: {id}");
        assert!(seen.insert(id.clone()), "{id} given twice");
        let random = u128::from_str_radix(&id[4..], 16).unwrap();
        for (bit, count) in ones.iter_mut().enumerate() {
            *count += usize::from(random >> bit & 1 == 1);
        }
    }
    // Every one of the 128 bits varies: a counter, a clock or a short random would leave
    // most of them fixed (the chance that one random bit is the same 40 times is 2^-39).
    for (bit, &count) in ones.iter().enumerate() {
        assert!(count > 0 && count < ids.len(), "bit {bit} never varies");
    }
}

fn a_session_id_is_honoured_only_on_its_own_transport(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;
    let mut owner = Client::open(addr, Kind::XhrPolling);
    let sid = owner.sid.clone();
    let elsewhere = [
        request(
            addr,
            "GET",
            &format!("/socket.io/jsonp-polling/{sid}/1/0"),
            &[],
            &[],
        ),
        request(
            addr,
            "GET",
            &format!("/socket.io/htmlfile/{sid}/1"),
            &[],
            &[],
        ),
        request(
            addr,
            "GET",
            &format!("/socket.io/xhr-multipart/{sid}"),
            &[],
            &[],
        ),
        rfc6455_request(addr, &format!("/socket.io/websocket/{sid}")),
    ];
    for bytes in elsewhere {
        let mut conn = Conn::connect(addr);
        conn.send(&bytes);
        let r = conn.read_response();
        let line =
            String::from_utf8_lossy(&bytes[..bytes.iter().position(|&b| b == b'\r').unwrap()])
                .into_owned();
        assert_eq!(r.head.status, 400, "{line}: {}", r.head.status_line);
    }
    // The owner's session is untouched and still its own.
    owner.echo_each(&["mine"]);
    assert_eq!(server.session_count(), 1);
}

fn htmlfile_and_jsonp_output_cannot_break_out_of_its_script(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let addr = server.target.addr;

    // htmlfile: one `<script>` per payload; the hostile text must not end it early.
    let mut stream = Conn::connect(addr);
    stream.send(&request(addr, "GET", "/socket.io/htmlfile//1", &[], &[]));
    let head = stream.read_head();
    assert_eq!(head.status, 200, "{}", head.status_line);
    let mut sid = None;
    while sid.is_none() {
        let chunk = stream.read_chunk(Duration::from_secs(5)).expect("a chunk");
        let text = String::from_utf8_lossy(&chunk).into_owned();
        sid = text
            .find("~m~36~m~")
            .map(|at| text[at + 8..at + 44].to_owned());
    }
    let sid = sid.unwrap();
    let post = |path: String| {
        let mut conn = Conn::connect(addr);
        let payload = encode_frames(&[HOSTILE]);
        conn.send(&request(addr, "POST", &path, &[], &form_data(&payload)));
        assert_eq!(conn.read_response().head.status, 200);
    };
    post(format!("/socket.io/htmlfile/{sid}/send"));
    let echoed = loop {
        let chunk = stream.read_chunk(Duration::from_secs(5)).expect("the echo");
        let text = String::from_utf8_lossy(&chunk).into_owned();
        if text.contains("alert") {
            break text;
        }
    };
    let lower = echoed.to_ascii_lowercase();
    assert_eq!(lower.matches("</script").count(), 1, "{echoed}");
    assert!(lower.trim_end().ends_with("</script>"), "{echoed}");
    assert!(!echoed.contains("<!--"), "{echoed}");

    // JSONP: the payload is a string literal inside a script the page runs.
    let mut conn = Conn::connect(addr);
    conn.send(&request(
        addr,
        "GET",
        "/socket.io/jsonp-polling//7/0",
        &[],
        &[],
    ));
    let body = conn.read_response().body_text();
    let at = body.find("~m~36~m~").expect("the session id");
    let sid = body[at + 8..at + 44].to_owned();
    post(format!("/socket.io/jsonp-polling/{sid}/7/0"));
    let mut conn = Conn::connect(addr);
    conn.send(&request(
        addr,
        "GET",
        &format!("/socket.io/jsonp-polling/{sid}/8/1"),
        &[],
        &[],
    ));
    let body = conn.read_response().body_text();
    assert!(body.contains("alert"), "{body}");
    let lower = body.to_ascii_lowercase();
    assert!(!lower.contains("</script"), "{body}");
    assert!(!body.contains("<!--"), "{body}");
    assert!(
        !body.contains('\u{2028}') && !body.contains('\u{2029}'),
        "{body:?}"
    );
    assert!(body.starts_with("io.JSONP[1]._(\""), "{body}");
    assert!(body.trim_end().ends_with("\");"), "{body}");
}

fn origins_are_enforced_as_configured(adapter: Adapter) {
    let mut options = test_options();
    options.origins = Origins::parse(["good.example:*"]).unwrap();
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    let good = ("Origin", "http://good.example");
    let evil = ("Origin", "http://evil.example");

    // A WebSocket handshake from a refused origin: 403, no session.
    let mut ws = rfc6455_request(addr, "/socket.io/websocket");
    let at = ws.len() - 2;
    ws.splice(at..at, b"Origin: http://evil.example\r\n".iter().copied());
    let mut conn = Conn::connect(addr);
    conn.send(&ws);
    assert_eq!(conn.read_response().head.status, 403);
    assert_eq!(server.session_count(), 0);

    // CORS headers go to allowed origins only.
    let handshake = |origin: (&str, &str)| {
        let mut conn = Conn::connect(addr);
        conn.send(&request(
            addr,
            "GET",
            "/socket.io/xhr-polling//1",
            &[origin],
            &[],
        ));
        conn.read_response()
    };
    let r = handshake(good);
    assert_eq!(
        r.head.header("access-control-allow-origin"),
        Some("http://good.example")
    );
    let sid = r.body_text().get(8..44).unwrap_or_default().to_owned();
    let r = handshake(evil);
    assert_eq!(r.head.header("access-control-allow-origin"), None);

    // A POST from a refused origin: 401, and the message is not delivered.
    let mut owner = Client::attach(addr, Kind::XhrPolling, Some(&sid));
    let path = format!("/socket.io/xhr-polling/{sid}/send");
    let mut conn = Conn::connect(addr);
    let payload = encode_frames(&["from evil"]);
    conn.send(&request(addr, "POST", &path, &[evil], &form_data(&payload)));
    let r = conn.read_response();
    assert_eq!(
        (r.head.status, r.body_text()),
        (401, "unauthorized".to_owned())
    );
    // A preflight from a refused origin: 403.
    let mut conn = Conn::connect(addr);
    conn.send(&request(
        addr,
        "OPTIONS",
        &path,
        &[evil, ("Access-Control-Request-Method", "POST")],
        &[],
    ));
    assert_eq!(conn.read_response().head.status, 403);
    // What the good origin sends arrives, and nothing else did.
    owner.send(&["from good"]);
    assert_eq!(owner.recv(1), ["from good"]);
    assert!(owner.drain_for(Duration::from_millis(300)).is_empty());
}

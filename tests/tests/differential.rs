//! Differential tests: each script runs against the reference (npm socket.io@0.6.18) and
//! against our `chat` example; the normalised transcripts must be equal, except for the
//! differences listed here, each of which fixes a defect named in docs/PROTOCOL.md §10. A
//! listed difference that no longer occurs fails the test too, so the list stays true.

use tests::ours::{options_from_reference_json, ours_on, Adapter, ADAPTERS};
use tests::{assert_same_transcript, reference, scripts};

/// One deliberate difference: these consecutive reference lines read as `ours` in our
/// transcript.
struct Difference {
    why: &'static str,
    reference: &'static [&'static str],
    ours: &'static [&'static str],
}

/// Reflected origins instead of `*` beside `Allow-Credentials` (§10.12).
const POLL_POST_CORS: Difference = Difference {
    why: "CORS: a POST from an allowed origin gets that origin back, never `*` (§10.12)",
    reference: &[
        "B<   access-control-allow-origin: *",
        "B<   content-type: text/plain",
        "B<   body: ok",
    ],
    ours: &[
        "B<   access-control-allow-origin: http://example.com",
        "B<   content-type: text/plain",
        "B<   vary: Origin",
        "B<   body: ok",
    ],
};

const FOREIGN_UPGRADE: Difference = Difference {
    why: "an upgrade outside the resource goes to the application instead of being \
          destroyed, so other WebSocket servers can share the port (§10.15)",
    reference: &["X> GET /chat  upgrade", "X< closed without response"],
    ours: &[
        "X> GET /chat  upgrade",
        "X< 200 OK",
        "X<   content-type: text/html",
        "X<   body: <h1>Hello world</h1>",
    ],
};

fn differences(name: &str) -> Vec<Difference> {
    match name {
        "xhr-polling" => vec![
            Difference {
                why: "CORS: `Vary: Origin` on answers that depend on the origin (§10.12)",
                reference: &[
                    "B<   access-control-allow-origin: http://example.com",
                    "B<   content-type: text/plain; charset=UTF-8",
                ],
                ours: &[
                    "B<   access-control-allow-origin: http://example.com",
                    "B<   content-type: text/plain; charset=UTF-8",
                    "B<   vary: Origin",
                ],
            },
            POLL_POST_CORS,
        ],
        "jsonp-polling" => vec![Difference {
            why: "no CORS headers on the JSONP form POST, which no script can read (§10.12)",
            reference: &[
                "B<   access-control-allow-origin: *",
                "B<   content-type: text/plain",
            ],
            ours: &["B<   content-type: text/plain"],
        }],
        "xhr-multipart" => vec![
            Difference {
                why: "CORS on the stream: the origin instead of `*` (§10.12)",
                reference: &[
                    "A<   access-control-allow-origin: *",
                    "A<   content-type: multipart/x-mixed-replace;boundary=\"socketio\"",
                ],
                ours: &[
                    "A<   access-control-allow-origin: http://example.com",
                    "A<   content-type: multipart/x-mixed-replace;boundary=\"socketio\"",
                    "A<   vary: Origin",
                ],
            },
            Difference {
                why: "a real preflight answer: allowed methods and headers, the origin, \
                      a max age (§10.12)",
                reference: &[
                    "A<   access-control-allow-methods: POST",
                    "A<   access-control-allow-origin: *",
                    "A<   body: ok",
                ],
                ours: &[
                    "A<   access-control-allow-headers: Content-Type",
                    "A<   access-control-allow-methods: GET, POST, OPTIONS",
                    "A<   access-control-allow-origin: http://example.com",
                    "A<   access-control-max-age: 86400",
                    "A<   content-type: text/plain",
                    "A<   vary: Origin",
                    "A<   body: ok",
                ],
            },
            Difference {
                why: "CORS on the POST: the origin instead of `*` (§10.12)",
                reference: &[
                    "A<   access-control-allow-origin: *",
                    "A<   content-type: text/plain",
                    "A<   body: ok",
                ],
                ours: &[
                    "A<   access-control-allow-origin: http://example.com",
                    "A<   content-type: text/plain",
                    "A<   vary: Origin",
                    "A<   body: ok",
                ],
            },
        ],
        "websocket-hixie-75" | "websocket-hixie-76" | "flashsocket" => vec![FOREIGN_UPGRADE],
        "flash-policy" => vec![Difference {
            why: "the policy document ends in the conventional NUL (§10.19)",
            reference: &["X<   </cross-domain-policy>\\n", "X< closed"],
            ours: &["X<   </cross-domain-policy>\\n", "X<   \\0", "X< closed"],
        }],
        _ => Vec::new(),
    }
}

/// The reference transcript with each listed difference applied, in order.
fn expected(name: &str, reference: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = reference.to_vec();
    let mut from = 0;
    for d in differences(name) {
        let at = (from..=lines.len().saturating_sub(d.reference.len()))
            .find(|&i| {
                lines[i..i + d.reference.len()]
                    .iter()
                    .zip(d.reference)
                    .all(|(a, b)| a == b)
            })
            .unwrap_or_else(|| {
                panic!(
                    "{name}: the listed difference ({}) no longer occurs in the reference \
                     transcript:\n{}",
                    d.why,
                    reference.join("\n")
                )
            });
        lines.splice(
            at..at + d.reference.len(),
            d.ours.iter().map(|s| s.to_string()),
        );
        from = at + d.ours.len();
    }
    lines
}

fn differential(name: &str) {
    let script = scripts::script(name);
    let theirs = {
        let target = reference("chat", script.transport_options);
        (script.run)(target.addr)
    };
    let expected = expected(name, &theirs);
    for adapter in ADAPTERS.into_iter().filter(|a| a.supports("chat")) {
        let mine = {
            let options = options_from_reference_json(script.transport_options);
            let server = ours_on(adapter, "chat", options);
            (script.run)(server.target.addr)
        };
        if adapter == Adapter::Hyper {
            let (expected, mine) = (hyper_heads(&expected), hyper_heads(&mine));
            assert_same_transcript(&format!("{name} on {adapter:?}"), &expected, &mine);
        } else {
            assert_same_transcript(&format!("{name} on {adapter:?}"), &expected, &mine);
        }
    }
}

/// The one thing hyper writes its own way: the head of a WebSocket handshake answer (kept
/// byte for byte in the transcript, unlike HTTP heads) gets hyper's case of the header
/// names (`Sec-Websocket-Location`) and a `Date`. Names compare without case, and `Date`
/// goes, on both sides; values, order and everything else stay exact.
fn hyper_heads(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|line| {
            let Some((who, rest)) = line.split_once("< ") else {
                return Some(line.clone());
            };
            let Some((field, value)) = rest.split_once(": ") else {
                return Some(line.clone());
            };
            let is_name = !field.is_empty()
                && field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !is_name || rest.starts_with(' ') {
                return Some(line.clone());
            }
            let field = field.to_ascii_lowercase();
            (field != "date").then(|| format!("{who}< {field}: {value}"))
        })
        .collect()
}

#[test]
fn xhr_polling_matches_the_reference() {
    differential("xhr-polling");
}

#[test]
fn jsonp_polling_matches_the_reference() {
    differential("jsonp-polling");
}

#[test]
fn htmlfile_matches_the_reference() {
    differential("htmlfile");
}

#[test]
fn xhr_multipart_matches_the_reference() {
    differential("xhr-multipart");
}

#[test]
fn websocket_hixie75_matches_the_reference() {
    differential("websocket-hixie-75");
}

#[test]
fn websocket_hixie76_matches_the_reference() {
    differential("websocket-hixie-76");
}

#[test]
fn flashsocket_matches_the_reference() {
    differential("flashsocket");
}

#[test]
fn inline_flash_policy_matches_the_reference() {
    differential("flash-policy");
}

// Facts of the reference's bytes that docs/PROTOCOL.md states (§1.1, §4, §6.1).

use std::net::SocketAddr;
use tests::raw::{request, Conn, Framing};

fn get(addr: SocketAddr, path: &str) -> Conn {
    let mut conn = Conn::connect(addr);
    conn.send(&request(addr, "GET", path, &[], &[]));
    conn
}

fn is_id_frame(payload: &str) -> bool {
    let (msgs, rest) = tests::transcript::decode_frames(payload);
    msgs.len() == 1
        && rest.is_empty()
        && !msgs[0].is_empty()
        && msgs[0].bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn reference_xhr_polling_handshake_bytes() {
    let target = reference("chat", "");
    let r = get(target.addr, "/socket.io/xhr-polling//1300000000001").read_response();
    assert_eq!(r.head.status_line, "HTTP/1.1 200 OK");
    assert_eq!(
        r.head.header("Content-Type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(r.framing, Framing::Length(r.body.len()));
    assert!(is_id_frame(&r.body_text()), "{:?}", r.body_text());
}

#[test]
fn reference_jsonp_polling_handshake_bytes() {
    let target = reference("chat", "");
    let r = get(target.addr, "/socket.io/jsonp-polling//1300000000001/7").read_response();
    assert_eq!(
        r.head.header("Content-Type"),
        Some("text/javascript; charset=UTF-8")
    );
    assert_eq!(r.framing, Framing::Length(r.body.len()));
    let body = r.body_text();
    let inner = body
        .strip_prefix("io.JSONP[7]._(\"")
        .and_then(|b| b.strip_suffix("\");"))
        .unwrap_or_else(|| panic!("{body:?}"));
    assert!(is_id_frame(inner), "{body:?}");
}

#[test]
fn reference_htmlfile_preamble_is_one_256_byte_chunk() {
    let target = reference("chat", "");
    let mut conn = get(target.addr, "/socket.io/htmlfile//1300000000001");
    let head = conn.read_head();
    assert_eq!(head.header("Content-Type"), Some("text/html"));
    assert_eq!(head.framing(), Framing::Chunked);
    let first = conn.read_chunk(tests::raw::TIMEOUT).expect("a chunk");
    let mut expected = b"<html><body>".to_vec();
    expected.extend([b' '; 244]);
    assert_eq!(first.len(), 256);
    assert_eq!(first, expected);
    let second = String::from_utf8(conn.read_chunk(tests::raw::TIMEOUT).unwrap()).unwrap();
    let inner = second
        .strip_prefix("<script>parent.s._(\"")
        .and_then(|s| s.strip_suffix("\", document);</script>"))
        .unwrap_or_else(|| panic!("{second:?}"));
    assert!(is_id_frame(inner), "{second:?}");
}

#[test]
fn reference_multipart_boundary_and_close_delimited_body() {
    let target = reference("chat", "");
    let mut conn = get(target.addr, "/socket.io/xhr-multipart/");
    let head = conn.read_head();
    assert_eq!(
        head.header("Content-Type"),
        Some("multipart/x-mixed-replace;boundary=\"socketio\"")
    );
    assert_eq!(head.header("Content-Length"), None);
    assert_eq!(head.header("Transfer-Encoding"), None);
    assert_eq!(head.framing(), Framing::Close);
    let mut body = Vec::new();
    let ok = conn.read_stream_until(Framing::Close, &mut body, tests::raw::TIMEOUT, |b| {
        b.ends_with(b"\n--socketio\n") && b.len() > 11
    });
    assert!(ok, "{:?}", String::from_utf8_lossy(&body));
    let text = String::from_utf8(body).unwrap();
    let id = text
        .strip_prefix("--socketio\nContent-Type: text/plain\n\n")
        .and_then(|t| t.split('\n').next())
        .unwrap_or_else(|| panic!("{text:?}"));
    assert!(is_id_frame(id), "{text:?}");
}

#[test]
fn reference_hixie76_answer_and_first_frame() {
    use tests::scripts::{ANSWER, KEY1, KEY2, KEY3};
    let target = reference("chat", "");
    let addr = target.addr;
    let mut conn = Conn::connect(addr);
    conn.send(&request(
        addr,
        "GET",
        "/socket.io/websocket",
        &[
            ("Upgrade", "WebSocket"),
            ("Connection", "Upgrade"),
            ("Origin", "http://example.com"),
            ("Sec-WebSocket-Key1", KEY1),
            ("Sec-WebSocket-Key2", KEY2),
        ],
        &[],
    ));
    // The reference answers the head before key3 has arrived.
    let head = conn.read_head();
    assert_eq!(
        head.status_line,
        "HTTP/1.1 101 WebSocket Protocol Handshake"
    );
    assert!(conn.pending().is_empty());
    conn.send(KEY3);
    assert_eq!(&conn.take(16, "answer")[..], &ANSWER[..]);
    let frame = conn.read_ws_frame();
    assert!(is_id_frame(&frame), "{frame:?}");
}

#[test]
fn reference_inline_flash_policy_bytes() {
    let target = reference("chat", "");
    let mut conn = Conn::connect(target.addr);
    conn.send(b"<policy-file-request/>\0");
    let doc = conn.read_to_close(tests::raw::TIMEOUT);
    assert_eq!(
        String::from_utf8(doc).unwrap(),
        "<?xml version=\"1.0\"?>\n<!DOCTYPE cross-domain-policy SYSTEM \
         \"http://www.macromedia.com/xml/dtds/cross-domain-policy.dtd\">\n\
         <cross-domain-policy>\n<allow-access-from domain=\"*\" to-ports=\"*\"/>\n\
         </cross-domain-policy>\n"
    );
}

#[test]
fn reference_unknown_session_is_dropped_without_response() {
    let target = reference("chat", "");
    get(target.addr, "/socket.io/xhr-polling/12345/1").expect_closed_without_response();
}

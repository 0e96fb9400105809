//! One Socket.IO client per transport over the raw client: open a session, send payloads,
//! receive messages (answering heartbeats when asked to), and see how the server ends it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use io_core::websocket::rfc6455::{self, client_frame};
use io_core::TransportKind;
use serde_json::Value;

use crate::raw::{form_data, request, Conn, Head, Response, TIMEOUT};
use crate::scripts::{item_payload, ANSWER, KEY1, KEY2, KEY3};
use crate::stream::{item_len, Stream, StreamKind};
use crate::transcript::{decode_frames, encode_frames, parse_json_string};

/// The ways a client can talk to the server: every transport, and each WebSocket draft.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// RFC 6455 at `/socket.io/websocket`.
    WebSocket,
    Hixie75,
    Hixie76,
    /// hixie-76 at `/socket.io/flashsocket`.
    FlashSocket,
    HtmlFile,
    XhrMultipart,
    XhrPolling,
    JsonpPolling,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::WebSocket,
        Kind::Hixie75,
        Kind::Hixie76,
        Kind::FlashSocket,
        Kind::HtmlFile,
        Kind::XhrMultipart,
        Kind::XhrPolling,
        Kind::JsonpPolling,
    ];

    pub fn transport(self) -> TransportKind {
        match self {
            Kind::WebSocket | Kind::Hixie75 | Kind::Hixie76 => TransportKind::WebSocket,
            Kind::FlashSocket => TransportKind::FlashSocket,
            Kind::HtmlFile => TransportKind::HtmlFile,
            Kind::XhrMultipart => TransportKind::XhrMultipart,
            Kind::XhrPolling => TransportKind::XhrPolling,
            Kind::JsonpPolling => TransportKind::JsonpPolling,
        }
    }

    pub fn is_polling(self) -> bool {
        matches!(self, Kind::XhrPolling | Kind::JsonpPolling)
    }
}

/// A message as the application sees it: text stays text, JSON is compared parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded {
    Text(String),
    Json(Value),
    Heartbeat(String),
}

pub fn decoded(message: &str) -> Decoded {
    if let Some(json) = message.strip_prefix("~j~") {
        Decoded::Json(serde_json::from_str(json).unwrap_or_else(|e| panic!("{message:?}: {e}")))
    } else if let Some(n) = message.strip_prefix("~h~") {
        Decoded::Heartbeat(n.to_string())
    } else {
        Decoded::Text(message.to_string())
    }
}

/// How a connection ended when the server ended it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// An RFC 6455 close frame with this code, then EOF.
    Close(u16),
    /// A hixie-76 closing handshake `FF 00`, then EOF.
    HixieClose,
    /// EOF with nothing else (hixie-75, multipart).
    Eof,
    /// A stream ended without another payload (htmlfile: last chunk; multipart: EOF).
    StreamEnd,
    /// A held poll answered with an empty payload, then EOF.
    EmptyPoll,
}

enum Inner {
    Rfc6455(Conn),
    Hixie(Conn),
    Stream(Box<Stream>),
    Poll { get: Conn, ts0: u64 },
}

/// One session's client.
pub struct Client {
    pub kind: Kind,
    pub addr: SocketAddr,
    pub sid: String,
    inner: Inner,
    /// Messages received and not yet taken (heartbeats excluded).
    inbox: Vec<String>,
    /// Every heartbeat received, e.g. `~h~1`.
    pub heartbeats: Vec<String>,
    /// Echo every heartbeat back at once, as the real client does.
    pub answer_heartbeats: bool,
    ts: u64,
}

/// A fixed RFC 6455 key and the accept value the server must answer with (RFC 6455 §1.3).
pub const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];
const FORM: (&str, &str) = (
    "Content-Type",
    "application/x-www-form-urlencoded; charset=utf-8",
);

/// The upgrade request an RFC 6455 client sends for `path`.
pub fn rfc6455_request(addr: SocketAddr, path: &str) -> Vec<u8> {
    request(
        addr,
        "GET",
        path,
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", WS_KEY),
            ("Sec-WebSocket-Version", "13"),
        ],
        &[],
    )
}

/// The head of a hixie upgrade request for `path` (hixie-76 also needs key3 after it).
pub fn hixie_request(addr: SocketAddr, path: &str, draft76: bool) -> Vec<u8> {
    let mut headers = vec![
        ("Upgrade", "WebSocket"),
        ("Connection", "Upgrade"),
        ("Origin", "http://example.com"),
    ];
    if draft76 {
        headers.push(("Sec-WebSocket-Key1", KEY1));
        headers.push(("Sec-WebSocket-Key2", KEY2));
    }
    request(addr, "GET", path, &headers, &[])
}

/// A masked RFC 6455 text frame.
pub fn text_frame(payload: &str) -> Vec<u8> {
    client_frame(rfc6455::OP_TEXT, true, payload.as_bytes(), MASK)
}

/// A complete unmasked server frame at the start of `p`: (fin, opcode, payload start, end).
fn server_frame(p: &[u8]) -> Option<(bool, u8, usize, usize)> {
    if p.len() < 2 {
        return None;
    }
    assert_eq!(p[1] & 0x80, 0, "server frames must not be masked");
    let (len, start) = match p[1] & 0x7F {
        126 => (
            u16::from_be_bytes(p.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(p.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    (p.len() >= start + len).then_some((p[0] & 0x80 != 0, p[0] & 0x0F, start, start + len))
}

/// Reads one RFC 6455 frame: (opcode, payload). Panics on timeout or EOF.
pub fn read_frame(conn: &mut Conn, timeout: Duration) -> (u8, Vec<u8>) {
    let ok = conn.wait_for(timeout, |p| server_frame(p).is_some());
    assert!(
        ok,
        "no complete RFC 6455 frame within {timeout:?} (eof: {}): {:?}",
        conn.is_eof(),
        String::from_utf8_lossy(conn.pending())
    );
    let (fin, opcode, start, end) = server_frame(conn.pending()).unwrap();
    assert!(fin, "the server fragments its messages");
    let frame = conn.take(end, "frame");
    (opcode, frame[start..].to_vec())
}

/// Opens an RFC 6455 connection to `path` and checks the 101.
pub fn rfc6455_connect(addr: SocketAddr, path: &str) -> Conn {
    let mut conn = Conn::connect(addr);
    conn.send(&rfc6455_request(addr, path));
    let head = conn.read_head();
    assert_eq!(head.status, 101, "{}", head.status_line);
    assert_eq!(head.header("sec-websocket-accept"), Some(WS_ACCEPT));
    conn
}

/// Sends a hixie handshake for `path` (with its key3 for draft 76) and reads the 101 head.
pub fn hixie_handshake(addr: SocketAddr, path: &str, draft76: bool) -> (Conn, Head) {
    let mut conn = Conn::connect(addr);
    conn.send(&hixie_request(addr, path, draft76));
    if draft76 {
        conn.send(KEY3);
    }
    let head = conn.read_head();
    assert_eq!(head.status, 101, "{}", head.status_line);
    (conn, head)
}

/// The location a hixie handshake for `path` is answered with (either draft's header).
pub fn hixie_location(addr: SocketAddr, path: &str, draft76: bool) -> String {
    let (_, head) = hixie_handshake(addr, path, draft76);
    head.header("sec-websocket-location")
        .or_else(|| head.header("websocket-location"))
        .expect("a location")
        .to_owned()
}

/// Sends large WebSocket messages on `conn` and never reads the echoes, until the server
/// cuts it off (a write fails). Returns the bytes sent; panics after 30 s or 512 MiB.
pub fn flood_until_cut_off(conn: &mut Conn, what: &str) -> usize {
    let text = "x".repeat(60_000);
    let frame = text_frame(&format!("~m~{}~m~{text}", text.len()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sent = 0usize;
    while conn.try_send(&frame).is_ok() {
        sent += frame.len();
        assert!(
            Instant::now() < deadline && sent < 512 << 20,
            "{what}: still not cut off after {sent} bytes"
        );
    }
    sent
}

/// Opens a hixie connection to `path` and reads the 101 (and the hixie-76 answer).
pub fn hixie_connect(addr: SocketAddr, path: &str, draft76: bool) -> Conn {
    let (mut conn, _) = hixie_handshake(addr, path, draft76);
    if draft76 {
        assert_eq!(&conn.take(16, "hixie-76 answer")[..], ANSWER);
    }
    conn
}

fn stream_kind(kind: Kind) -> StreamKind {
    match kind {
        Kind::HtmlFile => StreamKind::HtmlFile,
        _ => StreamKind::Multipart,
    }
}

/// The payload inside a poll response body.
pub fn poll_payload(kind: Kind, r: &Response) -> String {
    assert_eq!(r.head.status, 200, "poll answered {}", r.head.status_line);
    let body = r.body_text();
    match kind {
        Kind::JsonpPolling => {
            let rest = body
                .strip_prefix("io.JSONP[0]._(")
                .unwrap_or_else(|| panic!("not a JSONP call: {body:?}"));
            let (value, used) =
                parse_json_string(rest).unwrap_or_else(|| panic!("no JSON string: {body:?}"));
            assert_eq!(&rest[used..], ");", "{body:?}");
            value
        }
        _ => body,
    }
}

impl Client {
    /// Opens a new session and reads its id.
    pub fn open(addr: SocketAddr, kind: Kind) -> Client {
        Client::attach(addr, kind, None)
    }

    /// Attaches to the session `sid` (a new connection for an existing id), or opens a
    /// new session. The first message of a new session must be its id.
    pub fn attach(addr: SocketAddr, kind: Kind, sid: Option<&str>) -> Client {
        let name = kind.transport().name();
        let sid_part = sid.unwrap_or("");
        let ts = 1_300_000_000_000;
        let inner = match kind {
            Kind::WebSocket => Inner::Rfc6455(rfc6455_connect(addr, &ws_path(name, sid))),
            Kind::Hixie75 => Inner::Hixie(hixie_connect(addr, &ws_path(name, sid), false)),
            Kind::Hixie76 | Kind::FlashSocket => {
                Inner::Hixie(hixie_connect(addr, &ws_path(name, sid), true))
            }
            Kind::HtmlFile | Kind::XhrMultipart => {
                let mut conn = Conn::connect(addr);
                let path = match kind {
                    Kind::HtmlFile => format!("/socket.io/htmlfile/{sid_part}/{ts}"),
                    _ => format!("/socket.io/xhr-multipart/{sid_part}"),
                };
                conn.send(&request(addr, "GET", &path, &[], &[]));
                let stream = Stream::open(conn, stream_kind(kind));
                assert_eq!(stream.head.status, 200, "{}", stream.head.status_line);
                Inner::Stream(Box::new(stream))
            }
            Kind::XhrPolling | Kind::JsonpPolling => Inner::Poll {
                get: Conn::connect(addr),
                ts0: ts,
            },
        };
        let mut client = Client {
            kind,
            addr,
            sid: sid.unwrap_or_default().to_string(),
            inner,
            inbox: Vec::new(),
            heartbeats: Vec::new(),
            answer_heartbeats: false,
            ts,
        };
        if sid.is_none() {
            let mut first = Vec::new();
            while first.is_empty() {
                first = decode_frames(&client.recv_payload(TIMEOUT)).0;
            }
            client.sid = first.remove(0);
            assert!(!client.sid.is_empty());
            client.take_in(first);
        }
        client
    }

    fn next_ts(&mut self) -> u64 {
        self.ts += 1;
        self.ts
    }

    /// Sends one payload holding `messages`.
    pub fn send(&mut self, messages: &[&str]) {
        self.send_payload(&encode_frames(messages));
    }

    /// Sends one raw payload: one frame, or one POST (answered `200 ok`).
    pub fn send_payload(&mut self, payload: &str) {
        let sid = self.sid.clone();
        match &mut self.inner {
            Inner::Rfc6455(conn) => conn.send(&text_frame(payload)),
            Inner::Hixie(conn) => conn.send_ws_frame(payload),
            Inner::Stream(_) | Inner::Poll { .. } => {
                let path = match &self.inner {
                    Inner::Poll { ts0, .. } if self.kind == Kind::JsonpPolling => {
                        format!("/socket.io/jsonp-polling/{sid}/{ts0}/0")
                    }
                    _ => format!("/socket.io/{}/{sid}/send", self.kind.transport().name()),
                };
                let r = post(self.addr, &path, payload);
                assert_eq!(r.head.status, 200, "POST answered {}", r.head.status_line);
                assert_eq!(r.body_text(), "ok");
            }
        }
    }

    /// Receives one payload: a frame, a stream item that carries one, or a poll response
    /// (empty when the poll ran out). Panics if nothing comes within `timeout`.
    pub fn recv_payload(&mut self, timeout: Duration) -> String {
        let ts = self.next_ts();
        let kind = self.kind;
        let sid = self.sid.clone();
        let addr = self.addr;
        match &mut self.inner {
            Inner::Rfc6455(conn) => loop {
                let (opcode, payload) = read_frame(conn, timeout);
                match opcode {
                    rfc6455::OP_TEXT => break String::from_utf8(payload).expect("UTF-8 text"),
                    rfc6455::OP_PING | rfc6455::OP_PONG => continue,
                    other => panic!("unexpected opcode {other} ({payload:?})"),
                }
            },
            Inner::Hixie(conn) => {
                let ok = conn.wait_for(timeout, |p| p.contains(&0xFF));
                assert!(ok, "no hixie frame within {timeout:?}");
                conn.read_ws_frame()
            }
            Inner::Stream(stream) => loop {
                let item = stream.next_items(1).remove(0);
                if let Some(payload) = item_payload(stream.kind, &item) {
                    break payload;
                }
            },
            Inner::Poll { get, .. } => {
                let path = match kind {
                    Kind::JsonpPolling => format!("/socket.io/jsonp-polling/{sid}/{ts}/0"),
                    _ => format!("/socket.io/xhr-polling/{sid}/{ts}"),
                };
                get.send(&request(addr, "GET", &path, &[], &[]));
                poll_payload(kind, &get.read_response())
            }
        }
    }

    fn take_in(&mut self, messages: Vec<String>) {
        for m in messages {
            if m.starts_with("~h~") {
                if self.answer_heartbeats {
                    self.send(&[&m]);
                }
                self.heartbeats.push(m);
            } else {
                self.inbox.push(m);
            }
        }
    }

    /// Receives until `n` messages (heartbeats aside) are there, and takes them.
    pub fn recv(&mut self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        while self.inbox.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "wanted {n} messages, got {:?}", self.inbox);
            let payload = self.recv_payload(left);
            self.take_in(decode_frames(&payload).0);
        }
        self.inbox.drain(..n).collect()
    }

    /// Receives for `wait`, answering heartbeats, and returns every message that came.
    /// Polling clients just wait (receiving would mean holding a poll).
    pub fn drain_for(&mut self, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if left.is_zero() {
                break;
            }
            for payload in self.payloads_within(left.min(Duration::from_millis(20))) {
                self.take_in(decode_frames(&payload).0);
            }
        }
        std::mem::take(&mut self.inbox)
    }

    /// The payloads that arrive within `wait` (a socket returns at its first frame).
    fn payloads_within(&mut self, wait: Duration) -> Vec<String> {
        let has_frame = match &mut self.inner {
            Inner::Rfc6455(conn) => conn.wait_for(wait, |p| server_frame(p).is_some()),
            Inner::Hixie(conn) => conn.wait_for(wait, |p| p.contains(&0xFF)),
            Inner::Stream(stream) => {
                let kind = stream.kind;
                let mut rest = &stream.extra(wait)[..];
                let mut n = 0;
                while let Some(len) = item_len(kind, rest) {
                    rest = &rest[len..];
                    n += 1;
                }
                return stream
                    .next_items(n)
                    .iter()
                    .filter_map(|item| item_payload(kind, item))
                    .collect();
            }
            Inner::Poll { .. } => {
                std::thread::sleep(wait);
                false
            }
        };
        if has_frame {
            vec![self.recv_payload(TIMEOUT)]
        } else {
            Vec::new()
        }
    }

    /// Sends each message in its own payload and checks it comes back unchanged.
    pub fn echo_each(&mut self, messages: &[&str]) {
        for m in messages {
            self.send(&[m]);
            let back = self.recv(1);
            assert_eq!(decoded(&back[0]), decoded(m), "{:?} echo", self.kind);
        }
    }

    /// The connection, for tests that misbehave on purpose.
    pub fn conn(&mut self) -> &mut Conn {
        match &mut self.inner {
            Inner::Rfc6455(c) | Inner::Hixie(c) => c,
            Inner::Stream(s) => &mut s.conn,
            Inner::Poll { get, .. } => get,
        }
    }

    /// Starts a poll and leaves it held (polling only).
    pub fn hold_poll(&mut self) {
        let ts = self.next_ts();
        let path = match self.kind {
            Kind::JsonpPolling => format!("/socket.io/jsonp-polling/{}/{ts}/0", self.sid),
            Kind::XhrPolling => format!("/socket.io/xhr-polling/{}/{ts}", self.sid),
            other => panic!("{other:?} does not poll"),
        };
        let addr = self.addr;
        self.conn().send(&request(addr, "GET", &path, &[], &[]));
    }

    /// Waits for the server to end the connection and says how it did. Payloads that come
    /// first (heartbeats, messages) are skipped.
    pub fn ended(&mut self, timeout: Duration) -> Ended {
        let kind = self.kind;
        let ending = match &mut self.inner {
            Inner::Rfc6455(conn) => loop {
                let (opcode, payload) = read_frame(conn, timeout);
                if opcode == rfc6455::OP_CLOSE {
                    assert!(payload.len() >= 2, "close without a code");
                    break Ended::Close(u16::from_be_bytes([payload[0], payload[1]]));
                }
            },
            Inner::Hixie(conn) => {
                let mut rest = &conn.read_to_close(timeout)[..];
                while rest.first() == Some(&0x00) {
                    let end = rest.iter().position(|&b| b == 0xFF).expect("a whole frame");
                    rest = &rest[end + 1..];
                }
                match rest {
                    [0xFF, 0x00] => Ended::HixieClose,
                    [] => Ended::Eof,
                    other => panic!("hixie connection ended with {other:?}"),
                }
            }
            Inner::Stream(stream) => {
                let kind = stream.kind;
                let mut rest = &stream.extra(timeout)[..];
                while let Some(len) = item_len(kind, rest) {
                    rest = &rest[len..];
                }
                assert!(
                    rest.is_empty(),
                    "the stream ended inside an item: {:?}",
                    String::from_utf8_lossy(rest)
                );
                Ended::StreamEnd
            }
            Inner::Poll { get, .. } => {
                let r = get.read_response();
                assert_eq!(poll_payload(kind, &r), "", "the held poll carried data");
                Ended::EmptyPoll
            }
        };
        let conn = self.conn();
        let rest = conn.read_to_close(timeout);
        assert!(
            rest.is_empty() && conn.is_eof(),
            "bytes after the end: {:?}",
            String::from_utf8_lossy(&rest)
        );
        ending
    }
}

fn ws_path(name: &str, sid: Option<&str>) -> String {
    match sid {
        Some(sid) => format!("/socket.io/{name}/{sid}"),
        None => format!("/socket.io/{name}"),
    }
}

/// A form POST of `payload` on a connection of its own.
pub fn post(addr: SocketAddr, path: &str, payload: &str) -> Response {
    let mut conn = Conn::connect(addr);
    conn.send(&request(addr, "POST", path, &[FORM], &form_data(payload)));
    conn.read_response()
}

/// A plain request on a connection of its own.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    let mut conn = Conn::connect(addr);
    conn.send(&request(addr, "GET", path, &[], &[]));
    conn.read_response()
}

/// Polls `cond` every few milliseconds until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

//! Complete exchanges with a server in `chat` mode, one per transport, each returning its
//! normalised transcript.
//!
//! Chat mode (see `reference/server.js`): a newcomer gets `{"buffer":[…last 15…]}`, the others
//! get `{"announcement":"<id> connected"}`; each message m goes to every other client as
//! `{"message":["<id>", m]}`; on disconnect the others get `{"announcement":"<id> disconnected"}`.
//! Clients A and B talk; A leaves; C joins and sees the buffer.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use crate::raw::{find, form_data, request, Conn, Response};
use crate::stream::{Stream, StreamKind};
use crate::transcript::{decode_frames, encode_frames, parse_json_string, Transcript};

/// One scripted exchange: its name, the `--transport-options` JSON it expects the server to
/// run with, and the function that runs it.
pub struct Script {
    pub name: &'static str,
    pub transport_options: &'static str,
    pub run: fn(SocketAddr) -> Vec<String>,
}

/// Every script, in a fixed order.
pub const SCRIPTS: &[Script] = &[
    Script {
        name: "xhr-polling",
        transport_options: r#"{"xhr-polling":{"duration":300,"closeTimeout":800}}"#,
        run: xhr_polling,
    },
    Script {
        name: "jsonp-polling",
        transport_options: r#"{"jsonp-polling":{"duration":300,"closeTimeout":800}}"#,
        run: jsonp_polling,
    },
    Script {
        name: "htmlfile",
        transport_options: r#"{"htmlfile":{"heartbeatInterval":60000}}"#,
        run: htmlfile,
    },
    Script {
        name: "xhr-multipart",
        transport_options: r#"{"xhr-multipart":{"heartbeatInterval":60000}}"#,
        run: xhr_multipart,
    },
    Script {
        name: "websocket-hixie-75",
        transport_options: r#"{"websocket":{"heartbeatInterval":60000}}"#,
        run: websocket_hixie75,
    },
    Script {
        name: "websocket-hixie-76",
        transport_options: r#"{"websocket":{"heartbeatInterval":60000}}"#,
        run: websocket_hixie76,
    },
    Script {
        name: "flashsocket",
        transport_options: r#"{"flashsocket":{"heartbeatInterval":60000}}"#,
        run: flashsocket,
    },
    Script {
        name: "flash-policy",
        transport_options: "",
        run: flash_policy,
    },
];

/// Looks a script up by name.
pub fn script(name: &str) -> &'static Script {
    SCRIPTS
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no script named {name}"))
}

/// The messages the clients send.
pub const TEXT: &str = "hello";
pub const JSON: &str = r#"~j~{"greeting":"hi","n":1}"#;
pub const EMOJI: &str = "smile 😀";
pub const HELD: &str = "while you wait";
pub const FROM_B: &str = "from B";
/// A session id no server knows.
pub const UNKNOWN_SID: &str = "99999999999999999";
/// The origin the scripts send where they send one.
pub const ORIGIN: &str = "http://example.com";

const FORM: (&str, &str) = (
    "Content-Type",
    "application/x-www-form-urlencoded; charset=utf-8",
);

/// The state of one exchange.
pub struct Exchange {
    pub addr: SocketAddr,
    pub t: Transcript,
    ts: u64,
    /// Connections kept open until the end, so that their closing cannot affect a session.
    keep: Vec<Conn>,
}

impl Exchange {
    pub fn new(addr: SocketAddr) -> Exchange {
        Exchange {
            addr,
            t: Transcript::new(addr),
            ts: 1_300_000_000_000,
            keep: Vec::new(),
        }
    }

    /// A fixed, increasing "timestamp" for URLs.
    pub fn ts(&mut self) -> u64 {
        self.ts += 1;
        self.ts
    }

    pub fn connect(&self) -> Conn {
        Conn::connect(self.addr)
    }

    /// Sends a request on `conn` and records it. `data` is sent as a form body `data=…`.
    pub fn send_request(
        &mut self,
        who: &str,
        conn: &mut Conn,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        data: Option<&str>,
    ) {
        let body = data.map(form_data).unwrap_or_default();
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if data.is_some() {
            all.push(FORM);
        }
        conn.send(&request(self.addr, method, path, &all, &body));
        let extra = headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect::<Vec<_>>()
            .join("; ");
        self.t.request(who, method, path, &extra, data);
    }

    /// Reads a response on `conn` and records it.
    pub fn read_response(&mut self, who: &str, conn: &mut Conn) -> Response {
        let response = conn.read_response();
        self.t.response(who, &response);
        response
    }

    /// A request and its response on `conn`.
    pub fn http(
        &mut self,
        who: &str,
        conn: &mut Conn,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        data: Option<&str>,
    ) -> Response {
        self.send_request(who, conn, method, path, headers, data);
        self.read_response(who, conn)
    }

    /// A request and its response on a new connection, kept open until the end.
    pub fn http_new(
        &mut self,
        who: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        data: Option<&str>,
    ) -> Response {
        let mut conn = self.connect();
        let response = self.http(who, &mut conn, method, path, headers, data);
        self.keep.push(conn);
        response
    }

    /// A request on a new connection that the server must close without answering.
    pub fn expect_dropped(
        &mut self,
        who: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        data: Option<&str>,
    ) {
        let mut conn = self.connect();
        self.send_request(who, &mut conn, method, path, headers, data);
        conn.expect_closed_without_response();
        self.t.note(format!("{who}< closed without response"));
    }

    /// `GET /` and `GET /socket.io/inexistent` both reach the application.
    pub fn app_routes(&mut self) {
        for path in ["/", "/socket.io/inexistent"] {
            let r = self.http_new("X", "GET", path, &[], None);
            assert_eq!(r.body_text(), "<h1>Hello world</h1>", "GET {path}");
        }
    }

    pub fn keep(&mut self, conn: Conn) {
        self.keep.push(conn);
    }

    pub fn finish(self) -> Vec<String> {
        drop(self.keep);
        self.t.lines()
    }
}

fn message_count(payload: &str) -> usize {
    decode_frames(payload).0.len()
}

fn chat_message(sid: &str, m: &str) -> String {
    let m = match m.strip_prefix("~j~") {
        Some(json) => json.to_string(),
        None => crate::transcript::json_string(m),
    };
    format!("~j~{{\"message\":[\"{sid}\",{m}]}}")
}

// ---------------------------------------------------------------------------------------------
// Polling

#[derive(Clone, Copy, PartialEq, Eq)]
enum Polling {
    Xhr,
    Jsonp,
}

/// One polling client: its GET connection (kept alive between polls), id and POST timestamp.
struct Poller {
    who: &'static str,
    get: Conn,
    sid: String,
    ts0: u64,
}

impl Polling {
    fn name(self) -> &'static str {
        match self {
            Polling::Xhr => "xhr-polling",
            Polling::Jsonp => "jsonp-polling",
        }
    }

    fn poll_path(self, sid: &str, ts: u64) -> String {
        match self {
            Polling::Xhr => format!("/socket.io/xhr-polling/{sid}/{ts}"),
            Polling::Jsonp => format!("/socket.io/jsonp-polling/{sid}/{ts}/3"),
        }
    }

    fn post_path(self, sid: &str, ts0: u64) -> String {
        match self {
            Polling::Xhr => format!("/socket.io/xhr-polling/{sid}/send"),
            Polling::Jsonp => format!("/socket.io/jsonp-polling/{sid}/{ts0}/3"),
        }
    }

    /// The Socket.IO payload carried by a poll response.
    fn payload(self, r: &Response) -> String {
        let body = r.body_text();
        match self {
            Polling::Xhr => body,
            Polling::Jsonp => {
                let rest = body
                    .strip_prefix("io.JSONP[3]._(")
                    .unwrap_or_else(|| panic!("not a JSONP call: {body:?}"));
                let (value, used) =
                    parse_json_string(rest).unwrap_or_else(|| panic!("no JSON string in {body:?}"));
                assert_eq!(&rest[used..], ");", "JSONP call ends badly: {body:?}");
                value
            }
        }
    }

    fn handshake(self, ex: &mut Exchange, who: &'static str) -> Poller {
        let ts = ex.ts();
        let path = self.poll_path("", ts);
        let mut get = ex.connect();
        let r = ex.http(who, &mut get, "GET", &path, &[], None);
        let sid = ex.t.learn_sid_from_payload(&self.payload(&r));
        Poller {
            who,
            get,
            sid,
            ts0: ts,
        }
    }

    fn poll(self, ex: &mut Exchange, p: &mut Poller, headers: &[(&str, &str)]) -> String {
        let path = self.poll_path(&p.sid, ex.ts());
        let r = ex.http(p.who, &mut p.get, "GET", &path, headers, None);
        assert_eq!(r.head.status, 200, "poll answered {}", r.head.status_line);
        self.payload(&r)
    }

    /// Polls until `n` messages have arrived and records them as one line. The two
    /// broadcasts a batched POST causes may reach the next poll together or one per poll,
    /// depending on when the application handles them; the messages and their order are
    /// what counts.
    fn poll_messages(self, ex: &mut Exchange, p: &mut Poller, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut all = String::new();
        let mut polls = 0;
        while decode_frames(&all).0.len() < n {
            assert!(
                Instant::now() < deadline,
                "{} messages never arrived: {all:?}",
                n
            );
            polls += 1;
            // Timestamps of their own, so that later URLs do not depend on the number of polls.
            let path = self.poll_path(&p.sid, 1_500_000_000_000 + polls);
            p.get.send(&request(ex.addr, "GET", &path, &[], &[]));
            let r = p.get.read_response();
            assert_eq!(r.head.status, 200, "poll answered {}", r.head.status_line);
            all.push_str(&self.payload(&r));
        }
        ex.t.payload_line(p.who, "< messages over one or more polls: ", &all, "");
        all
    }

    fn post(self, ex: &mut Exchange, p: &Poller, headers: &[(&str, &str)], messages: &[&str]) {
        let path = self.post_path(&p.sid, p.ts0);
        let r = ex.http_new(
            p.who,
            "POST",
            &path,
            headers,
            Some(&encode_frames(messages)),
        );
        assert_eq!(r.head.status, 200, "POST answered {}", r.head.status_line);
        assert_eq!(r.body_text(), "ok");
    }
}

fn polling(addr: SocketAddr, kind: Polling) -> Vec<String> {
    let mut ex = Exchange::new(addr);
    let name = kind.name();
    ex.app_routes();
    ex.expect_dropped("X", "GET", &kind.poll_path(UNKNOWN_SID, 1), &[], None);
    ex.expect_dropped(
        "X",
        "POST",
        &kind.post_path(UNKNOWN_SID, 1),
        &[],
        Some(&encode_frames(&[TEXT])),
    );

    // A and B connect; each second poll carries the chat buffer.
    let mut a = kind.handshake(&mut ex, "A");
    assert!(kind.poll(&mut ex, &mut a, &[]).contains("buffer"));
    let mut b = kind.handshake(&mut ex, "B");
    assert!(kind.poll(&mut ex, &mut b, &[]).contains("buffer"));
    let got = kind.poll(&mut ex, &mut a, &[]);
    assert!(got.contains(&format!("{} connected", b.sid)), "{got}");

    // Text, then JSON and an emoji in one POST; B sees them as broadcasts.
    kind.post(&mut ex, &a, &[], &[TEXT]);
    let got = kind.poll(
        &mut ex,
        &mut b,
        &[("Origin", ORIGIN), ("Cookie", "socketio=polling")],
    );
    assert_eq!(got, encode_frames(&[chat_message(&a.sid, TEXT)]));
    kind.post(&mut ex, &a, &[], &[JSON, EMOJI]);
    let got = kind.poll_messages(&mut ex, &mut b, 2);
    assert_eq!(
        got,
        encode_frames(&[chat_message(&a.sid, JSON), chat_message(&a.sid, EMOJI)])
    );

    // A poll that waits is completed by the next message.
    let path = kind.poll_path(&b.sid, ex.ts());
    ex.send_request("B", &mut b.get, "GET", &path, &[], None);
    thread::sleep(Duration::from_millis(50));
    kind.post(&mut ex, &a, &[], &[HELD]);
    let r = ex.read_response("B", &mut b.get);
    assert_eq!(
        kind.payload(&r),
        encode_frames(&[chat_message(&a.sid, HELD)])
    );

    // B talks to A (with an Origin on the POST).
    kind.post(&mut ex, &b, &[("Origin", ORIGIN)], &[FROM_B]);
    let got = kind.poll(&mut ex, &mut a, &[]);
    assert_eq!(got, encode_frames(&[chat_message(&b.sid, FROM_B)]));

    // Both poll with nothing to say: both polls end empty after `duration`.
    let (pa, pb) = (
        kind.poll_path(&a.sid, ex.ts()),
        kind.poll_path(&b.sid, ex.ts()),
    );
    ex.send_request("A", &mut a.get, "GET", &pa, &[], None);
    ex.send_request("B", &mut b.get, "GET", &pb, &[], None);
    let ra = ex.read_response("A", &mut a.get);
    let rb = ex.read_response("B", &mut b.get);
    assert_eq!(kind.payload(&ra), "");
    assert_eq!(kind.payload(&rb), "");

    // A stops polling; after closeTimeout B hears that A left. B's empty polls are not
    // recorded (their number depends on timing).
    ex.t.note(format!(
        "A stops polling; B polls /socket.io/{name}/<SID2>/… until a poll is not empty"
    ));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut n = 0;
    let got = loop {
        assert!(Instant::now() < deadline, "B never heard that A left");
        // Timestamps of their own, so that later URLs do not depend on the number of polls.
        n += 1;
        let path = kind.poll_path(&b.sid, 1_400_000_000_000 + n);
        b.get.send(&request(addr, "GET", &path, &[], &[]));
        let r = b.get.read_response();
        if !kind.payload(&r).is_empty() {
            ex.t.response("B", &r);
            break kind.payload(&r);
        }
    };
    assert!(got.contains(&format!("{} disconnected", a.sid)), "{got}");

    // C joins and gets the buffer; B hears about it.
    let mut c = kind.handshake(&mut ex, "C");
    let got = kind.poll(&mut ex, &mut c, &[]);
    assert!(got.contains(FROM_B) && got.contains(&a.sid), "{got}");
    let got = kind.poll(&mut ex, &mut b, &[]);
    assert!(got.contains(&format!("{} connected", c.sid)), "{got}");

    ex.keep(a.get);
    ex.keep(b.get);
    ex.keep(c.get);
    ex.finish()
}

/// xhr-polling: handshake `GET /socket.io/xhr-polling//<ts>`, polls, POSTs to `…/<sid>/send`.
pub fn xhr_polling(addr: SocketAddr) -> Vec<String> {
    polling(addr, Polling::Xhr)
}

/// jsonp-polling with index 3: `GET /socket.io/jsonp-polling//<ts>/3`, POSTs to
/// `/socket.io/jsonp-polling/<sid>/<ts0>/3`.
pub fn jsonp_polling(addr: SocketAddr) -> Vec<String> {
    polling(addr, Polling::Jsonp)
}

// ---------------------------------------------------------------------------------------------
// Streams

/// One streaming client.
struct Streamer {
    who: &'static str,
    stream: Stream,
    sid: String,
}

/// The payload inside one stream item, if it carries one.
pub fn item_payload(kind: StreamKind, item: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(item).ok()?;
    match kind {
        StreamKind::HtmlFile => {
            let rest = text.strip_prefix("<script>parent.s._(")?;
            parse_json_string(rest).map(|(v, _)| v)
        }
        StreamKind::Multipart => {
            let (_, rest) = text.split_once("\n\n")?;
            rest.strip_suffix("\n--socketio\n").map(str::to_string)
        }
    }
}

/// Records one stream item and returns its payload (empty for padding and boundaries).
fn record_item(t: &mut Transcript, who: &str, kind: StreamKind, item: &[u8]) -> String {
    match kind {
        StreamKind::HtmlFile => {
            if let Some(rest) = item.strip_prefix(b"<html><body>") {
                if rest.iter().all(|&b| b == b' ') {
                    t.note(format!(
                        "{who}<   preamble: <html><body> + {} spaces",
                        rest.len()
                    ));
                    return String::new();
                }
            }
            t.item(who, "chunk", item);
        }
        StreamKind::Multipart => {
            if item == b"--socketio\n" {
                t.note(format!("{who}<   part: --socketio\n"));
                return String::new();
            }
            let text = String::from_utf8_lossy(item);
            match (text.split_once("\n\n"), item_payload(kind, item)) {
                (Some((headers, _)), Some(payload)) => {
                    let prefix = format!("part: {headers}\n\n");
                    t.payload_line(who, &prefix, &payload, "\n--socketio\n");
                    return payload;
                }
                _ => t.item(who, "part", item),
            }
        }
    }
    item_payload(kind, item).unwrap_or_default()
}

impl Streamer {
    /// Reads items until they carry `n` more messages; returns their payloads joined.
    fn expect(&mut self, t: &mut Transcript, n: usize) -> String {
        let mut got = String::new();
        while message_count(&got) < n {
            let item = self.stream.next_items(1).remove(0);
            got.push_str(&record_item(t, self.who, self.stream.kind, &item));
        }
        got
    }
}

fn stream_path(kind: StreamKind, ts: u64) -> String {
    match kind {
        StreamKind::HtmlFile => format!("/socket.io/htmlfile//{ts}"),
        StreamKind::Multipart => "/socket.io/xhr-multipart/".to_string(),
    }
}

fn stream_name(kind: StreamKind) -> &'static str {
    match kind {
        StreamKind::HtmlFile => "htmlfile",
        StreamKind::Multipart => "xhr-multipart",
    }
}

fn open_stream(
    ex: &mut Exchange,
    kind: StreamKind,
    who: &'static str,
    headers: &[(&str, &str)],
) -> Streamer {
    let ts = ex.ts();
    let path = stream_path(kind, ts);
    let mut conn = ex.connect();
    ex.send_request(who, &mut conn, "GET", &path, headers, None);
    let stream = Stream::open(conn, kind);
    ex.t.head(who, &stream.head);
    let mut s = Streamer {
        who,
        stream,
        sid: String::new(),
    };
    // Padding or the opening boundary, then the id.
    let mut first = String::new();
    while first.is_empty() {
        let item = s.stream.next_items(1).remove(0);
        first = record_item(&mut ex.t, who, kind, &item);
    }
    s.sid = ex.t.learn_sid_from_payload(&first);
    // The id may have come with the buffer; otherwise the buffer follows.
    if message_count(&first) < 2 {
        let got = s.expect(&mut ex.t, 1);
        assert!(got.contains("buffer"), "{got}");
    }
    s
}

fn stream_post(
    ex: &mut Exchange,
    kind: StreamKind,
    s: &Streamer,
    headers: &[(&str, &str)],
    messages: &[&str],
) {
    let path = format!("/socket.io/{}/{}/send", stream_name(kind), s.sid);
    let r = ex.http_new(
        s.who,
        "POST",
        &path,
        headers,
        Some(&encode_frames(messages)),
    );
    assert_eq!(r.head.status, 200, "POST answered {}", r.head.status_line);
    assert_eq!(r.body_text(), "ok");
}

fn streaming(addr: SocketAddr, kind: StreamKind) -> Vec<String> {
    let mut ex = Exchange::new(addr);
    let name = stream_name(kind);
    ex.app_routes();
    ex.expect_dropped(
        "X",
        "GET",
        &format!("/socket.io/{name}/{UNKNOWN_SID}"),
        &[],
        None,
    );
    ex.expect_dropped(
        "X",
        "POST",
        &format!("/socket.io/{name}/{UNKNOWN_SID}/send"),
        &[],
        Some(&encode_frames(&[TEXT])),
    );

    let a_headers: &[(&str, &str)] = match kind {
        StreamKind::Multipart => &[("Origin", ORIGIN)],
        StreamKind::HtmlFile => &[],
    };
    let mut a = open_stream(&mut ex, kind, "A", a_headers);
    let mut b = open_stream(&mut ex, kind, "B", &[]);
    let got = a.expect(&mut ex.t, 1);
    assert!(got.contains(&format!("{} connected", b.sid)), "{got}");

    if kind == StreamKind::Multipart {
        // A CORS preflight for A's POST.
        let path = format!("/socket.io/{name}/{}/send", a.sid);
        let r = ex.http_new(
            "A",
            "OPTIONS",
            &path,
            &[
                ("Origin", ORIGIN),
                ("Access-Control-Request-Method", "POST"),
            ],
            None,
        );
        assert_eq!(r.head.status, 200);
    }

    stream_post(&mut ex, kind, &a, &[], &[TEXT]);
    let got = b.expect(&mut ex.t, 1);
    assert_eq!(got, encode_frames(&[chat_message(&a.sid, TEXT)]));
    let post_headers: &[(&str, &str)] = match kind {
        StreamKind::Multipart => &[("Origin", ORIGIN)],
        StreamKind::HtmlFile => &[],
    };
    stream_post(&mut ex, kind, &a, post_headers, &[JSON, EMOJI]);
    let got = b.expect(&mut ex.t, 2);
    assert_eq!(
        got,
        encode_frames(&[chat_message(&a.sid, JSON), chat_message(&a.sid, EMOJI)])
    );
    stream_post(&mut ex, kind, &b, &[], &[FROM_B]);
    let got = a.expect(&mut ex.t, 1);
    assert_eq!(got, encode_frames(&[chat_message(&b.sid, FROM_B)]));

    // A closes its stream; B hears that A left.
    ex.t.note("A closes its connection");
    drop(a);
    let got = b.expect(&mut ex.t, 1);
    assert!(got.contains("disconnected"), "{got}");

    let c = open_stream(&mut ex, kind, "C", &[]);
    let got = b.expect(&mut ex.t, 1);
    assert!(got.contains(&format!("{} connected", c.sid)), "{got}");
    ex.keep(b.stream.conn);
    ex.keep(c.stream.conn);
    ex.finish()
}

/// htmlfile: stream `GET /socket.io/htmlfile//<ts>`, POSTs to `…/<sid>/send`.
pub fn htmlfile(addr: SocketAddr) -> Vec<String> {
    streaming(addr, StreamKind::HtmlFile)
}

/// xhr-multipart: stream `GET /socket.io/xhr-multipart/`, POSTs to `…/<sid>/send`, a CORS
/// preflight and `Origin` headers.
pub fn xhr_multipart(addr: SocketAddr) -> Vec<String> {
    streaming(addr, StreamKind::Multipart)
}

// ---------------------------------------------------------------------------------------------
// WebSocket (hixie) and flashsocket

/// The hixie-76 worked example (docs/PROTOCOL.md §4.1.2).
pub const KEY1: &str = "18x 6]8vM;54 *(5:  {   U1]8  z [  8";
pub const KEY2: &str = "1_ tx7X d  <  nw  334J702) 7]o}` 0";
pub const KEY3: &[u8; 8] = b"Tm[K T2u";
pub const ANSWER: &[u8; 16] = b"fQJ,fN/4F4!~K~MH";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Draft {
    Hixie75,
    Hixie76,
}

struct Socket {
    who: &'static str,
    conn: Conn,
    sid: String,
}

impl Socket {
    /// Reads frames until they carry `n` more messages; returns their payloads joined.
    fn expect(&mut self, t: &mut Transcript, n: usize) -> String {
        let mut got = String::new();
        while message_count(&got) < n {
            let frame = self.conn.read_ws_frame();
            t.payload_line(self.who, "frame: ", &frame, "");
            got.push_str(&frame);
        }
        got
    }

    fn send(&mut self, t: &mut Transcript, payload: &str) {
        t.sent(self.who, "frame", payload);
        self.conn.send_ws_frame(payload);
    }
}

fn ws_request(ex: &Exchange, draft: Draft, path: &str, protocol: Option<&str>) -> Vec<u8> {
    let mut headers = vec![
        ("Upgrade", "WebSocket"),
        ("Connection", "Upgrade"),
        ("Origin", ORIGIN),
    ];
    if draft == Draft::Hixie76 {
        headers.push(("Sec-WebSocket-Key1", KEY1));
        headers.push(("Sec-WebSocket-Key2", KEY2));
    }
    if let Some(p) = protocol {
        headers.push(("Sec-WebSocket-Protocol", p));
    }
    request(ex.addr, "GET", path, &headers, &[])
}

fn ws_open(
    ex: &mut Exchange,
    draft: Draft,
    transport: &str,
    who: &'static str,
    protocol: Option<&str>,
) -> Socket {
    let path = format!("/socket.io/{transport}");
    let mut conn = ex.connect();
    conn.send(&ws_request(ex, draft, &path, protocol));
    let mut extra = match draft {
        Draft::Hixie75 => format!("hixie-75 handshake, Origin: {ORIGIN}"),
        Draft::Hixie76 => format!("hixie-76 handshake, Origin: {ORIGIN}, key3 sent after the head"),
    };
    if let Some(p) = protocol {
        extra.push_str(&format!(", Sec-WebSocket-Protocol: {p}"));
    }
    ex.t.request(who, "GET", &path, &extra, None);
    if draft == Draft::Hixie76 {
        // The reference answers the head before key3 arrives; give it a moment, then send key3
        // as a separate write.
        conn.wait_for(Duration::from_millis(500), |p| {
            find(p, b"\r\n\r\n").is_some()
        });
        conn.send(KEY3);
    }
    let head = conn.read_head();
    ex.t.ws_head(who, &head);
    if draft == Draft::Hixie76 {
        let answer = conn.take(16, "hixie-76 answer");
        ex.t.note_bytes(&format!("{who}<   answer: "), &answer);
    }
    let mut s = Socket {
        who,
        conn,
        sid: String::new(),
    };
    let first = s.conn.read_ws_frame();
    ex.t.payload_line(who, "frame: ", &first, "");
    s.sid = ex.t.learn_sid_from_payload(&first);
    if message_count(&first) < 2 {
        let got = s.expect(&mut ex.t, 1);
        assert!(got.contains("buffer"), "{got}");
    }
    s
}

fn websocket(addr: SocketAddr, draft: Draft, transport: &str) -> Vec<String> {
    let mut ex = Exchange::new(addr);
    ex.app_routes();
    // An upgrade outside the resource, and one with an unknown id. The reference closes
    // both unanswered; what the first gets is the application's business, so it is
    // recorded rather than assumed.
    for path in [
        "/chat".to_string(),
        format!("/socket.io/{transport}/{UNKNOWN_SID}"),
    ] {
        let mut conn = ex.connect();
        conn.send(&ws_request(&ex, draft, &path, None));
        if draft == Draft::Hixie76 {
            conn.send(KEY3);
        }
        ex.t.request("X", "GET", &path, "upgrade", None);
        match conn.ending(crate::raw::TIMEOUT) {
            crate::raw::Ending::ClosedWithoutResponse => ex.t.note("X< closed without response"),
            _ => {
                let r = conn.read_response();
                ex.t.response("X", &r);
            }
        }
    }

    let protocol = (draft == Draft::Hixie76).then_some("borf");
    let mut a = ws_open(&mut ex, draft, transport, "A", protocol);
    let mut b = ws_open(&mut ex, draft, transport, "B", None);
    let got = a.expect(&mut ex.t, 1);
    assert!(got.contains(&format!("{} connected", b.sid)), "{got}");

    for m in [TEXT, JSON, EMOJI] {
        a.send(&mut ex.t, &encode_frames(&[m]));
        let got = b.expect(&mut ex.t, 1);
        assert_eq!(got, encode_frames(&[chat_message(&a.sid, m)]));
    }
    b.send(&mut ex.t, &encode_frames(&[FROM_B]));
    let got = a.expect(&mut ex.t, 1);
    assert_eq!(got, encode_frames(&[chat_message(&b.sid, FROM_B)]));

    ex.t.note("A closes its connection");
    drop(a);
    let got = b.expect(&mut ex.t, 1);
    assert!(got.contains("disconnected"), "{got}");

    let c = ws_open(&mut ex, draft, transport, "C", None);
    let got = b.expect(&mut ex.t, 1);
    assert!(got.contains(&format!("{} connected", c.sid)), "{got}");
    ex.keep(b.conn);
    ex.keep(c.conn);
    ex.finish()
}

/// WebSocket draft hixie-75 at `/socket.io/websocket`.
pub fn websocket_hixie75(addr: SocketAddr) -> Vec<String> {
    websocket(addr, Draft::Hixie75, "websocket")
}

/// WebSocket draft hixie-76 at `/socket.io/websocket`, with the worked example's keys.
pub fn websocket_hixie76(addr: SocketAddr) -> Vec<String> {
    websocket(addr, Draft::Hixie76, "websocket")
}

/// flashsocket: hixie-76 at `/socket.io/flashsocket`.
pub fn flashsocket(addr: SocketAddr) -> Vec<String> {
    websocket(addr, Draft::Hixie76, "flashsocket")
}

/// The inline Flash policy answer: `<policy-file-request/>\0` on the HTTP port, read until the
/// server closes.
pub fn flash_policy(addr: SocketAddr) -> Vec<String> {
    let mut ex = Exchange::new(addr);
    let mut conn = ex.connect();
    conn.send(b"<policy-file-request/>\0");
    ex.t.note("X> <policy-file-request/>\0");
    let doc = conn.read_to_close(crate::raw::TIMEOUT);
    for line in doc.split_inclusive(|&b| b == b'\n') {
        ex.t.note_bytes("X<   ", line);
    }
    ex.t.note("X< closed");
    ex.finish()
}

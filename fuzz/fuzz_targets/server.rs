//! The whole `Server` driven by a sequence of connections, bytes, closes, clock ticks and
//! application commands, with every output drained after each step.
//!
//! Besides "no panic", it checks what an adapter and an application rely on:
//! - a `Connect` comes once per session, and a `Disconnect` only after it, at most once;
//! - `Message` events come only from connected sessions;
//! - nothing is written to a connection that was closed, by either side;
//! - `connection_count()`, `session_count()` and `clients()` agree with what the outputs said;
//! - `send`, `disconnect` and `respond` succeed exactly when they should;
//! - `poll_timeout` is never in the past after the due timers ran;
//! - `shutdown` ends every session and closes every connection;
//! - in a cluster, each broadcast is one publication and a publication from the bus is
//!   never published again; bytes from the bus that are not a publication change nothing;
//! - `drain` ends every session, and no session connects after it.
#![no_main]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use io_core::codec::{self, Incoming};
use io_core::websocket::rfc6455;
use io_core::{
    ConnId, ConnectionInfo, DisconnectReason, Error, Event, Message, Options, Origins, Request,
    Response, Server, SessionId, TransportKind,
};
use libfuzzer_sys::fuzz_target;

// ---- the input --------------------------------------------------------------------------

#[derive(Debug, Arbitrary)]
struct Config {
    inline_flash_policy: bool,
    restricted_origins: bool,
    /// Streaming sessions end at once when their transport goes (the reference's default).
    close_timeout_zero: bool,
    heartbeats: bool,
    /// Each bit disables one transport; all of them disabled means none is.
    disabled: u8,
    max_sessions: u8,
    secure: bool,
    /// A node of a cluster (node 1), with publications to and from the bus.
    cluster: bool,
    /// Every new session waits for a verdict.
    authorize: bool,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Open,
    Bytes {
        conn: u8,
        data: Vec<Frag>,
    },
    /// The same bytes, delivered in two reads cut at `cut`.
    BytesSplit {
        conn: u8,
        data: Vec<Frag>,
        cut: u16,
    },
    Close {
        conn: u8,
    },
    /// The peer half-closes: it sends nothing more.
    ReadClosed {
        conn: u8,
    },
    /// The peer stops reading (or starts again, reading everything).
    Stall {
        conn: u8,
    },
    Advance {
        ms: u16,
    },
    Send {
        session: u8,
        msg: Msg,
    },
    Broadcast {
        msg: Msg,
        except: u8,
    },
    Disconnect {
        session: u8,
    },
    /// Answers the `pending`-th request handed to the application.
    Respond {
        pending: u8,
        status: u16,
        body: Vec<u8>,
        close: bool,
    },
    /// `respond` on any connection, which must fail unless it awaits an answer.
    RespondAny {
        conn: u8,
    },
    /// A request parsed by the embedder's own HTTP stack.
    HandleRequest {
        conn: u8,
        path: Path,
        upgrade: bool,
    },
    /// A broadcast from node `from` (1 is this node) arriving from the bus.
    Publication {
        from: u8,
        except: u8,
        msg: Msg,
    },
    /// Anything at all arriving from the bus.
    RawPublication {
        bytes: Vec<u8>,
    },
    Drain,
    /// The verdict on a handshake waiting for one (or on any connection, which must fail).
    Verdict {
        pick: u8,
        accept: bool,
        any: bool,
    },
    Join {
        session: u8,
        room: u8,
    },
    Leave {
        session: u8,
        room: u8,
    },
    BroadcastTo {
        room: u8,
        msg: Msg,
        except: u8,
    },
}

/// The rooms an input can name.
const ROOMS: &[&str] = &["lobby", "doc:7", "é ✓", "x"];

#[derive(Debug, Arbitrary)]
enum Msg {
    Text(String),
    /// `~j~` + this text, through the codec, when it is JSON.
    Json(String),
    Known(u8),
}

/// Which session a URL names.
#[derive(Debug, Arbitrary, Clone, Copy)]
enum SessionPick {
    None,
    Known(u8),
    Bogus(u8),
}

#[derive(Debug, Arbitrary, Clone, Copy)]
struct Path {
    kind: u8,
    session: SessionPick,
    index: u8,
}

#[derive(Debug, Arbitrary)]
enum Frag {
    /// A whole GET for a transport, the client script or an application page.
    Get {
        path: Path,
        version: u8,
        connection: u8,
        origin: u8,
    },
    /// A whole POST of a form body `data=<payload>`.
    Post {
        path: Path,
        payload: Vec<SioItem>,
        chunked: bool,
        expect: bool,
        origin: u8,
        form: u8,
    },
    Preflight {
        path: Path,
        origin: u8,
        headers: String,
    },
    /// A whole WebSocket upgrade request.
    Upgrade {
        flash: bool,
        session: SessionPick,
        flavour: u8,
        origin: u8,
        version: u8,
        host: bool,
    },
    Script {
        etag: bool,
        head: bool,
        method: u8,
    },
    /// The 8 bytes of a hixie-76 key3, then perhaps frames.
    Key3([u8; 8]),
    WsFrame {
        opcode: u8,
        fin: bool,
        payload: WsPayload,
        mask: [u8; 4],
    },
    HixieFrame(WsPayload),
    HixieClose,
    /// Building blocks for odd requests.
    RequestLine {
        method: u8,
        path: Path,
        version: u8,
    },
    Header {
        name: u8,
        value: u8,
    },
    ContentLength(u16),
    EndHead,
    FormBody(Vec<SioItem>),
    Policy,
    PolicyPrefix(u8),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum WsPayload {
    Sio(Vec<SioItem>),
    Text(String),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum SioItem {
    Text(String),
    /// `~h~<n>`, the echo of the n-th heartbeat.
    Heartbeat(u8),
    Json(u8),
    /// Text that is not a well-formed frame.
    Garbage(String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    config: Config,
    ops: Vec<Op>,
}

// ---- dictionaries -----------------------------------------------------------------------

const ORIGINS: &[Option<&str>] = &[
    None,
    Some("http://good.example"),
    Some("http://good.example:8080"),
    Some("https://evil.example"),
    Some("null"),
    Some(""),
];

const JSON: &[&str] = &[
    "{\"a\":1}",
    "[1,2,\"x\"]",
    "\"~m~1~m~\"",
    "null",
    "{oops",
    "1e400",
    "{\"z\":{\"y\":[true,false,null]}}",
];

const METHODS: &[&str] = &["GET", "POST", "OPTIONS", "HEAD", "PUT", "get", "G\0T"];

const HEADER_NAMES: &[&str] = &[
    "Host",
    "Connection",
    "Upgrade",
    "Origin",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Key1",
    "Sec-WebSocket-Key2",
    "Sec-WebSocket-Protocol",
    "Content-Length",
    "Transfer-Encoding",
    "Expect",
    "Cookie",
    "If-None-Match",
    "Content-Type",
];

const HEADER_VALUES: &[&str] = &[
    "x",
    "Upgrade",
    "keep-alive, Upgrade",
    "close",
    "keep-alive",
    "WebSocket",
    "websocket",
    "13",
    "8",
    "dGhlIHNhbXBsZSBub25jZQ==",
    "4 @1  46546xW%0l 1 5",
    "12998 5 Y3 1  .P00",
    "1 2",
    "0",
    "5",
    "100",
    "99999999999999999999",
    "chunked",
    "gzip, chunked",
    "100-continue",
    "http://good.example",
    "application/x-www-form-urlencoded",
    "",
];

// ---- rendering --------------------------------------------------------------------------

struct Render<'a> {
    sessions: &'a [SessionId],
}

impl Render<'_> {
    fn session(&self, pick: SessionPick) -> String {
        match pick {
            SessionPick::None => String::new(),
            SessionPick::Known(k) if !self.sessions.is_empty() => {
                self.sessions[usize::from(k) % self.sessions.len()].to_string()
            }
            SessionPick::Known(k) => (u64::from(k) + 1).to_string(),
            SessionPick::Bogus(k) => [
                "0",
                "01",
                "abc",
                "99999999999999999999999999999999999999999",
                "-1",
                "1 2",
            ][usize::from(k) % 6]
                .to_owned(),
        }
    }

    fn path(&self, p: Path, post: bool) -> String {
        let sid = self.session(p.session);
        match p.kind % 12 {
            k @ 0..=5 => {
                let kind = TransportKind::ALL[usize::from(k)];
                let name = kind.name();
                match kind {
                    TransportKind::JsonpPolling => {
                        format!("/socket.io/{name}/{sid}/1300000000000/{}", p.index % 8)
                    }
                    _ if post => format!("/socket.io/{name}/{sid}/send"),
                    _ => format!("/socket.io/{name}/{sid}/1300000000000"),
                }
            }
            6 => "/socket.io/socket.io.js".into(),
            7 => "/socket.io/WebSocketMain.swf".into(),
            8 => "/".into(),
            9 => format!("/chat?x={sid}"),
            10 => "/socket.io/nope".into(),
            _ => format!("/socket.io/jsonp-polling/{sid}/1300000000000/x"),
        }
    }

    fn origin_header(out: &mut String, origin: u8) {
        if let Some(o) = ORIGINS[usize::from(origin) % ORIGINS.len()] {
            out.push_str(&format!("Origin: {o}\r\n"));
        }
    }

    fn sio(items: &[SioItem]) -> String {
        let mut out = Vec::new();
        for item in items {
            match item {
                SioItem::Text(t) => codec::write_frame(&mut out, t),
                SioItem::Heartbeat(n) => codec::write_frame(&mut out, &format!("~h~{n}")),
                SioItem::Json(j) => codec::write_frame(
                    &mut out,
                    &format!("~j~{}", JSON[usize::from(*j) % JSON.len()]),
                ),
                SioItem::Garbage(g) => out.extend_from_slice(g.as_bytes()),
            }
        }
        String::from_utf8(out).expect("frames of strings are UTF-8")
    }

    fn ws_payload(p: &WsPayload) -> Vec<u8> {
        match p {
            WsPayload::Sio(items) => Self::sio(items).into_bytes(),
            WsPayload::Text(t) => t.as_bytes().to_vec(),
            WsPayload::Raw(r) => r.clone(),
        }
    }

    fn form(payload: &str, variant: u8) -> Vec<u8> {
        let mut encoded = String::new();
        for b in payload.bytes() {
            if b.is_ascii_alphanumeric() {
                encoded.push(char::from(b));
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        match variant % 6 {
            0 | 1 => format!("data={encoded}"),
            2 => format!("x=1&data={encoded}&y"),
            3 => format!("data={encoded}&data=2"),
            4 => format!("data={encoded}%"),
            _ => "nothing=here".into(),
        }
        .into_bytes()
    }

    fn frag(&self, f: &Frag, out: &mut Vec<u8>) {
        match f {
            Frag::Get {
                path,
                version,
                connection,
                origin,
            } => {
                let mut s = format!(
                    "GET {} HTTP/1.{}\r\nHost: localhost\r\n",
                    self.path(*path, false),
                    version % 2
                );
                match connection % 3 {
                    0 => {}
                    1 => s.push_str("Connection: close\r\n"),
                    _ => s.push_str("Connection: keep-alive\r\n"),
                }
                Self::origin_header(&mut s, *origin);
                s.push_str("\r\n");
                out.extend_from_slice(s.as_bytes());
            }
            Frag::Post {
                path,
                payload,
                chunked,
                expect,
                origin,
                form,
            } => {
                let body = Self::form(&Self::sio(payload), *form);
                let mut s = format!(
                    "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n",
                    self.path(*path, true)
                );
                Self::origin_header(&mut s, *origin);
                if *expect {
                    s.push_str("Expect: 100-continue\r\n");
                }
                if *chunked {
                    s.push_str("Transfer-Encoding: chunked\r\n\r\n");
                    out.extend_from_slice(s.as_bytes());
                    for part in body.chunks(7) {
                        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                        out.extend_from_slice(part);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"0\r\n\r\n");
                } else {
                    s.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                    out.extend_from_slice(s.as_bytes());
                    out.extend_from_slice(&body);
                }
            }
            Frag::Preflight {
                path,
                origin,
                headers,
            } => {
                let mut s = format!(
                    "OPTIONS {} HTTP/1.1\r\nHost: localhost\r\n",
                    self.path(*path, true)
                );
                Self::origin_header(&mut s, *origin);
                let headers: String = headers.chars().filter(|c| !c.is_control()).collect();
                s.push_str(&format!(
                    "Access-Control-Request-Headers: {headers}\r\n\r\n"
                ));
                out.extend_from_slice(s.as_bytes());
            }
            Frag::Upgrade {
                flash,
                session,
                flavour,
                origin,
                version,
                host,
            } => {
                let name = if *flash { "flashsocket" } else { "websocket" };
                let mut s = format!(
                    "GET /socket.io/{name}/{} HTTP/1.1\r\n",
                    self.session(*session)
                );
                if *host {
                    s.push_str("Host: localhost\r\n");
                }
                Self::origin_header(&mut s, *origin);
                match flavour % 4 {
                    0 => {
                        s.push_str("Upgrade: WebSocket\r\nConnection: Upgrade\r\n");
                    }
                    1 => s.push_str(
                        "Upgrade: WebSocket\r\nConnection: Upgrade\r\n\
                         Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n\
                         Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n",
                    ),
                    2 => {
                        let v = ["13", "8", "7", "12"][usize::from(version % 4)];
                        s.push_str(&format!(
                            "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
                             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {v}\r\n"
                        ));
                    }
                    _ => s.push_str(
                        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\n\
                         Sec-WebSocket-Version: 13\r\n",
                    ),
                }
                s.push_str("\r\n");
                out.extend_from_slice(s.as_bytes());
            }
            Frag::Script { etag, head, method } => {
                let method = if *head {
                    "HEAD"
                } else {
                    METHODS[usize::from(*method) % METHODS.len()]
                };
                let mut s = format!("{method} /socket.io/socket.io.js HTTP/1.1\r\nHost: x\r\n");
                if *etag {
                    s.push_str("If-None-Match: *\r\n");
                }
                s.push_str("\r\n");
                out.extend_from_slice(s.as_bytes());
            }
            Frag::Key3(k) => out.extend_from_slice(k),
            Frag::WsFrame {
                opcode,
                fin,
                payload,
                mask,
            } => {
                // Mostly text, close, ping and pong; sometimes anything.
                let op = match opcode % 8 {
                    0..=3 => rfc6455::OP_TEXT,
                    4 => rfc6455::OP_PING,
                    5 => rfc6455::OP_CLOSE,
                    6 => rfc6455::OP_CONT,
                    _ => opcode >> 4,
                };
                out.extend(rfc6455::client_frame(
                    op,
                    *fin,
                    &Self::ws_payload(payload),
                    *mask,
                ));
            }
            Frag::HixieFrame(p) => {
                out.push(0x00);
                out.extend(Self::ws_payload(p).into_iter().filter(|&b| b != 0xFF));
                out.push(0xFF);
            }
            Frag::HixieClose => out.extend_from_slice(&[0xFF, 0x00]),
            Frag::RequestLine {
                method,
                path,
                version,
            } => {
                let method = METHODS[usize::from(*method) % METHODS.len()];
                let version =
                    ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 x"][usize::from(version % 4)];
                out.extend_from_slice(
                    format!("{method} {} {version}\r\n", self.path(*path, false)).as_bytes(),
                );
            }
            Frag::Header { name, value } => {
                let name = HEADER_NAMES[usize::from(*name) % HEADER_NAMES.len()];
                let value = HEADER_VALUES[usize::from(*value) % HEADER_VALUES.len()];
                out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
            Frag::ContentLength(n) => {
                out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes())
            }
            Frag::EndHead => out.extend_from_slice(b"\r\n"),
            Frag::FormBody(items) => out.extend(Self::form(&Self::sio(items), 0)),
            Frag::Policy => out.extend_from_slice(io_core::policy::PROBE),
            Frag::PolicyPrefix(n) => {
                let probe = io_core::policy::PROBE;
                out.extend_from_slice(&probe[..usize::from(*n) % probe.len()]);
            }
            Frag::Raw(r) => out.extend_from_slice(r),
        }
    }
}

// ---- the model the outputs are checked against -------------------------------------------

struct Harness {
    server: Server,
    base: Instant,
    clock: u64,
    max_sessions: usize,
    /// Every connection opened, in order.
    opened: Vec<ConnId>,
    /// Connections neither side has closed.
    live_conns: HashSet<ConnId>,
    /// Every session that ever connected, in order.
    sessions: Vec<SessionId>,
    live_sessions: BTreeSet<SessionId>,
    ended: HashSet<SessionId>,
    /// Connections whose request was handed to the application and not yet answered.
    pending: Vec<ConnId>,
    /// Connections whose peer does not read, with the bytes it has not read.
    stalled: HashMap<ConnId, usize>,
    /// Publications owed to the bus since the last drain.
    owed_publications: usize,
    drained: bool,
    authorize: bool,
    /// Connections whose handshake waits for a verdict.
    authorizing: Vec<ConnId>,
}

impl Harness {
    fn now(&self) -> Instant {
        self.base + Duration::from_millis(self.clock)
    }

    fn pick_conn(&self, k: u8) -> Option<ConnId> {
        (!self.opened.is_empty()).then(|| self.opened[usize::from(k) % self.opened.len()])
    }

    fn pick_session(&self, k: u8) -> Option<SessionId> {
        (!self.sessions.is_empty()).then(|| self.sessions[usize::from(k) % self.sessions.len()])
    }

    fn forget_conn(&mut self, conn: ConnId) {
        self.live_conns.remove(&conn);
        self.pending.retain(|&c| c != conn);
        self.authorizing.retain(|&c| c != conn);
    }

    /// Drains every output and checks it; returns the events seen.
    fn drain(&mut self) -> Vec<Event> {
        let mut seen = Vec::new();
        loop {
            let mut progressed = false;
            while let Some(t) = self.server.poll_transmit() {
                progressed = true;
                assert!(
                    self.live_conns.contains(&t.conn),
                    "transmit to connection {:?}, which is closed or unknown: {t:?}",
                    t.conn
                );
                let len = t.len();
                assert_eq!(
                    len,
                    t.clone()
                        .into_bytes()
                        .iter()
                        .map(|b| b.len())
                        .sum::<usize>()
                );
                match self.stalled.get_mut(&t.conn) {
                    Some(unread) => *unread += len,
                    None => self.server.handle_written(t.conn, len),
                }
                if t.close.is_some() {
                    self.forget_conn(t.conn);
                }
            }
            while let Some(ev) = self.server.poll_event() {
                progressed = true;
                match &ev {
                    Event::Connect(s) => {
                        assert!(
                            !self.live_sessions.contains(s) && !self.ended.contains(s),
                            "second Connect for {s}"
                        );
                        assert!(!self.drained, "{s} connected to a draining node");
                        self.live_sessions.insert(*s);
                        self.sessions.push(*s);
                    }
                    Event::Message(s, m) => {
                        assert!(
                            self.live_sessions.contains(s),
                            "message from {s}, not connected"
                        );
                        if let Message::Text(t) = m {
                            assert!(!t.starts_with("~h~"), "a heartbeat came out as a message");
                        }
                    }
                    Event::Disconnect(s, reason) => {
                        assert!(
                            self.live_sessions.remove(s),
                            "Disconnect for {s}, which {} ({reason:?})",
                            if self.ended.contains(s) {
                                "had already disconnected"
                            } else {
                                "never connected"
                            }
                        );
                        self.ended.insert(*s);
                    }
                    Event::Request(c, _) => {
                        assert!(
                            self.live_conns.contains(c),
                            "request on closed connection {c:?}"
                        );
                        assert!(
                            !self.pending.contains(c),
                            "second request on {c:?} before the answer"
                        );
                        self.pending.push(*c);
                    }
                    Event::Authorize(c, h) => {
                        assert!(self.authorize, "Authorize without Options::authorize");
                        assert!(self.live_conns.contains(c), "Authorize on closed {c:?}");
                        assert!(h.request.body.is_empty(), "a handshake has no body");
                        self.authorizing.push(*c);
                    }
                    other => panic!("an event the server never makes: {other:?}"),
                }
                seen.push(ev);
            }
            if !progressed {
                break;
            }
        }
        let published = std::iter::from_fn(|| self.server.poll_publication()).count();
        assert_eq!(published, self.owed_publications, "publications");
        self.owed_publications = 0;
        self.check_counts();
        seen
    }

    fn check_counts(&mut self) {
        let now = self.now();
        assert_eq!(
            self.server.connection_count(),
            self.live_conns.len(),
            "connection count"
        );
        assert!(self.server.connection_count() <= self.opened.len());
        assert_eq!(
            self.server.session_count(),
            self.live_sessions.len(),
            "session count"
        );
        assert!(self.server.session_count() <= self.max_sessions);
        let clients: BTreeSet<SessionId> = self.server.clients().collect();
        assert_eq!(clients, self.live_sessions, "clients()");
        for s in &self.live_sessions {
            assert!(self.server.session(*s).is_some());
        }
        for s in &self.ended {
            assert!(self.server.session(*s).is_none());
        }
        if let Some(at) = self.server.poll_timeout() {
            assert!(at > now, "poll_timeout is {:?} in the past", now - at);
        }
    }

    fn message(&self, msg: &Msg) -> Message {
        match msg {
            Msg::Text(t) => Message::text(t.clone()),
            Msg::Json(j) => match codec::interpret(&format!("~j~{j}")) {
                Ok(Incoming::Message(m)) => m,
                _ => Message::text(j.clone()),
            },
            Msg::Known(k) => {
                match codec::interpret(&format!("~j~{}", JSON[usize::from(*k) % JSON.len()])) {
                    Ok(Incoming::Message(m)) => m,
                    _ => Message::text("~m~3~m~abc"),
                }
            }
        }
    }

    fn render(&self, frags: &[Frag]) -> Vec<u8> {
        let r = Render {
            sessions: &self.sessions,
        };
        let mut out = Vec::new();
        for f in frags {
            r.frag(f, &mut out);
        }
        out
    }

    fn step(&mut self, op: &Op) {
        let now = self.now();
        match op {
            Op::Open => {
                let info = ConnectionInfo::new(
                    ([127, 0, 0, 1], 40000).into(),
                    ([127, 0, 0, 1], 8080).into(),
                );
                let id = self.server.handle_connection(info, now);
                assert!(!self.opened.contains(&id), "connection id {id:?} reused");
                self.opened.push(id);
                self.live_conns.insert(id);
            }
            Op::Bytes { conn, data } => {
                if let Some(c) = self.pick_conn(*conn) {
                    let bytes = self.render(data);
                    self.server.handle_bytes(c, &bytes, now);
                }
            }
            Op::BytesSplit { conn, data, cut } => {
                if let Some(c) = self.pick_conn(*conn) {
                    let bytes = self.render(data);
                    let (a, b) = bytes.split_at(usize::from(*cut) % (bytes.len() + 1));
                    self.server.handle_bytes(c, a, now);
                    self.drain();
                    self.server.handle_bytes(c, b, now);
                }
            }
            Op::Close { conn } => {
                if let Some(c) = self.pick_conn(*conn) {
                    self.forget_conn(c);
                    self.server.handle_closed(c, now);
                }
            }
            Op::ReadClosed { conn } => {
                if let Some(c) = self.pick_conn(*conn) {
                    self.server.handle_read_closed(c, now);
                }
            }
            Op::Stall { conn } => {
                if let Some(c) = self.pick_conn(*conn) {
                    match self.stalled.remove(&c) {
                        Some(unread) => self.server.handle_written(c, unread),
                        None => {
                            self.stalled.insert(c, 0);
                        }
                    }
                }
            }
            Op::Advance { ms } => {
                self.clock += u64::from(*ms);
                self.server.handle_timeout(self.now());
            }
            Op::Send { session, msg } => {
                if let Some(s) = self.pick_session(*session) {
                    let msg = self.message(msg);
                    let r = self.server.send(s, &msg, now);
                    if self.live_sessions.contains(&s) {
                        assert_eq!(r, Ok(()));
                    } else {
                        assert_eq!(r, Err(Error::UnknownSession(s)));
                    }
                }
            }
            Op::Broadcast { msg, except } => {
                let msg = self.message(msg);
                let except: Vec<SessionId> = self.pick_session(*except).into_iter().collect();
                self.server.broadcast(&msg, &except, now);
                self.owed_publications += usize::from(self.server.options().cluster);
            }
            Op::Publication { from, except, msg } => {
                let from = u16::from(*from % 3);
                let msg = self.message(msg);
                let frame = codec::encode(&msg);
                let header = match self.pick_session(*except) {
                    Some(s) => format!("IO1 {from:04x} B 1 {s}\n"),
                    None => format!("IO1 {from:04x} B 0\n"),
                };
                let bytes = Bytes::from([header.as_bytes(), &frame[..]].concat());
                assert_eq!(self.server.handle_publication(&bytes, now), Ok(()));
            }
            Op::RawPublication { bytes } => {
                let bytes = Bytes::copy_from_slice(bytes);
                if self.server.handle_publication(&bytes, now).is_err() {
                    assert!(
                        self.server.poll_transmit().is_none(),
                        "a refused publication wrote"
                    );
                    assert!(
                        self.server.poll_event().is_none(),
                        "a refused publication told"
                    );
                }
            }
            Op::Join { session, room } | Op::Leave { session, room } => {
                let room = ROOMS[usize::from(*room) % ROOMS.len()];
                if let Some(s) = self.pick_session(*session) {
                    let live = self.live_sessions.contains(&s);
                    let r = if matches!(op, Op::Join { .. }) {
                        self.server.join(s, room)
                    } else {
                        self.server.leave(s, room)
                    };
                    assert_eq!(r.is_ok(), live, "join/leave {s}: {r:?}");
                    let member = self.server.rooms(s).any(|r| r == room);
                    assert_eq!(member, live && matches!(op, Op::Join { .. }));
                }
            }
            Op::BroadcastTo { room, msg, except } => {
                let room = ROOMS[usize::from(*room) % ROOMS.len()];
                let msg = self.message(msg);
                let except: Vec<SessionId> = self.pick_session(*except).into_iter().collect();
                assert_eq!(self.server.broadcast_to(room, &msg, &except, now), Ok(()));
                self.owed_publications += usize::from(self.server.options().cluster);
                for m in self.server.room_members(room) {
                    assert!(
                        self.live_sessions.contains(&m),
                        "{m} in {room} after it ended"
                    );
                }
            }
            Op::Verdict { pick, accept, any } => {
                let conn = if *any || self.authorizing.is_empty() {
                    self.pick_conn(*pick)
                } else {
                    Some(self.authorizing[usize::from(*pick) % self.authorizing.len()])
                };
                if let Some(c) = conn {
                    let waiting = self.authorizing.contains(&c) && self.live_conns.contains(&c);
                    let verdict = if *accept {
                        Ok(())
                    } else {
                        Err("no".to_owned())
                    };
                    let r = self.server.authorize(c, verdict, now);
                    assert_eq!(r.is_ok(), waiting, "authorize({c:?}): {r:?}");
                    self.authorizing.retain(|&a| a != c);
                }
            }
            Op::Drain => {
                self.server.drain(now);
                self.drained = true;
                self.drain();
                assert_eq!(self.server.session_count(), 0, "sessions left after drain");
            }
            Op::Disconnect { session } => {
                if let Some(s) = self.pick_session(*session) {
                    let live = self.live_sessions.contains(&s);
                    let r = self.server.disconnect(s, now);
                    if live {
                        assert_eq!(r, Ok(()));
                        let events = self.drain();
                        assert!(
                            events.contains(&Event::Disconnect(s, DisconnectReason::Server)),
                            "disconnect({s}) gave no Disconnect event: {events:?}"
                        );
                    } else {
                        assert_eq!(r, Err(Error::UnknownSession(s)));
                    }
                }
            }
            Op::Respond {
                pending,
                status,
                body,
                close,
            } => {
                if self.pending.is_empty() {
                    return;
                }
                let c = self.pending[usize::from(*pending) % self.pending.len()];
                let mut resp = Response::with_body(100 + status % 500, "text/plain", body.clone());
                if *close {
                    resp = resp.header("X-Close", "1");
                }
                assert_eq!(self.server.respond(c, resp, now), Ok(()));
                self.pending.retain(|&p| p != c);
            }
            Op::RespondAny { conn } => {
                if let Some(c) = self.pick_conn(*conn) {
                    let r = self.server.respond(c, Response::new(204), now);
                    if self.pending.contains(&c) {
                        assert_eq!(r, Ok(()));
                        self.pending.retain(|&p| p != c);
                    } else {
                        assert!(r.is_err(), "respond on {c:?}, which awaits no answer");
                    }
                }
            }
            Op::HandleRequest {
                conn,
                path,
                upgrade,
            } => {
                if let Some(c) = self.pick_conn(*conn) {
                    let r = Render {
                        sessions: &self.sessions,
                    };
                    let mut req =
                        Request::get(r.path(*path, false)).with_header("Host", "localhost");
                    if *upgrade {
                        req = req
                            .with_header("Upgrade", "websocket")
                            .with_header("Connection", "Upgrade")
                            .with_header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
                            .with_header("Sec-WebSocket-Version", "13");
                    }
                    self.server.handle_request(c, req, now);
                }
            }
        }
        self.drain();
    }
}

fn options(config: &Config) -> Options {
    let mut opts = Options::default();
    opts.inline_flash_policy = config.inline_flash_policy;
    opts.secure = config.secure;
    opts.cluster = config.cluster;
    opts.authorize = config.authorize;
    opts.keep_handshakes = config.authorize;
    opts.node_id = 1;
    if config.restricted_origins {
        opts.origins = Origins::parse(["good.example:*"]).expect("a valid origin pattern");
    }
    let enabled: Vec<TransportKind> = TransportKind::ALL
        .into_iter()
        .filter(|k| config.disabled >> (*k as u8) & 1 == 0)
        .collect();
    if !enabled.is_empty() {
        opts.transports = enabled;
    }
    opts.limits.max_head = 512;
    opts.limits.max_body = 256;
    opts.limits.max_frame = 128;
    opts.limits.max_queue = 256;
    opts.limits.max_sessions = 1 + usize::from(config.max_sessions % 4);
    opts.limits.request_timeout = Duration::from_millis(5000);
    let heartbeats = config.heartbeats;
    let zero = config.close_timeout_zero;
    opts.for_each_transport(|kind, t| {
        t.timeout = heartbeats.then(|| Duration::from_millis(700));
        t.heartbeat_interval = Duration::from_millis(1000);
        t.duration = Duration::from_millis(3000);
        t.close_timeout = if zero && !kind.is_polling() {
            Duration::ZERO
        } else {
            Duration::from_millis(2000)
        };
    });
    opts
}

fuzz_target!(|input: Input| {
    let opts = options(&input.config);
    let max_sessions = opts.limits.max_sessions;
    // Session ids 1, 2, 3… so the inputs can name them.
    let mut counter: u64 = 0;
    let random = Box::new(move |buf: &mut [u8]| {
        counter += 1;
        buf.fill(0);
        let n = buf.len().min(8);
        buf[..n].copy_from_slice(&counter.to_le_bytes()[..n]);
    });
    let server = Server::with_random(opts, random).expect("valid options");
    let mut h = Harness {
        server,
        base: Instant::now(),
        clock: 0,
        max_sessions,
        opened: Vec::new(),
        live_conns: HashSet::new(),
        sessions: Vec::new(),
        live_sessions: BTreeSet::new(),
        ended: HashSet::new(),
        pending: Vec::new(),
        owed_publications: 0,
        drained: false,
        authorize: input.config.authorize,
        authorizing: Vec::new(),
        stalled: HashMap::new(),
    };
    for op in input.ops.iter().take(64) {
        h.step(op);
    }

    // Shutting down ends every session once and closes every connection.
    let now = h.now();
    h.server.shutdown(now);
    h.drain();
    assert!(
        h.live_sessions.is_empty(),
        "sessions left after shutdown: {:?}",
        h.live_sessions
    );
    assert_eq!(h.server.connection_count(), 0);
    assert!(
        h.live_conns.is_empty(),
        "connections not closed by shutdown: {:?}",
        h.live_conns
    );
    assert_eq!(h.server.poll_timeout(), None);
});

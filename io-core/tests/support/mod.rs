//! A test bench for the server: a seeded id source, a virtual clock, and raw peers that
//! collect what the server writes to them.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use io_core::options::RandomFn;
use io_core::{
    Close, ConnId, ConnectionInfo, DisconnectReason, Error, Event, Message, Options, Response,
    Server, SessionId, Transmit,
};

/// The addresses every test connection claims.
pub fn info() -> ConnectionInfo {
    ConnectionInfo::new(
        "127.0.0.1:40000".parse().unwrap(),
        "127.0.0.1:8080".parse().unwrap(),
    )
}

/// A deterministic id source (splitmix64), so that runs are repeatable.
pub fn seeded_random(seed: u64) -> RandomFn {
    let mut state = seed;
    Box::new(move |buf: &mut [u8]| {
        for chunk in buf.chunks_mut(8) {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let bytes = z.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    })
}

/// What one raw connection has seen.
#[derive(Debug, Default)]
pub struct Peer {
    /// Everything written to it, concatenated; `take` empties it.
    pub received: Vec<u8>,
    /// Every segment written to it, in order (to check that payloads are shared).
    pub segments: Vec<Bytes>,
    pub closed: bool,
    /// Closed at once, with unwritten bytes dropped.
    pub aborted: bool,
    /// The peer stopped reading: what is transmitted to it is kept, and never reported
    /// written.
    pub stalled: bool,
    /// Bytes transmitted while stalled.
    pub unread: usize,
}

/// The server, a virtual clock and the peers.
pub struct Bench {
    pub server: Server,
    base: Instant,
    offset: Duration,
    peers: BTreeMap<ConnId, Peer>,
    events: Vec<Event>,
    connected: HashSet<SessionId>,
    disconnected: HashSet<SessionId>,
}

impl Bench {
    pub fn new(opts: Options) -> Self {
        let server = Server::with_random(opts, seeded_random(7)).expect("valid options");
        Bench {
            server,
            base: Instant::now(),
            offset: Duration::ZERO,
            peers: BTreeMap::new(),
            events: Vec::new(),
            connected: HashSet::new(),
            disconnected: HashSet::new(),
        }
    }

    pub fn with_defaults() -> Self {
        Self::new(Options::default())
    }

    pub fn now(&self) -> Instant {
        self.base + self.offset
    }

    /// Time since the bench started.
    pub fn elapsed(&self) -> Duration {
        self.offset
    }

    /// Moves the clock forward by `d`, firing every deadline on the way, in order, each at
    /// its own instant.
    pub fn advance(&mut self, d: Duration) {
        let target = self.offset + d;
        while let Some(at) = self.server.poll_timeout() {
            let due = at.saturating_duration_since(self.base);
            if due > target {
                break;
            }
            self.offset = self.offset.max(due);
            let now = self.now();
            self.server.handle_timeout(now);
            self.drain();
        }
        self.offset = target;
    }

    /// Drains transmits and events, as an adapter must after every input.
    pub fn drain(&mut self) {
        loop {
            let mut progress = false;
            while let Some(t) = self.server.poll_transmit() {
                progress = true;
                self.deliver(t);
            }
            while let Some(e) = self.server.poll_event() {
                progress = true;
                self.record(e);
            }
            if !progress {
                break;
            }
        }
    }

    fn deliver(&mut self, t: Transmit) {
        let peer = self.peers.get_mut(&t.conn).unwrap_or_else(|| {
            panic!(
                "transmit to connection {:?}, which was never opened",
                t.conn
            )
        });
        let (conn, close, len) = (t.conn, t.close, t.len());
        let data = t.into_bytes();
        assert_eq!(len, data.iter().map(Bytes::len).sum::<usize>());
        let has_data = data.iter().any(|b| !b.is_empty());
        assert!(
            !(peer.closed && has_data),
            "bytes written to connection {:?} after it was closed",
            conn
        );
        for b in data {
            peer.received.extend_from_slice(&b);
            peer.segments.push(b);
        }
        if peer.stalled {
            peer.unread += len;
        } else {
            self.server.handle_written(conn, len);
        }
        if let Some(how) = close {
            assert!(!peer.closed, "connection {:?} closed twice", conn);
            peer.closed = true;
            peer.aborted = how == Close::Abort;
        }
    }

    fn record(&mut self, e: Event) {
        match &e {
            Event::Connect(s) => {
                assert!(self.connected.insert(*s), "second Connect for {s}");
            }
            Event::Disconnect(s, _) => {
                assert!(
                    self.connected.contains(s),
                    "Disconnect without Connect for {s}"
                );
                assert!(self.disconnected.insert(*s), "second Disconnect for {s}");
            }
            Event::Message(s, _) => {
                assert!(
                    self.connected.contains(s) && !self.disconnected.contains(s),
                    "Message for {s} outside its lifetime"
                );
            }
            _ => {}
        }
        self.events.push(e);
    }

    // ---- peers -----------------------------------------------------------------------

    pub fn connect(&mut self) -> ConnId {
        self.connect_from(info())
    }

    /// A new connection from a peer of its own.
    pub fn connect_from(&mut self, info: ConnectionInfo) -> ConnId {
        let now = self.now();
        let id = self.server.handle_connection(info, now);
        self.peers.insert(id, Peer::default());
        self.drain();
        id
    }

    /// The peer sends bytes.
    pub fn input(&mut self, conn: ConnId, data: impl AsRef<[u8]>) {
        let now = self.now();
        self.server.handle_bytes(conn, data.as_ref(), now);
        self.drain();
    }

    /// A new connection that sends `data` at once.
    pub fn open(&mut self, data: impl AsRef<[u8]>) -> ConnId {
        let c = self.connect();
        self.input(c, data);
        c
    }

    /// The peer goes away.
    pub fn hang_up(&mut self, conn: ConnId) {
        let now = self.now();
        self.server.handle_closed(conn, now);
        if let Some(p) = self.peers.get_mut(&conn) {
            p.closed = true;
        }
        self.drain();
    }

    /// The peer half-closes: it sends nothing more, but still reads.
    pub fn shut_write(&mut self, conn: ConnId) {
        let now = self.now();
        self.server.handle_read_closed(conn, now);
        self.drain();
    }

    /// The peer stops reading (or starts again, and reads everything it was sent).
    pub fn stall(&mut self, conn: ConnId, stalled: bool) {
        let peer = self.peers.get_mut(&conn).expect("known peer");
        peer.stalled = stalled;
        if !stalled {
            let n = std::mem::take(&mut peer.unread);
            self.server.handle_written(conn, n);
        }
    }

    pub fn peer(&self, conn: ConnId) -> &Peer {
        &self.peers[&conn]
    }

    pub fn received(&self, conn: ConnId) -> &[u8] {
        &self.peers[&conn].received
    }

    pub fn text(&self, conn: ConnId) -> String {
        String::from_utf8_lossy(self.received(conn)).into_owned()
    }

    /// Takes everything received so far.
    pub fn take(&mut self, conn: ConnId) -> Vec<u8> {
        std::mem::take(&mut self.peers.get_mut(&conn).expect("known peer").received)
    }

    pub fn is_closed(&self, conn: ConnId) -> bool {
        self.peers[&conn].closed
    }

    /// Takes one complete HTTP response from the front of what `conn` received.
    pub fn response(&mut self, conn: ConnId) -> HttpResponse {
        let buf = &mut self.peers.get_mut(&conn).expect("known peer").received;
        let (resp, used) = parse_response(buf).unwrap_or_else(|| {
            panic!("no complete response in {:?}", String::from_utf8_lossy(buf))
        });
        buf.drain(..used);
        resp
    }

    // ---- events ----------------------------------------------------------------------

    pub fn events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The Disconnect events so far (taking all events).
    pub fn disconnects(&mut self) -> Vec<(SessionId, DisconnectReason)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Disconnect(s, r) => Some((s, r)),
                _ => None,
            })
            .collect()
    }

    /// Message events so far for any session (taking all events).
    pub fn messages(&mut self) -> Vec<(SessionId, Message)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Message(s, m) => Some((s, m)),
                _ => None,
            })
            .collect()
    }

    // ---- application commands --------------------------------------------------------

    pub fn send(&mut self, sid: SessionId, msg: impl Into<Message>) -> Result<(), Error> {
        let now = self.now();
        let r = self.server.send(sid, &msg.into(), now);
        self.drain();
        r
    }

    pub fn broadcast(&mut self, msg: impl Into<Message>, except: &[SessionId]) {
        let now = self.now();
        self.server.broadcast(&msg.into(), except, now);
        self.drain();
    }

    pub fn disconnect(&mut self, sid: SessionId) -> Result<(), Error> {
        let now = self.now();
        let r = self.server.disconnect(sid, now);
        self.drain();
        r
    }

    pub fn respond(&mut self, conn: ConnId, resp: Response) -> Result<(), Error> {
        let now = self.now();
        let r = self.server.respond(conn, resp, now);
        self.drain();
        r
    }

    pub fn shutdown(&mut self) {
        let now = self.now();
        self.server.shutdown(now);
        self.drain();
    }

    // ---- common openings ---------------------------------------------------------------

    /// An xhr-polling handshake: returns the connection (kept alive) and the session id.
    pub fn xhr_handshake(&mut self) -> (ConnId, SessionId) {
        let c = self.open(get("/socket.io/xhr-polling//1"));
        let r = self.response(c);
        assert_eq!(r.status, 200, "{r:?}");
        let sid = session_id(&r.body_text());
        assert_eq!(self.events(), vec![Event::Connect(sid)]);
        (c, sid)
    }

    /// An RFC 6455 WebSocket session: the connection with the 101 head and the id frame taken.
    pub fn ws_session(&mut self, path: &str) -> (ConnId, SessionId) {
        let c = self.open(ws_request(path, WS_KEY));
        let head = self.response_head(c);
        assert_eq!(head.status, 101, "{head:?}");
        let frames = server_frames(&self.take(c));
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(frames[0].0, 1);
        let sid = session_id(&String::from_utf8(frames[0].1.clone()).unwrap());
        assert_eq!(self.events(), vec![Event::Connect(sid)]);
        (c, sid)
    }

    /// Takes a response head only (for streams and upgrades); the body stays.
    pub fn response_head(&mut self, conn: ConnId) -> HttpResponse {
        let buf = &mut self.peers.get_mut(&conn).expect("known peer").received;
        let end = find(buf, b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(buf)))
            + 4;
        let (resp, _) = parse_head(&buf[..end]).expect("a valid head");
        buf.drain(..end);
        resp
    }
}

// ---- requests ----------------------------------------------------------------------------

pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: example.com\r\n\r\n")
}

pub fn get_with(path: &str, headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: example.com\r\n{headers}\r\n")
}

/// A form POST carrying `payload` in the field `data`.
pub fn post(path: &str, payload: &str, headers: &str) -> String {
    let body = format!("data={}", urlencode(payload));
    format!(
        "POST {path} HTTP/1.1\r\nHost: example.com\r\n\
         Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n\
         Content-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    )
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---- Socket.IO framing --------------------------------------------------------------------

/// `~m~<len>~m~<data>`, the length in UTF-16 code units.
pub fn frame(data: &str) -> String {
    format!("~m~{}~m~{data}", data.encode_utf16().count())
}

/// Decodes a payload strictly; panics on anything malformed.
pub fn frames(payload: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let r = rest
            .strip_prefix("~m~")
            .unwrap_or_else(|| panic!("no frame marker in {rest:?}"));
        let (len, r) = r.split_once("~m~").expect("a length marker");
        let units: usize = len.parse().expect("a decimal length");
        let mut taken = 0;
        let mut end = 0;
        for (i, c) in r.char_indices() {
            if taken == units {
                end = i;
                break;
            }
            taken += c.len_utf16();
            end = i + c.len_utf8();
        }
        assert_eq!(taken, units, "frame length in {payload:?}");
        out.push(r[..end].to_owned());
        rest = &r[end..];
    }
    out
}

/// The id in the first frame of a payload.
pub fn session_id(payload: &str) -> SessionId {
    let f = frames(payload);
    f.first()
        .unwrap_or_else(|| panic!("no frame in {payload:?}"))
        .parse()
        .expect("a session id")
}

// ---- HTTP responses -----------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(buf: &[u8]) -> Option<(HttpResponse, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(used) = resp.parse(buf).ok()? else {
        return None;
    };
    Some((
        HttpResponse {
            status: resp.code?,
            headers: resp
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect(),
            body: Vec::new(),
        },
        used,
    ))
}

/// One complete response with a `Content-Length` body (or a chunked one up to its last
/// chunk) from the front of `buf`, and the bytes it used.
pub fn parse_response(buf: &[u8]) -> Option<(HttpResponse, usize)> {
    let (mut resp, head) = parse_head(buf)?;
    if resp.header("transfer-encoding") == Some("chunked") {
        let (chunks, used, ended) = parse_chunks(&buf[head..]);
        if !ended {
            return None;
        }
        resp.body = chunks.concat();
        return Some((resp, head + used));
    }
    let len: usize = match resp.header("content-length") {
        Some(l) => l.parse().ok()?,
        None if resp.status == 304 || resp.status == 101 => 0,
        None => buf.len() - head,
    };
    let body = buf.get(head..head + len)?;
    resp.body = body.to_vec();
    Some((resp, head + len))
}

/// Complete chunks at the front of `buf`: their data, the bytes used, and whether the last
/// (empty) chunk was among them.
pub fn parse_chunks(buf: &[u8]) -> (Vec<Vec<u8>>, usize, bool) {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let Some(line_end) = find(&buf[pos..], b"\r\n") else {
            return (out, pos, false);
        };
        let size_text = std::str::from_utf8(&buf[pos..pos + line_end]).expect("a size line");
        let size = usize::from_str_radix(size_text, 16).expect("a hex chunk size");
        let data_start = pos + line_end + 2;
        if size == 0 {
            assert_eq!(buf.get(data_start..data_start + 2), Some(&b"\r\n"[..]));
            return (out, data_start + 2, true);
        }
        let Some(data) = buf.get(data_start..data_start + size) else {
            return (out, pos, false);
        };
        assert_eq!(
            buf.get(data_start + size..data_start + size + 2),
            Some(&b"\r\n"[..])
        );
        out.push(data.to_vec());
        pos = data_start + size + 2;
    }
}

// ---- WebSocket ---------------------------------------------------------------------------

/// The sample key from RFC 6455 §1.3, and its accept value.
pub const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

pub fn ws_request(path: &str, key: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
         Origin: http://example.com\r\n\r\n"
    )
}

/// The hixie-76 example from the draft, whose answer is `fQJ,fN/4F4!~K~MH`.
pub fn hixie76_request(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: example.com\r\nUpgrade: WebSocket\r\n\
         Connection: Upgrade\r\nOrigin: http://example.com\r\n\
         Sec-WebSocket-Key1: 18x 6]8vM;54 *(5:  {{   U1]8  z [  8\r\n\
         Sec-WebSocket-Key2: 1_ tx7X d  <  nw  334J702) 7]o}}` 0\r\n\r\n"
    )
}
pub const HIXIE76_KEY3: &[u8; 8] = b"Tm[K T2u";
pub const HIXIE76_ANSWER: &[u8; 16] = b"fQJ,fN/4F4!~K~MH";

pub fn hixie75_request(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: example.com\r\nUpgrade: WebSocket\r\n\
         Connection: Upgrade\r\nOrigin: http://example.com\r\n\r\n"
    )
}

/// A masked client frame with FIN set.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    f
}

/// A client text frame.
pub fn client_text(text: &str) -> Vec<u8> {
    client_frame(1, text.as_bytes())
}

/// Parses unmasked server frames: (opcode, payload). Panics on a masked or cut frame.
pub fn server_frames(mut buf: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        assert!(buf.len() >= 2, "cut frame header");
        assert_eq!(buf[0] & 0x80, 0x80, "FIN not set");
        let opcode = buf[0] & 0x0F;
        assert_eq!(buf[1] & 0x80, 0, "a server frame must not be masked");
        let (len, start) = match buf[1] & 0x7F {
            126 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let payload = buf.get(start..start + len).expect("cut frame payload");
        out.push((opcode, payload.to_vec()));
        buf = &buf[start + len..];
    }
    out
}

/// Text of RFC 6455 text frames.
pub fn server_texts(buf: &[u8]) -> Vec<String> {
    server_frames(buf)
        .into_iter()
        .map(|(op, p)| {
            assert_eq!(op, 1, "expected a text frame");
            String::from_utf8(p).unwrap()
        })
        .collect()
}

/// A close frame's code.
pub fn close_code(frame: &(u8, Vec<u8>)) -> u16 {
    assert_eq!(frame.0, 8, "expected a close frame, got {frame:?}");
    u16::from_be_bytes([frame.1[0], frame.1[1]])
}

/// Hixie `0x00 … 0xFF` frames.
pub fn hixie_frames(mut buf: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        assert_eq!(buf[0], 0x00, "a hixie frame starts with 0x00: {buf:?}");
        let end = buf.iter().position(|&b| b == 0xFF).expect("a frame end");
        out.push(String::from_utf8(buf[1..end].to_vec()).unwrap());
        buf = &buf[end + 1..];
    }
    out
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

//! A raw client over `std::net::TcpStream`: bytes out, HTTP responses, streamed bodies and
//! hixie WebSocket frames in, every read bounded by a deadline. Over TLS when the server at
//! the address speaks it (see [`crate::tls`]).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What a connection reads and writes: TCP, or TLS over it.
enum Wire {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Wire {
    fn tcp(&self) -> &TcpStream {
        match self {
            Wire::Plain(s) => s,
            Wire::Tls(s) => &s.sock,
        }
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Wire::Plain(s) => s.write(buf),
            Wire::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Wire::Plain(s) => s.flush(),
            Wire::Tls(s) => s.flush(),
        }
    }
}

/// How long a single expected reply may take before a read gives up.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The status line and header fields of an HTTP response (or of a WebSocket 101).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// For example `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// The status code.
    pub status: u16,
    /// Header fields in the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// The raw bytes of the head, up to and including the blank line.
    pub raw: Vec<u8>,
}

impl Head {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How the body of this response is delimited.
    pub fn framing(&self) -> Framing {
        let chunked = self
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            Framing::Chunked
        } else if let Some(len) = self.header("content-length") {
            Framing::Length(len.trim().parse().expect("numeric Content-Length"))
        } else if self.status == 101 || self.status == 204 || self.status == 304 {
            Framing::Length(0)
        } else {
            Framing::Close
        }
    }
}

/// Body delimitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Length(usize),
    Chunked,
    Close,
}

/// A complete HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub head: Head,
    pub body: Vec<u8>,
    pub framing: Framing,
}

impl Response {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What a read found when the peer closed or stayed silent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// EOF (or a reset) with no bytes at all.
    ClosedWithoutResponse,
    /// Bytes arrived.
    Data,
    /// Nothing arrived before the deadline; the connection is still open.
    StillOpen,
}

/// One TCP connection with a buffer of received, not yet consumed bytes.
pub struct Conn {
    stream: Wire,
    pending: Vec<u8>,
    eof: bool,
    /// State of the chunked decoder of a streamed body.
    chunk_left: Option<usize>,
}

impl Conn {
    pub fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_write_timeout(Some(TIMEOUT))
            .expect("write timeout");
        let stream = if crate::tls::is_tls(addr) {
            Wire::Tls(Box::new(crate::tls::client(stream)))
        } else {
            Wire::Plain(stream)
        };
        Conn {
            stream,
            pending: Vec::new(),
            eof: false,
            chunk_left: None,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
        self.stream.flush().expect("flush");
    }

    /// Sends bytes, reporting a failure (a reset, or a write that timed out) instead of
    /// panicking: for tests that expect the server to cut the connection off.
    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Half-closes the sending side (the server sees `end`).
    pub fn shutdown_write(&mut self) {
        if let Wire::Tls(s) = &mut self.stream {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        let _ = self.stream.tcp().shutdown(Shutdown::Write);
    }

    /// Bytes received but not consumed yet.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    pub fn is_eof(&self) -> bool {
        self.eof && self.pending.is_empty()
    }

    /// One read into the buffer. Returns false at EOF (or reset) or when the deadline passed.
    fn fill(&mut self, deadline: Instant) -> bool {
        if self.eof {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        let wait = (deadline - now).max(Duration::from_millis(1));
        self.stream
            .tcp()
            .set_read_timeout(Some(wait))
            .expect("timeout");
        let mut buf = [0u8; 16384];
        match self.stream.read(&mut buf) {
            Ok(0) => {
                self.eof = true;
                false
            }
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                true
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => false,
            Err(e) if e.kind() == ErrorKind::Interrupted => true,
            Err(_) => {
                // A reset counts as the end of the stream.
                self.eof = true;
                false
            }
        }
    }

    /// Reads until `pred(pending)` holds, EOF, or the timeout. Returns whether it holds.
    pub fn wait_for(&mut self, timeout: Duration, mut pred: impl FnMut(&[u8]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(&self.pending) {
                return true;
            }
            if !self.fill(deadline) && (self.eof || Instant::now() >= deadline) {
                return pred(&self.pending);
            }
        }
    }

    /// Takes `n` bytes, reading as needed. Panics on EOF or timeout.
    pub fn take(&mut self, n: usize, what: &str) -> Vec<u8> {
        if !self.wait_for(TIMEOUT, |p| p.len() >= n) {
            panic!(
                "{what}: wanted {n} bytes, got {:?} (eof: {})",
                String::from_utf8_lossy(&self.pending),
                self.eof
            );
        }
        self.pending.drain(..n).collect()
    }

    /// Takes everything pending.
    pub fn take_all(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    /// Reads until the peer closes (or the timeout) and returns all bytes left.
    pub fn read_to_close(&mut self, timeout: Duration) -> Vec<u8> {
        let closed = self.wait_for(timeout, |_| false) || self.eof;
        assert!(
            closed,
            "connection not closed within {timeout:?}; got {:?}",
            String::from_utf8_lossy(&self.pending)
        );
        self.take_all()
    }

    /// Waits up to `timeout` and says whether the peer closed with nothing sent, sent
    /// something, or stayed silent and open.
    pub fn ending(&mut self, timeout: Duration) -> Ending {
        self.wait_for(timeout, |p| !p.is_empty());
        if !self.pending.is_empty() {
            Ending::Data
        } else if self.eof {
            Ending::ClosedWithoutResponse
        } else {
            Ending::StillOpen
        }
    }

    /// Asserts that the server closes the connection without sending a single byte.
    pub fn expect_closed_without_response(&mut self) {
        match self.ending(TIMEOUT) {
            Ending::ClosedWithoutResponse => {}
            other => panic!(
                "expected the connection to be closed without a response, got {other:?}: {:?}",
                String::from_utf8_lossy(&self.pending)
            ),
        }
    }

    /// Reads a status line and headers (up to the blank line).
    pub fn read_head(&mut self) -> Head {
        let found = self.wait_for(TIMEOUT, |p| find(p, b"\r\n\r\n").is_some());
        let end = match (found, find(&self.pending, b"\r\n\r\n")) {
            (true, Some(i)) => i + 4,
            _ => panic!(
                "no complete response head (eof: {}): {:?}",
                self.eof,
                String::from_utf8_lossy(&self.pending)
            ),
        };
        let raw: Vec<u8> = self.pending.drain(..end).collect();
        parse_head(&raw)
    }

    /// Reads one complete response: head, then the body by Content-Length, chunked encoding, or
    /// until the connection closes.
    pub fn read_response(&mut self) -> Response {
        let head = self.read_head();
        let framing = head.framing();
        let body = match framing {
            Framing::Length(n) => self.take(n, "response body"),
            Framing::Chunked => {
                let mut body = Vec::new();
                self.chunk_left = None;
                while let Some(chunk) = self.read_chunk(TIMEOUT) {
                    body.extend_from_slice(&chunk);
                }
                assert!(
                    self.chunk_left.is_none(),
                    "chunked body incomplete: {:?}",
                    String::from_utf8_lossy(&body)
                );
                body
            }
            Framing::Close => self.read_to_close(TIMEOUT),
        };
        Response {
            head,
            body,
            framing,
        }
    }

    /// Reads one chunk of a chunked body. `None` at the last (empty) chunk; panics on timeout or
    /// a malformed chunk. The chunk terminator is consumed.
    pub fn read_chunk(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let ok = self.wait_for(timeout, |p| match parse_chunk(p) {
            ChunkParse::Complete(..) | ChunkParse::Last(_) => true,
            ChunkParse::Incomplete => false,
            ChunkParse::Malformed => true,
        });
        match parse_chunk(&self.pending) {
            ChunkParse::Complete(start, len, used) => {
                let data = self.pending[start..start + len].to_vec();
                self.pending.drain(..used);
                Some(data)
            }
            ChunkParse::Last(used) => {
                self.pending.drain(..used);
                self.chunk_left = None;
                None
            }
            ChunkParse::Malformed => panic!(
                "malformed chunk: {:?}",
                String::from_utf8_lossy(&self.pending)
            ),
            ChunkParse::Incomplete => {
                assert!(ok);
                panic!(
                    "no complete chunk within {timeout:?} (eof: {}): {:?}",
                    self.eof,
                    String::from_utf8_lossy(&self.pending)
                )
            }
        }
    }

    /// Reads the body of a streamed response incrementally, appending the decoded bytes to
    /// `body`, until `pred(body)` holds. Returns false on timeout or when the stream ended first.
    pub fn read_stream_until(
        &mut self,
        framing: Framing,
        body: &mut Vec<u8>,
        timeout: Duration,
        mut pred: impl FnMut(&[u8]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            // Move whatever complete body bytes are pending into `body`.
            match framing {
                Framing::Chunked => loop {
                    match parse_chunk(&self.pending) {
                        ChunkParse::Complete(start, len, used) => {
                            body.extend_from_slice(&self.pending[start..start + len]);
                            self.pending.drain(..used);
                        }
                        ChunkParse::Last(used) => {
                            self.pending.drain(..used);
                            return pred(body);
                        }
                        ChunkParse::Malformed => panic!(
                            "malformed chunk: {:?}",
                            String::from_utf8_lossy(&self.pending)
                        ),
                        ChunkParse::Incomplete => break,
                    }
                },
                Framing::Close | Framing::Length(_) => {
                    body.append(&mut self.pending);
                }
            }
            if pred(body) {
                return true;
            }
            if !self.fill(deadline) && (self.eof || Instant::now() >= deadline) {
                return false;
            }
        }
    }

    /// Reads one hixie WebSocket text frame `0x00 <utf-8> 0xFF` and returns its text.
    pub fn read_ws_frame(&mut self) -> String {
        let ok = self.wait_for(TIMEOUT, |p| p.iter().position(|&b| b == 0xFF).is_some());
        assert!(
            ok,
            "no complete WebSocket frame (eof: {}): {:?}",
            self.eof,
            String::from_utf8_lossy(&self.pending)
        );
        let end = self.pending.iter().position(|&b| b == 0xFF).unwrap();
        let frame: Vec<u8> = self.pending.drain(..=end).collect();
        assert_eq!(
            frame[0],
            0x00,
            "WebSocket frame does not start with 0x00: {:?}",
            String::from_utf8_lossy(&frame)
        );
        String::from_utf8(frame[1..frame.len() - 1].to_vec()).expect("frame is UTF-8")
    }

    /// Sends one hixie WebSocket text frame.
    pub fn send_ws_frame(&mut self, text: &str) {
        let mut bytes = vec![0x00];
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0xFF);
        self.send(&bytes);
    }
}

enum ChunkParse {
    /// (data start, data length, bytes used including CRLFs)
    Complete(usize, usize, usize),
    /// The terminating chunk (and trailers), bytes used.
    Last(usize),
    Incomplete,
    Malformed,
}

fn parse_chunk(p: &[u8]) -> ChunkParse {
    let Some(line_end) = find(p, b"\r\n") else {
        return if p.len() > 64 {
            ChunkParse::Malformed
        } else {
            ChunkParse::Incomplete
        };
    };
    let line = String::from_utf8_lossy(&p[..line_end]);
    let size_text = line.split(';').next().unwrap_or("").trim();
    let Ok(size) = usize::from_str_radix(size_text, 16) else {
        return ChunkParse::Malformed;
    };
    let start = line_end + 2;
    if size == 0 {
        // Trailers end with an empty line; usually there are none.
        return match find(&p[line_end..], b"\r\n\r\n") {
            Some(i) => ChunkParse::Last(line_end + i + 4),
            None => ChunkParse::Incomplete,
        };
    }
    if p.len() < start + size + 2 {
        return ChunkParse::Incomplete;
    }
    if &p[start + size..start + size + 2] != b"\r\n" {
        return ChunkParse::Malformed;
    }
    ChunkParse::Complete(start, size, start + size + 2)
}

/// Parses the bytes of a response head.
pub fn parse_head(raw: &[u8]) -> Head {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("").to_string();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap_or((l, ""));
            (n.to_string(), v.trim().to_string())
        })
        .collect();
    Head {
        status_line,
        status,
        headers,
        raw: raw.to_vec(),
    }
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Builds a request: `<method> <path> HTTP/1.1`, a `Host` header, the given headers, and a
/// `Content-Length` when there is a body (or the method is POST).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// `application/x-www-form-urlencoded` body `data=<payload>`, percent-encoding everything but
/// unreserved characters (as `encodeURIComponent` does, close enough).
pub fn form_data(payload: &str) -> Vec<u8> {
    let mut out = String::from("data=");
    for &b in payload.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.into_bytes()
}

/// Decodes a form body and returns the `data` field (`+` is a space).
pub fn form_field_data(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    text.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "data").then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= b.len() => match std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                None => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

//! HTTP responses: the one place that turns a status and headers into bytes.

use bytes::Bytes;

use crate::codec::{decimal_digits, push_decimal};

/// A complete response, as the application answers a request outside the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code; [`reason`] gives the phrase written after it.
    pub status: u16,
    /// Header fields in order, without `Content-Length` and `Connection`, which the server
    /// adds from the body and the connection.
    pub headers: Vec<(String, String)>,
    /// Sent whole, with a `Content-Length`.
    pub body: Bytes,
}

impl Response {
    /// A response with no headers and an empty body; add them with [`header`](Self::header) and
    /// [`body`](Self::body).
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// A response with a body and its `Content-Type`.
    pub fn with_body(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Response::new(status)
            .header("Content-Type", content_type)
            .body(body)
    }

    /// Adds a header field. CR and LF are dropped when it is written, so a value cannot start a
    /// header of its own.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}

/// The reason phrase for the statuses this server writes.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// How the body after the head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: n`.
    Length(usize),
    /// `Transfer-Encoding: chunked` (a stream that sends chunks as they come).
    Chunked,
    /// No length at all: the body ends when the connection closes.
    UntilClose,
}

/// The head of a response, as data: an embedder with an HTTP stack of its own maps it to
/// that stack's types; everyone else writes [`Head::encode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The status code; [`reason`] gives the phrase written after it.
    pub status: u16,
    /// Header lines in order, without the framing and `Connection` headers, which
    /// [`Head::encode`] adds from `framing` and `keep_alive`.
    pub headers: Vec<(String, String)>,
    /// How the body is delimited; [`Head::encode`] writes the matching `Content-Length` or
    /// `Transfer-Encoding`.
    pub framing: Framing,
    /// Whether the connection stays open after the body (`Connection: keep-alive`, else
    /// `close`). Ignored with [`Framing::UntilClose`], whose body ends with the connection.
    pub keep_alive: bool,
}

impl Head {
    /// The length of [`encode`](Self::encode)'s result.
    pub fn encoded_len(&self) -> usize {
        let status_line =
            9 + decimal_digits(usize::from(self.status)) + 1 + reason(self.status).len() + 2;
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| clean_len(n) + 2 + clean_len(v) + 2)
            .sum();
        let framing = match self.framing {
            Framing::Length(n) => 16 + decimal_digits(n) + 2,
            Framing::Chunked => 28,
            Framing::UntilClose => 0,
        };
        let connection = if self.keep_alive && self.framing != Framing::UntilClose {
            26
        } else {
            21
        };
        status_line + headers + framing + connection
    }

    /// The head as bytes. Header names and values are written as given, minus any CR or LF,
    /// so that a value can never start a header of its own.
    pub fn encode(&self) -> Bytes {
        // Exactly the head's size, so that the `Bytes` needs no second allocation.
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(&mut out, usize::from(self.status));
        out.push(b' ');
        out.extend_from_slice(reason(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            put_clean(&mut out, name);
            out.extend_from_slice(b": ");
            put_clean(&mut out, value);
            out.extend_from_slice(b"\r\n");
        }
        match self.framing {
            Framing::Length(n) => {
                out.extend_from_slice(b"Content-Length: ");
                push_decimal(&mut out, n);
                out.extend_from_slice(b"\r\n");
            }
            Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            Framing::UntilClose => {}
        }
        out.extend_from_slice(if self.keep_alive && self.framing != Framing::UntilClose {
            b"Connection: keep-alive\r\n\r\n".as_slice()
        } else {
            b"Connection: close\r\n\r\n".as_slice()
        });
        Bytes::from(out)
    }
}

/// A response head as a [`Segment`].
pub fn head<'a>(
    status: u16,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    framing: Framing,
    keep_alive: bool,
) -> Segment {
    Segment::Head(Head {
        status,
        headers: headers
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect(),
        framing,
        keep_alive,
    })
}

fn clean_len(s: &str) -> usize {
    s.bytes().filter(|&b| b != b'\r' && b != b'\n').count()
}

fn hex_digits(n: usize) -> usize {
    let mut digits = 1;
    let mut n = n >> 4;
    while n > 0 {
        digits += 1;
        n >>= 4;
    }
    digits
}

fn put_clean(out: &mut Vec<u8>, s: &str) {
    if !s.bytes().any(|b| b == b'\r' || b == b'\n') {
        return out.extend_from_slice(s.as_bytes());
    }
    out.extend(s.bytes().filter(|&b| b != b'\r' && b != b'\n'));
}

/// One piece of what a connection is to receive, as data. [`Segment::encode_into`] is the one
/// serializer to bytes; an embedder with its own HTTP stack maps heads and bodies to its own
/// types instead, and writes `Raw` bytes to the upgraded connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// The head of an HTTP response.
    Head(Head),
    /// Bytes of a body delimited by `Content-Length` or by the connection's end.
    Body(Bytes),
    /// One chunk of a chunked body (the chunk framing is added when encoded).
    Chunk(Bytes),
    /// The end of a chunked body.
    LastChunk,
    /// Bytes outside HTTP: WebSocket handshake answers and frames, the Flash policy.
    Raw(Bytes),
}

impl Segment {
    /// Appends this segment's bytes to `out`. Shared payloads stay shared: only heads and
    /// chunk framing are new allocations.
    pub fn encode_into(self, out: &mut impl Extend<Bytes>) {
        match self {
            Segment::Head(h) => out.extend([h.encode()]),
            Segment::Body(b) | Segment::Raw(b) => out.extend([b]),
            Segment::Chunk(b) => out.extend([
                Bytes::from(format!("{:x}\r\n", b.len())),
                b,
                Bytes::from_static(b"\r\n"),
            ]),
            Segment::LastChunk => out.extend([Bytes::from_static(b"0\r\n\r\n")]),
        }
    }

    /// How many bytes [`encode_into`](Self::encode_into) writes for this segment, computed
    /// without encoding it: what flow control counts.
    pub fn wire_len(&self) -> usize {
        match self {
            Segment::Head(h) => h.encoded_len(),
            Segment::Body(b) | Segment::Raw(b) => b.len(),
            Segment::Chunk(b) => hex_digits(b.len()) + 2 + b.len() + 2,
            Segment::LastChunk => 5,
        }
    }

    /// How many bytes this segment carries beyond framing: the body or raw bytes.
    pub fn payload_len(&self) -> usize {
        match self {
            Segment::Body(b) | Segment::Chunk(b) | Segment::Raw(b) => b.len(),
            Segment::Head(_) | Segment::LastChunk => 0,
        }
    }
}

/// Encodes segments to bytes, ready for a vectored write.
pub fn encode(segments: Vec<Segment>) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(segments.len() + 2);
    for s in segments {
        s.encode_into(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(segment: Segment) -> Vec<u8> {
        encode(vec![segment]).concat()
    }

    #[test]
    fn head_with_length() {
        let h = bytes(head(
            200,
            [("Content-Type", "text/plain")],
            Framing::Length(2),
            true,
        ));
        assert_eq!(
            &h[..],
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn header_injection_is_impossible() {
        let h = bytes(head(
            200,
            [("X", "a\r\nSet-Cookie: b")],
            Framing::Length(0),
            false,
        ));
        let text = std::str::from_utf8(&h).unwrap();
        assert!(text.contains("X: aSet-Cookie: b\r\n"));
        assert!(text.ends_with("Connection: close\r\n\r\n"));
    }

    #[test]
    fn wire_len_is_the_encoded_length() {
        let mut segments = vec![
            Segment::Body(Bytes::from_static(b"abc")),
            Segment::Raw(Bytes::new()),
            Segment::LastChunk,
        ];
        for n in [0, 1, 15, 16, 255, 256, 70_000] {
            segments.push(Segment::Chunk(Bytes::from(vec![b'x'; n])));
        }
        for status in [101, 200, 404, 431, 999] {
            for framing in [
                Framing::Length(0),
                Framing::Length(12345),
                Framing::Chunked,
                Framing::UntilClose,
            ] {
                for keep_alive in [true, false] {
                    segments.push(head(
                        status,
                        [("A", "b\r\nc"), ("Content-Type", "text/plain")],
                        framing,
                        keep_alive,
                    ));
                }
            }
        }
        for s in segments {
            assert_eq!(s.wire_len(), bytes(s.clone()).len(), "{s:?}");
        }
    }

    #[test]
    fn chunks() {
        let chunk = Segment::Chunk(Bytes::from_static(b"hello, world!!!!!"));
        assert_eq!(bytes(chunk), b"11\r\nhello, world!!!!!\r\n");
        assert_eq!(bytes(Segment::LastChunk), b"0\r\n\r\n");
    }
}

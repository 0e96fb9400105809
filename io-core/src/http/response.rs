//! HTTP responses: the one place that turns a status and headers into bytes.

use bytes::{BufMut, Bytes, BytesMut};

/// A complete response, as the application answers a request outside the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Response {
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

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

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

/// Writes a response head. Header names and values from the application are written as
/// given, minus any CR or LF, so that a value can never start a header of its own.
pub fn write_head<'a>(
    status: u16,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    framing: Framing,
    keep_alive: bool,
) -> Bytes {
    let mut out = BytesMut::with_capacity(256);
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(status.to_string().as_bytes());
    out.put_u8(b' ');
    out.put_slice(reason(status).as_bytes());
    out.put_slice(b"\r\n");
    for (name, value) in headers {
        put_clean(&mut out, name);
        out.put_slice(b": ");
        put_clean(&mut out, value);
        out.put_slice(b"\r\n");
    }
    match framing {
        Framing::Length(n) => {
            out.put_slice(b"Content-Length: ");
            out.put_slice(n.to_string().as_bytes());
            out.put_slice(b"\r\n");
        }
        Framing::Chunked => out.put_slice(b"Transfer-Encoding: chunked\r\n"),
        Framing::UntilClose => {}
    }
    out.put_slice(if keep_alive && framing != Framing::UntilClose {
        b"Connection: keep-alive\r\n\r\n".as_slice()
    } else {
        b"Connection: close\r\n\r\n".as_slice()
    });
    out.freeze()
}

fn put_clean(out: &mut BytesMut, s: &str) {
    for &b in s.as_bytes() {
        if b != b'\r' && b != b'\n' {
            out.put_u8(b);
        }
    }
}

/// One chunk of a chunked body.
pub fn chunk(data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 12);
    out.put_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.put_slice(data);
    out.put_slice(b"\r\n");
    out.freeze()
}

/// The chunk that ends a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_with_length() {
        let h = write_head(
            200,
            [("Content-Type", "text/plain")],
            Framing::Length(2),
            true,
        );
        assert_eq!(
            &h[..],
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn header_injection_is_impossible() {
        let h = write_head(
            200,
            [("X", "a\r\nSet-Cookie: b")],
            Framing::Length(0),
            false,
        );
        let text = std::str::from_utf8(&h).unwrap();
        assert!(text.contains("X: aSet-Cookie: b\r\n"));
        assert!(text.ends_with("Connection: close\r\n\r\n"));
    }

    #[test]
    fn chunks() {
        assert_eq!(
            &chunk(b"hello, world!!!!!")[..],
            b"11\r\nhello, world!!!!!\r\n"
        );
    }
}

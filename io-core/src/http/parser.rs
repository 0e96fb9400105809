//! An incremental HTTP/1.x request parser.
//!
//! The caller owns the bytes: it feeds what it has read, keeps whatever was not consumed and
//! feeds it again later. The parser never consumes past the end of the current request, because
//! the bytes after it belong to the next pipelined request or, after an upgrade head, to the
//! WebSocket layer. It buffers only bytes it has consumed, and never more than the limits allow,
//! so a peer cannot make it grow.

use std::fmt;

use bytes::Bytes;

use crate::http::request::Request;
use crate::http::syntax::HeadSyntax;

/// More than enough for any browser; a peer sending more is probing or broken.
const MAX_HEADERS: usize = 64;
/// A chunk-size line is a few hex digits; the rest is extensions, which we ignore but must not
/// let run on forever.
const MAX_CHUNK_LINE: usize = 1024;

/// Reads HTTP/1.0 and HTTP/1.1 requests from a stream of bytes, one at a time.
#[derive(Debug)]
pub struct RequestParser {
    max_head: usize,
    max_body: usize,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Collecting a head: the bytes consumed so far, empty lines before it excluded, and
    /// their shape checked as they came.
    Head(Vec<u8>, HeadSyntax),
    /// The head is parsed; collecting the body.
    Body {
        request: Request,
        body: Vec<u8>,
        framing: Framing,
    },
    /// The stream is broken; the connection must be answered with the error and closed.
    Failed(HttpError),
}

#[derive(Debug)]
enum Framing {
    /// Bytes of a `Content-Length` body still to come.
    Length(usize),
    Chunked(Chunk),
}

/// Where the dechunker is; it works byte by byte (except for chunk data) so that it gives the
/// same result however the input is split.
#[derive(Debug)]
enum Chunk {
    SizeLine {
        size: u64,
        digits: usize,
        in_extension: bool,
        line: usize,
    },
    Data {
        remaining: usize,
    },
    DataEnd {
        seen_cr: bool,
    },
    Trailer {
        line: usize,
        total: usize,
    },
}

impl Chunk {
    fn size_line() -> Self {
        Chunk::SizeLine {
            size: 0,
            digits: 0,
            in_extension: false,
            line: 0,
        }
    }
}

/// The outcome of one [`RequestParser::feed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// How many bytes of the input were used; the caller keeps the rest.
    pub consumed: usize,
    /// A complete request, if one ended within the input.
    pub request: Option<Request>,
    /// The peer sent `Expect: 100-continue` and waits for `100 Continue` before its body.
    pub send_continue: bool,
}

impl RequestParser {
    /// A parser that refuses heads over `max_head` bytes and bodies over `max_body` bytes.
    pub fn new(max_head: usize, max_body: usize) -> Self {
        RequestParser {
            max_head,
            max_body,
            state: State::Head(Vec::new(), HeadSyntax::default()),
        }
    }

    /// Feeds bytes read from the socket. Never consumes bytes past the end of the current
    /// request: the caller keeps `input[consumed..]` (pipelined requests, or the bytes after an
    /// upgrade head, which belong to the WebSocket layer) and feeds them again after handling
    /// the request.
    ///
    /// After an error the stream cannot be resynchronised, so every later call returns the same
    /// error.
    pub fn feed(&mut self, input: &[u8]) -> Result<Progress, HttpError> {
        let result = self.advance(input);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result
    }

    /// True when no part of a request is buffered (used for idle keep-alive timeouts).
    pub fn is_idle(&self) -> bool {
        matches!(&self.state, State::Head(buf, _) if buf.is_empty())
    }

    fn advance(&mut self, input: &[u8]) -> Result<Progress, HttpError> {
        let mut progress = Progress {
            consumed: 0,
            request: None,
            send_continue: false,
        };
        match &mut self.state {
            State::Failed(e) => return Err(e.clone()),
            State::Body { .. } => {}
            State::Head(buf, syntax) => {
                let Some(used) = collect_head(buf, syntax, input, self.max_head)? else {
                    progress.consumed = input.len();
                    return Ok(progress);
                };
                progress.consumed = used;
                let head = std::mem::take(buf);
                let request = parse_head(&head)?;
                let Some(framing) = body_framing(&request, self.max_body)? else {
                    progress.request = Some(request);
                    return Ok(progress);
                };
                progress.send_continue =
                    request.version >= 1 && request.header_has_token("expect", "100-continue");
                self.state = State::Body {
                    request,
                    body: Vec::new(),
                    framing,
                };
            }
        }
        let rest = input.get(progress.consumed..).unwrap_or_default();
        let State::Body { body, framing, .. } = &mut self.state else {
            return Ok(progress);
        };
        let (used, done) = read_body(framing, body, rest, self.max_body, self.max_head)?;
        progress.consumed += used;
        if done {
            if let State::Body {
                mut request, body, ..
            } = std::mem::replace(
                &mut self.state,
                State::Head(Vec::new(), HeadSyntax::default()),
            ) {
                request.body = Bytes::from(body);
                progress.request = Some(request);
                // The body is already here: a `100 Continue` now would only be noise.
                progress.send_continue = false;
            }
        }
        Ok(progress)
    }
}

/// Adds head bytes from `input` to `buf`. Returns how many bytes of `input` the head used once
/// it is complete (`buf` then holds exactly the head), or `None` if all of `input` was taken
/// and more is needed.
fn collect_head(
    buf: &mut Vec<u8>,
    syntax: &mut HeadSyntax,
    input: &[u8],
    max_head: usize,
) -> Result<Option<usize>, HttpError> {
    // Empty lines before a request are allowed (RFC 9112 §2.2) and carry nothing.
    let skipped = if buf.is_empty() {
        input
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count()
    } else {
        0
    };
    let input = input.get(skipped..).unwrap_or_default();
    let old = buf.len();
    let take = input.len().min(max_head.saturating_sub(old));
    buf.extend_from_slice(input.get(..take).unwrap_or_default());
    let end = find_head_end(buf, old.saturating_sub(2));
    // Bytes that cannot be a head are refused as they come, before the head is complete
    // or found too large, so the error is the same however the bytes were split.
    syntax.feed(buf.get(old..end.unwrap_or(buf.len())).unwrap_or_default())?;
    match end {
        Some(end) => {
            buf.truncate(end);
            Ok(Some(skipped + end - old))
        }
        None if input.len() > take => Err(HttpError::HeadTooLarge { limit: max_head }),
        None => Ok(None),
    }
}

/// The end of the first empty line at or after `from`, bare LF line endings included.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let tail = buf.get(from..)?;
    tail.iter().enumerate().find_map(|(i, &b)| {
        if b != b'\n' {
            return None;
        }
        match (tail.get(i + 1), tail.get(i + 2)) {
            (Some(b'\n'), _) => Some(from + i + 2),
            (Some(b'\r'), Some(b'\n')) => Some(from + i + 3),
            _ => None,
        }
    })
}

fn parse_head(head: &[u8]) -> Result<Request, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(HttpError::Malformed("incomplete request line"))
        }
        Err(e) => return Err(e.into()),
    }
    let incomplete = HttpError::Malformed("incomplete request line");
    Ok(Request {
        method: parsed.method.ok_or(incomplete.clone())?.to_owned(),
        target: parsed.path.ok_or(incomplete.clone())?.to_owned(),
        version: parsed.version.ok_or(incomplete)?,
        headers: parsed
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), h.value.to_vec()))
            .collect(),
        body: Bytes::new(),
    })
}

/// How the body of `request` is delimited, or `None` when it has no body.
fn body_framing(request: &Request, max_body: usize) -> Result<Option<Framing>, HttpError> {
    // After an upgrade head the bytes belong to the new protocol (hixie-76 sends its key3 there
    // with no Content-Length).
    if request.is_upgrade() {
        return Ok(None);
    }
    let has_te = request.header_bytes("transfer-encoding").is_some();
    let has_cl = request.header_bytes("content-length").is_some();
    if has_te && has_cl {
        // A classic request-smuggling vector: refuse rather than pick one.
        return Err(HttpError::Malformed(
            "both Content-Length and Transfer-Encoding are present",
        ));
    }
    if has_te {
        return chunked_only(request).map(|()| Some(Framing::Chunked(Chunk::size_line())));
    }
    match content_length(request)? {
        None | Some(0) => Ok(None),
        Some(n) => match usize::try_from(n) {
            Ok(n) if n <= max_body => Ok(Some(Framing::Length(n))),
            _ => Err(HttpError::BodyTooLarge { limit: max_body }),
        },
    }
}

/// Checks that the transfer codings are exactly `chunked`; we decode no others.
fn chunked_only(request: &Request) -> Result<(), HttpError> {
    let mut codings = Vec::new();
    for (_, value) in request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
    {
        let value =
            std::str::from_utf8(value).map_err(|_| HttpError::UnsupportedTransferEncoding)?;
        codings.extend(value.split(',').map(str::trim).filter(|c| !c.is_empty()));
    }
    match codings.as_slice() {
        [c] if c.eq_ignore_ascii_case("chunked") => Ok(()),
        [] => Err(HttpError::Malformed("empty Transfer-Encoding")),
        _ => Err(HttpError::UnsupportedTransferEncoding),
    }
}

/// The `Content-Length`, if any. Repeats are allowed only when they agree, since a proxy might
/// have honoured a different one.
fn content_length(request: &Request) -> Result<Option<u64>, HttpError> {
    let mut length = None;
    for (_, value) in request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        for item in value.split(|&b| b == b',') {
            let item = item.trim_ascii();
            if item.is_empty() || !item.iter().all(u8::is_ascii_digit) {
                return Err(HttpError::BadContentLength);
            }
            // Saturating: any value that large is over the body limit anyway.
            let n = item.iter().fold(0u64, |n, &d| {
                n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            });
            if length.is_some_and(|l| l != n) {
                return Err(HttpError::BadContentLength);
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// Adds body bytes from `input`. Returns how many bytes were used and whether the body is
/// complete.
fn read_body(
    framing: &mut Framing,
    body: &mut Vec<u8>,
    input: &[u8],
    max_body: usize,
    max_head: usize,
) -> Result<(usize, bool), HttpError> {
    match framing {
        Framing::Length(remaining) => {
            let take = input.len().min(*remaining);
            body.extend_from_slice(input.get(..take).unwrap_or_default());
            *remaining -= take;
            Ok((take, *remaining == 0))
        }
        Framing::Chunked(chunk) => dechunk(chunk, body, input, max_body, max_head),
    }
}

fn dechunk(
    chunk: &mut Chunk,
    body: &mut Vec<u8>,
    input: &[u8],
    max_body: usize,
    max_head: usize,
) -> Result<(usize, bool), HttpError> {
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if let Chunk::Data { remaining } = chunk {
            let take = (*remaining).min(input.len() - i);
            body.extend_from_slice(input.get(i..i + take).unwrap_or_default());
            i += take;
            *remaining -= take;
            if *remaining == 0 {
                *chunk = Chunk::DataEnd { seen_cr: false };
            }
            continue;
        }
        i += 1;
        match chunk {
            Chunk::SizeLine {
                size,
                digits,
                in_extension,
                line,
            } => {
                *line += 1;
                if *line > MAX_CHUNK_LINE {
                    return Err(HttpError::Malformed("chunk size line is too long"));
                }
                let hex = char::from(b).to_digit(16);
                if b == b'\n' && *digits > 0 {
                    *chunk = match usize::try_from(*size) {
                        Ok(0) => Chunk::Trailer { line: 0, total: 0 },
                        Ok(remaining) => Chunk::Data { remaining },
                        Err(_) => return Err(HttpError::BodyTooLarge { limit: max_body }),
                    };
                } else if let (Some(d), false) = (hex, *in_extension) {
                    *digits += 1;
                    *size = size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(u64::from(d)))
                        .unwrap_or(u64::MAX);
                    let room = max_body.saturating_sub(body.len());
                    if *size > u64::try_from(room).unwrap_or(u64::MAX) {
                        return Err(HttpError::BodyTooLarge { limit: max_body });
                    }
                } else if *digits == 0 {
                    return Err(HttpError::Malformed(
                        "chunk size is not a hexadecimal number",
                    ));
                } else {
                    // Extensions (`;name=value`), whitespace and the CR are ignored.
                    *in_extension = true;
                }
            }
            Chunk::DataEnd { seen_cr } => match b {
                b'\r' if !*seen_cr => *seen_cr = true,
                b'\n' => *chunk = Chunk::size_line(),
                _ => return Err(HttpError::Malformed("chunk data is longer than its size")),
            },
            Chunk::Trailer { line, total } => {
                *total += 1;
                if *total > max_head {
                    return Err(HttpError::HeadTooLarge { limit: max_head });
                }
                match b {
                    b'\n' if *line == 0 => return Ok((i, true)),
                    b'\n' => *line = 0,
                    b'\r' => {}
                    _ => *line += 1,
                }
            }
            Chunk::Data { .. } => {}
        }
    }
    Ok((i, false))
}

/// Why a request could not be read. Each one ends the connection after the answer
/// [`HttpError::status`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// Request line and headers together exceed the configured head size (or trailers do).
    HeadTooLarge {
        /// The parser's head limit in bytes ([`Limits::max_head`](crate::Limits::max_head) in
        /// the server).
        limit: usize,
    },
    /// More than 64 header fields.
    TooManyHeaders,
    /// The request does not follow HTTP/1.x syntax; says which rule was broken.
    Malformed(&'static str),
    /// The body exceeds the configured body size.
    BodyTooLarge {
        /// The parser's body limit in bytes ([`Limits::max_body`](crate::Limits::max_body) in
        /// the server).
        limit: usize,
    },
    /// `Content-Length` is not a decimal number, or several disagree.
    BadContentLength,
    /// A transfer coding other than `chunked`.
    UnsupportedTransferEncoding,
    /// Not HTTP/1.0 or HTTP/1.1.
    UnsupportedVersion,
}

impl HttpError {
    /// The status code to answer with before closing.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::HeadTooLarge { .. } | HttpError::TooManyHeaders => 431,
            HttpError::Malformed(_) | HttpError::BadContentLength => 400,
            HttpError::BodyTooLarge { .. } => 413,
            HttpError::UnsupportedTransferEncoding => 501,
            HttpError::UnsupportedVersion => 505,
        }
    }
}

impl From<httparse::Error> for HttpError {
    fn from(e: httparse::Error) -> Self {
        match e {
            httparse::Error::TooManyHeaders => HttpError::TooManyHeaders,
            httparse::Error::Version => HttpError::UnsupportedVersion,
            httparse::Error::HeaderName => HttpError::Malformed("invalid header name"),
            httparse::Error::HeaderValue => HttpError::Malformed("invalid header value"),
            httparse::Error::NewLine => HttpError::Malformed("invalid line ending"),
            httparse::Error::Status | httparse::Error::Token => {
                HttpError::Malformed("invalid method or request target")
            }
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::HeadTooLarge { limit } => write!(
                f,
                "request head is larger than the {limit}-byte limit \
                 (raise the head size limit if this is legitimate)"
            ),
            HttpError::TooManyHeaders => {
                write!(f, "request has more than {MAX_HEADERS} header fields")
            }
            HttpError::Malformed(why) => write!(f, "malformed request: {why}"),
            HttpError::BodyTooLarge { limit } => write!(
                f,
                "request body is larger than the {limit}-byte limit \
                 (raise the body size limit if this is legitimate)"
            ),
            HttpError::BadContentLength => {
                f.write_str("Content-Length must be a single decimal number (repeats must agree)")
            }
            HttpError::UnsupportedTransferEncoding => {
                f.write_str("only the `chunked` transfer coding is supported")
            }
            HttpError::UnsupportedVersion => {
                f.write_str("only HTTP/1.0 and HTTP/1.1 are supported")
            }
        }
    }
}

impl std::error::Error for HttpError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEAD: usize = 1024;
    const BODY: usize = 64;

    fn parser() -> RequestParser {
        RequestParser::new(HEAD, BODY)
    }

    /// Feeds `pieces` as a caller would: unconsumed bytes are kept and fed again with the next
    /// piece. Stops parsing after an upgrade request; what is left over is returned.
    fn drive(pieces: &[&[u8]]) -> Result<(Vec<Request>, Vec<u8>), HttpError> {
        let mut p = parser();
        let mut pending = Vec::new();
        let mut requests = Vec::new();
        let mut upgraded = false;
        for piece in pieces {
            pending.extend_from_slice(piece);
            while !upgraded && !pending.is_empty() {
                let progress = p.feed(&pending)?;
                assert!(progress.consumed <= pending.len());
                pending.drain(..progress.consumed);
                match progress.request {
                    Some(r) => {
                        upgraded = r.is_upgrade();
                        requests.push(r);
                    }
                    None => {
                        assert!(pending.is_empty(), "an incomplete request takes all input");
                        break;
                    }
                }
            }
        }
        Ok((requests, pending))
    }

    fn whole(input: &[u8]) -> Result<(Vec<Request>, Vec<u8>), HttpError> {
        drive(&[input])
    }

    fn one(input: &[u8]) -> Result<Request, HttpError> {
        let (mut requests, rest) = whole(input)?;
        assert!(rest.is_empty());
        assert_eq!(requests.len(), 1, "expected one request");
        Ok(requests.remove(0))
    }

    fn err(input: &[u8]) -> HttpError {
        whole(input).expect_err("should be rejected")
    }

    const GET: &[u8] = b"\r\nGET /socket.io/xhr-polling//1?t=2 HTTP/1.1\r\nHost: x\r\nX-Two: a\r\nx-two: b\r\n\r\n";
    const POST: &[u8] =
        b"POST /socket.io/xhr-polling/abc HTTP/1.1\r\nContent-Length: 12\r\n\r\ndata=%7Em%7E";
    const CHUNKED: &[u8] = b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nTrailer: x\r\n\r\n";
    const PIPELINED: &[u8] =
        b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.0\nConnection: keep-alive\n\n";
    const UPGRADE: &[u8] = b"GET /socket.io/websocket HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key1: 1 2\r\nContent-Length: 5\r\n\r\n^n:ds[4U\x00hi\xff";
    const SAMPLES: &[&[u8]] = &[GET, POST, CHUNKED, PIPELINED, UPGRADE];

    #[test]
    fn parses_a_get() {
        let r = one(GET).unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/socket.io/xhr-polling//1?t=2");
        assert_eq!(r.version, 1);
        assert_eq!(
            r.headers,
            vec![
                ("Host".to_owned(), b"x".to_vec()),
                ("X-Two".to_owned(), b"a".to_vec()),
                ("x-two".to_owned(), b"b".to_vec()),
            ]
        );
        assert!(r.body.is_empty());
    }

    #[test]
    fn parses_bodies() {
        assert_eq!(&one(POST).unwrap().body[..], b"data=%7Em%7E");
        assert_eq!(&one(CHUNKED).unwrap().body[..], b"hello, world!!!");
        let chunked_bare_lf = b"POST / HTTP/1.1\nTransfer-Encoding: Chunked\n\n3\nabc\n0\n\n";
        assert_eq!(&one(chunked_bare_lf).unwrap().body[..], b"abc");
        let empty_chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert!(one(empty_chunked).unwrap().body.is_empty());
        let zero = b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
        assert!(one(zero).unwrap().body.is_empty());
        let agreeing = b"POST / HTTP/1.1\r\nContent-Length: 2, 02\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(&one(agreeing).unwrap().body[..], b"ok");
        let http10 = b"POST / HTTP/1.0\r\nContent-Length: 1\r\n\r\nx";
        assert_eq!(one(http10).unwrap().version, 0);
    }

    #[test]
    fn stops_at_the_end_of_each_request() {
        let mut p = parser();
        let first = p.feed(PIPELINED).unwrap();
        let end_of_first = PIPELINED.len() - b"GET /b HTTP/1.0\nConnection: keep-alive\n\n".len();
        assert_eq!(first.consumed, end_of_first);
        assert_eq!(&first.request.unwrap().body[..], b"abc");
        assert!(p.is_idle());
        let second = p.feed(&PIPELINED[end_of_first..]).unwrap();
        assert_eq!(second.consumed, PIPELINED.len() - end_of_first);
        let second = second.request.unwrap();
        assert_eq!((second.target.as_str(), second.version), ("/b", 0));
        assert!(second.keep_alive());
    }

    #[test]
    fn upgrade_leaves_the_rest_to_the_next_layer() {
        let (requests, rest) = whole(UPGRADE).unwrap();
        assert_eq!(requests.len(), 1);
        assert!(requests[0].is_upgrade());
        assert!(requests[0].body.is_empty());
        assert_eq!(rest, b"^n:ds[4U\x00hi\xff");
    }

    #[test]
    fn idle_only_between_requests() {
        let mut p = parser();
        assert!(p.is_idle());
        assert_eq!(p.feed(b"\r\n").unwrap().consumed, 2);
        assert!(p.is_idle());
        p.feed(b"GET").unwrap();
        assert!(!p.is_idle());
        p.feed(b" / HTTP/1.1\r\n\r\n").unwrap().request.unwrap();
        assert!(p.is_idle());
        p.feed(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n")
            .unwrap();
        assert!(!p.is_idle());
    }

    #[test]
    fn asks_for_continue_once() {
        let head = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        let mut p = parser();
        let first = p.feed(head).unwrap();
        assert!(first.send_continue);
        assert!(first.request.is_none());
        let rest = p.feed(b"abc").unwrap();
        assert!(!rest.send_continue);
        assert_eq!(&rest.request.unwrap().body[..], b"abc");

        // Body already here, no body at all, or HTTP/1.0: nothing to continue.
        let mut with_body = head.to_vec();
        with_body.extend_from_slice(b"abc");
        assert!(!parser().feed(&with_body).unwrap().send_continue);
        let no_body = b"GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n";
        assert!(!parser().feed(no_body).unwrap().send_continue);
        let http10 = b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        assert!(!parser().feed(http10).unwrap().send_continue);

        let chunked =
            b"POST / HTTP/1.1\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(parser().feed(chunked).unwrap().send_continue);
    }

    #[test]
    fn head_too_large_is_seen_before_the_head_ends() {
        let mut p = RequestParser::new(32, BODY);
        assert!(p.feed(&[b'G'; 32]).unwrap().request.is_none());
        assert_eq!(p.feed(b"G"), Err(HttpError::HeadTooLarge { limit: 32 }));
        // A head of exactly the limit is fine.
        let exact = b"GET /1234567890123456 HTTP/1.1\n\n";
        assert_eq!(exact.len(), 32);
        let mut p = RequestParser::new(32, BODY);
        assert!(p.feed(exact).unwrap().request.is_some());
        let mut p = RequestParser::new(31, BODY);
        assert_eq!(p.feed(exact), Err(HttpError::HeadTooLarge { limit: 31 }));
    }

    #[test]
    fn errors_are_sticky() {
        let mut p = parser();
        assert_eq!(
            p.feed(b"GET / HTTP/2.0\r\n\r\n"),
            Err(HttpError::UnsupportedVersion)
        );
        assert_eq!(
            p.feed(b"GET / HTTP/1.1\r\n\r\n"),
            Err(HttpError::UnsupportedVersion)
        );
        assert!(!p.is_idle());
    }

    #[test]
    fn rejects_every_broken_rule() {
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..65 {
            many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let cases: &[(&[u8], HttpError)] = &[
            (&many, HttpError::TooManyHeaders),
            (b"GET / HTTP/2.0\r\n\r\n", HttpError::UnsupportedVersion),
            (b"GET / HTTP/1.2\r\n\r\n", HttpError::UnsupportedVersion),
            (
                b"GET /\r\n\r\n",
                HttpError::Malformed("invalid method or request target"),
            ),
            (
                b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
                HttpError::Malformed("invalid header name"),
            ),
            (
                b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
                HttpError::Malformed("invalid header value"),
            ),
            (
                b"G(T / HTTP/1.1\r\n\r\n",
                HttpError::Malformed("invalid method or request target"),
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n",
                HttpError::BodyTooLarge { limit: BODY },
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                HttpError::BodyTooLarge { limit: BODY },
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                HttpError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                HttpError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
                HttpError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n",
                HttpError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                HttpError::BadContentLength,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                HttpError::UnsupportedTransferEncoding,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                HttpError::UnsupportedTransferEncoding,
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n",
                HttpError::Malformed("empty Transfer-Encoding"),
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
                HttpError::Malformed("both Content-Length and Transfer-Encoding are present"),
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n",
                HttpError::BodyTooLarge { limit: BODY },
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
                HttpError::BodyTooLarge { limit: BODY },
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n",
                HttpError::Malformed("chunk size is not a hexadecimal number"),
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
                HttpError::Malformed("chunk size is not a hexadecimal number"),
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
                HttpError::Malformed("chunk data is longer than its size"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(&err(input), expected, "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn body_limit_counts_all_chunks() {
        // 40 + 40 bytes: each chunk fits, their sum does not.
        let mut input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n28\r\n".to_vec();
        input.extend_from_slice(&[b'a'; 40]);
        input.extend_from_slice(b"\r\n28\r\n");
        assert_eq!(err(&input), HttpError::BodyTooLarge { limit: BODY });
        // Exactly the limit is fine.
        let mut input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n".to_vec();
        input.extend_from_slice(&[b'a'; 64]);
        input.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(one(&input).unwrap().body.len(), BODY);
    }

    #[test]
    fn chunk_lines_and_trailers_are_bounded() {
        let mut long_ext = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
        long_ext.extend_from_slice(&[b'x'; MAX_CHUNK_LINE]);
        assert_eq!(
            err(&long_ext),
            HttpError::Malformed("chunk size line is too long")
        );
        let mut long_trailer =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ".to_vec();
        long_trailer.extend_from_slice(&[b'x'; HEAD]);
        assert_eq!(err(&long_trailer), HttpError::HeadTooLarge { limit: HEAD });
    }

    #[test]
    fn statuses_and_messages() {
        assert_eq!(HttpError::HeadTooLarge { limit: 1 }.status(), 431);
        assert_eq!(HttpError::TooManyHeaders.status(), 431);
        assert_eq!(HttpError::Malformed("x").status(), 400);
        assert_eq!(HttpError::BodyTooLarge { limit: 1 }.status(), 413);
        assert_eq!(HttpError::BadContentLength.status(), 400);
        assert_eq!(HttpError::UnsupportedTransferEncoding.status(), 501);
        assert_eq!(HttpError::UnsupportedVersion.status(), 505);
        assert_eq!(
            HttpError::Malformed("invalid header name").to_string(),
            "malformed request: invalid header name"
        );
    }

    /// Feeds `input` (no blank line in it) and returns the error it got at once, if any.
    fn early(input: &[u8]) -> Option<HttpError> {
        parser().feed(input).err()
    }

    #[test]
    fn refuses_what_cannot_be_http_before_the_head_ends() {
        // The start of a TLS ClientHello: someone typed https:// for this port.
        let hello = [
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ];
        assert!(matches!(early(&hello), Some(HttpError::Malformed(m)) if m.contains("TLS")));
        assert!(early(b"GET / HTTP/1.1\r\nHost: a\x00b").is_some());
        assert!(early(b"GE{T / HTTP/1.1").is_some(), "not a token");
        assert!(early(b"GET / HTTP/1.1\r\nBad Name: x\r\n").is_some());
        assert!(early(b"GET / HTTP/9.1\r\n").is_some());
        // Long, legitimate partial heads are not refused; nor is any prefix of a real one.
        let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n", "a".repeat(300));
        assert_eq!(early(long.as_bytes()), None);
        let mut p = parser();
        for b in long.as_bytes() {
            assert!(p.feed(&[*b]).is_ok());
        }
        // The error is the parser's answer from then on.
        let mut p = parser();
        assert!(p.feed(&hello).is_err());
        assert!(p.feed(b"GET / HTTP/1.1\r\n\r\n").is_err());
    }

    #[test]
    fn the_same_error_at_every_split() {
        // Found by fuzzing: an early check once named a later byte than the whole head's
        // parse did, so the error depended on how the bytes were cut.
        let long = "a".repeat(300);
        let bad: Vec<Vec<u8>> = vec![
            b"\x16\x03\x01\x00\x05\r\n\r\n".to_vec(),
            b"G{T / HTTP/1.1\r\nX: \x01\r\n\r\n".to_vec(),
            format!("GET /{long} HTTP/1.1\r\nBad Name: \x01\r\n\r\n").into_bytes(),
            format!("GET /{long} HTTP/1.1\r\nX-A: {long}\x01\r\nB@d: x\r\n\r\n").into_bytes(),
        ];
        for input in &bad {
            let expected = whole(input).expect_err("a bad head");
            for at in 0..=input.len() {
                let (a, b) = input.split_at(at);
                assert_eq!(drive(&[a, b]).unwrap_err(), expected, "split at {at}");
            }
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            assert_eq!(drive(&bytes).unwrap_err(), expected, "byte by byte");
        }
        // Also found by fuzzing: garbage longer than the head limit, whole, was "too
        // large", and in pieces "malformed". Malformed it is, either way.
        let garbage = [0xFFu8; 20];
        let mut whole = RequestParser::new(16, 0);
        let mut pieces = RequestParser::new(16, 0);
        assert!(matches!(whole.feed(&garbage), Err(HttpError::Malformed(_))));
        assert_eq!(pieces.feed(&garbage[..4]), whole.feed(&[]));
    }

    #[test]
    fn same_result_at_every_split() {
        for input in SAMPLES {
            let expected = whole(input).unwrap();
            for at in 0..=input.len() {
                let (a, b) = input.split_at(at);
                assert_eq!(drive(&[a, b]).unwrap(), expected, "split at {at}");
            }
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            assert_eq!(drive(&bytes).unwrap(), expected, "byte by byte");
        }
    }

    proptest! {
        #[test]
        fn same_result_at_any_splits(
            sample in 0..SAMPLES.len(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let input = SAMPLES[sample];
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut start = 0;
            for cut in cuts {
                pieces.push(&input[start..cut]);
                start = cut;
            }
            pieces.push(&input[start..]);
            prop_assert_eq!(drive(&pieces).unwrap(), whole(input).unwrap());
        }

        #[test]
        fn never_panics(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6)) {
            let mut p = RequestParser::new(64, 16);
            for c in &chunks {
                let _ = p.feed(c);
            }
        }

        #[test]
        fn never_panics_on_near_requests(
            s in "(GET|POST|/|HTTP/1\\.1|\r\n|\n|Content-Length: |Transfer-Encoding: chunked|[0-9a-f]|;|:| ){0,30}",
            split in any::<prop::sample::Index>(),
        ) {
            let input = s.as_bytes();
            let (a, b) = input.split_at(split.index(input.len() + 1));
            let _ = drive(&[a, b]);
        }
    }
}

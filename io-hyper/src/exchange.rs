//! One request as the core sees it: a connection of its own, fed the request's bytes, whose
//! answer comes back through a [`Pipe`] and is read back into hyper's types.
//!
//! Why bytes and not hyper's parsed request: the core then applies every rule of its own
//! (body limits, request time limits, malformed payloads, the WebSocket handshakes) exactly
//! as on the other adapters, and the request body streams into it without being collected
//! here first. hyper has parsed the head already; writing it out again costs a copy of the
//! head, and reading the answer's head back one `httparse` call.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body::Frame;
use io_adapter::Engine;
use io_core::{ConnId, ConnectionInfo};

use crate::dechunk::{Dechunk, Step};
use crate::eof::{Eof, Peek, Shared};
use crate::pipe::{Pipe, Take};
use crate::Hyper;

/// The longest answer head read back from the core; its heads are far smaller.
const MAX_HEAD: usize = 64 * 1024;

/// The header fields an answer head may have: the core writes fewer than 20.
const MAX_HEADERS: usize = 64;

/// One request's connection in the core, closed there when this is dropped: when the answer
/// is complete, or the peer went away before.
pub struct Exchange {
    pub(crate) engine: Arc<Engine<Hyper>>,
    pub(crate) conn: ConnId,
    pub(crate) pipe: Arc<Pipe>,
}

impl Exchange {
    /// A new connection in the core for one request (or a connection hyper does not
    /// serve); `None` once the server has shut down.
    pub fn open(
        engine: &Arc<Engine<Hyper>>,
        info: ConnectionInfo,
        socket: Option<Arc<tokio::net::TcpStream>>,
    ) -> Option<Exchange> {
        let pipe = Arc::new(Pipe::new(socket));
        let conn = engine.accept(pipe.clone(), info)?;
        Some(Exchange {
            engine: engine.clone(),
            conn,
            pipe,
        })
    }

    /// Bytes of the core's answer, or its end. Makes the engine write its backlog when the
    /// pipe had refused some for room.
    pub fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Take> {
        let take = ready!(self.pipe.poll_take(cx));
        if let Take::Data(_, true) = take {
            let _ = self.engine.flush_backlog(self.conn);
        }
        Poll::Ready(take)
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.pipe.hang_up();
        // The answer is out, or nobody is left to read it: either way the core's connection
        // for this request is over (a no-op when the core closed it itself).
        self.engine.closed(self.conn);
    }
}

/// What the service does with a request: answer it, or close the connection unanswered (as
/// the core does for an unknown session, or a server that has shut down).
pub enum Answer {
    /// The response to give hyper.
    Response(Response<Body>),
    /// Close the connection without a response.
    Unanswered,
}

/// Answers one request through the core.
pub async fn answer<B>(
    engine: Arc<Engine<Hyper>>,
    mut req: Request<B>,
    info: ConnectionInfo,
    eof: Option<Eof>,
) -> Answer
where
    B: http_body::Body,
    B::Error: std::fmt::Display,
{
    let on_upgrade = hyper::upgrade::on(&mut req);
    let socket = eof.as_ref().map(|e| e.0.clone());
    let Some(exchange) = Exchange::open(&engine, info, socket) else {
        return Answer::Unanswered;
    };
    let conn = exchange.conn;
    let head_only = req.method() == Method::HEAD;
    let (parts, body) = req.into_parts();
    let chunked = parts.headers.contains_key(http::header::TRANSFER_ENCODING);
    engine.received(conn, &request_head(&parts, chunked));

    // The body goes in as it arrives, while the core may answer at any point (an oversized
    // body is refused before its end).
    let mut body = std::pin::pin!(body);
    let mut body_done = body.is_end_stream();
    if body_done && chunked {
        engine.received(conn, b"0\r\n\r\n");
    }
    let mut reader = HeadReader::default();
    let mut read_closed = false;
    let head = loop {
        tokio::select! {
            biased;
            head = poll_fn(|cx| reader.poll_head(cx, &exchange)) => break head,
            peek = poll_fn(|cx| eof.as_ref().map_or(Poll::Pending, |e| e.poll(cx))),
                if !read_closed && body_done =>
            {
                // Either way, nothing more to see for this exchange.
                read_closed = true;
                if peek == Peek::Ended {
                    // A held poll is answered now; the peer may still read it.
                    engine.read_closed(conn);
                }
            }
            frame = poll_fn(|cx| body.as_mut().poll_frame(cx)), if !body_done => match frame {
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        let data = data.copy_to_bytes(data.remaining());
                        feed(&engine, conn, &data, chunked);
                    }
                }
                Some(Err(e)) => {
                    log::debug!("a request body broke off: {e}");
                    return Answer::Unanswered;
                }
                None => {
                    body_done = true;
                    if chunked {
                        engine.received(conn, b"0\r\n\r\n");
                    }
                }
            },
        }
    };
    let Some(head) = head else {
        return Answer::Unanswered;
    };
    let eof = eof.filter(|_| !read_closed);
    match head.into_response(exchange, head_only, eof) {
        Ok((response, None)) => Answer::Response(response),
        Ok((response, Some(upgraded))) => {
            tokio::spawn(async move {
                let (exchange, first) = upgraded;
                match on_upgrade.await {
                    // A connection of the server's own port: its socket, served directly.
                    Ok(io) => match io.downcast::<hyper_util::rt::TokioIo<Shared>>() {
                        Ok(parts) => {
                            let stream = parts.io.into_inner().0;
                            crate::bridge::bridge_tcp(stream, exchange, parts.read_buf, first)
                                .await;
                        }
                        Err(io) => {
                            let io = hyper_util::rt::TokioIo::new(io);
                            crate::bridge::bridge(io, exchange, first).await;
                        }
                    },
                    Err(e) => log::debug!("an upgrade did not happen: {e}"),
                }
            });
            Answer::Response(response)
        }
        Err(e) => {
            log::error!("could not pass the core's answer to hyper: {e}");
            Answer::Unanswered
        }
    }
}

/// Request body bytes for the core, in the framing its head announced.
fn feed(engine: &Arc<Engine<Hyper>>, conn: ConnId, data: &Bytes, chunked: bool) {
    if data.is_empty() {
        return;
    }
    if chunked {
        let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(b"\r\n");
        engine.received(conn, &chunk);
    } else {
        engine.received(conn, data);
    }
}

/// The request head as the core reads it. `Expect` stays out: hyper answers
/// `100 Continue` itself when the body is read.
fn request_head(parts: &http::request::Parts, chunked: bool) -> Vec<u8> {
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let version = if parts.version == Version::HTTP_10 {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.push(b' ');
    out.extend_from_slice(version.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == http::header::EXPECT || (chunked && name == http::header::CONTENT_LENGTH) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Reads the core's answer head out of the pipe.
#[derive(Default)]
struct HeadReader {
    buf: BytesMut,
}

/// An answer head the core wrote, and the bytes after it.
struct Head {
    status: u16,
    reason: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    rest: BytesMut,
}

impl HeadReader {
    /// The head, once it is all there; `None` if the core closed the connection without
    /// one (it closes unanswered), or wrote one that cannot be read.
    fn poll_head(&mut self, cx: &mut Context<'_>, exchange: &Exchange) -> Poll<Option<Head>> {
        loop {
            if !self.buf.is_empty() {
                match self.parse() {
                    Ok(Some(head)) if head.status == 100 => continue,
                    Ok(Some(head)) => return Poll::Ready(Some(head)),
                    Ok(None) if self.buf.len() <= MAX_HEAD => {}
                    Ok(None) | Err(()) => {
                        log::error!("the core's answer head could not be read back");
                        return Poll::Ready(None);
                    }
                }
            }
            match ready!(exchange.poll_take(cx)) {
                Take::Data(b, _) => self.buf.extend_from_slice(&b),
                Take::End | Take::Aborted => return Poll::Ready(None),
            }
        }
    }

    fn parse(&mut self) -> Result<Option<Head>, ()> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match resp.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(()),
        };
        let status = resp.code.ok_or(())?;
        let reason = resp.reason.unwrap_or_default().as_bytes().to_vec();
        let headers = resp
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
            .collect();
        // What follows the head stays with it; the reader is done.
        let rest = std::mem::take(&mut self.buf).split_off(n);
        Ok(Some(Head {
            status,
            reason,
            headers,
            rest,
        }))
    }
}

/// For an upgraded connection: its exchange and the bytes that follow the 101 head.
type Upgraded = (Exchange, BytesMut);

impl Head {
    /// The hyper response for this head, and for a 101, what the upgraded connection goes
    /// on with.
    fn into_response(
        self,
        exchange: Exchange,
        head_only: bool,
        eof: Option<Eof>,
    ) -> Result<(Response<Body>, Option<Upgraded>), http::Error> {
        let status = StatusCode::from_u16(self.status)?;
        let upgrade = status == StatusCode::SWITCHING_PROTOCOLS;
        let no_body = upgrade
            || head_only
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let mut framing = Framing::UntilClose;
        let mut close = false;
        let mut builder = Response::builder().status(status);
        for (name, value) in &self.headers {
            match name.as_str() {
                // hyper frames the body itself: chunked, or by this length.
                "transfer-encoding" => {
                    framing = Framing::Chunked(Dechunk::Size);
                    continue;
                }
                "content-length" => {
                    if let Some(n) = std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                    {
                        framing = Framing::Length(n);
                    }
                }
                // hyper keeps connections alive on its own; the core's `close` it is told.
                "connection" | "keep-alive" if !upgrade => {
                    close |= value.eq_ignore_ascii_case(b"close");
                    continue;
                }
                _ => {}
            }
            builder = builder.header(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_bytes(value)?,
            );
        }
        // A stream (chunked, or until the connection closes) is over when the core closes
        // its connection: hyper is to close it too once the body has ended.
        close |= !no_body && matches!(framing, Framing::Chunked(_) | Framing::UntilClose);
        if close && !upgrade {
            builder = builder.header(http::header::CONNECTION, "close");
        }
        if status.canonical_reason().map(str::as_bytes) != Some(self.reason.as_slice()) {
            if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(self.reason) {
                builder = builder.extension(reason);
            }
        }
        if upgrade {
            let response = builder.body(Body::empty())?;
            return Ok((response, Some((exchange, self.rest))));
        }
        let body = if no_body {
            Body::empty()
        } else {
            Body {
                exchange: Some(exchange),
                framing,
                input: self.rest,
                failed: false,
                eof,
            }
        };
        Ok((builder.body(body)?, None))
    }
}

/// How the core delimited a body.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// Nothing (more) to send.
    Empty,
    /// This many bytes to go.
    Length(u64),
    /// Chunked; the decoder's place.
    Chunked(Dechunk),
    /// Until the core closes the connection.
    UntilClose,
}

/// A response body: the core's answer as it comes, framed by hyper.
pub struct Body {
    exchange: Option<Exchange>,
    framing: Framing,
    /// Bytes read from the pipe and not passed on yet.
    input: BytesMut,
    /// Ends in an error at once: the connection closes without an answer.
    failed: bool,
    /// The connection, watched for the peer's end of stream until the core has heard of
    /// it (or bytes of a next request make it unseeable).
    eof: Option<Eof>,
}

impl Body {
    fn empty() -> Self {
        Body {
            exchange: None,
            framing: Framing::Empty,
            input: BytesMut::new(),
            failed: false,
            eof: None,
        }
    }

    /// A body that fails at once, so that hyper closes the connection before the head goes
    /// out: how a service whose error type is `Infallible` closes unanswered.
    pub(crate) fn unanswered() -> Self {
        Body {
            failed: true,
            ..Body::empty()
        }
    }

    /// The next data from `input`, by the framing.
    fn next_data(&mut self) -> io::Result<Option<Bytes>> {
        match &mut self.framing {
            Framing::Empty => Ok(None),
            Framing::Length(n) => {
                if *n == 0 || self.input.is_empty() {
                    return Ok(None);
                }
                let take = usize::try_from(*n)
                    .unwrap_or(usize::MAX)
                    .min(self.input.len());
                *n -= take as u64;
                Ok(Some(self.input.split_to(take).freeze()))
            }
            Framing::UntilClose => {
                if self.input.is_empty() {
                    return Ok(None);
                }
                Ok(Some(self.input.split().freeze()))
            }
            Framing::Chunked(d) => match d.step(&mut self.input) {
                Ok(Step::Data(b)) => Ok(Some(b)),
                Ok(Step::More | Step::Done) => Ok(None),
                Err(_) => Err(io::Error::other(
                    "the core's chunked body could not be read",
                )),
            },
        }
    }

    /// Whether everything is sent.
    fn complete(&self) -> bool {
        match self.framing {
            Framing::Empty | Framing::Length(0) | Framing::Chunked(Dechunk::Done) => true,
            Framing::Length(_) | Framing::Chunked(_) | Framing::UntilClose => false,
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(Some(Err(io::ErrorKind::ConnectionAborted.into())));
        }
        loop {
            match this.next_data() {
                Ok(Some(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
            if this.complete() {
                // Done: the core's connection for this request closes now.
                this.exchange = None;
                return Poll::Ready(None);
            }
            let Some(exchange) = &this.exchange else {
                return Poll::Ready(None);
            };
            if let Some(Poll::Ready(peek)) = this.eof.as_ref().map(|eof| eof.poll(cx)) {
                this.eof = None;
                if peek == Peek::Ended {
                    // A stream whose peer stopped sending is over; the core closes it.
                    exchange.engine.read_closed(exchange.conn);
                }
                continue;
            }
            match ready!(exchange.poll_take(cx)) {
                Take::Data(b, _) => this.input.extend_from_slice(&b),
                Take::End => {
                    this.exchange = None;
                    return if matches!(this.framing, Framing::UntilClose) {
                        Poll::Ready(None)
                    } else {
                        Poll::Ready(Some(Err(io::ErrorKind::UnexpectedEof.into())))
                    };
                }
                Take::Aborted => {
                    this.exchange = None;
                    return Poll::Ready(Some(Err(io::ErrorKind::ConnectionAborted.into())));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        !self.failed && self.complete()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        if self.failed {
            // Of unknown length, so that hyper polls it (and fails) before the head goes out.
            return http_body::SizeHint::default();
        }
        match self.framing {
            Framing::Empty => http_body::SizeHint::with_exact(0),
            Framing::Length(n) => http_body::SizeHint::with_exact(n),
            Framing::Chunked(_) | Framing::UntilClose => http_body::SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_of(req: Request<()>, chunked: bool) -> String {
        let (parts, ()) = req.into_parts();
        String::from_utf8(request_head(&parts, chunked)).unwrap()
    }

    #[test]
    fn the_request_goes_to_the_core_as_it_came_less_what_hyper_handles() {
        let req = Request::post("/socket.io/xhr-polling/1/send?x=1")
            .header("host", "example.com")
            .header("expect", "100-continue")
            .header("content-length", "5")
            .body(())
            .unwrap();
        assert_eq!(
            head_of(req, false),
            "POST /socket.io/xhr-polling/1/send?x=1 HTTP/1.1\r\nhost: example.com\r\n\
             content-length: 5\r\n\r\n"
        );
        // A chunked body is fed chunked again: its length header would contradict it.
        let req = Request::post("/s")
            .version(Version::HTTP_10)
            .header("transfer-encoding", "chunked")
            .header("content-length", "5")
            .body(())
            .unwrap();
        assert_eq!(
            head_of(req, true),
            "POST /s HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n"
        );
    }

    #[test]
    fn the_core_s_answer_head_is_read_back_once_it_is_whole() {
        let head = b"HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\n\
                     Connection: Upgrade\r\n\r\n";
        for at in 1..head.len() {
            let mut reader = HeadReader::default();
            reader.buf.extend_from_slice(&head[..at]);
            assert!(reader.parse().unwrap().is_none(), "{at} bytes of the head");
        }
        let mut reader = HeadReader::default();
        reader.buf.extend_from_slice(head);
        reader.buf.extend_from_slice(b"\x00frame");
        let parsed = reader.parse().unwrap().expect("a whole head");
        assert_eq!(parsed.status, 101);
        assert_eq!(parsed.reason, b"WebSocket Protocol Handshake");
        assert_eq!(
            parsed.headers[0],
            ("upgrade".to_owned(), b"WebSocket".to_vec())
        );
        assert_eq!(&parsed.rest[..], b"\x00frame", "what follows is kept");
        assert!(reader.buf.is_empty());
    }
}

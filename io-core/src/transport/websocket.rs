//! websocket and flashsocket: the handshake answer for each flavour, and how a payload
//! travels as one text message.

use bytes::Bytes;

use crate::http::request::Request;
use crate::http::response::Segment;
use crate::transport::Payload;
use crate::websocket::handshake::{self, Flavour, HandshakeError};
use crate::websocket::hixie::{self, HixieDecoder};
use crate::websocket::rfc6455::{self, Rfc6455Decoder};
use crate::websocket::{WsError, WsEvent};

/// The accepted half of an opening handshake.
#[derive(Debug)]
pub struct Handshake {
    /// Which handshake the client spoke, and so which framing follows ([`Codec::new`]).
    pub flavour: Flavour,
    /// Bytes to write at once: the 101 head (hixie-76 writes it before key3 arrives, so that
    /// proxies which hold key3 back until they see a 101 still work).
    pub head: Bytes,
    /// Hixie-76 key numbers, waiting for key3.
    pub keys: Option<(u32, u32)>,
}

/// Why an upgrade was refused, with the status to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status to answer with: 426 for an unsupported version, 400 otherwise.
    pub status: u16,
    /// What was wrong, for the response body and the log.
    pub message: String,
}

impl From<HandshakeError> for Refusal {
    fn from(e: HandshakeError) -> Self {
        Refusal {
            status: e.status(),
            message: e.to_string(),
        }
    }
}

/// The origin a WebSocket client declares: `Origin`, or `Sec-WebSocket-Origin` from
/// hybi-07/08 clients.
pub fn request_origin(req: &Request) -> Option<&str> {
    req.header("origin")
        .or_else(|| req.header("sec-websocket-origin"))
}

/// Checks the request and builds the answer's head. `secure` and `host` are the scheme and
/// host the client used (which a proxy in front may tell better than the request's `Host`):
/// hixie clients need them echoed in the location.
pub fn accept(req: &Request, secure: bool, host: Option<&str>) -> Result<Handshake, Refusal> {
    let flavour = handshake::classify(req)?;
    let refuse = |message: &str| Refusal {
        status: 400,
        message: message.to_owned(),
    };
    match flavour {
        Flavour::Rfc6455 => {
            let key = req
                .header("sec-websocket-key")
                .ok_or_else(|| refuse("missing Sec-WebSocket-Key"))?;
            let accept = handshake::rfc6455_accept(key.trim())?;
            Ok(Handshake {
                flavour,
                head: handshake::rfc6455_response(&accept).into(),
                keys: None,
            })
        }
        Flavour::Hixie75 | Flavour::Hixie76 => {
            // Hixie clients need the location echoed; without a Host there is none to give
            // (the reference wrote `ws://undefined/…`).
            let host = host
                .filter(|h| !h.is_empty())
                .ok_or_else(|| refuse("a hixie WebSocket handshake needs a Host header"))?;
            let location = format!(
                "{}://{}{}",
                if secure { "wss" } else { "ws" },
                host,
                req.target
            );
            let origin = req.header("origin").unwrap_or("null");
            if flavour == Flavour::Hixie75 {
                return Ok(Handshake {
                    flavour,
                    head: handshake::hixie75_response(origin, &location).into(),
                    keys: None,
                });
            }
            let key = |name| {
                req.header(name)
                    .ok_or(HandshakeError::MissingKey2)
                    .and_then(handshake::hixie76_key_number)
            };
            let keys = (key("sec-websocket-key1")?, key("sec-websocket-key2")?);
            let protocol = req.header("sec-websocket-protocol");
            Ok(Handshake {
                flavour,
                head: handshake::hixie76_response(origin, &location, protocol).into(),
                keys: Some(keys),
            })
        }
    }
}

/// The 16-byte hixie-76 answer, once key3 is here.
pub fn key3_answer(keys: (u32, u32), key3: &[u8; 8]) -> Bytes {
    Bytes::copy_from_slice(&handshake::hixie76_answer(keys.0, keys.1, key3))
}

/// Per-connection framing state after the handshake.
#[derive(Debug)]
pub enum Codec {
    /// Hixie-75 or hixie-76: `0x00 … 0xFF` text frames.
    Hixie {
        /// Decodes what the client sends.
        decoder: HixieDecoder,
        /// Hixie-76, which has a closing handshake; hixie-75 has none.
        draft76: bool,
    },
    /// RFC 6455 framing (hybi-07/08 too), with the decoder for what the client sends.
    Rfc6455(Rfc6455Decoder),
}

impl Codec {
    /// The framing for `flavour`, refusing messages over `max_frame` bytes
    /// ([`Limits::max_frame`](crate::Limits::max_frame) in the server).
    pub fn new(flavour: Flavour, max_frame: usize) -> Self {
        match flavour {
            Flavour::Rfc6455 => Codec::Rfc6455(Rfc6455Decoder::new(max_frame)),
            f => Codec::Hixie {
                decoder: HixieDecoder::new(max_frame),
                draft76: f == Flavour::Hixie76,
            },
        }
    }

    /// Decodes bytes from the client into `out`; an error means the peer broke the framing
    /// rules and the connection must close (see [`WsError`]).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<WsEvent>) -> Result<(), WsError> {
        match self {
            Codec::Hixie { decoder, .. } => decoder.feed(input, out),
            Codec::Rfc6455(d) => d.feed(input, out),
        }
    }

    /// One payload as one text message; the payload segments are shared, not copied, and
    /// so is the RFC 6455 header between the recipients of a broadcast.
    pub(crate) fn wrap(&self, payload: &mut Payload) -> Vec<Segment> {
        let mut out = Vec::with_capacity(payload.frames.len() + 2);
        match self {
            Codec::Hixie { .. } if payload.is_small() => {
                out.push(Segment::Raw(payload.hixie_message()));
            }
            Codec::Rfc6455(_) if payload.is_small() => {
                out.push(Segment::Raw(payload.rfc6455_message()));
            }
            Codec::Hixie { .. } => {
                out.push(Segment::Raw(Bytes::from_static(hixie::FRAME_START)));
                out.extend(payload.frames.iter().cloned().map(Segment::Raw));
                out.push(Segment::Raw(Bytes::from_static(hixie::FRAME_END)));
            }
            Codec::Rfc6455(_) => {
                out.push(Segment::Raw(payload.rfc6455_header()));
                out.extend(payload.frames.iter().cloned().map(Segment::Raw));
            }
        }
        out
    }

    /// What to write before closing: an RFC 6455 close frame with `code`, the hixie-76
    /// closing handshake, or nothing for hixie-75, which has none.
    pub fn close_bytes(&self, code: u16, reason: &str) -> Option<Bytes> {
        match self {
            Codec::Rfc6455(_) => Some(rfc6455::close_frame(code, reason)),
            Codec::Hixie { draft76: true, .. } => Some(Bytes::from_static(hixie::CLOSE)),
            Codec::Hixie { draft76: false, .. } => None,
        }
    }

    /// The pong answering a ping that carried `payload`; `None` for hixie, which has no pings.
    pub fn pong(&self, payload: &[u8]) -> Option<Bytes> {
        match self {
            Codec::Rfc6455(_) => Some(rfc6455::pong_frame(payload)),
            Codec::Hixie { .. } => None,
        }
    }
}

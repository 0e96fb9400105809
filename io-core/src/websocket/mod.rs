//! WebSocket handshakes and framing: hixie-75, hixie-76 and RFC 6455.
//!
//! Sans-IO like the rest of the core: the handshake helpers look at a parsed
//! [`Request`](crate::http::request::Request) and build response bytes, and the decoders accept
//! whatever the socket produced, split anywhere, turning it into [`WsEvent`]s.

use std::fmt;

use bytes::Bytes;

pub mod handshake;
pub mod hixie;
pub mod rfc6455;

/// What a decoder found in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsEvent {
    /// A whole text message: fragments are already joined and the UTF-8 is checked.
    Text(String),
    /// A whole binary message, from a decoder made with
    /// [`Rfc6455Decoder::with_binary`](rfc6455::Rfc6455Decoder::with_binary) only: Socket.IO
    /// 0.6 has no binary messages, so its endpoints refuse them (close code 1003).
    Binary(Bytes),
    /// RFC 6455 only: answer with [`rfc6455::pong_frame`] carrying the same payload.
    Ping(Bytes),
    /// RFC 6455 only; unsolicited pongs are legal and carry no obligation.
    Pong(Bytes),
    /// The peer started the closing handshake. Hixie's `0xFF 0x00` carries no code or reason.
    Close {
        /// The peer's close code; `None` from hixie, or from an RFC 6455 close frame without one.
        code: Option<u16>,
        /// The peer's explanation, often empty.
        reason: String,
    },
}

/// The peer broke the framing rules; `close_code` is what an RFC 6455 server sends before
/// closing (hixie just closes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsError {
    /// The close code for the broken rule: 1002, 1003, 1007 or 1009.
    pub close_code: u16,
    /// Which rule was broken; sent as the close reason, and fit for the log.
    pub reason: &'static str,
}

impl WsError {
    pub(crate) const fn protocol(reason: &'static str) -> Self {
        WsError {
            close_code: rfc6455::CLOSE_PROTOCOL_ERROR,
            reason,
        }
    }

    pub(crate) const fn unsupported(reason: &'static str) -> Self {
        WsError {
            close_code: rfc6455::CLOSE_UNSUPPORTED_DATA,
            reason,
        }
    }

    pub(crate) const fn invalid_payload(reason: &'static str) -> Self {
        WsError {
            close_code: rfc6455::CLOSE_INVALID_PAYLOAD,
            reason,
        }
    }

    pub(crate) const fn too_big(reason: &'static str) -> Self {
        WsError {
            close_code: rfc6455::CLOSE_TOO_BIG,
            reason,
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "websocket peer broke the framing rules (close code {}): {}",
            self.close_code, self.reason
        )
    }
}

impl std::error::Error for WsError {}

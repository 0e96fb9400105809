//! What the server knows about one TCP connection.

use crate::http::parser::RequestParser;
use crate::session::SessionId;
use crate::timer::Generations;
use crate::transport::websocket::Codec;
use crate::transport::TransportKind;
use crate::websocket::handshake::Flavour;

/// A connection, as the adapter and the server both name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The session an upgrade will attach to once its handshake completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WsTarget {
    New(TransportKind),
    Existing(SessionId),
}

#[derive(Debug)]
pub(crate) enum ConnState {
    /// Reading requests.
    Http,
    /// A request was handed to the application; waiting for its `respond`.
    App,
    /// Holding a long poll for a session.
    Poll(SessionId),
    /// An htmlfile or xhr-multipart response streaming to a session.
    Stream(SessionId),
    /// Hixie-76: the 101 head went out; the 8 bytes of key3 have not all arrived.
    AwaitKey3 {
        keys: (u32, u32),
        target: WsTarget,
    },
    WebSocket {
        session: SessionId,
        codec: Codec,
    },
}

#[derive(Debug)]
pub(crate) struct Conn {
    pub state: ConnState,
    /// Bytes received but not yet consumed (pipelined requests, bytes after an upgrade
    /// head, key3).
    pub input: Vec<u8>,
    pub parser: RequestParser,
    /// The first bytes may still turn out to be a Flash policy probe.
    pub probing: bool,
    /// Whether the request being answered allows the connection to carry another.
    pub keep_alive: bool,
    pub timers: Generations,
}

impl Conn {
    pub fn new(parser: RequestParser, probing: bool) -> Self {
        Conn {
            state: ConnState::Http,
            input: Vec::new(),
            parser,
            probing,
            keep_alive: true,
            timers: Generations::default(),
        }
    }

    pub fn session(&self) -> Option<SessionId> {
        match &self.state {
            ConnState::Poll(s) | ConnState::Stream(s) => Some(*s),
            ConnState::WebSocket { session, .. } => Some(*session),
            _ => None,
        }
    }
}

/// Flavour carried over from the handshake, for logs.
pub(crate) fn flavour_name(f: Flavour) -> &'static str {
    match f {
        Flavour::Hixie75 => "hixie-75",
        Flavour::Hixie76 => "hixie-76",
        Flavour::Rfc6455 => "RFC 6455",
    }
}

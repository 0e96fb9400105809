//! What the server knows about one TCP connection.

use std::fmt;
use std::net::SocketAddr;

use crate::http::parser::RequestParser;
use crate::http::request::Request;
use crate::session::SessionId;
use crate::transport::websocket::Codec;
use crate::transport::TransportKind;
use crate::websocket::handshake::Flavour;

/// A connection, as the adapter and the server both name it: a slot and the generation
/// that filled it, so a stale id never names a newer connection. Only the server makes
/// them (`handle_connection`): no id can be made up from a number. An event loop that
/// needs a number per connection (a poller token) keeps its own map to the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

impl ConnId {
    pub(crate) fn new(index: u32, generation: u32) -> Self {
        ConnId(u64::from(generation) << 32 | u64::from(index))
    }

    pub(crate) fn index(&self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }

    pub(crate) fn generation(&self) -> u32 {
        (self.0 >> 32) as u32
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.index(), self.generation())
    }
}

/// What the adapter knows about a connection when it accepts it: the addresses, which
/// per-peer limits and the application's view of the handshake need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The remote end.
    pub peer: SocketAddr,
    /// The local end (the address the server listens on).
    pub local: SocketAddr,
    /// The adapter speaks TLS on this connection: what the server names of itself (a hixie
    /// WebSocket location) says `wss://`.
    pub secure: bool,
}

impl ConnectionInfo {
    /// A plain TCP connection between `peer` and `local`.
    pub fn new(peer: SocketAddr, local: SocketAddr) -> Self {
        ConnectionInfo {
            peer,
            local,
            secure: false,
        }
    }

    /// The same connection, over TLS.
    pub fn secured(mut self) -> Self {
        self.secure = true;
        self
    }
}

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
    /// A handshake for a new session waits for the application's verdict
    /// ([`Event::Authorize`](crate::Event::Authorize)).
    Authorizing(Box<(TransportKind, Request)>),
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
    /// The peer will send nothing more (read end of stream); what it is owed still goes
    /// out, then the connection closes.
    pub read_closed: bool,
    /// Bytes handed out in transmits that the adapter has not yet reported written.
    pub unwritten: usize,
    /// The handshake being answered was admitted and authorized already: the session it
    /// asks for is made without asking again.
    pub admitted: bool,
    /// The handshake of the session this connection is making, to keep with it
    /// (`Options::keep_handshakes`).
    pub handshake: Option<Box<crate::handshake::Handshake>>,
    /// The WebSocket request attaching a session over this connection, until it attaches
    /// (`Options::keep_latest_requests`): hixie-76 attaches after its key3, the request gone.
    pub attaching: Option<Box<crate::handshake::Handshake>>,
    pub info: ConnectionInfo,
}

impl Conn {
    pub fn new(parser: RequestParser, probing: bool, info: ConnectionInfo) -> Self {
        Conn {
            state: ConnState::Http,
            input: Vec::new(),
            parser,
            probing,
            keep_alive: true,
            read_closed: false,
            unwritten: 0,
            admitted: false,
            handshake: None,
            attaching: None,
            info,
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

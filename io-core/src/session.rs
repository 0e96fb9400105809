//! One Socket.IO session: its id, the transport attached to it now, the messages waiting
//! for one, and its heartbeat.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use crate::conn::ConnId;
use crate::options::TransportOptions;
use crate::transport::{Cors, TransportKind};

/// A session's id: the node that owns the session and 128 bits from the operating system's
/// CSPRNG.
///
/// On the wire it is 36 lowercase hex digits: 4 for the node, then 32 random. Only hex
/// digits, so it is safe in URL paths and never contains `/` or `~`; fixed width, so a proxy
/// routes a request to the session's node by the first four characters after the transport
/// name (`/socket.io/xhr-polling/0003…`) and sends handshakes, which carry no id, anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionId {
    node: u16,
    random: u128,
}

impl SessionId {
    /// The characters of an id on the wire.
    pub const LEN: usize = 36;

    pub(crate) fn new(node: u16, random: u128) -> Self {
        SessionId { node, random }
    }

    /// The node that created the session (`Options::node_id`).
    pub fn node(&self) -> u16 {
        self.node
    }
}

impl std::hash::Hash for SessionId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // The random bits are the hash already.
        state.write_u64(self.random as u64 ^ u64::from(self.node));
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}{:032x}", self.node, self.random)
    }
}

/// A session id in a URL that is not one this server could have written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSessionId;

impl fmt::Display for BadSessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a session id is 36 lowercase hexadecimal digits")
    }
}

impl std::error::Error for BadSessionId {}

impl FromStr for SessionId {
    type Err = BadSessionId;

    /// Only the canonical form parses, so every id has exactly one spelling.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != Self::LEN {
            return Err(BadSessionId);
        }
        // One pass, lowercase hex digits only: every request of a session parses its id.
        let mut value: u128 = 0;
        let mut node: u16 = 0;
        for (i, b) in s.bytes().enumerate() {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return Err(BadSessionId),
            };
            if i < 4 {
                node = node << 4 | u16::from(digit);
            } else {
                value = value << 4 | u128::from(digit);
            }
        }
        Ok(SessionId {
            node,
            random: value,
        })
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The transport went away and did not come back within `close_timeout`.
    TransportClosed,
    /// A heartbeat was not echoed within `timeout`.
    HeartbeatTimeout,
    /// The application called `disconnect`.
    Server,
    /// More than `max_queue` bytes waited for a transport that never came.
    QueueOverflow,
    /// The peer did not read: more than `max_unwritten` bytes written to its connection
    /// were still on their way, so the connection was cut off, and with it a session whose
    /// transport has no close timeout (WebSocket, the streams). A polling session whose
    /// connection is cut off may still re-attach within its close timeout; if it does not,
    /// it ends as `TransportClosed`.
    SlowPeer,
    /// The peer broke the protocol (the text says how).
    ProtocolError(String),
    /// The whole server is shutting down.
    Shutdown,
    /// This node is draining (a rolling restart): its sessions end so that their clients
    /// connect again, to another node.
    Draining,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::TransportClosed => f.write_str("transport closed"),
            DisconnectReason::HeartbeatTimeout => f.write_str("heartbeat timeout"),
            DisconnectReason::Server => f.write_str("disconnected by the server"),
            DisconnectReason::QueueOverflow => f.write_str("send queue overflow"),
            DisconnectReason::SlowPeer => f.write_str("the peer did not read what was sent"),
            DisconnectReason::ProtocolError(e) => write!(f, "protocol error: {e}"),
            DisconnectReason::Shutdown => f.write_str("server shutdown"),
            DisconnectReason::Draining => f.write_str("this node is draining"),
        }
    }
}

/// The transport connection a session writes to right now.
#[derive(Debug)]
pub(crate) enum Attached {
    /// A held long poll; answering it ends the attachment.
    Poll {
        conn: ConnId,
        cors: Option<Cors>,
        /// `Some(index)` for jsonp-polling; `None` for xhr-polling.
        jsonp: Option<JsonpTarget>,
        keep_alive: bool,
    },
    /// An htmlfile or xhr-multipart response that stays open.
    Stream { conn: ConnId },
    /// An upgraded socket.
    WebSocket { conn: ConnId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonpTarget {
    Index(u32),
    /// The page's origin was refused: it gets an alert, never the payload.
    Refused,
}

impl Attached {
    pub fn conn(&self) -> ConnId {
        match self {
            Attached::Poll { conn, .. }
            | Attached::Stream { conn }
            | Attached::WebSocket { conn } => *conn,
        }
    }
}

/// Where the heartbeat cycle stands. There is exactly one per session: the reference let
/// a repeated echo start a second chain (docs/PROTOCOL.md §3.6, §10.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Heartbeat {
    Off,
    /// Waiting for the interval to pass before sending heartbeat `counter + 1`.
    Interval,
    /// Heartbeat `counter` went out; waiting for its echo.
    AwaitingEcho,
}

pub(crate) struct Session {
    pub kind: TransportKind,
    pub opts: TransportOptions,
    pub attached: Option<Attached>,
    /// The id has gone out as the first frame; from then on the application knows it.
    pub handshaked: bool,
    pub connections: u32,
    pub queue: VecDeque<Bytes>,
    pub queued_bytes: usize,
    pub heartbeat: Heartbeat,
    pub heartbeat_counter: u64,
    /// The request that made it, with `Options::keep_handshakes`.
    pub handshake: Option<Box<crate::handshake::Handshake>>,
    /// The latest request that attached a transport, with `Options::keep_latest_requests`.
    pub latest: Option<Box<crate::handshake::Handshake>>,
}

impl Session {
    pub fn new(kind: TransportKind, opts: TransportOptions) -> Self {
        Session {
            kind,
            opts,
            attached: None,
            handshaked: false,
            connections: 0,
            queue: VecDeque::new(),
            queued_bytes: 0,
            heartbeat: Heartbeat::Off,
            heartbeat_counter: 0,
            handshake: None,
            latest: None,
        }
    }

    pub fn take_queue(&mut self) -> Vec<Bytes> {
        self.queued_bytes = 0;
        self.queue.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_in_canonical_form() {
        for id in [
            SessionId::new(0, 0),
            SessionId::new(3, 17),
            SessionId::new(u16::MAX, u128::MAX),
        ] {
            let s = id.to_string();
            assert_eq!(s.len(), SessionId::LEN);
            assert_eq!(s.parse::<SessionId>(), Ok(id));
        }
        assert_eq!(
            SessionId::new(0xab, 1).to_string(),
            format!("00ab{:032x}", 1)
        );
        let good = SessionId::new(0xab, 0xcafe).to_string();
        for bad in [
            "",
            "17",
            &good.to_uppercase(),
            &format!("+{}", &good[1..]),
            &format!("{good}0"),
            &good[1..],
            &format!("{} ", &good[1..]),
            "constructor",
            "toString",
            &"é".repeat(18),
        ] {
            assert!(bad.parse::<SessionId>().is_err(), "{bad}");
        }
    }
}

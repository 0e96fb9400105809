//! One Socket.IO session: its id, the transport attached to it now, the messages waiting
//! for one, and its heartbeat.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use crate::conn::ConnId;
use crate::options::TransportOptions;
use crate::timer::Generations;
use crate::transport::{Cors, TransportKind};

/// A session's id: 128 random bits, written in decimal on the wire as the reference's ids
/// were (only digits, so it is safe in URL paths and never contains `/` or `~`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u128);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A session id in a URL that is not one this server could have written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSessionId;

impl fmt::Display for BadSessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a session id is 1 to 39 decimal digits without leading zeros")
    }
}

impl std::error::Error for BadSessionId {}

impl FromStr for SessionId {
    type Err = BadSessionId;

    /// Only the canonical form parses, so every id has exactly one spelling.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let canonical = !s.is_empty()
            && s.len() <= 39
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        if !canonical {
            return Err(BadSessionId);
        }
        s.parse().map(SessionId).map_err(|_| BadSessionId)
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The transport went away and did not come back within `close_timeout`.
    TransportClosed,
    /// A heartbeat was not echoed within `timeout`.
    HeartbeatTimeout,
    /// The application called `disconnect`.
    Server,
    /// More than `max_queue` bytes waited for a transport that never came.
    QueueOverflow,
    /// The peer broke the protocol (the text says how).
    ProtocolError(String),
    /// The whole server is shutting down.
    Shutdown,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::TransportClosed => f.write_str("transport closed"),
            DisconnectReason::HeartbeatTimeout => f.write_str("heartbeat timeout"),
            DisconnectReason::Server => f.write_str("disconnected by the server"),
            DisconnectReason::QueueOverflow => f.write_str("send queue overflow"),
            DisconnectReason::ProtocolError(e) => write!(f, "protocol error: {e}"),
            DisconnectReason::Shutdown => f.write_str("server shutdown"),
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
/// a repeated echo start a second chain (PROTOCOL.md §3.6).
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
    pub timers: Generations,
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
            timers: Generations::default(),
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
        let max = u128::MAX.to_string();
        assert_eq!(max.parse::<SessionId>(), Ok(SessionId(u128::MAX)));
        assert_eq!("17".parse::<SessionId>(), Ok(SessionId(17)));
        for bad in [
            "",
            "017",
            "+1",
            "1 ",
            "1e5",
            "340282366920938463463374607431768211456",
            "constructor",
            "toString",
        ] {
            assert!(bad.parse::<SessionId>().is_err(), "{bad}");
        }
    }
}

//! Errors the application can get back from the server's commands and constructor.

use std::fmt;

use crate::conn::ConnId;
use crate::session::SessionId;

/// Why a [`Server`](crate::Server) command, or the server's constructor, was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The session has disconnected (or never existed); nothing was queued.
    UnknownSession(SessionId),
    /// The connection is closed, or was never handed to the application.
    UnknownConnection(ConnId),
    /// `respond` on a connection whose request was not handed to the application, or was
    /// already answered.
    NotAwaitingResponse(ConnId),
    /// The options cannot work; the text says which one and why.
    InvalidOptions(String),
    /// `authorize` on a connection whose handshake is not waiting for a verdict (it was
    /// decided already, or the connection closed).
    NotAuthorizing(ConnId),
    /// A room name the server does not take: empty, or longer than 256 bytes.
    InvalidRoom(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownSession(s) => write!(f, "session {s} is not connected"),
            Error::UnknownConnection(c) => write!(f, "connection {c} is closed"),
            Error::NotAwaitingResponse(c) => write!(
                f,
                "connection {c} has no request waiting for the application's response"
            ),
            Error::InvalidOptions(m) => write!(f, "invalid options: {m}"),
            Error::InvalidRoom(why) => f.write_str(why),
            Error::NotAuthorizing(c) => {
                write!(f, "connection {c} has no handshake waiting for a verdict")
            }
        }
    }
}

impl std::error::Error for Error {}

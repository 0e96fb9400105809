//! What the application sends and receives: text or JSON, never heartbeats.

use std::fmt;

/// One Socket.IO message.
///
/// The 0.6 wire format has no escaping: a text that starts with `~j~` is read as JSON by the
/// peer and one that starts with `~h~` as a heartbeat. Send structured data as [`Message::Json`]
/// rather than text that merely looks like it.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Plain text, framed as is.
    Text(String),
    /// A JSON value, sent as `~j~` and its serialization.
    Json(serde_json::Value),
}

impl Message {
    /// Shorthand for [`Message::Text`] from a `&str` or `String`.
    pub fn text(s: impl Into<String>) -> Self {
        Message::Text(s.into())
    }

    /// Shorthand for [`Message::Json`]; build the value with `serde_json::json!`.
    pub fn json(v: serde_json::Value) -> Self {
        Message::Json(v)
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(s) => Some(s),
            Message::Json(_) => None,
        }
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(s.to_owned())
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s)
    }
}

impl From<serde_json::Value> for Message {
    fn from(v: serde_json::Value) -> Self {
        Message::Json(v)
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Text(s) => f.write_str(s),
            Message::Json(v) => write!(f, "{v}"),
        }
    }
}

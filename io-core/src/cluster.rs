//! Cluster traffic: what this node tells the others through a message bus, and what they
//! tell it.
//!
//! With [`Options::cluster`](crate::Options::cluster) on, a broadcast reaches the local
//! sessions and becomes a [`Publication`] for every other node; a message for a session
//! that another node owns (the node id in the session id says which) becomes a publication
//! for that node alone. The bus (Redis, say) carries the bytes; what arrives goes to
//! [`Server::handle_publication`](crate::Server::handle_publication), which delivers it to
//! the local sessions. The message travels framed, as sessions get it: encoded once on the
//! node that sent it, and never again.
//!
//! On the bus, a publication is a header line and the frame:
//!
//! ```text
//! IO1 <origin node, 4 hex digits> B <except count> [<session id> ...]\n<frame>   broadcast
//! IO1 <origin node, 4 hex digits> S <session id>\n<frame>                          one session
//! IO1 <origin node, 4 hex digits> R <room bytes> <except count> [<session id> ...]\n<room><frame>
//! ```
//!
//! A room's name comes after the header line, its length in bytes in the header, so that it
//! may hold any character.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::session::SessionId;

/// Who a publication is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Audience {
    /// Every other node (a broadcast).
    Everyone,
    /// The node with this id (a message for one of its sessions).
    Node(u16),
}

/// Bytes for the bus to carry to `audience`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// Which nodes the bus must deliver it to.
    pub audience: Audience,
    /// The encoded publication, to hand to the bus as is.
    pub bytes: Bytes,
}

/// A publication, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// The node that published it.
    pub origin: u16,
    pub kind: Kind,
    /// The framed message (`~m~<len>~m~<data>`).
    pub frame: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Broadcast {
        except: Vec<SessionId>,
    },
    Send(SessionId),
    Room {
        room: String,
        except: Vec<SessionId>,
    },
}

/// Why bytes from the bus are not a publication. Another node of the same version never
/// sends one; something else on the channel might.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicationError {
    /// It does not start with `IO1 `: another program's message, or another version's.
    UnknownFormat,
    /// The header line has no end.
    NoHeaderEnd,
    /// The origin is not four hex digits.
    BadOrigin,
    /// The kind is not `B`, `S` or `R`, or its fields are missing or malformed.
    BadHeader(&'static str),
    /// A session id in the header is malformed.
    BadSessionId,
    /// The message after the header is not exactly one well-formed frame.
    BadFrame,
}

impl fmt::Display for PublicationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicationError::UnknownFormat => write!(f, "not a publication of this version"),
            PublicationError::NoHeaderEnd => write!(f, "the header line has no end"),
            PublicationError::BadOrigin => write!(f, "the origin is not 4 hex digits"),
            PublicationError::BadHeader(why) => write!(f, "malformed header: {why}"),
            PublicationError::BadSessionId => write!(f, "a malformed session id"),
            PublicationError::BadFrame => write!(f, "the message is not exactly one frame"),
        }
    }
}

impl std::error::Error for PublicationError {}

const MAGIC: &[u8] = b"IO1 ";

/// At most this many sessions in a broadcast's `except`: a publication that names more is
/// refused, so a hostile one cannot make a node scan a huge list per session.
pub const MAX_EXCEPT: usize = 1024;

fn header(origin: u16, capacity: usize) -> BytesMut {
    let mut out = BytesMut::with_capacity(MAGIC.len() + 5 + capacity);
    out.put_slice(MAGIC);
    out.put_slice(format!("{origin:04x} ").as_bytes());
    out
}

/// A broadcast from `origin` to every session of the other nodes but those in `except`.
pub(crate) fn broadcast(origin: u16, except: &[SessionId], frame: &[u8]) -> Bytes {
    let mut out = header(
        origin,
        8 + except.len() * (SessionId::LEN + 1) + frame.len(),
    );
    out.put_slice(format!("B {}", except.len()).as_bytes());
    for sid in except {
        out.put_slice(format!(" {sid}").as_bytes());
    }
    out.put_u8(b'\n');
    out.put_slice(frame);
    out.freeze()
}

/// A broadcast from `origin` to the members of `room` on the other nodes but those in
/// `except`.
pub(crate) fn room(origin: u16, room: &str, except: &[SessionId], frame: &[u8]) -> Bytes {
    let mut out = header(
        origin,
        16 + except.len() * (SessionId::LEN + 1) + room.len() + frame.len(),
    );
    out.put_slice(format!("R {} {}", room.len(), except.len()).as_bytes());
    for sid in except {
        out.put_slice(format!(" {sid}").as_bytes());
    }
    out.put_u8(b'\n');
    out.put_slice(room.as_bytes());
    out.put_slice(frame);
    out.freeze()
}

/// A message from `origin` for the session `to` (on another node).
pub(crate) fn send(origin: u16, to: SessionId, frame: &[u8]) -> Bytes {
    let mut out = header(origin, 3 + SessionId::LEN + frame.len());
    out.put_slice(format!("S {to}\n").as_bytes());
    out.put_slice(frame);
    out.freeze()
}

/// Decodes a publication from the bus.
pub(crate) fn decode(bytes: &Bytes) -> Result<Decoded, PublicationError> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or(PublicationError::UnknownFormat)?;
    let end = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(PublicationError::NoHeaderEnd)?;
    let line = rest.get(..end).ok_or(PublicationError::NoHeaderEnd)?;
    let line = std::str::from_utf8(line).map_err(|_| PublicationError::BadHeader("not UTF-8"))?;
    let mut fields = line.split(' ');
    let origin = fields
        .next()
        .filter(|o| o.len() == 4 && o.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|o| u16::from_str_radix(o, 16).ok())
        .ok_or(PublicationError::BadOrigin)?;
    let sid = |f: Option<&str>| {
        f.ok_or(PublicationError::BadHeader("a session id is missing"))?
            .parse::<SessionId>()
            .map_err(|_| PublicationError::BadSessionId)
    };
    let number = |f: Option<&str>, what: &'static str| {
        f.filter(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or(PublicationError::BadHeader(what))
    };
    let except = |fields: &mut std::str::Split<'_, char>| {
        let n = number(fields.next(), "the except count is not a number")?;
        if n > MAX_EXCEPT {
            return Err(PublicationError::BadHeader("too many sessions in except"));
        }
        (0..n)
            .map(|_| sid(fields.next()))
            .collect::<Result<Vec<_>, _>>()
    };
    let mut room_len = 0;
    let kind = match fields.next() {
        Some("B") => Kind::Broadcast {
            except: except(&mut fields)?,
        },
        Some("S") => Kind::Send(sid(fields.next())?),
        Some("R") => {
            room_len = number(fields.next(), "the room length is not a number")?;
            Kind::Room {
                room: String::new(),
                except: except(&mut fields)?,
            }
        }
        _ => return Err(PublicationError::BadHeader("the kind is not B, S or R")),
    };
    if fields.next().is_some() {
        return Err(PublicationError::BadHeader(
            "more fields than the kind takes",
        ));
    }
    let mut start = MAGIC.len() + end + 1;
    let kind = match kind {
        Kind::Room { except, .. } => {
            let name = bytes
                .get(start..start.saturating_add(room_len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .filter(|r| crate::rooms::check_name(r).is_ok())
                .ok_or(PublicationError::BadHeader(
                    "the room name is missing or invalid",
                ))?;
            start += room_len;
            Kind::Room {
                room: name.to_owned(),
                except,
            }
        }
        other => other,
    };
    let frame = bytes.slice(start.min(bytes.len())..);
    if !is_one_frame(&frame) {
        return Err(PublicationError::BadFrame);
    }
    Ok(Decoded {
        origin,
        kind,
        frame,
    })
}

/// Whether `frame` is exactly one `~m~<len>~m~<data>` frame, in UTF-8, whose length is
/// right: what a transport may write to a client as is.
fn is_one_frame(frame: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(frame) else {
        return false;
    };
    let mut frames = crate::codec::Frames::new(text);
    matches!((frames.next(), frames.next()), (Some(Ok(_)), None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;
    use crate::Message;

    fn sid(n: u16, r: u128) -> SessionId {
        SessionId::new(n, r)
    }

    #[test]
    fn publications_decode_to_what_was_encoded() {
        let frame = codec::encode(&Message::text("héllo 😀"));
        let except = [sid(1, 7), sid(2, u128::MAX)];
        let b = broadcast(3, &except, &frame);
        assert!(b.starts_with(b"IO1 0003 B 2 0001"), "{b:?}");
        let d = decode(&b).unwrap();
        assert_eq!(d.origin, 3);
        assert_eq!(
            d.kind,
            Kind::Broadcast {
                except: except.to_vec()
            }
        );
        assert_eq!(d.frame, frame);
        let s = send(0xbeef, sid(9, 42), &frame);
        let d = decode(&s).unwrap();
        assert_eq!((d.origin, d.kind), (0xbeef, Kind::Send(sid(9, 42))));
        assert_eq!(d.frame, frame);
        let r = room(4, "doc 7 ✓", &except[..1], &frame);
        let d = decode(&r).unwrap();
        assert_eq!(
            (d.origin, d.kind),
            (
                4,
                Kind::Room {
                    room: "doc 7 ✓".into(),
                    except: except[..1].to_vec()
                }
            )
        );
        assert_eq!(d.frame, frame);
        let none = broadcast(0, &[], &frame);
        assert_eq!(
            decode(&none).unwrap().kind,
            Kind::Broadcast { except: vec![] }
        );
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        let frame = codec::encode(&Message::text("x"));
        let ok = send(1, sid(1, 1), &frame);
        let text = String::from_utf8(ok.to_vec()).unwrap();
        let cases: &[(&str, PublicationError)] = &[
            ("hello", PublicationError::UnknownFormat),
            ("IO2 0001 S x\n~m~1~m~x", PublicationError::UnknownFormat),
            ("IO1 0001 B 0", PublicationError::NoHeaderEnd),
            ("IO1 01 B 0\n~m~1~m~x", PublicationError::BadOrigin),
            ("IO1 zzzz B 0\n~m~1~m~x", PublicationError::BadOrigin),
            (
                "IO1 0001 X\n~m~1~m~x",
                PublicationError::BadHeader("the kind is not B, S or R"),
            ),
            (
                "IO1 0001 R 99 0\nlobby~m~1~m~x",
                PublicationError::BadHeader("the room name is missing or invalid"),
            ),
            (
                "IO1 0001 R 0 0\n~m~1~m~x",
                PublicationError::BadHeader("the room name is missing or invalid"),
            ),
            (
                "IO1 0001 R x 0\nlobby~m~1~m~x",
                PublicationError::BadHeader("the room length is not a number"),
            ),
            (
                "IO1 0001 B -1\n~m~1~m~x",
                PublicationError::BadHeader("the except count is not a number"),
            ),
            (
                "IO1 0001 B 99999\n~m~1~m~x",
                PublicationError::BadHeader("too many sessions in except"),
            ),
            (
                "IO1 0001 B 1\n~m~1~m~x",
                PublicationError::BadHeader("a session id is missing"),
            ),
            (
                "IO1 0001 B 1 nope\n~m~1~m~x",
                PublicationError::BadSessionId,
            ),
            (
                "IO1 0001 B 0 extra\n~m~1~m~x",
                PublicationError::BadHeader("more fields than the kind takes"),
            ),
            ("IO1 0001 B 0\n~m~2~m~x", PublicationError::BadFrame),
            ("IO1 0001 B 0\n~m~1~m~x~m~1~m~y", PublicationError::BadFrame),
            ("IO1 0001 B 0\n", PublicationError::BadFrame),
        ];
        for (input, want) in cases {
            assert_eq!(
                decode(&Bytes::from(input.to_string())),
                Err(want.clone()),
                "{input:?}"
            );
        }
        assert_eq!(
            decode(&Bytes::from(text.replace("~m~1~m~x", "~m~1~m~\u{1F600}"))),
            Err(PublicationError::BadFrame)
        );
        let mut bad_utf8 = ok.to_vec();
        *bad_utf8.last_mut().unwrap() = 0xff;
        assert_eq!(
            decode(&Bytes::from(bad_utf8)),
            Err(PublicationError::BadFrame)
        );
    }
}
